import LoamFormat

/// One SQL function: its name, how many arguments it takes, the type of its result,
/// and an example with its answer.
public struct SQLFunction: Sendable {
    public enum Kind: String, Sendable { case scalar, aggregate }

    public let name: String
    public let kind: Kind
    public let arity: ClosedRange<Int>
    /// How it is called, for `--help` and the docs: `substr(text, start[, length])`.
    public let signature: String
    /// What it returns, in words.
    public let summary: String
    /// A call over the constants 3, -2.5, 'AbC' and NULL, and the answer Loam prints for it
    /// (the registry test runs every example).
    public let example: (call: String, answer: String)
    /// The result type for the arguments' types; nil when the arguments are not of a kind it takes.
    let result: @Sendable ([ArrowType]) -> ArrowType?
    /// What the arguments must be, for the error when `result` refuses them.
    let accepts: String
}

/// Every SQL function Loam knows, in one place: the binder checks names and arity and types
/// calls from it, `loam query --help` lists it, and the tests run each entry's example through
/// the evaluator and check that the README names every function.
public enum FunctionRegistry {
    private static func text(_: [ArrowType]) -> ArrowType? { .utf8 }
    private static func int64(_: [ArrowType]) -> ArrowType? { .int64 }
    private static func float64(_: [ArrowType]) -> ArrowType? { .float64 }
    private static func first(_ types: [ArrowType]) -> ArrowType? { types.first }
    private static func numeric(_ t: ArrowType) -> Bool { t.isInteger || t.isFloatingPoint }
    private static func numbersTo(_ type: ArrowType) -> @Sendable ([ArrowType]) -> ArrowType? { { $0.first.map(numeric) == true ? type : nil } }

    private static func function(_ kind: SQLFunction.Kind, _ name: String, _ arity: ClosedRange<Int>, _ signature: String, _ summary: String,
                                 _ example: (String, String), accepts: String = "",
                                 _ result: @escaping @Sendable ([ArrowType]) -> ArrowType?) -> SQLFunction {
        SQLFunction(name: name, kind: kind, arity: arity, signature: signature, summary: summary, example: example, result: result, accepts: accepts)
    }

