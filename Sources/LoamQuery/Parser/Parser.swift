import Foundation
import Loam
import LoamFormat

/// Recursive-descent parser for Loam's SQL dialect (PostgreSQL-like).
/// Expression nesting is bounded, so hostile input is an error, not a stack overflow.
struct Parser {
    private let sql: String
    private let tokens: [Token]
    private var index = 0
    private var depth = 0
    static let maxDepth = 200

    init(sql: String) throws {
        self.sql = sql
        tokens = try Lexer.tokenize(sql)
    }

    static func parse(_ sql: String) throws -> QueryStatement {
        guard case .select(let query) = try parseStatement(sql) else {
            throw SQLError(sql: sql, position: 0, message: "expected a SELECT statement; writes run with Repository.execute")
        }
        return query
    }

    /// `[WITH name AS (query), …] select [UNION ALL select]…`
    private mutating func query() throws -> QueryStatement {
        depth += 1  // a subquery in FROM, IN or EXISTS is a level of nesting like a parenthesis
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { throw error("query nested more than \(Self.maxDepth) levels deep") }
        var q = QueryStatement()
        if accept(keyword: "WITH") {
            if case .identifier("recursive") = current.kind { throw error("WITH RECURSIVE is not supported yet; WITH without RECURSIVE names subqueries") }
            repeat {
                let name = try identifier("a name after WITH")
                try expect(keyword: "AS")
                try expect(symbol: "(")
                q.ctes.append((name, Subquery(try query())))
                try expect(symbol: ")")
            } while accept(symbol: ",")
        }
        q.parts.append(try select())
        while isKeyword("UNION") || isKeyword("EXCEPT") || isKeyword("INTERSECT") {
            let word = isKeyword("UNION") ? "UNION" : isKeyword("EXCEPT") ? "EXCEPT" : "INTERSECT"
            index += 1
            if accept(keyword: "ALL") {
                guard word == "UNION" else { throw error("\(word) ALL is not supported; \(word) (without ALL) drops repeated rows") }
                q.operators.append(.unionAll)
            } else {
                _ = accept(keyword: "DISTINCT")  // UNION DISTINCT is UNION
                q.operators.append(SetOperator(rawValue: word)!)
            }
            q.parts.append(try select())
        }
        if q.parts.count > 1 {  // the last part's ORDER BY / LIMIT belong to the whole union
            let last = q.parts.count - 1
            q.orderBy = q.parts[last].orderBy
            q.limit = q.parts[last].limit
            q.offset = q.parts[last].offset
            q.parts[last].orderBy = []
            q.parts[last].limit = nil
            q.parts[last].offset = 0
        }
        return q
    }

    /// A condition on its own (`--where` of `loam delete` and `loam update`), parsed as a WHERE clause.
    static func parseCondition(_ text: String) throws -> Expression {
        var parser = try Parser(sql: text)
        let condition = try parser.expression()
        guard case .end = parser.current.kind else { throw parser.error("unexpected \(parser.describe(parser.current)) after the end of the condition") }
        return condition
    }

    static func parseCopy(_ sql: String) throws -> CopyStatement? {
        var parser = try Parser(sql: sql)
        guard case .identifier("copy") = parser.current.kind else { return nil }
        parser.index += 1
        try parser.expect(symbol: "(")
        let start = parser.current.position
        _ = try parser.query()
        let end = parser.current.position
        try parser.expect(symbol: ")")
        try parser.expect(keyword: "TO")
        guard case .string(let path) = parser.current.kind else { throw parser.error("COPY (…) TO takes a quoted file name, e.g. TO 'out.csv'") }
        parser.index += 1
        var format = String(path.split(separator: ".").last ?? "").lowercased()
        _ = parser.accept(keyword: "WITH")
        if parser.accept(symbol: "(") {
            guard case .identifier("format") = parser.current.kind else { throw parser.error("expected FORMAT csv, jsonl or arrow") }
            parser.index += 1
            format = try parser.identifier("a format: csv, jsonl or arrow")
            try parser.expect(symbol: ")")
        }
        if format == "json" || format == "ndjson" { format = "jsonl" }
        if format == "ipc" || format == "feather" { format = "arrow" }
        guard ["csv", "jsonl", "arrow"].contains(format) else {
            throw SQLError(sql: sql, position: 0, message: "COPY writes csv, jsonl or arrow; name one with (FORMAT csv) or use a .csv, .jsonl or .arrow file")
        }
        if parser.isSymbol(";") { parser.index += 1 }
        guard case .end = parser.current.kind else { throw parser.error("unexpected \(parser.describe(parser.current)) after the end of the statement") }
        return CopyStatement(query: String(Array(sql)[start..<end]), path: path, format: format)
    }

