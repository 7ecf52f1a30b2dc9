import ArgumentParser
import Foundation
import Loam
import LoamTable

struct Mask: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Column masking per role on `loam serve`: list, set or remove a column's policy (each change a commit).",
        discussion: """
            A token whose role a policy names reads the column masked on every route — rows, take, stream, SQL (joins, \
            subqueries, loam_diff), labels — and in every version; its DELETE and UPDATE may not name the column.
              loam mask users                                 # the policies
              loam mask users email --hash --roles reader     # readers see a keyed hash (equal values stay equal)
              loam mask users ssn --redact                    # readers and writers see *** (null for non-text)
              loam mask users ssn --clear
            """)
    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The dataset.") var dataset: String
    @Argument(help: "The column.") var column: String?
    @Flag(help: "Readers see the first 32 hex digits of HMAC-SHA256 under the repository's masking key (text and bytes).") var hash = false
    @Flag(help: "Readers see *** (text) or null.") var redact = false
    @Flag(help: "Remove the column's policy.") var clear = false
    @Option(help: "The roles that see the masked value (default: reader,writer).") var roles = "reader,writer"
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let repo = try repository.open()
            guard let column else {
                let masks = try await repo.masks(of: dataset)
                if json { print(try JSONOutput.text(Dictionary(uniqueKeysWithValues: masks.map { ($0.column, $0.policy) }))); return }
                if masks.isEmpty { print("no column of \(dataset) is masked") }
                for (name, policy) in masks { print("\(name): \(policy.method.rawValue) for \(policy.roles.joined(separator: ", "))") }
                return
            }
            guard [hash, redact, clear].filter({ $0 }).count == 1 else { throw ValidationError("give one of --hash, --redact or --clear") }
            let policy = clear ? nil : MaskPolicy(method: hash ? .hash : .redact, roles: roles.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            let commit = try await repo.setMask(policy, column: column, of: dataset)
            print((policy.map { "Masked \(dataset).\(column) (\($0.method.rawValue)) for \($0.roles.joined(separator: ", "))" } ?? "Unmasked \(dataset).\(column)")
                  + " (commit \(commit.short))")
        }
    }
}
