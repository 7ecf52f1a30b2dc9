/// One lexical token of a statement, with its character offset.
struct Token: Equatable {
    enum Kind: Equatable {
        case identifier(String)        // bare (case-folded to lower) or "quoted" (kept)
        case keyword(String)           // upper-cased reserved word
        case integer(Int64)
        case float(Double)
        case string(String)
        case symbol(String)            // ( ) , . * + - / % = != <> < <= > >= :: ; [ ]
        case end
    }

    let kind: Kind
    let position: Int
}

/// Words that cannot be bare identifiers.
let reservedWords: Set<String> = [
    "SELECT", "DISTINCT", "FROM", "AS", "WHERE", "GROUP", "BY", "HAVING", "ORDER", "LIMIT", "OFFSET", "AND", "OR", "NOT", "IS",
    "NULL", "TRUE", "FALSE", "BETWEEN", "IN", "LIKE", "ILIKE", "CASE", "WHEN", "THEN", "ELSE", "END", "CAST", "ALL", "UNION",
    "JOIN", "ON", "USING", "LEFT", "INNER", "WITH", "DELETE", "UPDATE", "INSERT", "INTO", "VALUES", "CREATE", "TABLE", "ALTER", "DROP",
]

/// Words that are keywords only where the grammar expects them, and column
/// names everywhere else (`at`, `first`, `desc` and `set` are common names).
let contextualWords: Set<String> = ["AT", "ASC", "DESC", "NULLS", "FIRST", "LAST", "SET", "ADD", "COLUMN", "RENAME", "TO", "OUTER", "SAMPLE", "ROWS", "PERCENT", "REPEATABLE", "TABLESAMPLE",
                                       "RIGHT", "FULL", "CROSS", "EXCEPT", "INTERSECT", "QUALIFY", "FILTER", "OVER", "PARTITION",
                                       "PRECEDING", "FOLLOWING", "UNBOUNDED", "CURRENT", "ROW", "RANGE"]

/// Contextual words that end a select item or FROM item rather than name it (`FROM t RIGHT JOIN u`, `SELECT 1 EXCEPT …`).
let clauseWords: Set<String> = ["right", "full", "cross", "natural", "except", "intersect", "qualify", "outer", "tablesample", "window"]
