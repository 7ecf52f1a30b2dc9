import Synchronization

/// Metric points go into the catalog by group commit: a caller returns only
/// once the transaction holding its points has committed, so an acknowledged
/// point survives a crash. While one transaction is being written, every point
/// that arrives waits for the next one, so concurrent callers share a commit
/// (and its fsync) instead of paying one each.
///
/// If a shared transaction fails, each caller's points are written again on
/// their own, so one bad request never fails its neighbours.
final class MetricLog: Sendable {
    typealias Points = [(runID: String, point: MetricPoint)]

    private struct Waiter {
        let points: Points
        let done: CheckedContinuation<Void, any Error>
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
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            let lead = state.withLock { s -> Bool in
                s.waiting.append(Waiter(points: points, done: done))
                if s.writing { return false }
                s.writing = true
                return true
            }
            // The first caller to find no writer becomes it, and writes until nobody waits.
            if lead { Task { await drain() } }
        }
    }

    private func drain() async {
        while true {
            let group = state.withLock { s -> [Waiter] in
                var taken = 0, count = 0
                while taken < s.waiting.count && (count == 0 || count + s.waiting[taken].points.count <= limit) {
                    count += s.waiting[taken].points.count
                    taken += 1
                }
                defer { s.waiting.removeFirst(taken) }
                if taken == 0 { s.writing = false }
                return Array(s.waiting.prefix(taken))
            }
            if group.isEmpty { return }
            do {
                try await store.appendMetrics(group.flatMap(\.points))
                for waiter in group { waiter.done.resume() }
            } catch {
                if group.count == 1 { group[0].done.resume(throwing: error); continue }
                for waiter in group {
                    do {
                        try await store.appendMetrics(waiter.points)
                        waiter.done.resume()
                    } catch {
                        waiter.done.resume(throwing: error)
                    }
                }
            }
        }
    }
}
