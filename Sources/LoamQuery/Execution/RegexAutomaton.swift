import Foundation
import Synchronization

/// `regexp_matches` without backtracking: the common part of ICU's syntax (literals, `.`,
/// classes with ranges and `\d \w \s`, groups, alternation, `* + ? {m,n}`, `^ $`) compiled to
/// a DFA over ASCII bytes, built whole when the pattern is compiled and read-only afterwards,
/// so threads share it. A match is linear in the text: no pattern can make it backtrack.
///
/// It answers as `NSRegularExpression` (ICU) does. `nil` from `compile` (a construct outside the
/// subset, or a DFA of more than `stateLimit` states or `workLimit` steps to build) and `nil` from
/// `matches` (a text holding a line terminator, where ICU's `.` and `$` have their own rules, or
/// invalid UTF-8) send the caller to ICU. Non-ASCII characters step the NFA directly, then rejoin the DFA.
struct RegexAutomaton: Sendable {
    /// What one NFA node does: consume a character of a set, branch, or assert a position.
    private enum Node: Sendable {
        case scalar(ScalarSet, next: Int)
        case split(Int, Int)
        case start(next: Int)  // ^: only before the first character
        case end(next: Int)  // $: only after the last
        case match
    }

    private let nodes: [Node]
    private let entry: Int
    /// `transitions[state * 128 + byte]`: the next state, or -1 for a line terminator.
    private let transitions: [Int32]
    /// Per state: a match ends here (the search is over), the text can end here in a match, nothing can match any more.
    private let flags: [UInt8]
    private static let acceptsNow: UInt8 = 1, acceptsAtEnd: UInt8 = 2, dead: UInt8 = 4
    /// Per state, the NFA nodes it stands for (before their ε-closure), to step a non-ASCII character on the NFA.
    private let kernels: [[Int32]]
    private let stateOf: [[Int32]: Int32]

    static let stateLimit = 2_000
    /// A bound on the work of building the DFA (NFA nodes stepped over all states and bytes), so that no pattern makes compiling it slow.
    private static let workLimit = 4_000_000
    private static let nodeLimit = 20_000

    /// The automaton for `pattern`, or nil when the pattern leaves the subset this engine knows to answer as ICU does.
    static func compile(_ pattern: String) -> RegexAutomaton? {
        var parser = Parser(pattern: Array(pattern.unicodeScalars))
        guard let tree = parser.parse() else { return nil }
        var nodes: [Node] = [.match]
        guard let entry = emit(tree, next: 0, into: &nodes) else { return nil }
        return RegexAutomaton(nodes: nodes, entry: entry)
    }

    /// Whether the pattern matches anywhere in the UTF-8 `text`; nil when ICU must answer.
    func matches(_ text: UnsafeRawBufferPointer) -> Bool? {
        transitions.withUnsafeBufferPointer { table in
            flags.withUnsafeBufferPointer { flags in
                var state = 0
                var kernel: [Int32]? = nil  // set while stepping the NFA, off the DFA's states
                var i = 0
                let n = text.count
                if flags[0] & Self.acceptsNow != 0 { return true }
                while i < n {
                    let byte = text[i]
                    if byte < 0x80, kernel == nil {
                        let next = table[state &* 128 &+ Int(byte)]
                        if next < 0 { return nil }
                        state = Int(next)
                        i &+= 1
                    } else {
                        guard let (scalar, width) = Self.decode(text, at: i), !Self.isLineTerminator(scalar) else { return nil }
                        let stepped = step(kernel ?? kernels[state], atStart: i == 0, on: scalar)
                        i &+= width
                        if let known = stateOf[stepped] {
                            state = Int(known)
                            kernel = nil
                        } else {
                            if closure(stepped, atStart: false, atEnd: false).matched { return true }
                            kernel = stepped
                            continue
                        }
                    }
                    let f = flags[state]
                    if f & Self.acceptsNow != 0 { return true }
                    if f & Self.dead != 0 { return false }
                }
                if let kernel { return closure(kernel, atStart: false, atEnd: true).matched }
                return flags[state] & Self.acceptsAtEnd != 0
            }
        }
    }

    /// The same for a Swift string.
    func matches(_ text: String) -> Bool? {
        var text = text
        return text.withUTF8 { matches(UnsafeRawBufferPointer($0)) }
    }

