import Foundation
import Loam
import LoamFormat
@testable import LoamQuery
import LoamTestSupport
import Testing

/// `RegexAutomaton` must answer as ICU (`NSRegularExpression`, what `regexp_matches` used alone
/// before) on every pattern it accepts: checked pattern by pattern and on random patterns and texts.
@Suite struct RegexAutomatonTests {
    func icu(_ pattern: String) throws -> (String) -> Bool {
        let regex = try #require(try? NSRegularExpression(pattern: pattern), "ICU rejects \(pattern)")
        return { text in regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil }
    }

    static let texts = [
        "", "a", "review 12", "review 12 ", "Review 12", "review x", "review ", "reviews 1", "xx review 3",
        "abc", "aab", "ab ab", "héllo", "naïve café", "日本語テキスト", "emoji 😀 here", "٣٤٥", "x_y-z", "A1_b2",
        "tab\there", "a.b", "a+b", "[x]", "{1}", "\\", "$5", "^caret", "with\nnewline", "cr\r", "e\u{301}",
        "\u{200D}", "   ", "\u{A0}nbsp", "१२३", "𝟘𝟙", "😀😀", "ab\u{2028}cd",
    ]

    static let patterns = [
        "^review [0-9]+$", "review", "^$", "a", "^a", "a$", "a|b", "(ab)+", "a*b", "a+?b", "x?y?z?", "^(a|b)*$",
        "[a-c]+", "[^a-c]", "[^a-c]+$", "\\d+", "\\D", "^\\w+$", "\\W", "\\s", "\\S+", ".", "^.$", "^..$", "a.c",
        "[\\d_]+", "[\\w-]+", "[a-]", "\\.", "\\+", "\\[x\\]", "\\{1\\}", "\\\\", "\\$5", "\\^", "[$^]", "é", "[é-ï]",
        "^[日本]+", "😀{2}", "^\\x41", "\\u00e9", "\\x{1F600}", "a{2}", "a{1,2}b", "a{2,}", "(?:ab|c){1,3}$",
        "(?<word>\\w+) \\d", "^(\\d{3})$", "\\t", "[^\\s]+", "[\\D]", "(a*)*b", "(x+x+)+y", "^[A-Za-z0-9_]+$",
    ]

