import Loam
import LoamFormat

/// Resolves a parsed statement against a dataset's schema: column names to
/// slots, functions to implementations, and a type for every output column.
struct Binder: Sendable {
    let sql: String
    let schema: Schema
    let alias: String?
    let dataset: String
    /// Scanned columns, in slot order (projection pushdown: only what the query uses).
    private(set) var columns: [String] = []
    private(set) var aggregates: [AggregateSpec] = []
    private var aggregateKeys: [String] = []
    /// Set for a joined relation: its fields are named `alias.column`; unqualified names resolve when unique.
    var qualified = false
    /// USING columns of a join: an unqualified one resolves to its left-side field.
    var usingColumns: Set<String> = []
    /// Whether the relation is a dataset, whose rows carry the `_rowid` pseudo-column.
    var hasRowID = false
    /// Group-by expressions, as text, for checking that selected columns are grouped.
    var groupKeys: [String] = []
    var grouping = false
    /// Window functions found so far. Bound as marker slots; once binding ends they become the slots after the
    /// aggregates (`windowsResolved`, grouped queries) or columns after the scanned ones (`windowsAsColumns`).
    private(set) var windows: [WindowSpec] = []
    /// Window functions are allowed in the select list, QUALIFY and ORDER BY only.
    var windowsAllowed = false
    /// Marks a window result until `windowsResolved` renumbers it after the aggregates.
    static let windowSlotBase = 1 << 40

    /// Names of aggregate functions (from `FunctionRegistry`).
    static var aggregateFunctions: Set<String> { FunctionRegistry.aggregateNames }

    init(sql: String, schema: Schema, dataset: String, alias: String?) {
        self.sql = sql
        self.schema = schema
        self.dataset = dataset
        self.alias = alias
    }

    func error(_ message: String, at position: Int) -> SQLError { SQLError(sql: sql, position: position, message: message) }

    private mutating func slot(_ name: String) -> Int {
        if let i = columns.firstIndex(of: name) { return i }
        columns.append(name)
        return columns.count - 1
    }

    /// All columns of the dataset, for `SELECT *`.
    var starColumns: [String] { schema.fields.map(\.name) }

    func type(of name: String) -> ArrowType {
        schema.fields.first { $0.name == name }?.type ?? (name == "_rowid" ? .uint64 : .utf8)
    }

