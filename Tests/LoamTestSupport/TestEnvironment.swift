import Foundation

/// What the tests need from outside Swift: a scratch folder, the Python with
/// pyarrow that `scripts/test.sh` installs, and a way to run programs.
public enum TestEnvironment {
    /// The package root, found from this file's path.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static var interopScripts: URL { packageRoot.appendingPathComponent("Tests/interop") }

    /// `LOAM_PYTHON`, else the test virtual environment `scripts/test.sh` creates.
    public static var python: String {
        if let path = ProcessInfo.processInfo.environment["LOAM_PYTHON"], !path.isEmpty { return path }
        return packageRoot.appendingPathComponent(".venv-test/bin/python").path
    }

    /// A fresh empty folder, removed by the caller with `removeItem` when done.
    public static func temporaryDirectory(_ label: String = "loam-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    public struct ProcessResult: Sendable {
        public let status: Int32
        public let output: String
        public let error: String
    }

    /// Runs a program to completion, capturing its output.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           directory: URL? = nil, input: String? = nil) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        // Drain both pipes concurrently so a chatty child never blocks.
        nonisolated(unsafe) var errData = Data()
        let errThread = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
        errThread.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errThread.isFinished { usleep(1000) }
        return ProcessResult(status: process.terminationStatus,
                             output: String(decoding: outData, as: UTF8.self),
                             error: String(decoding: errData, as: UTF8.self))
    }

    /// Runs one of `Tests/interop/*.py` with the pyarrow Python; returns its result.
    public static func runPython(_ script: String, _ arguments: [String]) throws -> ProcessResult {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw TestSetupError("no Python with pyarrow at \(python): run `scripts/test.sh` (it creates .venv-test) or set LOAM_PYTHON")
        }
        return try run(python, [interopScripts.appendingPathComponent(script).path] + arguments)
    }
}

public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension TestEnvironment {
    /// The `loam` executable: `LOAM_BIN`, else the debug build.
    public static var loamBinary: String {
        if let path = ProcessInfo.processInfo.environment["LOAM_BIN"], !path.isEmpty { return path }
        return packageRoot.appendingPathComponent(".build/debug/loam").path
    }

    /// Runs `loam ARGS --repo REPO`-style commands with the repository in `LOAM_REPO`.
    public static func loam(_ arguments: [String], repo: URL, environment: [String: String] = [:], input: String? = nil) throws -> ProcessResult {
        var env = environment
        env["LOAM_REPO"] = repo.path
        return try run(loamBinary, arguments, environment: env, input: input)
    }

    /// Writes `text` to `name` inside `dir` and returns its path.
    @discardableResult
    public static func write(_ text: String, to name: String, in dir: URL) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }
}
