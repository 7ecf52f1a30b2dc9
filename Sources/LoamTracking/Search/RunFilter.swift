import Foundation

/// MLflow's search grammar, the one parser for it (the server's searches and
/// `loam runs list --filter` both use it): `metrics.rmse < 1 and params.lr = '0.1'
/// and tags.`team.name` LIKE 'a%' and attributes.status IN ('FINISHED', 'FAILED')` —
/// comparisons joined by AND; keys quoted with backticks or double quotes when
/// they hold dots or spaces. Also `order_by` keys (`metrics.rmse DESC`).
///
/// ```swift
/// let filter = try RunFilter("metrics.loss < 0.5 and params.lr = '0.1'")
/// let kept = runs.filter(filter.matches)
/// ```
public struct RunFilter: Sendable {
    public let clauses: [Clause]

    /// Parses `text`; an empty text matches everything.
    public init(_ text: String) throws { clauses = try Self.parse(text) }

    public func matches(_ run: TrackedRun) -> Bool { clauses.allSatisfy { $0.matches(run) } }
    public func matches(_ experiment: Experiment) -> Bool { clauses.allSatisfy { $0.matches(experiment: experiment) } }
    /// For any entity: `lookup` gives its value for a key (nil when it has none). With `absentDiffers`,
    /// a missing tag is `!=` any value (MLflow's registry searches: its client adds
    /// `tag.mlflow.prompt.is_prompt != 'true'` to every registered-model search).
    public func matches(absentDiffers: Bool = false, _ lookup: (Key) -> Value?) -> Bool {
        clauses.allSatisfy { clause in
            let value = lookup(clause.key)
            if absentDiffers, value == nil, clause.key.entity == .tag, clause.op == "!=" || clause.op == "NOT IN" { return true }
            return clause.test(value)
        }
    }

    public enum Entity: String, Sendable { case metric, param, tag, attribute, dataset }

    /// A value a run has for a key: numbers for metrics and times, text otherwise.
    public enum Value: Comparable, Sendable {
        case number(Double)
        case text(String)

        public static func < (a: Value, b: Value) -> Bool {
            switch (a, b) {
            case (.number(let x), .number(let y)): return x < y
            case (.text(let x), .text(let y)): return x < y
            case (.number, .text): return true
            case (.text, .number): return false
            }
        }
    }

    public struct Key: Sendable {
        public let entity: Entity
        public let name: String

        func value(_ run: TrackedRun) -> Value? {
            switch entity {
            case .metric: return run.metrics.first { $0.key == name }.map { .number($0.value) }
            case .param: return run.params[name].map(Value.text)
            case .tag: return run.tags[name].map(Value.text)
            case .dataset: return nil
            case .attribute:
                switch name {
                case "start_time": return .number(Double(run.info.startTime))
                case "end_time": return run.info.endTime.map { .number(Double($0)) }
                case "status": return .text(run.info.status.rawValue)
                case "run_name", "name": return .text(run.info.name)
                case "run_id", "run_uuid": return .text(run.info.id)
                case "user_id": return .text(run.info.userID)
                case "artifact_uri": return .text(run.info.artifactURI)
                case "lifecycle_stage": return .text(run.info.lifecycleStage.rawValue)
                default: return nil
                }
            }
        }
    }

    public struct Clause: Sendable {
        let key: Key
        let op: String
        let values: [Value]

        func matches(_ run: TrackedRun) -> Bool {
            guard key.entity == .dataset else { return test(key.value(run)) }
            // datasets.name / digest / context: a run matches when one of its inputs does.
            let values = run.inputs.map { Self.datasetField(key.name, $0) }
            return op == "IS NULL" ? values.allSatisfy { $0 == nil } : values.contains { test($0) }
        }

        static func datasetField(_ name: String, _ input: String) -> Value? {
            guard let object = try? JSONSerialization.jsonObject(with: Data(input.utf8)) as? [String: Any] else { return nil }
            if name == "context" {
                let tags = (object["tags"] as? [[String: Any]]) ?? []
                return (tags.first { $0["key"] as? String == "mlflow.data.context" }?["value"] as? String).map(Value.text)
            }
            return ((object["dataset"] as? [String: Any])?[name] as? String).map(Value.text)
        }

