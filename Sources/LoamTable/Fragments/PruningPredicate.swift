import LoamFormat

/// A typed predicate for zone-map pruning: comparisons of a column with a
/// literal joined by AND / OR (NOT and anything else: "may match"). It is not
/// parsed from text: the SQL binder derives it from a WHERE clause (every
/// predicate Loam accepts, `--where` included, is SQL), and the table layer
/// uses it only to skip fragments whose statistics rule out every row.
///
/// ```swift
/// let filter = PruningPredicate.and(.compare("label", .eq, .int(3)), .isNull("text", negated: true))
/// filter.mayMatch(entry, schema: manifest.schema)   // false: no row of the fragment can match
/// ```
public indirect enum PruningPredicate: Sendable, Equatable {
    public enum Op: String, Sendable { case eq = "=", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=" }
    case compare(String, Op, Value)
    case isNull(String, negated: Bool)
    case and(PruningPredicate, PruningPredicate)
    case or(PruningPredicate, PruningPredicate)
    case not(PruningPredicate)
    case always

    /// False only when a fragment's zone map proves no row can match
    /// (`statistics(column)` gives min, max and null count, or nil when unknown).
    public func mayMatch(rows: Int, _ statistics: (String) -> (min: Value?, max: Value?, nullCount: Int)?) -> Bool {
        switch self {
        case .always, .not: return true
        case .and(let a, let b): return a.mayMatch(rows: rows, statistics) && b.mayMatch(rows: rows, statistics)
        case .or(let a, let b): return a.mayMatch(rows: rows, statistics) || b.mayMatch(rows: rows, statistics)
        case .isNull(let c, let negated):
            guard let stats = statistics(c) else { return true }
            return negated ? stats.nullCount < rows : stats.nullCount > 0
        case .compare(let c, let op, let literal):
            guard let stats = statistics(c), let lo = stats.min, let hi = stats.max, !literal.isNull else {
                return statistics(c).map { $0.nullCount < rows } ?? true
            }
            // Float zone maps leave out NaN and ±infinity (JSON has no spelling for them), and NaN sorts
            // above every number: only an equality with a finite number can rule a fragment out.
            if case .float = lo {
                guard op == .eq, let d = literal.asDouble, d.isFinite else { return true }
            }
            switch op {
            case .eq: return !(literal < lo) && !(hi < literal)
            case .ne: return lo < literal || literal < lo || hi < literal || literal < hi
            case .lt: return lo < literal
            case .le: return !(literal < lo)
            case .gt: return literal < hi
            case .ge: return !(hi < literal)
            }
        }
    }

    /// False only when `entry`'s zone maps prove no row of it can match.
    /// Statistics cover the fragment's physical rows, deleted ones included,
    /// so they are compared with the physical row count.
    public func mayMatch(_ entry: FragmentEntry, schema: TableSchema) -> Bool {
        mayMatch(rows: entry.rows) { name in
            if name == RowID.name { return (.uint(entry.minRowID), .uint(entry.maxRowID), 0) }  // the manifest's row-id bounds
            guard let id = schema.columnID(name), entry.columnIDs.contains(id), let stats = entry.statistics[String(id)],
                  schema.mask(columnID: id) == nil else { return nil }  // a masked column's zone maps describe values its reader never sees
            return (stats.min?.value, stats.max?.value, stats.nullCount)
        }
    }
}