    public static let all: [SQLFunction] = [
        // Text
        function(.scalar, "lower", 1...1, "lower(text)", "the text in lower case", ("lower('AbC')", "abc"), text),
        function(.scalar, "upper", 1...1, "upper(text)", "the text in upper case", ("upper('AbC')", "ABC"), text),
        function(.scalar, "length", 1...1, "length(text)", "characters in the text", ("length('AbC')", "3"), int64),
        function(.scalar, "trim", 1...1, "trim(text)", "the text without leading and trailing spaces", ("trim('  AbC ')", "AbC"), text),
        function(.scalar, "substr", 2...3, "substr(text, start[, length])", "characters from start (1-based)", ("substr('AbC', 2)", "bC"), text),
        function(.scalar, "replace", 3...3, "replace(text, from, to)", "every from replaced by to", ("replace('AbC', 'b', 'x')", "AxC"), text),
        function(.scalar, "concat", 1...100, "concat(a, b, …)", "the values as text, joined; NULLs skipped", ("concat('AbC', 3, NULL)", "AbC3"), text),
        function(.scalar, "split_part", 3...3, "split_part(text, delimiter, n)", "the n-th field (1-based)", ("split_part('a,b,c', ',', 2)", "b"), text),
        function(.scalar, "regexp_matches", 2...2, "regexp_matches(text, pattern)", "whether the pattern matches", ("regexp_matches('AbC', '^A.C$')", "true"),
               { _ in .bool }),
        function(.scalar, "regexp_replace", 3...3, "regexp_replace(text, pattern, to)", "every match replaced", ("regexp_replace('AbC', '[a-z]', '_')", "A_C"), text),
        // Numbers
        function(.scalar, "mod", 2...2, "mod(a, b)", "the remainder a % b (the sign of a)", ("mod(-7, 3)", "-1"),
                 { types in types.contains { $0.isFloatingPoint } ? .float64 : .int64 }),
        function(.scalar, "abs", 1...1, "abs(x)", "the absolute value", ("abs(-2.5)", "2.5"), first),
        function(.scalar, "round", 1...2, "round(x[, digits])", "x rounded half away from zero", ("round(2.567, 2)", "2.57"), float64),
        function(.scalar, "floor", 1...1, "floor(x)", "the largest integer not above x", ("floor(-2.5)", "-3.0"), { $0.first?.isInteger == true ? .int64 : .float64 }),
        function(.scalar, "ceil", 1...1, "ceil(x)", "the smallest integer not below x", ("ceil(-2.5)", "-2.0"), { $0.first?.isInteger == true ? .int64 : .float64 }),
        function(.scalar, "sqrt", 1...1, "sqrt(x)", "the square root", ("sqrt(16)", "4.0"), float64),
        function(.scalar, "exp", 1...1, "exp(x)", "e to the power x", ("exp(0)", "1.0"), float64),
        function(.scalar, "ln", 1...1, "ln(x)", "the natural logarithm", ("ln(1)", "0.0"), float64),
        function(.scalar, "pow", 2...2, "pow(x, y)", "x to the power y", ("pow(3, 2)", "9.0"), float64),
        function(.scalar, "power", 2...2, "power(x, y)", "x to the power y", ("power(2, 3)", "8.0"), float64),
        function(.scalar, "greatest", 1...100, "greatest(a, b, …)", "the largest non-NULL value", ("greatest(3, -2.5)", "3.0"),
               { types in types.contains { $0.isFloatingPoint } ? .float64 : types.first }),
        function(.scalar, "least", 1...100, "least(a, b, …)", "the smallest non-NULL value", ("least(3, -2.5)", "-2.5"),
               { types in types.contains { $0.isFloatingPoint } ? .float64 : types.first }),
        // NULLs and hashes
        function(.scalar, "coalesce", 1...100, "coalesce(a, b, …)", "the first non-NULL value", ("coalesce(NULL, 3)", "3"),
               { types in types.first { $0 != .utf8 } ?? types.first }),
        function(.scalar, "nullif", 2...2, "nullif(a, b)", "NULL when a = b, else a", ("nullif(3, 3)", "NULL"), { types in types.first { $0 != .utf8 } ?? types.first }),
        function(.scalar, "md5", 1...1, "md5(text)", "the MD5 digest of the text's UTF-8 bytes, in hex", ("md5('AbC')", "25aa3ee1c93cad3f274567281066dc18"), text),
        function(.scalar, "sha256", 1...1, "sha256(text)", "the SHA-256 digest of the text's UTF-8 bytes, in hex",
                 ("sha256('AbC')", "482e1ae75acdf731feeddc4875fd0fc05ea436a3d751506163989e998ab1038d"), text),
        // Personal data (governance's detector and anonymizer, registered by the loam CLI and server: `PIIFunctions`)
        function(.scalar, "pii_kinds", 1...1, "pii_kinds(text)", "the kinds of personal data found in the text, comma-separated ('' for none)",
                 ("pii_kinds('mail ada@example.com')", "email"), text),
        function(.scalar, "pii_mask", 1...1, "pii_mask(text)", "the text with its personal data masked (a card keeps its last 4 digits)",
                 ("pii_mask('mail ada@example.com')", "mail a**@example.com"), text),
        function(.scalar, "pii_redact", 1...1, "pii_redact(text)", "the text with its personal data replaced by its kind",
                 ("pii_redact('mail ada@example.com')", "mail [EMAIL]"), text),
        function(.scalar, "pii_hash", 1...1, "pii_hash(text)", "HMAC-SHA256 of the text under LOAM_HASH_KEY, 32 hex digits (as `loam anonymize --hash`)",
                 ("length(pii_hash('AbC'))", "32"), text),
        function(.scalar, "split_bucket", 3...20, "split_bucket(_rowid, seed, fraction, …)",
                 "the split a row belongs to, from its id alone: 'train'/'val'/'test' for three fractions, 'train'/'test' for two, else 'split_1'…; NULL past their sum",
                 ("split_bucket(3, 42, 0.8, 0.1, 0.1)", "test"), accepts: "a row id, a whole-number seed and fractions",
                 { types in types.count >= 3 && types[0].isInteger && types[1].isInteger && types.dropFirst(2).allSatisfy { $0.isInteger || $0.isFloatingPoint } ? .utf8 : nil }),
        function(.scalar, "random", 0...1, "random([seed])",
                 "a number in [0, 1) drawn from the row's _rowid and the seed (default 0): the same row and seed give the same number",
                 ("random(7) < 1", "true"), { _ in .float64 }),
        function(.scalar, "hash", 1...100, "hash(a, …)", "a 64-bit hash of the values (stable across versions)", ("hash(3) = hash(3)", "true"), { _ in .uint64 }),
        // Dates
        function(.scalar, "now", 0...0, "now()", "the current time (UTC)", ("now() IS NOT NULL", "true"), { _ in .timestamp(.microsecond, timeZone: "UTC") }),
        function(.scalar, "date_trunc", 2...2, "date_trunc(unit, date or timestamp)", "the time cut to the unit (year … second)",
               ("date_trunc('month', CAST('2024-05-17' AS date32))", "2024-05-01"), { $0.count > 1 ? $0[1] : nil }),
        function(.scalar, "date_part", 2...2, "date_part(unit, date or timestamp)", "one field of the time (year … second, dow, doy)",
               ("date_part('year', CAST('2024-05-17' AS date32))", "2024"), int64),
        // Structs and lists
        function(.scalar, "struct_extract", 2...2, "struct_extract(struct, 'field'), also struct.field", "one field of a struct",
                 ("struct_extract(NULL, 'x') IS NULL", "true"), { _ in .bool }),
        function(.scalar, "unnest", 1...1, "unnest(list)", "one result row per item (a whole select item; an empty or NULL list gives no row)",
                 ("unnest([1, 2, 3])", "1"), accepts: "a list",
                 { types in
                     switch types.first {
                     case .list(let item)?, .fixedSizeList(let item, _)?: return item.type
                     default: return nil
                     }
                 }),
        // Vectors
        function(.scalar, "array_length", 1...1, "array_length(list)", "the number of items", ("array_length([1, 2, 3])", "3"), int64),
        function(.scalar, "dot", 2...2, "dot(u, v)", "the dot product", ("dot([1, 2], [3, 4])", "11.0"), float64),
        function(.scalar, "cosine_distance", 2...2, "cosine_distance(u, v)", "1 − cosine similarity", ("cosine_distance([1, 0], [0, 1])", "1.0"), float64),
        function(.scalar, "l2_distance", 2...2, "l2_distance(u, v)", "the Euclidean distance", ("l2_distance([0, 0], [3, 4])", "5.0"), float64),
        // Aggregates
        function(.aggregate, "count", 1...1, "count(*), count(x), count(DISTINCT x)", "rows, or non-NULL values", ("count(*)", "1"), int64),
        function(.aggregate, "sum", 1...1, "sum(x)", "the total (int64 for integers)", ("sum(3)", "3"), accepts: "numbers",
                  { types in types.first.map(numeric) == true ? (types[0].isFloatingPoint ? .float64 : .int64) : nil }),
        function(.aggregate, "avg", 1...1, "avg(x)", "the mean", ("avg(3)", "3.0"), accepts: "numbers", numbersTo(.float64)),
        function(.aggregate, "min", 1...1, "min(x)", "the smallest value", ("min(-2.5)", "-2.5"), first),
        function(.aggregate, "max", 1...1, "max(x)", "the largest value", ("max('AbC')", "AbC"), first),
        function(.aggregate, "stddev", 1...1, "stddev(x)", "the sample standard deviation", ("stddev(3)", "NULL"), accepts: "numbers", numbersTo(.float64)),
        function(.aggregate, "stddev_samp", 1...1, "stddev_samp(x)", "the sample standard deviation", ("stddev_samp(3)", "NULL"), accepts: "numbers", numbersTo(.float64)),
        function(.aggregate, "variance", 1...1, "variance(x)", "the sample variance", ("variance(3)", "NULL"), accepts: "numbers", numbersTo(.float64)),
        function(.aggregate, "var_samp", 1...1, "var_samp(x)", "the sample variance", ("var_samp(3)", "NULL"), accepts: "numbers", numbersTo(.float64)),
        function(.aggregate, "median", 1...1, "median(x)", "the middle value (interpolated)", ("median(3)", "3.0"), accepts: "numbers", numbersTo(.float64)),
        function(.aggregate, "quantile_cont", 2...2, "quantile_cont(x, fraction)", "the interpolated quantile", ("quantile_cont(3, 0.5)", "3.0"),
                  accepts: "numbers", numbersTo(.float64)),
        function(.aggregate, "approx_quantile", 2...2, "approx_quantile(x, fraction)", "the quantile (exact here)", ("approx_quantile(3, 0.5)", "3.0"),
                  accepts: "numbers", numbersTo(.float64)),
        function(.aggregate, "bool_and", 1...1, "bool_and(b)", "true when every value is true", ("bool_and(3 > 2)", "true"), accepts: "booleans",
                  { $0.first == .bool ? .bool : nil }),
        function(.aggregate, "bool_or", 1...1, "bool_or(b)", "true when any value is true", ("bool_or(3 < 2)", "false"), accepts: "booleans",
                  { $0.first == .bool ? .bool : nil }),
        function(.aggregate, "any_value", 1...1, "any_value(x)", "one of the values", ("any_value(3)", "3"), first),
        function(.aggregate, "string_agg", 2...2, "string_agg(text, separator)", "the non-NULL values joined by the separator", ("string_agg('AbC', ', ')", "AbC"),
                  { $0.first.map { $0.isString } == true ? .utf8 : nil }),
        function(.aggregate, "approx_count_distinct", 1...1, "approx_count_distinct(x)", "distinct non-NULL values (exact here)", ("approx_count_distinct(3)", "1"), int64),
        function(.aggregate, "array_agg", 1...1, "array_agg(x)", "the values as a list", ("array_agg(3)", "[3]"), { $0.first.map { .list(Field(name: "item", type: $0)) } }),
    ]

    public static let byName: [String: SQLFunction] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    static let aggregateNames: Set<String> = Set(all.filter { $0.kind == .aggregate }.map(\.name))

    /// `docs/FUNCTIONS.md`: the reference, written from this registry (a test checks the file matches).
    public static var markdown: String {
        var out = "# SQL functions\n\nWritten from `FunctionRegistry` (Sources/LoamQuery/Binder/FunctionRegistry.swift); a test checks that this page, "
            + "the binder and the evaluator agree with it, and runs every example.\n"
        for kind in [SQLFunction.Kind.scalar, .aggregate] {
            out += "\n## \(kind == .scalar ? "Functions" : "Aggregates")\n\n| call | returns | example | answer |\n|---|---|---|---|\n"
            for f in all where f.kind == kind {
                out += "| `\(f.signature)` | \(f.summary) | `\(f.example.call)` | `\(f.example.answer)` |\n"
            }
        }
        return out
    }

    /// The list `loam query --help` prints.
    public static var helpText: String {
        func list(_ kind: SQLFunction.Kind) -> String { all.filter { $0.kind == kind }.map(\.signature).joined(separator: ", ") }
        return "Functions: \(list(.scalar)). Aggregates: \(list(.aggregate))."
    }
}