    /// Builds every state of the DFA over ASCII (subset construction); nil past `stateLimit` states or `workLimit` steps.
    private init?(nodes: [Node], entry: Int) {
        self.nodes = nodes
        self.entry = entry
        var kernels: [[Int32]] = [[Int32(entry)]], stateOf: [[Int32]: Int32] = [:]
        var transitions: [Int32] = [], flags: [UInt8] = []
        var index = 0, work = 0
        // The initial state alone may pass `^`; it is never looked up by kernel, so a later state with the same kernel stays apart.
        while index < kernels.count {
            let kernel = kernels[index], atStart = index == 0
            let now = Self.closure(nodes, kernel, atStart: atStart, atEnd: false)
            let atEnd = Self.closure(nodes, kernel, atStart: atStart, atEnd: true)
            // Dead: nothing to consume and no match, so (every later kernel adding only the entry, already here) none ever.
            let dead = now.consumers.isEmpty && !now.matched && !atEnd.matched
            flags.append((now.matched ? Self.acceptsNow : 0) | (atEnd.matched ? Self.acceptsAtEnd : 0) | (dead ? Self.dead : 0))
            work += 128 * (kernel.count + now.consumers.count)
            guard work <= Self.workLimit else { return nil }
            for byte in 0..<128 {
                let scalar = Unicode.Scalar(UInt8(byte))
                if Self.isLineTerminator(scalar) { transitions.append(-1); continue }
                let next = Self.advance(nodes, now.consumers, on: scalar, entry: entry)
                if let known = stateOf[next] {
                    transitions.append(known)
                } else {
                    guard kernels.count < Self.stateLimit else { return nil }
                    stateOf[next] = Int32(kernels.count)
                    transitions.append(Int32(kernels.count))
                    kernels.append(next)
                }
            }
            index += 1
        }
        self.kernels = kernels
        self.stateOf = stateOf
        self.transitions = transitions
        self.flags = flags
    }

    private func closure(_ kernel: [Int32], atStart: Bool, atEnd: Bool) -> (consumers: [Int32], matched: Bool) {
        Self.closure(nodes, kernel, atStart: atStart, atEnd: atEnd)
    }

    private func step(_ kernel: [Int32], atStart: Bool, on scalar: Unicode.Scalar) -> [Int32] {
        Self.advance(nodes, closure(kernel, atStart: atStart, atEnd: false).consumers, on: scalar, entry: entry)
    }

    /// The consuming nodes reachable from `kernel` through branches and the assertions that hold here, and whether the match node is.
    private static func closure(_ nodes: [Node], _ kernel: [Int32], atStart: Bool, atEnd: Bool) -> (consumers: [Int32], matched: Bool) {
        var seen = Set<Int32>(), stack = kernel, consumers: [Int32] = [], matched = false
        while let n = stack.popLast() {
            guard seen.insert(n).inserted else { continue }
            switch nodes[Int(n)] {
            case .scalar: consumers.append(n)
            case .split(let a, let b): stack.append(Int32(b)); stack.append(Int32(a))
            case .start(let next): if atStart { stack.append(Int32(next)) }
            case .end(let next): if atEnd { stack.append(Int32(next)) }
            case .match: matched = true
            }
        }
        return (consumers.sorted(), matched)
    }

    /// The kernel after `scalar`: the successors of the consumers whose set holds it, plus the entry (the search may start at any position).
    private static func advance(_ nodes: [Node], _ consumers: [Int32], on scalar: Unicode.Scalar, entry: Int) -> [Int32] {
        var next = Set<Int32>([Int32(entry)])
        for n in consumers {
            if case .scalar(let set, let to) = nodes[Int(n)], set.contains(scalar) { next.insert(Int32(to)) }
        }
        return next.sorted()
    }

