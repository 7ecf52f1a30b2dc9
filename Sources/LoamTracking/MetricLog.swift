import LoamStorage
import Synchronization

/// Metric points go into the catalog by group commit: a caller returns only
/// once the transaction holding its points has committed, so an acknowledged
/// point survives a crash. While one transaction is being written, every point
/// that arrives waits for the next one, so concurrent callers share a commit
/// (and its fsync) instead of paying one each.
///
/// The writer is always a caller: the first to find nobody writing writes its
/// own points and everything waiting, then hands the writing to the next caller
/// that arrived meanwhile. If a shared transaction fails, the writer retries its
/// own points alone and the next writer takes the rest, so one bad request (or
/// one cancelled caller) never fails its neighbours.
final class MetricLog: Sendable {
    typealias Points = [(runID: String, point: MetricPoint)]

    private struct Waiter {
        let points: Points
        let caller: MetricCaller
        /// Resumed with false once its points are committed, or with true when it is to write next.
        let done: CheckedContinuation<Bool, any Error>
    }

    private struct State {
        var waiting: [Waiter] = []
        var writing = false
    }

    private let state = Mutex(State())
    private let store: any TrackingStore
    /// Points in one transaction at most; a larger backlog takes several.
    private let limit: Int

    init(store: any TrackingStore, limit: Int = 50_000) {
        self.store = store
        self.limit = limit
    }

    /// Returns once `points` are committed, or throws what writing them threw.
    func append(_ points: Points) async throws {
        guard !points.isEmpty else { return }
        let caller = MetricCaller(context: AuditContext.current, points: points)
        // Nobody writing: write at once, without suspending (a continuation would cost a thread wake-up).
        if state.withLock({ s -> Bool in
            if s.writing { return false }
            s.writing = true
            return true
        }) {
            return try await drain(own: points, caller)
        }
        // A writer is busy: wait for it to commit these points too, or to hand the writing over.
        let lead = try await withCheckedThrowingContinuation { (done: CheckedContinuation<Bool, any Error>) in
            let lead = state.withLock { s -> Bool in
                if s.writing {
                    s.waiting.append(Waiter(points: points, caller: caller, done: done))
                    return false
                }
                s.writing = true
                return true
            }
            if lead { done.resume(returning: true) }
        }
        if lead { try await drain(own: points, caller) }
    }

    /// Writes this caller's points with every waiting caller's in one transaction, then hands
    /// the writing on to the first caller that arrived meanwhile (so no caller writes for others
    /// for long), or marks nobody writing. Throws only this caller's own failure.
    private func drain(own: Points, _ caller: MetricCaller) async throws {
        let group = state.withLock { s -> [Waiter] in
            var taken = 0, count = own.count
            while taken < s.waiting.count && count + s.waiting[taken].points.count <= limit {
                count += s.waiting[taken].points.count
                taken += 1
            }
            defer { s.waiting.removeFirst(taken) }
            return Array(s.waiting.prefix(taken))
        }
        var ownError: (any Error)?
        do {
            try await store.appendMetrics(own + group.flatMap(\.points), callers: [caller] + group.map(\.caller))
            for waiter in group { waiter.done.resume(returning: false) }
        } catch {
            // One bad request (or this caller's task being cancelled, which stops its database
            // access) must not fail its neighbours: this caller retries its own points alone, and the
            // others go back to the front of the queue for the next writer, in a task of their own.
            do { try await store.appendMetrics(own, callers: [caller]) } catch { ownError = error }
            state.withLock { $0.waiting.insert(contentsOf: group, at: 0) }
        }
        let next = state.withLock { s -> Waiter? in
            if s.waiting.isEmpty { s.writing = false; return nil }
            return s.waiting.removeFirst()
        }
        next?.done.resume(returning: true)
        if let ownError { throw ownError }
    }
}