    static func parseStatement(_ sql: String) throws -> Statement {
        var parser = try Parser(sql: sql)
        if case .identifier("copy") = parser.current.kind {
            throw parser.error("COPY (…) TO 'file' runs in `loam query` on the machine that writes the file; here, read the rows the query returns")
        }
        let statement: Statement
        if parser.accept(keyword: "DELETE") {
            try parser.expect(keyword: "FROM")
            let at = parser.current.position
            let dataset = try parser.identifier("a dataset name after DELETE FROM")
            statement = .delete(dataset: dataset, at: at, filter: parser.accept(keyword: "WHERE") ? try parser.expression() : nil)
        } else if parser.accept(keyword: "UPDATE") {
            let at = parser.current.position
            let dataset = try parser.identifier("a dataset name after UPDATE")
            try parser.expect(keyword: "SET")
            var assignments: [(column: String, value: Expression, at: Int)] = []
            repeat {
                let position = parser.current.position
                let column = try parser.identifier("a column name to SET")
                try parser.expect(symbol: "=")
                assignments.append((column, try parser.expression(), position))
            } while parser.accept(symbol: ",")
            statement = .update(dataset: dataset, at: at, assignments: assignments, filter: parser.accept(keyword: "WHERE") ? try parser.expression() : nil)
        } else if parser.accept(keyword: "INSERT") {
            try parser.expect(keyword: "INTO")
            let at = parser.current.position
            let dataset = try parser.identifier("a dataset name after INSERT INTO")
            var columns: [String]?
            if parser.accept(symbol: "(") {
                var names: [String] = []
                repeat { names.append(try parser.identifier("a column name")) } while parser.accept(symbol: ",")
                try parser.expect(symbol: ")")
                columns = names
            }
            try parser.expect(keyword: "VALUES")
            var rows: [[Expression]] = []
            repeat {
                try parser.expect(symbol: "(")
                var row: [Expression] = []
                repeat { row.append(try parser.expression()) } while parser.accept(symbol: ",")
                try parser.expect(symbol: ")")
                rows.append(row)
            } while parser.accept(symbol: ",")
            statement = .insert(dataset: dataset, at: at, columns: columns, rows: rows)
        } else if parser.accept(keyword: "CREATE") {
            try parser.expect(keyword: "TABLE")
            let at = parser.current.position
            let dataset = try parser.identifier("a dataset name after CREATE TABLE")
            try parser.expect(keyword: "AS")
            let start = parser.current.position
            let select = try parser.query()
            let text = String(Array(sql)[start..<min(parser.current.position, sql.count)]).trimmingCharacters(in: .whitespacesAndNewlines)
            statement = .createTableAs(dataset: dataset, at: at, select: select, query: text.hasSuffix(";") ? String(text.dropLast()) : text)
        } else if parser.accept(keyword: "ALTER") {
            try parser.expect(keyword: "TABLE")
            let at = parser.current.position
            let dataset = try parser.identifier("a dataset name after ALTER TABLE")
            if parser.accept(keyword: "ADD") {
                _ = parser.accept(keyword: "COLUMN")
                let column = try parser.identifier("a column name")
                statement = .alterAdd(dataset: dataset, at: at, column: column, type: try parser.typeName())
            } else if parser.accept(keyword: "DROP") {
                _ = parser.accept(keyword: "COLUMN")
                statement = .alterDrop(dataset: dataset, at: at, column: try parser.identifier("a column name"))
            } else if parser.accept(keyword: "RENAME") {
                _ = parser.accept(keyword: "COLUMN")
                let from = try parser.identifier("a column name")
                try parser.expect(keyword: "TO")
                statement = .alterRename(dataset: dataset, at: at, from: from, to: try parser.identifier("the new column name"))
            } else {
                throw parser.error("expected ADD, DROP or RENAME after ALTER TABLE \(dataset)")
            }
        } else if parser.accept(keyword: "DROP") {
            try parser.expect(keyword: "TABLE")
            let at = parser.current.position
            statement = .dropTable(dataset: try parser.identifier("a dataset name after DROP TABLE"), at: at)
        } else {
            var explain = false
            if case .identifier("explain") = parser.current.kind { explain = true; parser.index += 1 }
            var query = try parser.query()
            if explain { for i in query.parts.indices { query.parts[i].explain = true } }
            statement = .select(query)
        }
        if parser.isSymbol(";") { parser.index += 1 }
        guard case .end = parser.current.kind else { throw parser.error("unexpected \(parser.describe(parser.current)) after the end of the statement") }
        return statement
    }