    static func isLineTerminator(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0x2028, 0x2029: return true
        default: return false
        }
    }

    /// The scalar whose UTF-8 starts at `i` and its width, or nil for invalid UTF-8.
    private static func decode(_ text: UnsafeRawBufferPointer, at i: Int) -> (Unicode.Scalar, Int)? {
        let lead = text[i]
        if lead < 0x80 { return (Unicode.Scalar(lead), 1) }
        let width = lead >= 0xF5 ? 0 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 0
        guard width > 0, i + width <= text.count else { return nil }
        var value = UInt32(lead) & (0xFF >> UInt32(width + 1))
        for k in 1..<width {
            let b = text[i + k]
            guard b & 0xC0 == 0x80 else { return nil }
            value = value << 6 | UInt32(b & 0x3F)
        }
        let shortest = value < 0x80 ? 1 : value < 0x800 ? 2 : value < 0x10000 ? 3 : 4
        guard let scalar = Unicode.Scalar(value), shortest == width else { return nil }
        return (scalar, width)
    }

    /// Thompson's construction, back to front: the entry of `tree`'s nodes, which continue to `next`; nil past the node limit.
    private static func emit(_ tree: Tree, next: Int, into nodes: inout [Node]) -> Int? {
        guard nodes.count < nodeLimit else { return nil }
        switch tree {
        case .empty:
            return next
        case .set(let set):
            nodes.append(.scalar(set, next: next))
            return nodes.count - 1
        case .start:
            nodes.append(.start(next: next))
            return nodes.count - 1
        case .end:
            nodes.append(.end(next: next))
            return nodes.count - 1
        case .sequence(let parts):
            var at = next
            for part in parts.reversed() {
                guard let entry = emit(part, next: at, into: &nodes) else { return nil }
                at = entry
            }
            return at
        case .alternatives(let options):
            var entries: [Int] = []
            for option in options {
                guard let entry = emit(option, next: next, into: &nodes) else { return nil }
                entries.append(entry)
            }
            var at = entries.removeLast()
            for entry in entries.reversed() {
                nodes.append(.split(entry, at))
                at = nodes.count - 1
            }
            return at
        case .repeated(let body, let min, let max):
            var at = next
            if let max {
                for _ in 0..<(max - min) {  // optional copies, each able to stop at `next`
                    guard let entry = emit(body, next: at, into: &nodes) else { return nil }
                    nodes.append(.split(entry, next))
                    at = nodes.count - 1
                }
            } else {
                nodes.append(.split(-1, -1))  // the loop: body, back to here, or on
                let loop = nodes.count - 1
                guard let entry = emit(body, next: loop, into: &nodes) else { return nil }
                nodes[loop] = .split(entry, next)
                at = loop
            }
            for _ in 0..<min {
                guard let entry = emit(body, next: at, into: &nodes) else { return nil }
                at = entry
            }
            return at
        }
    }

    fileprivate indirect enum Tree {
        case empty
        case set(ScalarSet)
        case start, end
        case sequence([Tree])
        case alternatives([Tree])
        case repeated(Tree, min: Int, max: Int?)
    }

    /// A recursive-descent parser of the subset; nil for anything outside it.
    private struct Parser {
        let pattern: [Unicode.Scalar]
        var at = 0

        mutating func parse() -> Tree? {
            guard let tree = alternatives(), at == pattern.count else { return nil }
            return tree
        }

        private var current: Unicode.Scalar? { at < pattern.count ? pattern[at] : nil }

        private mutating func alternatives() -> Tree? {
            var options: [Tree] = []
            while true {
                guard let sequence = sequence() else { return nil }
                options.append(sequence)
                guard current == "|" else { break }
                at += 1
            }
            return options.count == 1 ? options[0] : .alternatives(options)
        }

        private mutating func sequence() -> Tree? {
            var parts: [Tree] = []
            while let c = current, c != "|", c != ")" {
                guard var atom = atom() else { return nil }
                if let (min, max) = quantifier() {
                    switch atom {
                    case .start, .end: return nil
                    default: break
                    }
                    guard max.map({ $0 >= min && $0 <= 1_000 }) ?? true, min <= 1_000 else { return nil }
                    atom = .repeated(atom, min: min, max: max)
                    if current == "?" { at += 1 }  // lazy: the same strings match
                    if let c = current, "*+?{".unicodeScalars.contains(c) { return nil }  // possessive or doubled
                }
                parts.append(atom)
            }
            return parts.count == 1 ? parts[0] : .sequence(parts)
        }

        private mutating func quantifier() -> (Int, Int?)? {
            switch current {
            case "*": at += 1; return (0, nil)
            case "+": at += 1; return (1, nil)
            case "?": at += 1; return (0, 1)
            case "{":
                var k = at + 1
                func number() -> Int? {
                    var digits = ""
                    while k < pattern.count, let d = pattern[k].properties.numericType, d == .decimal, pattern[k].isASCII {
                        digits.unicodeScalars.append(pattern[k]); k += 1
                    }
                    return digits.isEmpty || digits.count > 6 ? nil : Int(digits)
                }
                guard let min = number() else { return nil }
                var max: Int? = min
                if k < pattern.count, pattern[k] == "," {
                    k += 1
                    max = k < pattern.count && pattern[k] == "}" ? nil : number()
                    if max == nil, !(k < pattern.count && pattern[k] == "}") { return nil }
                }
                guard k < pattern.count, pattern[k] == "}" else { return nil }
                at = k + 1
                return (min, max)
            default: return nil
            }
        }

        private mutating func atom() -> Tree? {
            guard let c = current else { return nil }
            at += 1
            switch c {
            case "(":
                if current == "?" {  // (?:…) and (?<name>…) group; lookarounds and flags are ICU's
                    guard at + 1 < pattern.count else { return nil }
                    if pattern[at + 1] == ":" {
                        at += 2
                    } else if pattern[at + 1] == "<", at + 2 < pattern.count, pattern[at + 2].properties.isAlphabetic {
                        guard let close = pattern[(at + 2)...].firstIndex(of: ">") else { return nil }
                        at = close + 1
                    } else {
                        return nil
                    }
                }
                guard let inner = alternatives(), current == ")" else { return nil }
                at += 1
                return inner
            case ".": return .set(ScalarSet(negated: true))  // every character but line terminators, which `matches` hands to ICU
            case "^": return .start
            case "$": return .end
            case "[": return characterClass().map(Tree.set)
            case "\\": return escape().map(Tree.set)
            case "*", "+", "?", "{", "}", "]", ")": return nil
            default: return .set(ScalarSet(scalar: c))
            }
        }

        /// After a backslash: a class (`\d \w \s` and negations), a control character, a code point, or escaped punctuation.
        private mutating func escape() -> ScalarSet? {
            guard let c = current else { return nil }
            at += 1
            switch c {
            case "d": return ScalarSet(class: .digit, negated: false)
            case "D": return ScalarSet(class: .digit, negated: true)
            case "w": return ScalarSet(class: .word, negated: false)
            case "W": return ScalarSet(class: .word, negated: true)
            case "s": return ScalarSet(class: .space, negated: false)
            case "S": return ScalarSet(class: .space, negated: true)
            case "t": return ScalarSet(scalar: "\t")
            case "n": return ScalarSet(scalar: "\n")
            case "r": return ScalarSet(scalar: "\r")
            case "f": return ScalarSet(scalar: "\u{0C}")
            case "a": return ScalarSet(scalar: "\u{07}")
            case "e": return ScalarSet(scalar: "\u{1B}")
            case "x", "u":
                var digits = ""
                if c == "x", current == "{" {
                    guard let close = pattern[at...].firstIndex(of: "}") else { return nil }
                    digits = String(String.UnicodeScalarView(pattern[(at + 1)..<close]))
                    at = close + 1
                } else {
                    let width = c == "x" ? 2 : 4
                    guard at + width <= pattern.count else { return nil }
                    digits = String(String.UnicodeScalarView(pattern[at..<(at + width)]))
                    at += width
                }
                guard !digits.isEmpty, digits.count <= 6, digits.allSatisfy(\.isHexDigit),
                      let value = UInt32(digits, radix: 16), let scalar = Unicode.Scalar(value) else { return nil }
                return ScalarSet(scalar: scalar)
            default:
                // Escaped ASCII punctuation is itself; letters and digits name ICU features (\b, \p, \1, \Q…) outside the subset.
                guard c.isASCII, !c.properties.isAlphabetic, !(("0"..."9").contains(c)) else { return nil }
                return ScalarSet(scalar: c)
            }
        }

        /// `[…]` and `[^…]` of characters, ranges and class escapes; ICU's nested sets, `&&`, `--` and `[:name:]` stay ICU's.
        private mutating func characterClass() -> ScalarSet? {
            var set = ScalarSet(negated: false)
            if current == "^" { set.negated = true; at += 1 }
            if current == "]" { return nil }
            var previous: Unicode.Scalar? = nil  // the last single character, which may open a range
            while let c = current, c != "]" {
                at += 1
                switch c {
                case "[", "&": return nil
                case "-":
                    if current == "]" { set.ranges.append(0x2D...0x2D); previous = nil; continue }  // a literal '-' at the end
                    if current == "-" { return nil }
                    guard let low = previous, let high = singleInClass(), high.value >= low.value else { return nil }
                    set.ranges.removeLast()
                    set.ranges.append(low.value...high.value)
                    previous = nil
                case "\\":
                    guard let escaped = escape() else { return nil }
                    set.merge(escaped)
                    previous = escaped.single
                default:
                    set.ranges.append(c.value...c.value)
                    previous = c
                }
            }
            guard current == "]", !(set.ranges.isEmpty && set.classes.isEmpty) else { return nil }
            at += 1
            return set
        }

        /// The end of a range: one character, plain or escaped.
        private mutating func singleInClass() -> Unicode.Scalar? {
            guard let c = current, c != "]", c != "[", c != "-", c != "&" else { return nil }
            at += 1
            if c == "\\" { return escape()?.single }
            return c
        }
    }
}

