import Foundation
import LoamQuery

extension Anonymizer {
    /// Makes `pii_kinds`, `pii_mask`, `pii_redact` and `pii_hash` callable from SQL (the CLI and server call this at
    /// startup). `pii_hash` takes its key from LOAM_HASH_KEY, as `loam anonymize --hash` does, so a key never
    /// appears in a statement (nor in the SQL history or the audit log).
    public static func registerSQLFunctions() {
        PIIFunctions.text = [
            "pii_kinds": { text in PIIDetector.kinds(in: text).map(\.rawValue).sorted().joined(separator: ",") },
            "pii_mask": { text in bytes(text) { apply(.mask(whole: false), to: $0) } },
            "pii_redact": { text in bytes(text) { apply(.redact(whole: false), to: $0) } },
            "pii_hash": { text in
                guard let key = ProcessInfo.processInfo.environment["LOAM_HASH_KEY"], key.utf8.count >= 16 else {
                    throw LoamErrorText("set LOAM_HASH_KEY to a secret of at least 16 bytes (the key of the hash)")
                }
                return bytes(text) { apply(.hash(key: Array(key.utf8)), to: $0) }
            },
        ]
    }

    /// `body` over the text's UTF-8 bytes.
    @Sendable static func bytes<T>(_ text: String, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        var copy = text
        return copy.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }
}

/// A message as an error, for the SQL functions (the evaluator wraps it with the function's name and place).
struct LoamErrorText: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
