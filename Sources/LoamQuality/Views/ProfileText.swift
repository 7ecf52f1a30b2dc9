import Foundation

extension ProfileReport {
    /// The profile for a terminal: per column its counts and summary, a bar chart of its histogram or of
    /// its most frequent values.
    public var text: String {
        var out = "\(dataset) at \(commit.prefix(12)): \(rows) rows in \(fragments) fragment\(fragments == 1 ? "" : "s")"
            + " (\(fragmentsRead) read now, the rest from kept sketches)\n"
        for c in columns {
            out += "\n\(c.name)  \(c.type)\n"
            var facts = ["nulls \(c.nulls) (\(Self.percent(c.nulls, c.rows)))"]
            if c.nans > 0 { facts.append("NaN \(c.nans)") }
            if let d = c.distinct { facts.append("distinct \(c.distinctExact == true ? "" : "≈")\(d)") }
            out += "  " + facts.joined(separator: "   ") + "\n"
            if let v = c.values, let min = v.min, let max = v.max {
                out += "  min \(Self.number(min))   max \(Self.number(max))   mean \(v.mean.map(Self.number) ?? "—")   std \(v.std.map(Self.number) ?? "—")\n"
            }
            if let q = c.quantiles {
                out += "  " + ["p5", "p25", "p50", "p75", "p95"].compactMap { k in q[k].map { "\(k) \(Self.number($0))" } }.joined(separator: "   ") + "\n"
            }
            if let l = c.lengths, let min = l.min, let max = l.max {
                out += "  length \(Self.number(min))…\(Self.number(max)), mean \(l.mean.map(Self.number) ?? "—")\n"
            }
            if let n = c.norms, let min = n.min, let max = n.max {
                out += "  norm \(Self.number(min))…\(Self.number(max)), mean \(n.mean.map(Self.number) ?? "—"), std \(n.std.map(Self.number) ?? "—")\n"
            }
            if let low = c.minText, let high = c.maxText { out += "  first \(Self.clip(low))   last \(Self.clip(high))\n" }
            let categorical = c.distinctExact == true && (c.distinct ?? .max) <= 20 && !(c.top ?? []).isEmpty
            if let bins = c.histogram, bins.count > 1, !categorical {
                let most = max(1, bins.map(\.count).max() ?? 1)
                for bin in bins {
                    out += "  " + Self.pad("\(Self.number(bin.low))–\(Self.number(bin.high))", 24) + Self.bar(bin.count, most) + " \(bin.count)\n"
                }
            } else if let top = c.top, let first = top.first, first.count > 1, (c.distinct ?? 0) <= 1000 || first.count * 100 >= c.rows {
                let most = max(1, top.first!.count)
                for entry in top.prefix(5) {
                    out += "  " + Self.pad(Self.clip(entry.value), 24) + Self.bar(entry.count, most) + " \(entry.count)\(c.topExact == true ? "" : "+")\n"
                }
            }
        }
        return out
    }

    static func bar(_ count: Int, _ most: Int) -> String {
        let eighths = Int((Double(count) / Double(most) * 24 * 8).rounded())
        let blocks = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        return String(repeating: "█", count: eighths / 8) + blocks[eighths % 8]
    }

    static func number(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return String(format: "%.5g", x)
    }

    static func percent(_ part: Int, _ whole: Int) -> String { whole == 0 ? "0%" : String(format: "%.1f%%", Double(part) / Double(whole) * 100) }

    static func clip(_ text: String) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: "⏎")
        return flat.count > 22 ? String(flat.prefix(21)) + "…" : flat
    }

    static func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count) }
}