    // MARK: Tokens

    private var current: Token { tokens[index] }

    private func error(_ message: String, at position: Int? = nil) -> SQLError {
        SQLError(sql: sql, position: position ?? current.position, message: message)
    }

    private func describe(_ token: Token) -> String {
        switch token.kind {
        case .identifier(let s): return "'\(s)'"
        case .keyword(let s): return s
        case .integer(let v): return String(v)
        case .float(let d): return String(d)
        case .string(let s): return "'\(s.prefix(20))'"
        case .symbol(let s): return "'\(s)'"
        case .end: return "the end of the statement"
        }
    }

    private func isKeyword(_ word: String) -> Bool {
        switch current.kind {
        case .keyword(word): return true
        case .identifier(let name): return contextualWords.contains(word) && name == word.lowercased()
        default: return false
        }
    }
    private func isSymbol(_ s: String) -> Bool { if case .symbol(s) = current.kind { return true } else { return false } }

    private mutating func accept(keyword word: String) -> Bool {
        if isKeyword(word) { index += 1; return true }
        return false
    }

    private mutating func accept(symbol s: String) -> Bool {
        if isSymbol(s) { index += 1; return true }
        return false
    }

    private mutating func expect(keyword word: String) throws {
        guard accept(keyword: word) else { throw error("expected \(word), found \(describe(current))") }
    }

    private mutating func expect(symbol s: String) throws {
        guard accept(symbol: s) else { throw error("expected '\(s)', found \(describe(current))") }
    }

    private mutating func identifier(_ what: String) throws -> String {
        if case .identifier(let name) = current.kind { index += 1; return name }
        throw error("expected \(what), found \(describe(current))")
    }

    private mutating func nonNegativeInteger(_ what: String) throws -> Int {
        if case .integer(let v) = current.kind, v >= 0, let n = Int(exactly: v) { index += 1; return n }
        throw error("\(what) takes a non-negative whole number, found \(describe(current))")
    }

    // MARK: Statement

