import Foundation
import Loam
import LoamStorage

/// Where the quality module keeps what it computed once and reuses: the profile of each fragment (as its
/// live rows stand under one deletion vector). Keys name immutable content, so an entry never goes stale.
public protocol QualityStore: Sendable {
    func fragmentProfile(_ key: String) async throws -> FragmentProfile?
    func saveFragmentProfile(_ profile: FragmentProfile, key: String) async throws
    /// A fragment's key index for some key columns (`KeyIndex`), under `keys/<column ids>/<fragment>/<deletions>`.
    func keyHashes(_ key: String) async throws -> KeyHashes?
    func saveKeyHashes(_ hashes: KeyHashes, key: String) async throws
}

/// The profiles of one fragment's columns, by column id (`_rowid` left out) — or a checkpoint: the merge of
/// a dataset's first fragments, under `merged/<hash chain of their keys>`.
public struct FragmentProfile: Codable, Sendable, Equatable {
    /// The sketches' format: a profile of another format is computed again.
    public static let currentFormat = 3
    public var format: Int = FragmentProfile.currentFormat
    public var columns: [String: ColumnProfile]
    /// A checkpoint's live rows (the sum of its fragments'); nil for one fragment's profile.
    public var rows: Int?

    public init(columns: [String: ColumnProfile]) { self.columns = columns }
}

/// The store in the repository itself, on any backend: each profile is a JSON object in the object store,
/// found through the catalog's object index at `quality/profiles/<fragment>/<deletion vector or "none">`
/// (checkpoints at `quality/profiles/merged/<chain>`)
/// (so gc keeps it, and it travels with the catalog it was computed for).
public struct RepositoryQualityStore: QualityStore {
    public let repository: Repository

    public init(repository: Repository) { self.repository = repository }

    public static func path(_ key: String) -> String { "quality/profiles/" + key }

    public func fragmentProfile(_ key: String) async throws -> FragmentProfile? {
        guard let (object, _) = try await repository.meta.indexedObject(path: Self.path(key)) else { return nil }
        let bytes = try await repository.objects.get(object)
        // One that cannot be read (another format, or overwritten by an erasure) is computed again.
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        guard let profile = try? decoder.decode(FragmentProfile.self, from: Data(bytes.buffer)),
              profile.format == FragmentProfile.currentFormat else { return nil }
        return profile
    }

    public func keyHashes(_ key: String) async throws -> KeyHashes? {
        guard let (object, _) = try await repository.meta.indexedObject(path: "quality/" + key) else { return nil }
        return KeyHashes(kept: try await repository.objects.get(object))
    }

    public func saveKeyHashes(_ hashes: KeyHashes, key: String) async throws {
        let object = try await repository.objects.put(Array(hashes.bytes.buffer))
        try await repository.meta.indexObject(path: "quality/" + key, object: object, size: hashes.bytes.count)
    }

    public func saveFragmentProfile(_ profile: FragmentProfile, key: String) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        let bytes = [UInt8](try encoder.encode(profile))
        let object = try await repository.objects.put(bytes)
        try await repository.meta.indexObject(path: Self.path(key), object: object, size: bytes.count)
    }
}