/// A set of characters: ranges of code points and the classes `\d \w \s` (as ICU defines them), or their complement.
struct ScalarSet: Sendable {
    enum Class: Sendable { case digit, word, space }
    var ranges: [ClosedRange<UInt32>] = []
    var classes: [(Class, negated: Bool)] = []
    var negated: Bool

    init(negated: Bool) { self.negated = negated }
    init(scalar: Unicode.Scalar) { negated = false; ranges = [scalar.value...scalar.value] }
    init(class c: Class, negated: Bool) { self.negated = false; classes = [(c, negated)] }

    /// The one character this set holds, when it is a single plain character.
    var single: Unicode.Scalar? {
        guard !negated, classes.isEmpty, ranges.count == 1, ranges[0].count == 1 else { return nil }
        return Unicode.Scalar(ranges[0].lowerBound)
    }

    /// Adds a set inside a class (`[\d_]`); a negated one keeps its complement as a class term.
    mutating func merge(_ other: ScalarSet) {
        ranges += other.ranges
        classes += other.classes
    }

    func contains(_ s: Unicode.Scalar) -> Bool {
        var inside = ranges.contains { $0.contains(s.value) }
        if !inside { inside = classes.contains { Self.holds($0.0, s) != $0.negated } }
        return inside != negated
    }

