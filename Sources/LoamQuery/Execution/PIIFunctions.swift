/// The SQL functions of personal data — `pii_kinds`, `pii_mask`, `pii_redact`, `pii_hash` — are governance's
/// (its detector and anonymizer sit above the query engine): `LoamGovernance.registerSQLFunctions()` fills this
/// table once at startup, and the evaluator calls through it.
public enum PIIFunctions {
    nonisolated(unsafe) public static var text: [String: @Sendable (String) throws -> String?] = [:]
}
