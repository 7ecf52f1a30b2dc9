import Foundation

/// The one JSON writer for resource views: the CLI's `--json` and the REST API
/// print the same view the same way (keys sorted, slashes unescaped).
///
/// ```swift
/// print(try JSONOutput.text(try await repo.commitView("HEAD")))
/// ```
public enum JSONOutput {
    public static func data(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // NaN and infinities as proto JSON (and MLflow) write them.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return try encoder.encode(value)
    }

    public static func text(_ value: some Encodable) throws -> String {
        String(decoding: try data(value), as: UTF8.self)
    }
}