    private mutating func select() throws -> SelectStatement {
        var s = SelectStatement()
        try expect(keyword: "SELECT")
        if !accept(keyword: "DISTINCT") { _ = accept(keyword: "ALL") } else { s.distinct = true }
        repeat {
            let expression = try self.expression()
            var alias: String?
            if accept(keyword: "AS") { alias = try identifier("an alias after AS") }
            else if case .identifier(let name) = current.kind, !clauseWords.contains(name) { alias = name; index += 1 }
            s.items.append(SelectItem(expression: expression, alias: alias))
        } while accept(symbol: ",")
        guard accept(keyword: "FROM") else {  // SELECT without FROM: one row
            s.noFrom = true
            s.datasetPosition = current.position
            if accept(keyword: "WHERE") { s.filter = try expression() }
            try orderAndLimit(&s)
            return s
        }
        let from = try fromItem("FROM")
        (s.dataset, s.subquery, s.tableFunction, s.ref, s.alias, s.datasetPosition) =
            (from.dataset, from.subquery, from.tableFunction, from.ref, from.alias, from.position)
        if case .identifier("natural") = current.kind { throw error("NATURAL JOIN is not supported; write JOIN … USING (the shared columns)") }
        while isSymbol(",") || ["JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS"].contains(where: isKeyword) {
            var join = JoinClause()
            var cross = false
            if accept(symbol: ",") || accept(keyword: "CROSS") {  // a comma join: planned from the WHERE's equalities
                cross = true
                if case .symbol = tokens[index - 1].kind {} else { try expect(keyword: "JOIN") }
            } else {
                if accept(keyword: "LEFT") { join.left = true }
                else if accept(keyword: "RIGHT") { join.right = true }
                else if accept(keyword: "FULL") { (join.left, join.right) = (true, true) }
                if join.left || join.right { _ = accept(keyword: "OUTER") } else { _ = accept(keyword: "INNER") }
                try expect(keyword: "JOIN")
            }
            let item = try fromItem("JOIN")
            (join.dataset, join.subquery, join.ref, join.alias, join.position) = (item.dataset, item.subquery, item.ref, item.alias, item.position)
            if item.tableFunction != nil { throw error("table functions can only be the first FROM item", at: item.position) }
            if cross {
            } else if accept(keyword: "ON") {
                join.on = try expression()
            } else if accept(keyword: "USING") {
                try expect(symbol: "(")
                repeat { join.using.append(try identifier("a column name in USING")) } while accept(symbol: ",")
                try expect(symbol: ")")
            } else {
                throw error("a JOIN needs ON condition or USING (columns); CROSS JOIN or a comma pairs every row")
            }
            s.joins.append(join)
        }
        // USING SAMPLE … and TABLESAMPLE … mean the same.
        let usingSample = isKeyword("USING") && { if case .identifier("sample") = tokens[index + 1].kind { return true } else { return false } }()
        if usingSample || isKeyword("TABLESAMPLE") {
            index += usingSample ? 2 : 1
            let amount: Double
            switch current.kind {
            case .integer(let v): amount = Double(v)
            case .float(let d): amount = d
            default: throw error("USING SAMPLE / TABLESAMPLE takes a number of rows or a percentage, e.g. USING SAMPLE 1000 ROWS")
            }
            index += 1
            let percent = accept(keyword: "PERCENT") || accept(symbol: "%")
            if !percent { try expect(keyword: "ROWS") }
            var seed: UInt64 = 0
            if accept(keyword: "REPEATABLE") {
                try expect(symbol: "(")
                guard case .integer(let v) = current.kind, v >= 0 else { throw error("REPEATABLE takes a non-negative whole-number seed") }
                seed = UInt64(v)
                index += 1
                try expect(symbol: ")")
            }
            s.sample = (amount, percent, seed)
        }
        if accept(keyword: "WHERE") { s.filter = try expression() }
        if accept(keyword: "GROUP") {
            try expect(keyword: "BY")
            repeat { s.groupBy.append(try expression()) } while accept(symbol: ",")
        }
        if accept(keyword: "HAVING") { s.having = try expression() }
        if accept(keyword: "QUALIFY") { s.qualify = try expression() }
        try orderAndLimit(&s)
        return s
    }

    /// `[ORDER BY …] [LIMIT n] [OFFSET n]`
    private mutating func orderAndLimit(_ s: inout SelectStatement) throws {
        if accept(keyword: "ORDER") {
            try expect(keyword: "BY")
            s.orderBy = try orderItems()
        }
        if accept(keyword: "LIMIT") { s.limit = try nonNegativeInteger("LIMIT") }
        if accept(keyword: "OFFSET") { s.offset = try nonNegativeInteger("OFFSET") }
    }

