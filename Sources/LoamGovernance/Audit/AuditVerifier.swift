import Foundation
import LoamStorage

/// Checks the audit log's hash chain: every entry's hash must match its fields and the previous entry's hash,
/// and the sequence must run 1, 2, 3 … without a gap. An edited entry breaks its own hash; a deleted one leaves a
/// gap (and breaks the next entry's link); reordered entries break the links. Truncating the tail leaves a valid
/// shorter chain: `head` (an entry's hash saved elsewhere, e.g. printed by a previous verify) catches that.
public enum AuditVerifier {
    public struct Problem: Sendable, Encodable, CustomStringConvertible {
        public let seq: Int64
        public let problem: String
        public var description: String { "entry \(seq): \(problem)" }
    }

    public struct Outcome: Sendable, Encodable {
        public let entries: Int
        /// The last entry's hash: save it to catch a truncated log later (`loam audit verify --head`).
        public let head: String
        public let problems: [Problem]
    }

    public static func verify(_ entries: [AuditEntry], head expectedHead: String? = nil) -> Outcome {
        var problems: [Problem] = []
        // Entries an erasure redacted (named in the erasure entry's own hashed target): their salt is gone.
        let redacted = Set(entries.flatMap(\.redactedEntries))
        var previous = AuditEntry.genesis
        var expected: Int64 = 1
        for entry in entries {
            if entry.seq > expected {
                problems.append(Problem(seq: expected, problem: entry.seq - expected == 1 ? "is missing (deleted)" : "to \(entry.seq - 1) are missing (deleted)"))
            }
            let recomputed = AuditEntry.digest(AuditEntry.canonical(seq: entry.seq, time: entry.time, user: entry.user, action: entry.action,
                                                                   target: entry.target, detailHash: entry.detailHash, prev: entry.prev))
            let erased = redacted.contains(entry.seq) && entry.detailSalt.isEmpty
            if recomputed != entry.hash {
                problems.append(Problem(seq: entry.seq, problem: "was edited: its fields do not match its hash"))
            } else if !erased && AuditEntry.detailDigest(salt: entry.detailSalt, detail: entry.detail) != entry.detailHash {
                problems.append(Problem(seq: entry.seq, problem: "was edited: its detail does not match its hash"))
            } else if entry.prev != previous && entry.seq == expected {
                problems.append(Problem(seq: entry.seq, problem: "does not follow the entry before it (entries were reordered or replaced)"))
            }
            previous = entry.hash
            expected = entry.seq + 1
        }
        if let expectedHead, !entries.contains(where: { $0.hash == expectedHead }) {
            problems.append(Problem(seq: expected, problem: "the saved head \(expectedHead.prefix(16))… is not in the log: entries after it were deleted"))
        }
        return Outcome(entries: entries.count, head: entries.last?.hash ?? AuditEntry.genesis, problems: problems)
    }
}