    /// ICU's definitions: \d is \p{Nd}; \s is [\t\n\f\r\p{Z}]; \w is [\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\u200C\u200D].
    private static func holds(_ c: Class, _ s: Unicode.Scalar) -> Bool {
        if s.isASCII {
            let v = s.value
            switch c {
            case .digit: return (0x30...0x39).contains(v)
            case .space: return v == 0x20 || v == 0x09 || v == 0x0A || v == 0x0C || v == 0x0D
            case .word: return (0x30...0x39).contains(v) || (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v) || v == 0x5F
            }
        }
        let p = s.properties
        switch c {
        case .digit: return p.generalCategory == .decimalNumber
        case .space: return [.spaceSeparator, .lineSeparator, .paragraphSeparator].contains(p.generalCategory)
        case .word:
            switch p.generalCategory {
            case .decimalNumber, .connectorPunctuation, .nonspacingMark, .spacingMark, .enclosingMark: return true
            default: return p.isAlphabetic || s.value == 0x200C || s.value == 0x200D
            }
        }
    }
}

/// A pattern compiled once per process and shared by every row and thread: ICU's expression,
/// and the automaton when the pattern is in its subset.
struct CompiledPattern: @unchecked Sendable {  // NSRegularExpression is immutable once built, and thread-safe
    let icu: NSRegularExpression
    let automaton: RegexAutomaton?

    private static let cache = Mutex<[String: CompiledPattern]>([:])

    /// The compiled pattern, or nil when ICU rejects it.
    static func named(_ pattern: String) -> CompiledPattern? {
        if let known = cache.withLock({ $0[pattern] }) { return known }
        guard let icu = try? NSRegularExpression(pattern: pattern) else { return nil }
        let compiled = CompiledPattern(icu: icu, automaton: RegexAutomaton.compile(pattern))
        cache.withLock { patterns in
            if patterns.count >= 256 { patterns.removeAll() }  // a bound on what hostile queries can make it hold
            patterns[pattern] = compiled
        }
        return compiled
    }
}