    /// `ORDER BY expression [ASC | DESC] [NULLS FIRST | LAST], …`
    private mutating func orderItems() throws -> [OrderItem] {
        var items: [OrderItem] = []
        repeat {
            let expression = try self.expression()
            var descending = false
            if accept(keyword: "DESC") { descending = true } else { _ = accept(keyword: "ASC") }
            var nullsFirst: Bool?
            if accept(keyword: "NULLS") {
                if accept(keyword: "FIRST") { nullsFirst = true } else { try expect(keyword: "LAST"); nullsFirst = false }
            }
            items.append(OrderItem(expression: expression, descending: descending, nullsFirst: nullsFirst))
        } while accept(symbol: ",")
        return items
    }

    /// After `name(args)`: `FILTER (WHERE …)` and `OVER (…)`.
    private mutating func callSuffix(_ name: String, _ arguments: [Expression], distinct: Bool, at: Int) throws -> Expression {
        var arguments = arguments
        if accept(keyword: "FILTER") {  // agg(x) FILTER (WHERE p) is agg(CASE WHEN p THEN x END); count(*) counts rows where p
            try expect(symbol: "(")
            try expect(keyword: "WHERE")
            let condition = try expression()
            try expect(symbol: ")")
            guard !arguments.isEmpty else { throw error("FILTER needs an aggregate with an argument", at: at) }
            let value: Expression = arguments[0] == .star(at: 0) ? .literal(.int(1), at: at) : arguments[0]
            arguments[0] = .caseWhen(operand: nil, branches: [(condition, value)], otherwise: nil, at: at)
        }
        guard accept(keyword: "OVER") else { return .call(name: name, arguments: arguments, distinct: distinct, at: at) }
        try expect(symbol: "(")
        var partition: [Expression] = [], order: [OrderItem] = [], frame: WindowCall.Frame?
        if accept(keyword: "PARTITION") {
            try expect(keyword: "BY")
            repeat { partition.append(try expression()) } while accept(symbol: ",")
        }
        if accept(keyword: "ORDER") {
            try expect(keyword: "BY")
            order = try orderItems()
        }
        if isKeyword("RANGE") { throw error("RANGE frames are not supported; write ROWS BETWEEN … (the default frame already includes the current row's peers)") }
        if accept(keyword: "ROWS") {
            func bound() throws -> Int? {
                if accept(keyword: "UNBOUNDED") {
                    guard accept(keyword: "PRECEDING") || accept(keyword: "FOLLOWING") else { throw error("expected PRECEDING or FOLLOWING after UNBOUNDED") }
                    return nil
                }
                if accept(keyword: "CURRENT") { try expect(keyword: "ROW"); return 0 }
                let n = try nonNegativeInteger("a frame offset")
                if accept(keyword: "PRECEDING") { return -n }
                try expect(keyword: "FOLLOWING")
                return n
            }
            if accept(keyword: "BETWEEN") {
                let startAt = current.position
                let start = try bound()
                if start == nil, tokens[index - 1].kind == .identifier("following") { throw error("a frame cannot start at UNBOUNDED FOLLOWING", at: startAt) }
                try expect(keyword: "AND")
                let end = try bound()
                if end == nil, tokens[index - 1].kind == .identifier("preceding") { throw error("a frame cannot end at UNBOUNDED PRECEDING") }
                frame = WindowCall.Frame(start: start, end: end)
            } else {
                frame = WindowCall.Frame(start: try bound(), end: 0)  // ROWS n PRECEDING: up to the current row
            }
        }
        try expect(symbol: ")")
        return .window(WindowCall(name: name, arguments: arguments, partitionBy: partition, orderBy: order, frame: frame), at: at)
    }