    mutating func bind(_ e: Expression, allowAggregates: Bool) throws -> (BoundExpression, ArrowType) {
        // An expression grouped on as a whole is one value per group: its columns need not be grouped one by one.
        if grouping, groupKeys.contains(e.canonical) {
            grouping = false
            defer { grouping = true }
            return try bind(e, allowAggregates: allowAggregates)
        }
        switch e {
        case .literal(let v, _):
            switch v {
            case .int: return (.literal(v), .int64)
            case .float: return (.literal(v), .float64)
            case .bool: return (.literal(v), .bool)
            case .string: return (.literal(v), .utf8)
            default: return (.literal(.null), .utf8)
            }
        case .column(let table?, let field, let at) where !qualified && table != alias && table != dataset && isStruct(table):
            // struct_column.field
            return try bind(.call(name: "struct_extract", arguments: [.column(table: nil, name: table, at: at), .literal(.string(field), at: at)],
                                  distinct: false, at: at), allowAggregates: allowAggregates)
        case .call("struct_extract", let arguments, _, let at):
            guard arguments.count == 2, case .literal(.string(let field), _) = arguments[1] else {
                throw error("struct_extract(struct, 'field') takes a struct and a quoted field name", at: at)
            }
            if case .literal(.null, _) = arguments[0] { return (.literal(.null), .utf8) }  // NULL has every field, all NULL
            let (bound, type) = try bind(arguments[0], allowAggregates: allowAggregates)
            guard case .structType(let fields) = type else { throw error("\(arguments[0].canonical) is \(type.name), not a struct", at: at) }
            guard let index = fields.firstIndex(where: { $0.name == field }) else {
                throw error("struct \(arguments[0].canonical) has no field '\(field)' (fields: \(fields.map(\.name).joined(separator: ", ")))", at: at)
            }
            return (.function("struct_extract", [bound, .literal(.int(Int64(index)))], at: at), fields[index].type)
        case .column(let table, let rawName, let at):
            var name = rawName
            if qualified {
                name = try resolveQualified(table, rawName, at: at)
            } else if let table, table != alias, table != dataset {
                throw error("unknown table '\(table)' (the query reads '\(alias ?? dataset)')", at: at)
            }
            guard name == "_rowid" || schema.index(of: name) != nil else {
                let hint = closest(name, in: starColumns + ["_rowid"] + starColumns.compactMap { $0.split(separator: ".").last.map(String.init) }).map { " (did you mean '\($0)'?)" } ?? " (columns: \(starColumns.joined(separator: ", ")))"
                throw error("unknown column '\(name)' in dataset '\(dataset)'" + hint, at: at)
            }
            if grouping && !groupKeys.contains(name) && !groupKeys.contains(e.canonical) {
                throw error("column '\(name)' must appear in GROUP BY or be used in an aggregate", at: at)
            }
            return (.column(slot: slot(name)), type(of: name))
        case .star(let at):
            throw error("* is only allowed alone in the select list or as count(*)", at: at)
        case .unary(let op, let inner, let at):
            let (b, t) = try bind(inner, allowAggregates: allowAggregates)
            if op == "NOT" { return (.not(b), .bool) }
            guard t.isInteger || t.isFloatingPoint else { throw error("cannot negate a value of type \(t.name)", at: at) }
            return (.negate(b), t)
        case .binary(let op, let l, let r, let at):
            let (bl, tl) = try bind(l, allowAggregates: allowAggregates)
            let (br, tr) = try bind(r, allowAggregates: allowAggregates)
            switch op {
            case "AND": return (.and(bl, br), .bool)
            case "OR": return (.or(bl, br), .bool)
            case "||": return (.concat(bl, br), .utf8)
            case "=", "!=", "<", "<=", ">", ">=":
                // A date or timestamp against quoted text: the text is read as a date or timestamp once, here.
                func temporal(_ t: ArrowType) -> Bool { if case .timestamp = t { return true } else { return t == .date32 } }
                if temporal(tl), case .literal(let text) = br, case .string = text {
                    return (.compare(op, bl, .literal(try Evaluator(sql: sql).cast(text, to: tl, at: r.position))), .bool)
                }
                if temporal(tr), case .literal(let text) = bl, case .string = text {
                    return (.compare(op, .literal(try Evaluator(sql: sql).cast(text, to: tr, at: l.position)), br), .bool)
                }
                // NULL (typed as text) compares with anything, and yields NULL.
                // Text against numbers, and dates or timestamps against numbers, need a cast (as in PostgreSQL and DuckDB).
                let number = { (t: ArrowType) in t.isInteger || t.isFloatingPoint }
                if !isNullLiteral(l) && !isNullLiteral(r),
                   (tl.isString && number(tr)) || (tr.isString && number(tl)) || (temporal(tl) && number(tr)) || (temporal(tr) && number(tl)) {
                    throw error("cannot compare \(tl.name) with \(tr.name); cast one side, e.g. CAST(x AS \(temporal(tl) || temporal(tr) ? "date32" : "int64"))", at: at)
                }
                return (.compare(op, bl, br), .bool)
            default:
                let numeric = { (t: ArrowType) in t.isInteger || t.isFloatingPoint }
                guard numeric(tl) || isNullLiteral(l), numeric(tr) || isNullLiteral(r) else {
                    throw error("operator \(op) needs numbers, not \(tl.name) and \(tr.name)", at: at)
                }
                if tl.isFloatingPoint || tr.isFloatingPoint { return (.arithmetic(op, bl, br, unsigned: false, at: at), .float64) }
                // uint64 (hash(…), ids) stays uint64 with other unsigned operands and non-negative constants.
                func unsignedSide(_ t: ArrowType, _ b: BoundExpression) -> Bool {
                    if case .literal(.int(let v)) = b { return v >= 0 }
                    return [.uint8, .uint16, .uint32, .uint64].contains(t)
                }
                let unsigned = (tl == .uint64 || tr == .uint64) && unsignedSide(tl, bl) && unsignedSide(tr, br)
                return (.arithmetic(op, bl, br, unsigned: unsigned, at: at), unsigned ? .uint64 : .int64)
            }
        case .isNull(let inner, let negated, _):
            return (.isNull(try bind(inner, allowAggregates: allowAggregates).0, negated: negated), .bool)
        case .between(let v, let low, let high, let negated, let at):
            let range = Expression.binary(op: "AND", .binary(op: ">=", v, low, at: at), .binary(op: "<=", v, high, at: at), at: at)
            let (b, _) = try bind(range, allowAggregates: allowAggregates)
            return (negated ? .not(b) : b, .bool)
        case .inList(let v, let items, let negated, _):
            let (bv, _) = try bind(v, allowAggregates: allowAggregates)
            return (.inList(bv, try items.map { try bind($0, allowAggregates: allowAggregates).0 }, negated: negated), .bool)
        case .like(let v, let pattern, let insensitive, let negated, _):
            return (.like(try bind(v, allowAggregates: allowAggregates).0, try bind(pattern, allowAggregates: allowAggregates).0,
                          caseInsensitive: insensitive, negated: negated), .bool)
        case .caseWhen(let operand, let branches, let otherwise, _):
            var bound: [(BoundExpression, BoundExpression)] = []
            var type: ArrowType?
            for (condition, result) in branches {
                let test = operand.map { Expression.binary(op: "=", $0, condition, at: condition.position) } ?? condition
                let (bc, _) = try bind(test, allowAggregates: allowAggregates)
                let (br, tr) = try bind(result, allowAggregates: allowAggregates)
                if type == nil && !isNullLiteral(result) { type = tr }
                bound.append((bc, br))
            }
            let other = try otherwise.map { try bind($0, allowAggregates: allowAggregates) }
            return (.caseWhen(bound, otherwise: other?.0), type ?? other?.1 ?? .utf8)
        case .cast(let inner, let type, let at):
            let (value, from) = try bind(inner, allowAggregates: allowAggregates)
            // Dates count days and timestamps ticks of their unit: a cast between them rescales (checked).
            func ticksPerSecond(_ t: ArrowType) -> Int64? {
                if case .timestamp(let unit, _) = t { return unit.perSecond }
                return t == .date32 ? 0 : nil
            }
            if let a = ticksPerSecond(from), let b = ticksPerSecond(type), a != b {
                return (.cast(.function("__retime", [value, .literal(.int(a)), .literal(.int(b))], at: at), type, at: at), type)
            }
            return (.cast(value, type, at: at), type)
        case .inSubquery(_, _, _, let at), .scalarSubquery(_, let at), .exists(_, _, let at):
            // A SELECT's executor replaces subqueries by their values before binding; UPDATE and DELETE do not yet.
            throw error("a subquery is not supported here yet (UPDATE and DELETE take none); find the rows with a SELECT first", at: at)
        case .window(let call, let at):
            return try bindWindow(call, at: at, allowAggregates: allowAggregates)
        case .lookup(let table, let keys, _):
            return (.lookup(table, try keys.map { try bind($0, allowAggregates: allowAggregates).0 }), table.type)
        case .listLiteral(let items, _):
            let bound = try items.map { try bind($0, allowAggregates: allowAggregates) }
            let item = bound.first { $0.1 != .utf8 }?.1 ?? bound.first?.1 ?? .float64
            return (.list(bound.map(\.0)), .list(Field(name: "item", type: item)))
        case .element(let list, let index, let at):
            let (bl, tl) = try bind(list, allowAggregates: allowAggregates)
            let (bi, ti) = try bind(index, allowAggregates: allowAggregates)
            guard ti.isInteger else { throw error("a list index must be a whole number, not \(ti.name)", at: at) }
            switch tl {
            case .list(let item), .fixedSizeList(let item, _): return (.element(bl, bi), item.type)
            default: throw error("[] needs a list or fixed-size list, not \(tl.name)", at: at)
            }
        case .call("random", let arguments, _, let at) where arguments.count <= 1:
            // random([seed]): drawn from the row's _rowid and the seed, so the same query gives the same numbers.
            let seed = try arguments.first.map { try bind($0, allowAggregates: allowAggregates) } ?? (.literal(.int(0)), .int64)
            guard seed.1.isInteger else { throw error("random(seed) takes a whole-number seed", at: at) }
            let row: BoundExpression
            if schema.fields.isEmpty && dataset.isEmpty {
                row = .literal(.int(0))  // SELECT without FROM: one row
            } else if qualified || (schema.index(of: "_rowid") == nil && !hasRowID) {
                throw error("random() draws from a dataset's _rowid; read the dataset itself (not a join or subquery), or number the rows and use hash()", at: at)
            } else {
                row = try bind(.column(table: nil, name: "_rowid", at: at), allowAggregates: allowAggregates).0
            }
            return (.function("random", [row, seed.0], at: at), .float64)
        case .call("mod", let arguments, _, let at) where arguments.count == 2:
            return try bind(.binary(op: "%", arguments[0], arguments[1], at: at), allowAggregates: allowAggregates)
        case .call("approx_count_distinct", let arguments, _, let at) where arguments.count == 1:
            return try bind(.call(name: "count", arguments: arguments, distinct: true, at: at), allowAggregates: allowAggregates)
        case .call(let name, let arguments, let distinct, let at):
            if Self.aggregateFunctions.contains(name) {
                guard allowAggregates else { throw error("aggregate \(name)() is not allowed here (use HAVING to filter on aggregates)", at: at) }
                let key = e.canonical
                if let existing = aggregateKeys.firstIndex(of: key) { return (.aggregate(slot: existing), aggregates[existing].type) }
                var argument: BoundExpression?
                var argumentType = ArrowType.int64
                if name == "count", arguments.count == 1, case .star = arguments[0] {
                    argument = nil
                } else {
                    let two = name == "quantile_cont" || name == "approx_quantile" || name == "string_agg"
                    guard arguments.count == (two ? 2 : 1) else {
                        throw error(two ? "\(FunctionRegistry.byName[name]!.signature) takes two arguments" : "\(name)() takes one argument", at: at)
                    }
                    let saved = grouping
                    grouping = false  // inside an aggregate any column may be used
                    defer { grouping = saved }
                    let (b, t) = try bind(arguments[0], allowAggregates: false)
                    argument = b
                    argumentType = t
                }
                let function = FunctionRegistry.byName[name]!
                guard let type = function.result([argumentType]) else {
                    throw error("\(name)() needs \(function.accepts), not \(argumentType.name)", at: at)
                }
                var spec = AggregateSpec(function: name, argument: argument, distinct: distinct, type: type, text: key, position: at)
                if name == "quantile_cont" || name == "approx_quantile" {
                    guard case .literal(let p, _) = arguments[1], let fraction = p.asDouble, (0...1).contains(fraction) else {
                        throw error("\(name)() takes a fraction between 0 and 1 as its second argument", at: at)
                    }
                    spec.parameter = fraction
                }
                if name == "string_agg" {
                    guard case .literal(.string(let separator), _) = arguments[1] else { throw error("string_agg() takes a quoted separator as its second argument", at: at) }
                    spec.separator = separator
                }
                aggregates.append(spec)
                aggregateKeys.append(key)
                return (.aggregate(slot: aggregates.count - 1), type)
            }
            guard let function = FunctionRegistry.byName[name] else {
                if ["rollup", "cube", "grouping", "grouping_id"].contains(name) {
                    throw error("GROUP BY ROLLUP, CUBE and GROUPING SETS are not supported yet; UNION ALL one GROUP BY per grouping", at: at)
                }
                if name == "setseed" {
                    throw error("setseed() is not supported: pass the seed to random(seed) itself (the same row and seed give the same number)", at: at)
                }
                let known = FunctionRegistry.all.map(\.name)
                let hint = closest(name, in: known).map { " (did you mean \($0)()?)" } ?? ""
                throw error("unknown function \(name)()" + hint, at: at)
            }
            let arity = function.arity
            guard arity.contains(arguments.count) else {
                throw error("\(name)() takes \(arity.lowerBound == arity.upperBound ? "\(arity.lowerBound)" : "\(arity.lowerBound) to \(arity.upperBound)") argument(s), got \(arguments.count)", at: at)
            }
            var bound = try arguments.map { try bind($0, allowAggregates: allowAggregates) }
            if name == "date_trunc" || name == "date_part" {
                // The evaluator sees only numbers: tell it how many ticks make a second (0 for a date).
                let perSecond: Int64
                switch bound[1].1 {
                case .date32: perSecond = 0
                case .timestamp(let unit, _): perSecond = unit.perSecond
                default: throw error("\(name)() needs a date32 or timestamp, not \(bound[1].1.name)", at: at)
                }
                bound.append((.literal(.int(perSecond)), .int64))
            }
            guard let type = function.result(bound.map(\.1)) else {
                throw error("\(name)() needs \(function.accepts), not \(bound.map(\.1.name).joined(separator: ", "))", at: at)
            }
            return (.function(name, bound.map(\.0), at: at), type)
        }
    }

