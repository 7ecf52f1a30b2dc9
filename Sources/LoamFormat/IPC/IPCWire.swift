/// How a field's data lies in an Arrow IPC file when that differs from the type Loam stores it as
/// (`IPCSchema.decodeWithWire`). The reader converts as it reads, and the stored field's metadata
/// names the original type (`arrow.original_type`), so the conversion is never silent:
///
/// | file type | stored as |
/// |---|---|
/// | date64 | timestamp[ms] (the same milliseconds) |
/// | time32, time64, duration, interval[year_month] | int32 / int64 (the same counts) |
/// | map<k, v> | list<struct<key, value>> (the same layout) |
/// | decimal32/64/128/256 (p ≤ 15, s ≥ 0) | float64 (every such value's text is exact) |
/// | decimal (p > 15 or s < 0) | its exact decimal text |
/// | float16 | float32 |
/// | fixed_size_binary, uuid | binary |
/// | large_list, list_view, large_list_view | list |
/// | string_view, binary_view | string, binary |
/// | run_end_encoded<T> | T |
/// | interval[day_time] | struct<days: int32, milliseconds: int32> |
/// | interval[month_day_nano] | struct<months: int32, days: int32, nanoseconds: int64> |
/// | dictionary<T> | T (decoded) |
/// | null | string (all null) |
indirect enum Wire: Sendable {
    /// Read with the stored type's own layout (children too).
    case direct
    /// A list, fixed-size list or struct whose children have these wires.
    case children([Wire])
    /// A leaf (or list) converted as it is read; `original` is the file's type.
    case converted(original: String, Conversion)
    /// Indices into dictionary `id` (its values decoded with `valueWire`).
    case dictionary(id: Int64, indexBytes: Int, signed: Bool, values: Field, valueWire: Wire)

    enum Conversion: Sendable {
        /// The stored type's buffers, reinterpreted (date64, time, duration, map, interval[year_month]).
        case same
        case float16
        case decimal(bytes: Int, scale: Int, text: Bool)
        case fixedBinary(width: Int)
        case largeList(Wire)
        case listView(large: Bool, Wire)
        case view
        case runEnds(runEnds: Field, values: Field, valuesWire: Wire)
        /// Fixed-width records of integers (interval[day_time], interval[month_day_nano]) → a struct of them.
        case interval(widths: [Int])
        case null
    }

    var isDirect: Bool {
        if case .direct = self { return true }
        return false
    }

    /// Converted without changing the stored type's buffers (so it may sit inside a fixed-size list).
    var keepsLayout: Bool {
        if case .converted(_, .same) = self { return true }
        return false
    }
}
