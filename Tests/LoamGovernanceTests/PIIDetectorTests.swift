import Foundation
@testable import LoamGovernance
import LoamFormat
import Loam
import LoamTestSupport
import Testing

/// The detectors on a labelled synthetic corpus the test generates (each sample holds one known kind, or none),
/// scored by precision and recall per kind; then a dataset scanned end to end.
@Suite struct PIIDetectorTests {
    struct Sample { let text: String; let kind: PIIKind? }

    /// A seeded corpus: 250 samples of each kind in varied formats and sentences, and 2,000 decoys that look
    /// like personal data and are not (order numbers, versions, times, ISBNs, UUIDs, non-Luhn numbers, dates
    /// without birth context, capitalized phrases).
    static func corpus() -> [Sample] {
        var random = SeededRandom(seed: 2026)
        func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(random.next() % UInt64(range.count)) }
        func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
        func digits(_ n: Int) -> String { String((0..<n).map { _ in Character(String(int(0...9))) }) }
        let given = Names.given.subtracting(Names.ambiguousGiven).filter { $0.allSatisfy(\.isASCII) }.sorted()
        let surnames = Names.surnames.filter { $0.allSatisfy(\.isASCII) }.sorted()
        func cap(_ s: String) -> String { s.prefix(1).uppercased() + s.dropFirst() }
        func luhnDigit(_ body: [Int]) -> Int {
            var sum = 0
            for (k, d) in body.reversed().enumerated() { if k % 2 == 0 { let x = d * 2; sum += x > 9 ? x - 9 : x } else { sum += d } }
            return (10 - sum % 10) % 10
        }
        func card(valid: Bool) -> String {
            let prefix = pick(["4", "51", "55", "2221", "34", "37", "6011", "65"])
            let length = prefix == "34" || prefix == "37" ? 15 : 16
            var body = prefix.compactMap { Int(String($0)) }
            while body.count < length - 1 { body.append(int(0...9)) }
            let check = luhnDigit(body)
            body.append(valid ? check : (check + int(1...9)) % 10)
            let text = body.map(String.init).joined()
            switch int(0...2) {
            case 0: return text
            case 1: return stride(from: 0, to: text.count, by: 4).map { String(Array(text)[$0..<min($0 + 4, text.count)]) }.joined(separator: " ")
            default: return stride(from: 0, to: text.count, by: 4).map { String(Array(text)[$0..<min($0 + 4, text.count)]) }.joined(separator: "-")
            }
        }
        func iban() -> String {
            let (country, length) = pick([("DE", 22), ("GB", 22), ("FR", 27), ("NL", 18), ("ES", 24), ("IT", 27)])
            var bban = ""
            for k in 0..<(length - 4) { bban += (country == "GB" || country == "NL") && k < 4 ? String(pick(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))) : digits(1) }
            let check = 98 - PIIDetector.mod97(Array((country + "00" + bban).utf8))
            let text = country + String(format: "%02d", check) + bban
            return int(0...1) == 0 ? text : stride(from: 0, to: text.count, by: 4).map { String(Array(text)[$0..<min($0 + 4, text.count)]) }.joined(separator: " ")
        }
        let positives: [(PIIKind, () -> String)] = [
            (.email, { "\(pick(given)).\(pick(surnames))\(int(1...99))@\(pick(["example", "mail", "corp-x", "uni"])).\(pick(["com", "org", "de", "co.uk"]))" }),
            (.phone, {
                pick(["+44 20 \(digits(4)) \(digits(4))", "+1 (\(int(201...989))) \(int(200...999))-\(digits(4))", "+49 30 \(digits(8))",
                      "+33 6 \(digits(2)) \(digits(2)) \(digits(2)) \(digits(2))", "(\(int(201...989))) \(int(200...999))-\(digits(4))",
                      "\(int(201...989))-\(int(200...999))-\(digits(4))", "020 \(digits(4)) \(digits(4))", "06 \(digits(2)) \(digits(2)) \(digits(2)) \(digits(2))",
                      "030 \(digits(8))", "+91 \(digits(5)) \(digits(5))"])
            }),
            (.creditCard, { card(valid: true) }),
            (.iban, { iban() }),
            (.ssn, { "\(String(format: "%03d", pick([int(1...665), int(667...899)])))-\(String(format: "%02d", int(1...99)))-\(String(format: "%04d", int(1...9999)))" }),
            (.ipv4, { "\(int(1...223)).\(int(0...255)).\(int(0...255)).\(int(1...254))" }),
            (.ipv6, {
                let groups = (0..<8).map { _ in String(int(0...65535), radix: 16) }
                return int(0...1) == 0 ? groups.joined(separator: ":") : "\(groups[0]):\(groups[1])::\(groups[7])"
            }),
            (.dateOfBirth, {
                let y = int(1940...2005), m = int(1...12), d = int(1...28)
                return pick(["born on \(y)-\(String(format: "%02d", m))-\(String(format: "%02d", d))", "DOB: \(String(format: "%02d", d))/\(String(format: "%02d", m))/\(y)",
                             "date of birth \(String(format: "%02d", d)).\(String(format: "%02d", m)).\(y)"])
            }),
            (.personName, { "\(cap(pick(given))) \(cap(pick(surnames)))" }),
        ]
        let sentences = ["%@", "Contact: %@.", "please reach %@ before friday", "ref %@ (see ticket)", "[%@]", "note — %@ — end"]
        var out: [Sample] = []
        for (kind, make) in positives {
            for _ in 0..<250 { out.append(Sample(text: String(format: pick(sentences), make()), kind: kind)) }
        }
        let decoys: [() -> String] = [
            { "Order \(int(1000...9999))-\(int(1000...9999))-\(int(1000...9999)) shipped" },
            { "version \(int(0...9)).\(int(0...20)).\(int(0...99))" },
            { "build 10.0.\(int(10000...22000)).\(int(1...999))" },
            { "meeting at \(int(0...23)):\(String(format: "%02d", int(0...59))):\(String(format: "%02d", int(0...59)))" },
            { "total $\(int(1...9)),\(int(100...999)).\(int(10...99))" },
            { "tracking \(card(valid: false).filter(\.isNumber))" },
            { "Invoice dated \(int(2015...2025))-\(String(format: "%02d", int(1...12)))-\(String(format: "%02d", int(1...28)))" },
            { "paid on \(String(format: "%02d", int(1...28)))/\(String(format: "%02d", int(1...12)))/\(int(2015...2025))" },
            { "ISBN 978-\(int(0...9))-\(int(10...99))-\(digits(6))-\(int(0...9))" },
            { "id \(UUID().uuidString.lowercased())" },
            { "The Quarterly Report for \(pick(["New York", "Paris France", "North America", "Good Morning"]))" },
            { "Mark the date and Will Power through \(pick(["May", "June", "April"]))" },
            { "room \(int(1...999)), floor \(int(1...30)), zip \(digits(5))" },
            { "sha \(String(UInt64.random(in: 0...UInt64.max), radix: 16))" },
            { "call ext \(int(100...9999)) or \(digits(3))-\(digits(4))" },
            { "ratio 3:4:\(int(1...9)) and 16:9" },
            { "SKU AB\(digits(6)) qty \(int(1...500))" },
        ]
        for _ in 0..<2000 { out.append(Sample(text: pick(decoys)(), kind: nil)) }
        return out
    }

    @Test func precisionAndRecallPerKindOnTheGeneratedCorpus() {
        let corpus = Self.corpus()
        var truePositives: [PIIKind: Int] = [:], falsePositives: [PIIKind: Int] = [:], positives: [PIIKind: Int] = [:]
        var misses: [String] = [], spurious: [String] = []
        for sample in corpus {
            let found = PIIDetector.kinds(in: sample.text)
            if let kind = sample.kind {
                positives[kind, default: 0] += 1
                if found.contains(kind) { truePositives[kind, default: 0] += 1 } else if misses.count < 20 { misses.append("\(kind): \(sample.text)") }
            }
            for kind in found where kind != sample.kind {
                falsePositives[kind, default: 0] += 1
                if spurious.count < 20 { spurious.append("\(kind) in: \(sample.text)") }
            }
        }
        var scores: [String] = []
        for kind in PIIKind.allCases {
            let tp = Double(truePositives[kind] ?? 0), fp = Double(falsePositives[kind] ?? 0), p = Double(positives[kind] ?? 0)
            let recall = tp / p, precision = tp + fp == 0 ? 1 : tp / (tp + fp)
            scores.append("\(kind.rawValue) P \(String(format: "%.3f", precision)) R \(String(format: "%.3f", recall))")
            #expect(recall >= 0.97, "\(kind) recall \(recall): \(misses.filter { $0.hasPrefix("\(kind)") })")
            #expect(precision >= 0.97, "\(kind) precision \(precision): \(spurious.filter { $0.hasPrefix("\(kind)") })")
        }
        print("PII corpus (\(corpus.count) samples): " + scores.joined(separator: "; "))
    }

    @Test func knownAnswers() {
        #expect(PIIDetector.kinds(in: "4111 1111 1111 1111") == [.creditCard])
        #expect(PIIDetector.kinds(in: "4111 1111 1111 1112").isEmpty)  // fails Luhn
        #expect(PIIDetector.kinds(in: "GB82 WEST 1234 5698 7654 32") == [.iban])
        #expect(PIIDetector.kinds(in: "GB82 WEST 1234 5698 7654 33").isEmpty)  // fails mod-97
        #expect(PIIDetector.kinds(in: "078-05-1120") == [.ssn])
        #expect(PIIDetector.kinds(in: "666-05-1120").isEmpty)
        #expect(PIIDetector.kinds(in: "from 2001:db8::ff00:42:8329 and 192.168.0.1") == [.ipv6, .ipv4])
        #expect(PIIDetector.kinds(in: "256.1.1.1").isEmpty)
        #expect(PIIDetector.kinds(in: "ana.garcía@example.com").isEmpty == false)
        #expect(PIIDetector.kinds(in: "1985-03-02").isEmpty)
        #expect(PIIDetector.kinds(in: "1985-03-02", column: .init(name: "date_of_birth")) == [.dateOfBirth])
        #expect(PIIDetector.kinds(in: "Smith", column: .init(name: "last_name")) == [.personName])
        #expect(PIIDetector.kinds(in: "4155552671", column: .init(name: "phone")) == [.phone])
        #expect(PIIDetector.kinds(in: "Zoë Müller called").contains(.personName))
    }

    @Test func aDatasetScanReportsKindsCountsAndRowIDsButNoValues() async throws {
        let dir = try TestEnvironment.temporaryDirectory("pii")
        let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
        let csv = dir.appendingPathComponent("people.csv")
        var text = "id,note,contact,birth_date\n"
        for i in 0..<500 {
            let note = i % 10 == 0 ? "Customer Maria Garcia paid with 4111 1111 1111 1111" : "order \(i) shipped"
            let contact = i % 4 == 0 ? "ana\(i)@example.com" : "n/a"
            text += "\(i),\(note),\(contact),1990-01-\(String(format: "%02d", i % 28 + 1))\n"
        }
        try text.write(to: csv, atomically: true, encoding: .utf8)
        try await repo.importData(from: csv.path, into: "people")
        let report = try await PIIScanner(repository: repo).scan("people")
        #expect(report.rows == 500)
        let byColumn = Dictionary(uniqueKeysWithValues: report.columns.map { ($0.column, Dictionary(uniqueKeysWithValues: $0.kinds.map { ($0.kind, $0) })) })
        #expect(byColumn["note"]?["credit_card"]?.rows == 50 && byColumn["note"]?["person_name"]?.rows == 50)
        #expect(byColumn["contact"]?["email"]?.rows == 125)
        #expect(byColumn["birth_date"]?["date_of_birth"]?.rows == 500)
        #expect(byColumn["note"]?["credit_card"]?.sampleRowIDs.count == 5)
        let json = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        #expect(!json.contains("4111") && !json.contains("example.com") && !json.contains("Garcia"))  // no values in the report
    }
}