    /// The window functions Loam computes: ranking, offsets, and the aggregates over a frame.
    static let windowFunctions: Set<String> = ["row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead",
                                               "first_value", "last_value", "nth_value", "count", "sum", "avg", "min", "max"]

    private mutating func bindWindow(_ call: WindowCall, at: Int, allowAggregates: Bool) throws -> (BoundExpression, ArrowType) {
        guard windowsAllowed else { throw error("window function \(call.name)() is not allowed here: use it in the select list, QUALIFY or ORDER BY", at: at) }
        guard Self.windowFunctions.contains(call.name) else {
            throw error("\(call.name)() is not a window function (there are \(Self.windowFunctions.sorted().joined(separator: ", ")))", at: at)
        }
        windowsAllowed = false  // no window inside a window
        defer { windowsAllowed = true }
        let star = call.arguments.count == 1 && call.arguments[0] == .star(at: 0)
        let arguments = star ? [] : try call.arguments.map { try bind($0, allowAggregates: allowAggregates) }
        let partition = try call.partitionBy.map { try bind($0, allowAggregates: allowAggregates).0 }
        let order = try call.orderBy.map { (try bind($0.expression, allowAggregates: allowAggregates).0, $0) }
        let arity: ClosedRange<Int>
        switch call.name {
        case "row_number", "rank", "dense_rank", "percent_rank", "cume_dist": arity = 0...0
        case "lag", "lead": arity = 1...3
        case "nth_value": arity = 2...2
        case "count": arity = 0...1
        default: arity = 1...1
        }
        guard arity.contains(arguments.count) || (call.name == "count" && star) else {
            throw error("\(call.name)() OVER takes \(arity.lowerBound == arity.upperBound ? "\(arity.lowerBound)" : "\(arity.lowerBound) to \(arity.upperBound)") argument(s)", at: at)
        }
        let type: ArrowType
        switch call.name {
        case "row_number", "rank", "dense_rank", "ntile", "count": type = .int64
        case "percent_rank", "cume_dist", "avg": type = .float64
        case "sum":
            guard arguments[0].1.isInteger || arguments[0].1.isFloatingPoint else { throw error("sum() needs numbers, not \(arguments[0].1.name)", at: at) }
            type = arguments[0].1.isFloatingPoint ? .float64 : .int64
        default: type = arguments[0].1
        }
        if call.name == "ntile" { guard arguments.count == 1, arguments[0].1.isInteger else { throw error("ntile(n) takes a whole number of buckets", at: at) } }
        windows.append(WindowSpec(function: call.name, arguments: arguments.map(\.0), partition: partition, order: order, frame: call.frame,
                                  type: type, text: call.canonical, position: at))
        return (.aggregate(slot: Self.windowSlotBase + windows.count - 1), type)
    }

