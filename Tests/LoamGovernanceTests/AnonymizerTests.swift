import Foundation
@testable import LoamGovernance
import LoamFormat
import Loam
import LoamTestSupport
import Testing

/// Anonymization as commits on a real repository, and the k-anonymity report.
@Suite struct AnonymizerTests {
    static func people() async throws -> Repository {
        let dir = try TestEnvironment.temporaryDirectory("anon")
        let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
        let csv = dir.appendingPathComponent("people.csv")
        try """
            id,name,email,note,dob,age,zip
            1,Maria Garcia,maria@example.com,card 4111 1111 1111 1111 and maria@example.com,1980-05-04,37,90210
            2,Bob Smith,bob@x.org,call +44 20 7946 0958,1975-11-30,42,90211
            3,Ana Lopez,maria@example.com,,1975-11-02,45,90210
            4,Ana Lopez,zoe@y.net,nothing here,1990-02-14,31,90210

            """.write(to: csv, atomically: true, encoding: .utf8)
        var options = ImportOptions()
        options.schema = "zip:string"
        try await repo.importData(from: csv.path, into: "people", options: options)
        return repo
    }

    static func column(_ repo: Repository, _ name: String, at ref: String = "HEAD") async throws -> [String?] {
        var out: [String?] = []
        try await repo.dataset("people", at: ref).scan(columns: [name]) { b in
            for r in 0..<b.length { out.append(ValueText.text(b.columns[0].value(at: r), b.schema.fields[0].type)) }
        }
        return out
    }

    @Test func eachMethodRewritesTheColumnAsOneCommitAndTheOldVersionStaysReadable() async throws {
        let repo = try await Self.people()
        let anonymizer = Anonymizer(repository: repo)
        let key = Array("a sixteen byte key!".utf8)
        try await anonymizer.anonymize("people", column: "note", with: .mask(whole: false))
        #expect(try await Self.column(repo, "note") == ["card **** **** **** 1111 and m****@example.com", "call +** ** **** 0958", nil, "nothing here"])
        try await anonymizer.anonymize("people", column: "email", with: .hash(key: key))
        let hashed = try await Self.column(repo, "email")
        #expect(hashed[0] == hashed[2] && hashed[0] != hashed[1] && hashed[0]?.count == 32)  // equal stays equal: joins still work
        try await anonymizer.anonymize("people", column: "name", with: .redact(whole: true))
        #expect(try await Self.column(repo, "name") == [nil, nil, nil, nil])
        try await anonymizer.anonymize("people", column: "age", with: .generalize(bucket: 10, datePart: nil, prefix: nil))
        #expect(try await Self.column(repo, "age") == ["30", "40", "40", "30"])
        try await anonymizer.anonymize("people", column: "dob", with: .generalize(bucket: nil, datePart: .month, prefix: nil))
        #expect(try await Self.column(repo, "dob") == ["1980-05-01", "1975-11-01", "1975-11-01", "1990-02-01"])
        try await anonymizer.anonymize("people", column: "zip", with: .generalize(bucket: nil, datePart: nil, prefix: 3))
        #expect(try await Self.column(repo, "zip") == ["902**", "902**", "902**", "902**"])
        // Six commits; the first version still reads the originals (erasing them from history is `loam erase`).
        #expect(try await Self.column(repo, "note", at: "HEAD~6")[0] == "card 4111 1111 1111 1111 and maria@example.com")
        await #expect(throws: LoamError.self) { try await anonymizer.anonymize("people", column: "age", with: .mask(whole: false)) }
        await #expect(throws: LoamError.self) { try await anonymizer.anonymize("people", column: "nope", with: .mask(whole: false)) }
    }

    @Test func redactNamesTheKindsAndFakesAreStablePerValue() {
        var text = "write to maria@example.com or call (415) 555-2671"
        let redacted = text.withUTF8 { Anonymizer.apply(.redact(whole: false), to: UnsafeRawBufferPointer($0)) }
        #expect(redacted == "write to [EMAIL] or call [PHONE]")
        let key = Array("another sixteen bytes".utf8)
        let a = Anonymizer.fake(.personName, seed: Anonymizer.hmac(key, "Maria Garcia")), b = Anonymizer.fake(.personName, seed: Anonymizer.hmac(key, "Maria Garcia"))
        #expect(a == b && a != "Maria Garcia" && PIIDetector.kinds(in: a).contains(.personName))
        #expect(PIIDetector.kinds(in: Anonymizer.fake(.email, seed: Anonymizer.hmac(key, "x@y.com"))) == [.email])
    }

    @Test func kAnonymityAndLDiversity() async throws {
        let repo = try await Self.people()
        let report = try await RiskReport.compute(repo, dataset: "people", quasiIdentifiers: ["zip"], sensitive: "name", threshold: 2)
        // zip 90210: rows 1, 3, 4 (names Maria Garcia, Ana Lopez twice → 2 distinct); 90211: row 2 alone.
        #expect(report.groups == 2 && report.k == 1 && report.groupsBelowThreshold == 1 && report.rowsAtRisk == 1 && report.l == 1)
        let wider = try await RiskReport.compute(repo, dataset: "people", quasiIdentifiers: ["zip", "age"], threshold: 2)
        #expect(wider.k == 1 && wider.rowsAtRisk == 4)
    }
}
