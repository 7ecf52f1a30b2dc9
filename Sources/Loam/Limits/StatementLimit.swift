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

    public var description: String {
        switch self {
        case .timedOut(let seconds):
            let shown = seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
            return "the statement ran past its statement_timeout of \(shown) s and was stopped; nothing was changed "
                + "(raise it with SET statement_timeout = '60s' in loam sql, --timeout, or \"timeout_seconds\" in a request)"
        case .cancelled: return "the statement was cancelled (its client went away); nothing was changed"
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