    /// `dataset | (query) | function('arg', …)`, then `[AT 'ref']` and `[[AS] alias]`.
    private mutating func fromItem(_ after: String) throws
        -> (dataset: String, subquery: Subquery?, tableFunction: [Value]?, ref: String?, alias: String?, position: Int) {
        let position = current.position
        var dataset = "subquery", subquery: Subquery?, tableFunction: [Value]?, ref: String?, alias: String?
        if case .identifier("lateral") = current.kind, case .symbol("(") = tokens[index + 1].kind {
            throw error("LATERAL subqueries are not supported; a correlated scalar subquery in the select list often does the same")
        }
        if accept(symbol: "(") {
            subquery = Subquery(try query())
            try expect(symbol: ")")
        } else {
            dataset = try identifier("a dataset name after \(after)")
            if accept(symbol: "(") {  // a table function: literal arguments
                var arguments: [Value] = []
                if !isSymbol(")") {
                    repeat {
                        guard case .literal(let v, _) = try primary() else { throw error("\(dataset)() takes literal arguments") }
                        arguments.append(v)
                    } while accept(symbol: ",")
                }
                try expect(symbol: ")")
                tableFunction = arguments
            }
        }
        // `AT 'ref'`: `at` followed by a string (a bare `at` is an alias).
        if isKeyword("AT"), case .string(let text) = tokens[index + 1].kind {
            ref = text
            index += 2
        }
        if accept(keyword: "AS") { alias = try identifier("an alias after AS") }
        else if case .identifier(let name) = current.kind, !clauseWords.contains(name) { alias = name; index += 1 }
        return (dataset, subquery, tableFunction, ref, alias, position)
    }

    // MARK: Expressions (lowest precedence first)

    private mutating func expression() throws -> Expression {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { throw error("expression nested more than \(Self.maxDepth) levels deep") }
        return try or()
    }

    private mutating func or() throws -> Expression {
        var terms = [try and()], positions: [Int] = []
        while isKeyword("OR") { positions.append(current.position); index += 1; terms.append(try and()) }
        return Self.balanced("OR", terms, positions)
    }

    private mutating func and() throws -> Expression {
        var terms = [try not()], positions: [Int] = []
        while isKeyword("AND") { positions.append(current.position); index += 1; terms.append(try not()) }
        return Self.balanced("AND", terms, positions)
    }

    /// A chain `t0 op t1 op … tn` of an associative operator as a balanced tree, so that
    /// `a = 1 OR a = 2 OR …` with thousands of terms is only a few levels deep for every
    /// recursive pass (binder, evaluator), not one level per term. Short chains stay left-deep.
    static func balanced(_ op: String, _ terms: [Expression], _ positions: [Int]) -> Expression {
        if terms.count <= 16 {
            var left = terms[0]
            for (term, at) in zip(terms.dropFirst(), positions) { left = .binary(op: op, left, term, at: at) }
            return left
        }
        let middle = terms.count / 2
        return .binary(op: op, balanced(op, Array(terms[..<middle]), Array(positions[..<(middle - 1)])),
                       balanced(op, Array(terms[middle...]), Array(positions[middle...])), at: positions[middle - 1])
    }

    private mutating func not() throws -> Expression {
        if isKeyword("NOT") {
            let at = current.position
            index += 1
            depth += 1
            defer { depth -= 1 }
            guard depth <= Self.maxDepth else { throw error("expression nested more than \(Self.maxDepth) levels deep") }
            return .unary(op: "NOT", try not(), at: at)
        }
        return try comparison()
    }

