import Foundation
import Loam
import NIOCore

/// Threads of their own for statements, so that a query busy on every core leaves
/// Swift's shared pool — which answers `/healthz`, `/metrics` and every other request —
/// free: tasks run here with `Task(executorPreference:)`, and the task groups a statement
/// starts inherit the preference.
final class QueryExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    init(threads: Int) {
        for index in 0..<max(1, threads) {
            let thread = Thread { [unowned self] in self.work() }
            thread.name = "loam-query-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        condition.signal()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// Runs `body` on these threads under `timeout` seconds and `memoryLimit` bytes, cancelled if the client closes
    /// `channel` first or the calling task is cancelled.
    func run<T: Sendable>(timeout: Double?, memoryLimit: Int, channel: any Channel, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task(executorPreference: self) { try await StatementLimit.run(timeout: timeout, memoryLimit: memoryLimit, body) }
        let watcher = ClientGoneWatcher { task.cancel() }
        try? await channel.pipeline.addHandler(watcher, position: .first).get()
        defer { channel.pipeline.removeHandler(watcher, promise: nil) }
        return try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
    }
}

/// Tells when the client closes its side of the connection while a statement runs
/// (Hummingbird allows half-closed connections, so the channel itself stays open).
final class ClientGoneWatcher: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let onGone: @Sendable () -> Void

    init(_ onGone: @escaping @Sendable () -> Void) { self.onGone = onGone }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { onGone() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        onGone()
        context.fireChannelInactive()
    }
}