        func matches(experiment e: Experiment) -> Bool {
            switch key.entity {
            case .tag: return test(e.tags[key.name].map(Value.text))
            case .attribute where key.name == "name": return test(.text(e.name))
            case .attribute where key.name == "creation_time": return test(.number(Double(e.creationTime)))
            case .attribute where key.name == "last_update_time": return test(.number(Double(e.lastUpdateTime)))
            default: return false
            }
        }

        func test(_ value: Value?) -> Bool {
            if op == "IS NULL" { return value == nil }
            if op == "IS NOT NULL" { return value != nil }
            guard let value else { return false }  // a run without the key matches no comparison
            switch op {
            case "=": return value == values[0]
            case "!=": return value != values[0]
            case "<": return value < values[0]
            case "<=": return value <= values[0]
            case ">": return value > values[0]
            case ">=": return value >= values[0]
            case "IN": return values.contains(value)
            case "NOT IN": return !values.contains(value)
            case "LIKE", "ILIKE":
                guard case .text(let text) = value, case .text(let pattern) = values[0] else { return false }
                return Self.like(text, pattern, caseInsensitive: op == "ILIKE")
            default: return false
            }
        }

        static func like(_ text: String, _ pattern: String, caseInsensitive: Bool) -> Bool {
            var regex = "^"
            for c in pattern {
                switch c {
                case "%": regex += ".*"
                case "_": regex += "."
                default: regex += NSRegularExpression.escapedPattern(for: String(c))
                }
            }
            regex += "$"
            return text.range(of: regex, options: caseInsensitive ? [.regularExpression, .caseInsensitive] : .regularExpression) != nil
        }
    }

    // MARK: parsing

    private enum Token: Equatable { case word(String), quoted(String), string(String), number(Double), symbol(String) }