    private mutating func comparison() throws -> Expression {
        let left = try additive()
        let at = current.position
        if case .symbol(let op) = current.kind, ["=", "!=", "<>", "<", "<=", ">", ">="].contains(op) {
            index += 1
            return .binary(op: op == "<>" ? "!=" : op, left, try additive(), at: at)
        }
        if accept(keyword: "IS") {
            let negated = accept(keyword: "NOT")
            try expect(keyword: "NULL")
            return .isNull(left, negated: negated, at: at)
        }
        let negated = accept(keyword: "NOT")
        if accept(keyword: "BETWEEN") {
            let low = try additive()
            try expect(keyword: "AND")
            return .between(left, low: low, high: try additive(), negated: negated, at: at)
        }
        if accept(keyword: "IN") {
            try expect(symbol: "(")
            if isKeyword("SELECT") || isKeyword("WITH") {
                let sub = try query()
                try expect(symbol: ")")
                return .inSubquery(left, Subquery(sub), negated: negated, at: at)
            }
            var items: [Expression] = []
            repeat { items.append(try expression()) } while accept(symbol: ",")
            try expect(symbol: ")")
            return .inList(left, items, negated: negated, at: at)
        }
        if isKeyword("LIKE") || isKeyword("ILIKE") {
            let insensitive = isKeyword("ILIKE")
            index += 1
            return .like(left, pattern: try additive(), caseInsensitive: insensitive, negated: negated, at: at)
        }
        if negated { throw error("expected BETWEEN, IN, LIKE or ILIKE after NOT") }
        return left
    }

    /// Arithmetic chains stay left-deep (integer overflow and float rounding follow the written
    /// order, as in DuckDB), so each term is a level of nesting and counts toward `maxDepth`.
    private mutating func additive() throws -> Expression {
        var left = try multiplicative()
        var terms = 0
        defer { depth -= terms }
        while case .symbol(let op) = current.kind, op == "+" || op == "-" || op == "||" {
            let at = current.position
            index += 1
            terms += 1
            depth += 1
            guard depth <= Self.maxDepth else { throw error("expression nested more than \(Self.maxDepth) levels deep (each term of a chain of + - || counts; sum long lists with sum() over rows)") }
            left = .binary(op: op, left, try multiplicative(), at: at)
        }
        return left
    }

    private mutating func multiplicative() throws -> Expression {
        var left = try unary()
        var terms = 0
        defer { depth -= terms }
        while case .symbol(let op) = current.kind, op == "*" || op == "/" || op == "%" {
            let at = current.position
            index += 1
            terms += 1
            depth += 1
            guard depth <= Self.maxDepth else { throw error("expression nested more than \(Self.maxDepth) levels deep (each term of a chain of * / % counts)") }
            left = .binary(op: op, left, try unary(), at: at)
        }
        return left
    }

    private mutating func unary() throws -> Expression {
        if isSymbol("-") {
            let at = current.position
            index += 1
            depth += 1
            defer { depth -= 1 }
            guard depth <= Self.maxDepth else { throw error("expression nested more than \(Self.maxDepth) levels deep") }
            return .unary(op: "-", try unary(), at: at)
        }
        if accept(symbol: "+") { return try unary() }
        var value = try primary()
        while isSymbol("::") || isSymbol("[") {
            let at = current.position
            index += 1
            if case .symbol("[") = tokens[index - 1].kind {
                let position = try expression()
                try expect(symbol: "]")
                value = .element(value, index: position, at: at)
            } else {
                value = .cast(value, type: try typeName(), at: at)
            }
        }
        return value
    }

    private mutating func typeName() throws -> ArrowType {
        let start = current.position
        var text = ""
        // A type is a word, optionally with <...> or [...] parameters (see SchemaSpec).
        guard case .identifier(let word) = current.kind else { throw error("expected a type name, found \(describe(current))") }
        text = word
        index += 1
        // SQL spellings: DOUBLE PRECISION, VARCHAR(n) / CHAR(n) (the length is not enforced).
        if word == "double", case .identifier("precision") = current.kind { index += 1 }
        if word == "varchar" || word == "char", accept(symbol: "(") {
            _ = try nonNegativeInteger("a text length")
            try expect(symbol: ")")
        }
        do { return try SchemaSpec.parseType(text) } catch {
            throw self.error("unknown type '\(text)' (try int64, float64, string, bool, date32, timestamp)", at: start)
        }
    }

