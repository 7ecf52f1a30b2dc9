import Foundation
import LoamFormat
import LoamStorage
import LoamTable

extension Repository {
    /// Sets (or, with nil, removes) the masking policy of one column, as one commit: policies are versioned data.
    ///
    /// ```swift
    /// try await repo.setMask(MaskPolicy(method: .hash, roles: ["reader"]), column: "email", of: "users")
    /// ```
    @discardableResult
    public func setMask(_ policy: MaskPolicy?, column: String, of dataset: String) async throws -> ObjectID {
        let what = policy.map { "Mask \(dataset).\(column) (\($0.method.rawValue)) for \($0.roles.joined(separator: ", "))" } ?? "Unmask \(dataset).\(column)"
        return try await commit(message: what) { tree in
            var manifest = try await manifest(dataset, in: tree)
            guard let spec = manifest.schema.columns.first(where: { $0.name == column }), let id = spec.id else {
                throw TableError.unknownColumn(column, dataset: dataset, available: manifest.schema.names)
            }
            if let policy {
                let roles = Set(Role.allCases.map(\.rawValue))
                guard !policy.roles.isEmpty, policy.roles.allSatisfy(roles.contains) else {
                    throw LoamError.invalidArgument("mask roles must be some of reader, writer, admin (got \(policy.roles.joined(separator: ", ")))")
                }
                let type = try spec.field().type
                if policy.method == .hash, ![.utf8, .largeUtf8, .binary, .largeBinary].contains(type) {
                    throw LoamError.invalidArgument("--hash masks text or bytes; '\(column)' is \(type): use --redact (its readers see null)")
                }
            }
            var metadata = manifest.schema.metadata ?? [:]
            metadata[MaskPolicy.metadataPrefix + String(id)] = policy?.encoded()
            manifest.schema.metadata = metadata.isEmpty ? nil : metadata
            tree[dataset] = try await tables.save(manifest)
        }
    }

    /// The masking policies of a dataset at `ref`, by column name.
    public func masks(of dataset: String, at ref: String = "HEAD") async throws -> [(column: String, policy: MaskPolicy)] {
        let schema = try await ReadPolicy.$role.withValue(nil) { try await self.dataset(dataset, at: ref).manifest.schema }
        let policies = schema.maskPolicies
        return schema.columns.compactMap { column in column.id.flatMap { policies[$0] }.map { (column.name, $0) } }
    }

    /// The key of masking hashes: 32 random bytes kept in the catalog's settings, made on first use.
    public func maskingKey() async throws -> [UInt8] {
        if let hex = try await meta.setting("mask_key"), hex.count == 64 {
            return stride(from: 0, to: 64, by: 2).compactMap { UInt8(String(Array(hex)[$0..<($0 + 2)]), radix: 16) }
        }
        let key = (0..<32).map { _ in UInt8.random(in: 0...255) }
        try await meta.setSetting("mask_key", key.map { String(format: "%02x", $0) }.joined())
        return key
    }
}
