import Foundation
import LoamFormat
import LoamStorage

/// A file or folder directly under an artifact folder, with its path relative to the listing's base.
public struct ArtifactEntry: Sendable, Equatable {
    public let path: String
    public let isDirectory: Bool
    /// Nil for folders.
    public let size: Int?
}

extension Tracker {
    /// Artifacts are objects in the repository's object store, named by path in
    /// the catalog's object index (which keeps them through garbage collection).
    /// Paths are the proxy paths of MLflow's `mlflow-artifacts:/…` URIs.
    public func putArtifact(path: String, bytes: [UInt8]) async throws {
        let path = try Self.artifactPath(path)
        try await repository.withWriteIntent {  // gc keeps the object until the index names it
            let id = try await repository.objects.put(bytes)
            try await repository.meta.indexObject(path: path, object: id, size: bytes.count)
        }
    }

    public func artifact(path: String) async throws -> ByteView {
        let path = try Self.artifactPath(path)
        guard let (object, _) = try await repository.meta.indexedObject(path: path) else { throw TrackingError.notFound("no artifact at \(path)") }
        return try await repository.objects.get(object)
    }

    public func deleteArtifact(path: String) async throws {
        let path = try Self.artifactPath(path)
        guard try await repository.meta.removeIndexedObject(path: path) else { throw TrackingError.notFound("no artifact at \(path)") }
    }

    /// The files and folders directly under `folder`, with paths relative to `base`.
    public func artifacts(in folder: String, relativeTo base: String) async throws -> [ArtifactEntry] {
        let folder = try Self.artifactPath(folder), base = try Self.artifactPath(base)
        var seen = Set<String>()
        var out: [ArtifactEntry] = []
        let prefix = folder.isEmpty ? "" : folder + "/"
        let relative = folder.isEmpty ? "" : String((folder + "/").dropFirst(base.isEmpty ? 0 : base.count + 1))
        for (path, size) in try await repository.meta.indexedPaths(under: prefix) {
            let rest = path.dropFirst(prefix.count)
            if let slash = rest.firstIndex(of: "/") {
                let dir = relative + rest[..<slash]
                if seen.insert(dir).inserted { out.append(ArtifactEntry(path: dir, isDirectory: true, size: nil)) }
            } else {
                out.append(ArtifactEntry(path: relative + rest, isDirectory: false, size: size))
            }
        }
        return out
    }

    /// A run's artifacts under `path` (relative to the run's artifact root): MLflow's artifacts/list.
    public func runArtifacts(runID: String, path: String = "") async throws -> (rootURI: String, files: [ArtifactEntry]) {
        let run = try await run(id: runID)
        let sub = try Self.artifactPath(path)  // "." is the run's root
        let base = Self.proxyPath(run.info.artifactURI)
        return (run.info.artifactURI, try await artifacts(in: sub.isEmpty ? base : base + "/" + sub, relativeTo: base))
    }

    /// `mlflow-artifacts:/<path>` → the proxy path it names.
    public static func proxyPath(_ uri: String) -> String {
        guard uri.hasPrefix("mlflow-artifacts:") else { return uri }
        return String(uri.dropFirst("mlflow-artifacts:".count)).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
    }

    /// The path without empty and "." segments (`a/./b/` is `a/b`, `.` is the root); ".." and NUL are refused.
    static func artifactPath(_ path: String) throws -> String {
        let parts = path.split(separator: "/").filter { $0 != "." }
        guard !parts.contains(".."), !path.contains("\0") else {
            throw TrackingError.invalid("artifact paths cannot contain '..' or NUL, not '\(path.prefix(80))'")
        }
        return parts.joined(separator: "/")
    }
}
