import Foundation

/// How long one statement may run, carried as a task-local into every task it starts.
///
/// ```swift
/// try await StatementLimit.run(timeout: 5) { try await repo.query("SELECT …") }
/// ```
///
/// Work checks it (`StatementLimit.check()`) between batches, in regular expressions
/// and in sort, join and aggregation loops; a statement past its deadline, or whose
/// task was cancelled (the HTTP client went away), stops with `StatementStopped`.
public enum StatementLimit {
    public struct Deadline: Sendable {
        public let instant: ContinuousClock.Instant
        /// The timeout as given, for the message.
        public let seconds: Double
    }

    @TaskLocal public static var deadline: Deadline?

    /// Runs `body` with a deadline `timeout` seconds from now (none when nil or ≤ 0).
    public static func run<T>(timeout: Double?, _ body: () async throws -> T) async throws -> T {
        guard let timeout, timeout > 0, timeout.isFinite else { return try await body() }
        let clamped = min(timeout, 365 * 86_400)
        let deadline = Deadline(instant: .now + .milliseconds(Int64(clamped * 1000)), seconds: clamped)
        return try await $deadline.withValue(deadline) { try await body() }
    }

    /// Throws once the statement's deadline has passed or its task was cancelled.
    @inlinable public static func check() throws {
        if Task.isCancelled { throw StatementStopped.cancelled }
        if let deadline, ContinuousClock.now >= deadline.instant { throw StatementStopped.timedOut(seconds: deadline.seconds) }
    }
}

/// A statement stopped before it finished; nothing it would have written was committed.
public enum StatementStopped: Error, CustomStringConvertible, Equatable {
    case timedOut(seconds: Double)
    case cancelled
    case outOfMemory(limit: Int, what: String)

    public var description: String {
        switch self {
        case .timedOut(let seconds):
            let shown = seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
            return "the statement ran past its statement_timeout of \(shown) s and was stopped; nothing was changed "
                + "(raise it with SET statement_timeout = '60s' in loam sql, --timeout, or \"timeout_seconds\" in a request)"
        case .cancelled: return "the statement was cancelled (its client went away); nothing was changed"
        case .outOfMemory(let limit, let what):
            let shown = limit >= 1 << 30 ? String(format: "%.1f GiB", Double(limit) / Double(1 << 30)) : String(format: "%.1f MiB", Double(limit) / Double(1 << 20))
            return "the statement needs more than its memory_limit of \(shown) to hold \(what), even spilling to disk; "
                + "nothing was changed — narrow it (WHERE, LIMIT, fewer columns) or raise the limit (SET memory_limit = '8GB', --memory-limit)"
        }
    }
}

/// Checks `StatementLimit` every 65,536 ticks, for loops too fine-grained to check each turn.
public struct StatementTicker {
    @usableFromInline var count = 0
    public init() {}

    @inlinable public mutating func tick() throws {
        count &+= 1
        if count & 0xFFFF == 0 { try StatementLimit.check() }
    }
}

/// The memory one statement may hold in rows it must keep (to sort, join, deduplicate or
/// reuse them): operators charge what they keep and the statement stops with a clear error,
/// rather than growing until the machine kills the process.
public final class MemoryBudget: @unchecked Sendable {
    public let limit: Int
    private var used = 0
    private let lock = NSLock()

    public init(limit: Int) { self.limit = limit }

    public func charge(_ bytes: Int, _ what: @autoclosure () -> String) throws {
        let total = lock.withLock { used += bytes; return used }
        if total > limit { throw StatementStopped.outOfMemory(limit: limit, what: what()) }
    }

    /// Charges `bytes` when they fit and says whether they did: an operator that can
    /// spill to disk asks before it grows, and spills (then `release`s) when refused.
    public func reserve(_ bytes: Int) -> Bool {
        lock.withLock {
            guard used + bytes <= limit else { return false }
            used += bytes
            return true
        }
    }

    /// Returns bytes an operator no longer holds (it spilled them, or finished).
    public func release(_ bytes: Int) { lock.withLock { used -= bytes } }

    /// Half the machine's memory: a statement never takes it all, and two can run.
    public static let defaultLimit = Int(min(ProcessInfo.processInfo.physicalMemory / 2, UInt64(Int.max)))

    /// "2GB", "512MB", "1.5GiB", "100000" (bytes): the bytes, or nil when not a size.
    public static func parse(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: CharacterSet(charactersIn: "'\" ")).lowercased()
        let units: [(String, Double)] = [("gib", 1_073_741_824), ("mib", 1_048_576), ("kib", 1024), ("gb", 1e9), ("mb", 1e6), ("kb", 1e3), ("b", 1)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let number = Double(t.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), number > 0, number * scale < 9e18 else { return nil }
            return Int(number * scale)
        }
        guard let bytes = Int(t), bytes > 0 else { return nil }
        return bytes
    }
}

extension StatementLimit {
    @TaskLocal public static var memory: MemoryBudget?

    /// Runs `body` with a deadline and a memory budget (each optional).
    public static func run<T>(timeout: Double?, memoryLimit: Int?, _ body: () async throws -> T) async throws -> T {
        guard let memoryLimit else { return try await run(timeout: timeout, body) }
        return try await $memory.withValue(MemoryBudget(limit: memoryLimit)) { try await run(timeout: timeout, body) }
    }

    /// Charges `bytes` kept by an operator to the statement's memory budget, if it has one.
    @inlinable public static func charge(_ bytes: Int, for what: @autoclosure () -> String) throws {
        if let memory { try memory.charge(bytes, what()) }
    }

    /// `MemoryBudget.reserve` on the statement's budget; always true without one.
    @inlinable public static func reserve(_ bytes: Int) -> Bool { memory?.reserve(bytes) ?? true }

    @inlinable public static func release(_ bytes: Int) { memory?.release(bytes) }
}