    private mutating func primary() throws -> Expression {
        let at = current.position
        switch current.kind {
        case .integer(let v): index += 1; return .literal(.int(v), at: at)
        case .float(let d): index += 1; return .literal(.float(d), at: at)
        case .string(let s): index += 1; return .literal(.string(s), at: at)
        case .keyword("NULL"): index += 1; return .literal(.null, at: at)
        case .keyword("TRUE"): index += 1; return .literal(.bool(true), at: at)
        case .keyword("FALSE"): index += 1; return .literal(.bool(false), at: at)
        case .symbol("*"): index += 1; return .star(at: at)
        case .symbol("["):
            index += 1
            var items: [Expression] = []
            if !isSymbol("]") { repeat { items.append(try expression()) } while accept(symbol: ",") }
            try expect(symbol: "]")
            return .listLiteral(items, at: at)
        case .symbol("("):
            index += 1
            if isKeyword("SELECT") || isKeyword("WITH") {  // a scalar subquery
                let sub = try query()
                try expect(symbol: ")")
                return .scalarSubquery(Subquery(sub), at: at)
            }
            let inner = try expression()
            try expect(symbol: ")")
            return inner
        case .keyword("CASE"):
            index += 1
            let operand: Expression? = isKeyword("WHEN") ? nil : try expression()
            var branches: [(Expression, Expression)] = []
            while accept(keyword: "WHEN") {
                let condition = try expression()
                try expect(keyword: "THEN")
                branches.append((condition, try expression()))
            }
            guard !branches.isEmpty else { throw error("CASE needs at least one WHEN … THEN …") }
            let otherwise: Expression? = accept(keyword: "ELSE") ? try expression() : nil
            try expect(keyword: "END")
            return .caseWhen(operand: operand, branches: branches, otherwise: otherwise, at: at)
        case .keyword("CAST"):
            index += 1
            try expect(symbol: "(")
            let value = try expression()
            try expect(keyword: "AS")
            let type = try typeName()
            try expect(symbol: ")")
            return .cast(value, type: type, at: at)
        case .identifier(let name):
            index += 1
            if name == "extract" && isSymbol("(") {  // extract(part FROM value)
                index += 1
                let part = try identifier("a date part (year, month, day, hour, minute, second, dow, doy, epoch)")
                try expect(keyword: "FROM")
                let value = try expression()
                try expect(symbol: ")")
                return .call(name: "date_part", arguments: [.literal(.string(part), at: at), value], distinct: false, at: at)
            }
            if name == "array" && isSymbol("[") { return try primary() }
            if name == "exists" && isSymbol("(") {
                index += 1
                guard isKeyword("SELECT") || isKeyword("WITH") else { throw error("EXISTS takes a subquery: EXISTS (SELECT …)") }
                let sub = try query()
                try expect(symbol: ")")
                return .exists(Subquery(sub), negated: false, at: at)
            }
            // DATE '2024-05-17', TIMESTAMP '2024-05-17 10:00:00': a typed literal.
            if name == "date" || name == "timestamp", case .string(let text) = current.kind {
                index += 1
                return .cast(.literal(.string(text), at: at), type: name == "date" ? .date32 : .timestamp(.microsecond, timeZone: nil), at: at)
            }
            if accept(symbol: "(") {
                let distinct = accept(keyword: "DISTINCT")
                var arguments: [Expression] = []
                if !isSymbol(")") {
                    repeat { arguments.append(try expression()) } while accept(symbol: ",")
                }
                try expect(symbol: ")")
                return try callSuffix(name, arguments, distinct: distinct, at: at)
            }
            if accept(symbol: ".") {
                if accept(symbol: "*") { return .star(at: at) }
                let column = Expression.column(table: name, name: try identifier("a column name after '.'"), at: at)
                guard accept(symbol: ".") else { return column }
                // table.column.field: a struct's field
                return .call(name: "struct_extract", arguments: [column, .literal(.string(try identifier("a field name after '.'")), at: at)],
                             distinct: false, at: at)
            }
            return .column(table: nil, name: name, at: at)
        default:
            throw error("expected an expression, found \(describe(current))")
        }
    }
}
