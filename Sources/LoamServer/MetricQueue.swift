import Foundation
import LoamStorage
import Synchronization

/// Metric points wait here and are written in one MetaStore transaction per
/// flush (every `interval`, or at once past `limit` points), so a training loop
/// calling log-metric point by point costs one fsync per flush, not per point.
/// A request is answered once its points are queued for an active run; reads of
/// runs and metric histories flush first, and so does a graceful shutdown. The
/// cost: a crash of the server loses at most the last `interval` of points.
final class MetricQueue: Sendable {
    private struct State {
        var pending: [(runID: String, point: MetricPoint)] = []
        var active: Set<String> = []
        var flusher: Task<Void, Never>?
    }
    private let state = Mutex(State())
    private let store: any TrackingStore
    private let interval: Duration
    private let limit: Int
    /// One flush at a time, in order.
    private let writing = AsyncLock()

    init(store: any TrackingStore, interval: Duration = .milliseconds(20), limit: Int = 20_000) {
        self.store = store
        self.interval = interval
        self.limit = limit
    }

    /// Queues points for a run, after checking (once, then from memory) that the run exists and is active.
    func append(_ points: [MetricPoint], runID: String) async throws {
        if !state.withLock({ $0.active.contains(runID) }) {
            guard let run = try await store.run(id: runID) else { throw TrackingError.notFound("no run with id \(runID)") }
            guard run.info.lifecycleStage == "active" else { throw TrackingError.invalid("run \(runID) is deleted; restore it before logging to it") }
            state.withLock { _ = $0.active.insert(runID) }
        }
        let flushNow = state.withLock { s -> Bool in
            s.pending += points.map { (runID, $0) }
            if s.flusher == nil && s.pending.count < limit {
                s.flusher = Task { [self] in
                    try? await Task.sleep(for: interval)
                    try? await flush()
                }
            }
            return s.pending.count >= limit
        }
        if flushNow { try await flush() }
    }

    /// The run was deleted or restored: check it again on its next point.
    func forget(_ runID: String) {
        state.withLock { _ = $0.active.remove(runID) }
    }

    /// Writes everything queued so far.
    func flush() async throws {
        try await writing.run {
            let batch = state.withLock { s -> [(runID: String, point: MetricPoint)] in
                defer { s.pending = []; s.flusher = nil }
                return s.pending
            }
            do { try await store.appendMetrics(batch) } catch {
                state.withLock { $0.pending = batch + $0.pending }  // kept for the next flush
                throw error
            }
        }
    }
}

/// A FIFO async mutex (flushes must not interleave).
final class AsyncLock: Sendable {
    private let state = Mutex<(locked: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let go = state.withLock { s -> Bool in
                if s.locked { s.waiters.append(c); return false }
                s.locked = true
                return true
            }
            if go { c.resume() }
        }
        defer {
            let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
                if s.waiters.isEmpty { s.locked = false; return nil }
                return s.waiters.removeFirst()
            }
            next?.resume()
        }
        return try await body()
    }
}
