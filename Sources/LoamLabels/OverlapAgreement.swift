import LoamFormat

/// Agreement for labels that are sets of parts (boxes, polygons, spans, classes of a multi-label,
/// relations, a text): for each item and each pair of its annotators, parts of the same class are
/// matched one to one, greatest IoU first, when their IoU is at least `threshold`; the pair agrees
/// to 2·matched / (parts of one + parts of the other) — an F1 — and 1 when both marked nothing.
///
/// IoU is of areas for boxes, of bounding boxes for polygons, of character ranges for spans; classes,
/// relations and texts match only when equal.
public struct OverlapAgreement: Encodable, Sendable {
    public let threshold: Double
    /// Items labelled by at least two annotators.
    public let items: Int
    /// (item, annotator pair) comparisons.
    public let comparisons: Int
    /// The mean pair F1 over all comparisons.
    public let agreement: Double?
    /// The mean IoU of matched parts (geometric kinds only).
    public let meanIoU: Double?
    /// Per class: 2·matched / parts of that class, over all comparisons.
    public let perClass: [String: Double?]
    /// Per annotator: the mean pair F1 of the comparisons they take part in.
    public let perAnnotator: [String: Double?]

    enum CodingKeys: String, CodingKey {
        case threshold, items, comparisons, agreement
        case meanIoU = "mean_iou"
        case perClass = "per_class"
        case perAnnotator = "per_annotator"
    }

    struct Part {
        let label: String
        let geometry: [Double]  // box x0 y0 x1 y1, or span start end; empty: match by equality of `label`
    }

    public init(_ votes: [Annotation], kind: LabelSchema.Kind, threshold: Double = 0.5) throws {
        self.threshold = threshold
        var byItem: [UInt64: [(String, [Part])]] = [:]
        for vote in votes { byItem[vote.rowID, default: []].append((vote.annotator, try Self.parts(vote.value ?? "", kind: kind))) }
        var items = 0, comparisons = 0, sum = 0.0, iouSum = 0.0, iouCount = 0
        var classMatched: [String: Int] = [:], classParts: [String: Int] = [:]
        var annotatorSum: [String: Double] = [:], annotatorCount: [String: Int] = [:]
        for (_, labels) in byItem where labels.count >= 2 {
            items += 1
            for i in labels.indices {
                for j in labels.indices where j > i {
                    let (a, pa) = labels[i], (b, pb) = labels[j]
                    var matched = 0
                    var used = Set<Int>()
                    var candidates: [(iou: Double, x: Int, y: Int)] = []
                    for (x, p) in pa.enumerated() {
                        for (y, q) in pb.enumerated() where p.label == q.label {
                            let iou = Self.iou(p, q)
                            if iou >= threshold { candidates.append((iou, x, y)) }
                        }
                    }
                    candidates.sort { ($0.iou, -$0.x, -$0.y) > ($1.iou, -$1.x, -$1.y) }
                    var takenX = Set<Int>()
                    for c in candidates where !takenX.contains(c.x) && !used.contains(c.y) {
                        takenX.insert(c.x); used.insert(c.y)
                        matched += 1
                        classMatched[pa[c.x].label, default: 0] += 2
                        if !pa[c.x].geometry.isEmpty { iouSum += c.iou; iouCount += 1 }
                    }
                    for p in pa + pb { classParts[p.label, default: 0] += 1 }
                    let total = pa.count + pb.count
                    let f1 = total == 0 ? 1 : 2 * Double(matched) / Double(total)
                    comparisons += 1
                    sum += f1
                    for who in [a, b] { annotatorSum[who, default: 0] += f1; annotatorCount[who, default: 0] += 1 }
                }
            }
        }
        self.items = items
        self.comparisons = comparisons
        agreement = comparisons == 0 ? nil : sum / Double(comparisons)
        meanIoU = iouCount == 0 ? nil : iouSum / Double(iouCount)
        perClass = Dictionary(uniqueKeysWithValues: classParts.map { ($0.key, Double(classMatched[$0.key] ?? 0) / Double($0.value)) })
        perAnnotator = Dictionary(uniqueKeysWithValues: annotatorCount.map { ($0.key, annotatorSum[$0.key]! / Double($0.value)) })
    }

    static func iou(_ p: Part, _ q: Part) -> Double {
        let g = p.geometry, h = q.geometry
        switch g.count {
        case 0: return 1  // equal labels
        case 2:  // ranges
            let inter = max(0, min(g[1], h[1]) - max(g[0], h[0]))
            let union = (g[1] - g[0]) + (h[1] - h[0]) - inter
            return union > 0 ? inter / union : 0
        default:  // boxes x0 y0 x1 y1
            let w = max(0, min(g[2], h[2]) - max(g[0], h[0])), hh = max(0, min(g[3], h[3]) - max(g[1], h[1]))
            let inter = w * hh
            let union = (g[2] - g[0]) * (g[3] - g[1]) + (h[2] - h[0]) * (h[3] - h[1]) - inter
            return union > 0 ? inter / union : 0
        }
    }

    /// A stored value (`LabelSchema.canonical`) as parts.
    static func parts(_ value: String, kind: LabelSchema.Kind) throws -> [Part] {
        if kind == .text || kind == .single || kind == .rating { return [Part(label: value, geometry: [])] }
        guard let items = try JSONValue.parse(value).arrayValue else { return [] }
        return items.map { item in
            switch kind {
            case .multi: return Part(label: item.stringValue ?? "", geometry: [])
            case .boxes:
                let x = item["x"]?.numberValue ?? 0, y = item["y"]?.numberValue ?? 0
                return Part(label: item["label"]?.stringValue ?? "", geometry: [x, y, x + (item["w"]?.numberValue ?? 0), y + (item["h"]?.numberValue ?? 0)])
            case .polygons:
                let points = (item["points"]?.arrayValue ?? []).compactMap { $0.arrayValue?.compactMap(\.numberValue) }.filter { $0.count == 2 }
                let xs = points.map { $0[0] }, ys = points.map { $0[1] }
                return Part(label: item["label"]?.stringValue ?? "", geometry: [xs.min() ?? 0, ys.min() ?? 0, xs.max() ?? 0, ys.max() ?? 0])
            case .spans:
                return Part(label: item["label"]?.stringValue ?? "", geometry: [item["start"]?.numberValue ?? 0, item["end"]?.numberValue ?? 0])
            default:  // relations: equal when identical
                return Part(label: LabelSchema.render(item), geometry: [])
            }
        }
    }
}