    private static func tokens(_ text: String) throws -> [Token] {
        var out: [Token] = []
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace { i += 1; continue }
            if c == "'" || c == "\"" || c == "`" {
                var j = i + 1, value = ""
                while j < chars.count && chars[j] != c { value.append(chars[j]); j += 1 }
                guard j < chars.count else { throw TrackingError.invalid("unterminated \(c) in the filter '\(text)'") }
                out.append(c == "'" ? .string(value) : .quoted(value))
                i = j + 1
            } else if "(),".contains(c) {
                out.append(.symbol(String(c))); i += 1
            } else if "<>=!".contains(c) {
                var op = String(c)
                if i + 1 < chars.count && chars[i + 1] == "=" { op.append("="); i += 1 }
                guard op != "!" else { throw TrackingError.invalid("'!' must be '!=' in the filter '\(text)'") }
                out.append(.symbol(op)); i += 1
            } else {
                var j = i, word = ""
                while j < chars.count && !chars[j].isWhitespace && !"()',<>=!\"`".contains(chars[j]) { word.append(chars[j]); j += 1 }
                if let n = Double(word), word.first.map({ $0.isNumber || $0 == "-" || $0 == "." }) == true { out.append(.number(n)) } else { out.append(.word(word)) }
                i = j
            }
        }
        return out
    }

    /// `entity.key` from a word (and a quoted key after `entity.`).
    private static func key(_ tokens: [Token], _ i: inout Int, _ text: String) throws -> Key {
        guard i < tokens.count, case .word(let word) = tokens[i] else { throw TrackingError.invalid("expected metrics.KEY, params.KEY, tags.KEY or attributes.NAME in '\(text)'") }
        i += 1
        let parts = word.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let prefix = String(parts[0]).lowercased()
        var name = parts.count > 1 ? String(parts[1]) : ""
        if name.isEmpty, i < tokens.count, case .quoted(let q) = tokens[i] { name = q; i += 1 }
        let entity: Entity
        switch prefix {
        case "metric", "metrics": entity = .metric
        case "param", "params", "parameter", "parameters": entity = .param
        case "tag", "tags": entity = .tag
        case "attribute", "attributes", "attr", "run": entity = .attribute
        case "dataset", "datasets": entity = .dataset
        default:
            if parts.count == 1 { return Key(entity: .attribute, name: word) }  // `name = 'x'` for experiments
            throw TrackingError.invalid("unknown entity '\(prefix)' in '\(text)' (metrics, params, tags, attributes or datasets)")
        }
        guard !name.isEmpty else { throw TrackingError.invalid("'\(prefix).' needs a key in '\(text)'") }
        return Key(entity: entity, name: name)
    }

    private static func parse(_ text: String) throws -> [Clause] {
        let tokens = try tokens(text)
        var i = 0
        var clauses: [Clause] = []
        func value() throws -> Value {
            guard i < tokens.count else { throw TrackingError.invalid("the filter '\(text)' ends where a value should be") }
            defer { i += 1 }
            switch tokens[i] {
            case .string(let s), .quoted(let s): return .text(s)
            case .number(let n): return .number(n)
            default: throw TrackingError.invalid("expected a value ('text' or a number) in '\(text)'")
            }
        }
        while i < tokens.count {
            let key = try key(tokens, &i, text)
            guard i < tokens.count else { throw TrackingError.invalid("the filter '\(text)' ends after a key") }
            var op: String
            switch tokens[i] {
            case .symbol(let s) where ["=", "!=", "<", "<=", ">", ">="].contains(s): op = s
            case .word(let w) where ["LIKE", "ILIKE", "IN"].contains(w.uppercased()): op = w.uppercased()
            case .word(let w) where w.uppercased() == "IS":  // IS NULL, IS NOT NULL
                i += 1
                op = "IS NULL"
                if i < tokens.count, case .word(let n) = tokens[i], n.uppercased() == "NOT" { op = "IS NOT NULL"; i += 1 }
                guard i < tokens.count, case .word(let n) = tokens[i], n.uppercased() == "NULL" else { throw TrackingError.invalid("IS must be IS NULL or IS NOT NULL in '\(text)'") }
            case .word(let w) where w.uppercased() == "NOT":
                i += 1
                guard i < tokens.count, case .word(let w2) = tokens[i], w2.uppercased() == "IN" else { throw TrackingError.invalid("NOT must be NOT IN in '\(text)'") }
                op = "NOT IN"
            default: throw TrackingError.invalid("expected a comparison (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, IS [NOT] NULL) in '\(text)'")
            }
            i += 1
            var values: [Value] = []
            if op.hasPrefix("IS ") {
                // no value
            } else if op == "IN" || op == "NOT IN" {
                guard i < tokens.count, tokens[i] == .symbol("(") else { throw TrackingError.invalid("IN needs a list: IN ('a', 'b') in '\(text)'") }
                i += 1
                repeat { values.append(try value()) } while i < tokens.count && tokens[i] == .symbol(",") && { i += 1; return true }()
                guard i < tokens.count, tokens[i] == .symbol(")") else { throw TrackingError.invalid("unclosed IN list in '\(text)'") }
                i += 1
            } else {
                values = [try value()]
            }
            if key.entity == .metric, case .text = values.first { throw TrackingError.invalid("metrics compare with numbers, not text, in '\(text)'") }
            if key.entity == .attribute, ["start_time", "end_time", "creation_time", "last_update_time"].contains(key.name), case .text = values.first {
                throw TrackingError.invalid("\(key.name) compares with a number of milliseconds in '\(text)'")
            }
            clauses.append(Clause(key: key, op: op, values: values))
            if i < tokens.count {
                guard case .word(let w) = tokens[i], w.uppercased() == "AND" else { throw TrackingError.invalid("clauses join with AND in '\(text)'") }
                i += 1
                guard i < tokens.count else { throw TrackingError.invalid("the filter '\(text)' ends after AND") }
            }
        }
        return clauses
    }

    /// `metrics.rmse DESC` → (key, ascending).
    static func orderKey(_ text: String) throws -> (Key, Bool) {
        let tokens = try tokens(text)
        var i = 0
        let key = try key(tokens, &i, text)
        var ascending = true
        if i < tokens.count {
            guard case .word(let w) = tokens[i], ["ASC", "DESC"].contains(w.uppercased()), i == tokens.count - 1 else {
                throw TrackingError.invalid("order_by takes KEY [ASC|DESC], not '\(text)'")
            }
            ascending = w.uppercased() == "ASC"
        }
        return (key, ascending)
    }
}
