import ArgumentParser
import Foundation
import Loam

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a repository (a .loam folder) in PATH.")

    @Argument(help: "Folder to create the repository in (default: the current folder).")
    var path: String = "."

    func run() async throws {
        try await reportingErrors {
            let repo = try await Repository.initialize(at: URL(fileURLWithPath: path))
            print("Initialized empty Loam repository in \(repo.root.path)/.loam (branch main)")
        }
    }
}
