import ArgumentParser
import Foundation
import Loam
import LoamFormat
import LoamGovernance

struct PII: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pii", abstract: "Personal data: find it, and measure re-identification risk (see also loam anonymize).",
        subcommands: [Scan.self, Risk.self])

    struct Scan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reports, per column, the kinds of personal data found, how many rows hold each, and sample row ids — never the values.",
            discussion: """
                Kinds: email, phone (international and common national formats), credit_card (network prefix and Luhn), iban (country
                length and mod-97), ssn, ipv4, ipv6, date_of_birth (a date in a column named for birth, or after "born", "DOB",
                "date of birth"), person_name (the shipped lists of given names and surnames).
                  loam pii scan customers
                  loam pii scan customers --ref v1 --columns notes,email --json
                """)
        @OptionGroup var repository: RepositoryOptions
        @Argument(help: "The dataset.") var dataset: String
        @Option(help: "The ref to read.") var ref = "HEAD"
        @Option(help: "Only these columns (comma-separated).") var columns: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingErrors {
                let wanted = columns.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
                let report = try await PIIScanner(repository: try repository.open()).scan(dataset, at: ref, columns: wanted)
                if json { print(try JSONOutput.text(report)); return }
                let mb = Double(report.bytes) / 1_048_576
                print("\(report.rows) rows, \(String(format: "%.1f", mb)) MB of text in \(String(format: "%.2f", report.seconds)) s")
                if report.columns.isEmpty { print("no personal data found"); return }
                var rows: [[String]] = []
                for column in report.columns {
                    for kind in column.kinds {
                        rows.append([column.column, kind.kind, String(kind.rows), kind.sampleRowIDs.map(String.init).joined(separator: ", ")])
                    }
                }
                print(formatTable(header: ["column", "kind", "rows", "sample _rowid"], rows: rows), terminator: "")
            }
        }
    }
}

extension PII {
    struct Risk: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "k-anonymity and l-diversity over quasi-identifiers: the rows whose combination of values few rows share.",
            discussion: "  loam pii risk patients --quasi age,zip,gender --sensitive diagnosis --k 5")
        @OptionGroup var repository: RepositoryOptions
        @Argument(help: "The dataset.") var dataset: String
        @Option(help: "The quasi-identifier columns, comma-separated.") var quasi: String
        @Option(help: "A sensitive column, for l-diversity.") var sensitive: String?
        @Option(name: .customLong("k"), help: "Groups smaller than this are at risk.") var threshold = 5
        @Option(help: "The ref to read.") var ref = "HEAD"
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingErrors {
                let report = try await RiskReport.compute(try repository.open(), dataset: dataset,
                                                          quasiIdentifiers: quasi.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) },
                                                          sensitive: sensitive, threshold: threshold, at: ref)
                if json { print(try JSONOutput.text(report)); return }
                print("\(report.rows) rows in \(report.groups) groups over (\(report.quasiIdentifiers.joined(separator: ", "))): k = \(report.k)")
                print("\(report.groupsBelowThreshold) groups smaller than \(report.threshold), holding \(report.rowsAtRisk) rows at risk")
                if let l = report.l { print("l-diversity of \(report.sensitive!): l = \(l)") }
            }
        }
    }
}

struct Anonymize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Anonymizes a column as one commit: mask, redact, keyed hash, generalize or fake values (rows keep their _rowid).",
        discussion: """
              loam anonymize customers notes --mask              # personal data in the text → ***, keeping a card's last 4 digits
              loam anonymize customers notes --redact            # → [EMAIL], [PHONE] …; --whole: the whole value → NULL
              LOAM_HASH_KEY=… loam anonymize customers email --hash    # HMAC-SHA256: equal values stay equal, joins still work
              loam anonymize patients age --generalize --bucket 10     # 37 → 30; dates --to month|year; texts --prefix 3
              loam anonymize customers name --fake person_name --key-file k.bin   # the same made-up name for the same value
            Older commits still hold the original values: time travel reads them (erasure from history comes next).
            """)
    @OptionGroup var repository: RepositoryOptions
    @Argument(help: "The dataset.") var dataset: String
    @Argument(help: "The column.") var column: String
    @Flag(help: "Mask the personal data found.") var mask = false
    @Flag(help: "Redact the personal data found.") var redact = false
    @Flag(help: "Keyed hash of every value.") var hash = false
    @Flag(help: "Generalize every value.") var generalize = false
    @Option(help: "Fake values of this kind: person_name, email or phone.") var fake: String?
    @Flag(help: "With --mask or --redact: the whole value, not only the personal data found in it.") var whole = false
    @Option(help: "--generalize numbers: the bucket width.") var bucket: Double?
    @Option(help: "--generalize dates: month or year.") var to: String?
    @Option(help: "--generalize texts: the characters kept.") var prefix: Int?
    @Option(help: "The key for --hash and --fake (else LOAM_HASH_KEY).") var keyFile: String?
    @Option(name: .shortAndLong, help: "The commit message.") var message: String?

    func key() throws -> [UInt8] {
        if let keyFile {
            guard let data = FileManager.default.contents(atPath: keyFile), data.count >= 16 else {
                throw ValidationError("--key-file \(keyFile) must hold at least 16 bytes")
            }
            return Array(data)
        }
        guard let env = ProcessInfo.processInfo.environment["LOAM_HASH_KEY"], env.utf8.count >= 16 else {
            throw ValidationError("a keyed hash needs a key of 16 bytes or more: --key-file FILE or LOAM_HASH_KEY")
        }
        return Array(env.utf8)
    }

    func run() async throws {
        try await reportingErrors {
            guard [mask, redact, hash, generalize, fake != nil].filter({ $0 }).count == 1 else {
                throw ValidationError("choose one of --mask, --redact, --hash, --generalize, --fake KIND")
            }
            let method: Anonymization
            if mask { method = .mask(whole: whole) }
            else if redact { method = .redact(whole: whole) }
            else if hash { method = .hash(key: try key()) }
            else if generalize {
                guard to == nil || Anonymization.DatePart(rawValue: to!) != nil else { throw ValidationError("--to takes month or year") }
                method = .generalize(bucket: bucket, datePart: to.flatMap(Anonymization.DatePart.init(rawValue:)), prefix: prefix)
            } else {
                guard let kind = PIIKind(rawValue: fake!), [.personName, .email, .phone].contains(kind) else {
                    throw ValidationError("--fake takes person_name, email or phone")
                }
                method = .fake(kind: kind, key: try key())
            }
            let (commit, rows) = try await Anonymizer(repository: try repository.open()).anonymize(dataset, column: column, with: method, message: message)
            print("anonymized \(dataset).\(column) in \(rows) rows: commit \(commit.short)")
        }
    }
}