    @Test func answersAsICUOnEachPatternAndText() throws {
        for pattern in Self.patterns {
            let automaton = try #require(RegexAutomaton.compile(pattern), "\(pattern) should be in the subset")
            let reference = try icu(pattern)
            for text in Self.texts {
                let answer = automaton.matches(text)
                // A line terminator sends the text to ICU, unless the automaton knew the answer before reaching it.
                let lineTerminator = text.unicodeScalars.contains(where: RegexAutomaton.isLineTerminator)
                if answer == nil { #expect(lineTerminator, "\(pattern) on \(text.debugDescription)") }
                if !lineTerminator { #expect(answer != nil, "\(pattern) on \(text.debugDescription)") }
                if let answer { #expect(answer == reference(text), "\(pattern) on \(text.debugDescription)") }
            }
        }
    }

    @Test func answersAsICUOnRandomPatternsAndTexts() throws {
        var rng = SeededRandom(seed: 18)  // the same random cases on every run
        let atoms = ["a", "b", "é", "1", " ", ".", "\\d", "\\w", "\\s", "[ab]", "[^a]", "[a-é]", "(a|b)", "(?:ab)", "(é|1 )"]
        let quantifiers = ["", "", "", "*", "+", "?", "{2}", "{0,2}", "{1,}", "*?"]
        let alphabet = ["a", "b", "é", "1", " ", "x", "٣"]
        var compared = 0
        for _ in 0..<400 {
            var pattern = rng.next() % 4 == 0 ? "^" : ""
            for _ in 0..<(1 + Int(rng.next() % 4)) { pattern += atoms[Int(rng.next() % UInt64(atoms.count))] + quantifiers[Int(rng.next() % UInt64(quantifiers.count))] }
            if rng.next() % 4 == 0 { pattern += "$" }
            if rng.next() % 5 == 0 { pattern += "|" + atoms[Int(rng.next() % UInt64(atoms.count))] }
            let automaton = try #require(RegexAutomaton.compile(pattern), "\(pattern) should be in the subset")
            let reference = try icu(pattern)
            for _ in 0..<25 {
                let text = (0..<Int(rng.next() % 7)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.joined()
                let answer = try #require(automaton.matches(text))
                #expect(answer == reference(text), "\(pattern) on \(text.debugDescription)")
                compared += 1
            }
        }
        #expect(compared == 10_000)
    }

    /// What the automaton does not know to answer as ICU stays ICU's: back-references, lookaround,
    /// word boundaries, flags, properties, possessive quantifiers, nested sets.
    @Test func leavesICUsOwnConstructsToICU() {
        for pattern in ["(a)\\1", "(?=a)", "(?!a)b", "(?<=a)b", "\\bword\\b", "(?i)abc", "\\p{L}+", "a*+", "a++b",
                        "[[a-z]&&[^m]]", "[a-z--m]", "\\Qa.b\\E", "\\Aa", "a\\z", "[-a]", "\\v", "\\R", "a{,2}", "(?x) a"] {
            #expect(RegexAutomaton.compile(pattern) == nil, "\(pattern)")
        }
        #expect(RegexAutomaton.compile("^a{1000}") != nil)
        #expect(RegexAutomaton.compile("^a{1001}") == nil, "past the repetition bound")
        #expect(RegexAutomaton.compile("x.{0,12}") == nil, "a DFA past the state limit (it remembers where each of the last 12 x's was)")
        #expect(RegexAutomaton.compile(".{0,200}x.{0,200}") == nil, "a DFA past the work limit")
    }

    /// A pattern that makes ICU backtrack exponentially is linear here.
    @Test func hostilePatternsAreLinear() throws {
        let automaton = try #require(RegexAutomaton.compile("(x+x+)+y"))
        #expect(automaton.matches(String(repeating: "x", count: 100_000)) == false)
        #expect(automaton.matches(String(repeating: "x", count: 100_000) + "y") == true)
    }

    /// In WHERE, the automaton runs over the Arrow bytes (`MaskKernel`); a batch holding a text it hands to ICU
    /// (a line terminator) runs on the row evaluator. Both answer as ICU, NULLs matching neither way.
    @Test func whereClausesAnswerAsICUOnTheKernelAndItsFallback() async throws {
        let dir = try TestEnvironment.temporaryDirectory("loam-regex")
        let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
        let rows = [(1, "review 1"), (2, "review x"), (3, nil), (5, "révïew 3"), (6, "review 42"), (7, "日本 review 7")]
        let line = "id,s\n" + rows.map { "\($0.0),\($0.1 ?? "")\n" }.joined()
        try await repo.importData(from: try TestEnvironment.write(line, to: "u.csv", in: dir), into: "u")
        try await repo.importData(from: try TestEnvironment.write(line + "4,\"review 2\nsecond line\"\n", to: "t.csv", in: dir), into: "t")
        func ids(_ sql: String) async throws -> [Int64] {
            try await repo.query(sql).batches.flatMap { $0.columns[0].values }.compactMap { if case .int(let v) = $0 { v } else { nil } }
        }
        for pattern in ["^review [0-9]+$", "review", "[0-9]$", "^r.v", "\\w+ \\d"] {
            let reference = try icu(pattern)
            for (table, texts) in [("u", rows), ("t", rows + [(4, "review 2\nsecond line")])] {
                let matching = texts.compactMap { id, text in text.map { (Int64(id), reference($0)) } }
                let quoted = pattern.replacingOccurrences(of: "'", with: "''")
                #expect(try await ids("SELECT id FROM \(table) WHERE regexp_matches(s, '\(quoted)') ORDER BY id") == matching.filter(\.1).map(\.0).sorted(), "\(pattern) on \(table)")
                #expect(try await ids("SELECT id FROM \(table) WHERE NOT regexp_matches(s, '\(quoted)') ORDER BY id") == matching.filter { !$0.1 }.map(\.0).sorted(), "\(pattern) on \(table)")
            }
        }
    }
}