    /// A window result's marker slot renumbered to follow the query's aggregates.
    func windowsResolved(_ e: BoundExpression) -> BoundExpression {
        let base = aggregates.count
        return e.mapped { node in
            if case .aggregate(let slot) = node, slot >= Self.windowSlotBase { return .aggregate(slot: base + slot - Self.windowSlotBase) }
            return nil
        }
    }

    /// A window result's marker slot as a column after the scanned ones (`base` on): an ungrouped
    /// query computes its windows as extra columns of its batches.
    func windowsAsColumns(_ e: BoundExpression, base: Int) -> BoundExpression {
        e.mapped { node in
            if case .aggregate(let slot) = node, slot >= Self.windowSlotBase { return .column(slot: base + slot - Self.windowSlotBase) }
            return nil
        }
    }

    /// A column of a joined relation: `alias.column`, or a bare name that is unique (or a USING column).
    func resolveQualified(_ table: String?, _ name: String, at: Int) throws -> String {
        let names = schema.fields.map(\.name)
        if let table {
            if names.contains("\(table).\(name)") { return "\(table).\(name)" }
            let tables = Set(names.compactMap { $0.split(separator: ".", maxSplits: 1).first.map(String.init) }).sorted()
            guard tables.contains(table) else { throw error("unknown table '\(table)' (the query joins \(tables.joined(separator: ", ")))", at: at) }
            throw error("table '\(table)' has no column '\(name)'", at: at)
        }
        if names.contains(name) { return name }
        let matches = names.filter { $0.hasSuffix(".\(name)") }
        if matches.count == 1 || (matches.count > 1 && usingColumns.contains(name)) { return matches[0] }
        if matches.count > 1 {
            throw error("column '\(name)' is ambiguous (\(matches.joined(separator: ", "))); qualify it with its table", at: at)
        }
        return name  // unknown: reported with suggestions by the caller
    }

    /// Whether `name` is a struct column of the relation (so `name.field` reads a field).
    private func isStruct(_ name: String) -> Bool {
        guard let i = schema.index(of: name), case .structType = schema.fields[i].type else { return false }
        return true
    }

    private func isNullLiteral(_ e: Expression) -> Bool { if case .literal(.null, _) = e { return true } else { return false } }
}
