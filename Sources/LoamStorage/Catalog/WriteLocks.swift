import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Advisory locks (`flock`) on files under `.loam/locks/`, ordering writers
/// against garbage collection and against each other, across processes and
/// within one. The kernel drops a lock when its holder dies, so a writer killed
/// with `kill -9` never leaves one behind.
///
/// Three locks, always taken in this order:
/// - `gate`: a writer holds it shared for an instant on its way in; `gc` holds
///   it exclusive so that new writers wait while it finishes (it cannot starve).
/// - `writers`: held shared by every write from its first object to its ref move;
///   `gc` holds it exclusive while it decides and deletes, so no object it
///   deletes can be in the hands of a writer that has not yet committed.
/// - `turn`: held shared for the instant of a ref move; a write that lost the
///   race for its branch several times holds it exclusive from reading the head
///   to moving the ref, so its next attempt cannot lose (fair under contention).
///
/// Waiting polls with a short sleep: a blocking `flock` would hold one of the
/// few threads Swift concurrency runs on, which the holder may need.
public final class WriteLocks: Sendable {
    public enum Name: String, Sendable { case gate, writers, turn }

    private let folder: String

    /// The folder is made on first use, so that read-only work never writes.
    public init(folder: URL) {
        self.folder = folder.path
    }

    /// One held lock; released by `release()` or when it is freed.
    public final class Held: @unchecked Sendable {
        private var fd: Int32
        private let lock = NSLock()

        init(fd: Int32) { self.fd = fd }

        public func release() {
            lock.withLock {
                guard fd >= 0 else { return }
                _ = flock(fd, LOCK_UN)
                close(fd)
                fd = -1
            }
        }

        deinit { release() }
    }

    /// Registers a writer: through the gate (so a waiting gc is not starved), then `writers` shared.
    public func registerWriter() async throws -> Held {
        let gate = try await acquire(.gate, exclusive: false)
        defer { gate.release() }
        return try await acquire(.writers, exclusive: false)
    }

    /// Takes `name` shared or exclusive, waiting (without blocking a thread) as long as it takes.
    public func acquire(_ name: Name, exclusive: Bool) async throws -> Held {
        guard let held = try await acquire(name, exclusive: exclusive, waitingAtMost: nil) else { preconditionFailure("waited without a limit") }
        return held
    }

    /// Takes `name`, or returns nil once `limit` seconds have passed without it.
    public func acquire(_ name: Name, exclusive: Bool, waitingAtMost limit: TimeInterval?) async throws -> Held? {
        let deadline = limit.map { Date().addingTimeInterval($0) }
        let path = folder + "/" + name.rawValue
        var fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 && errno == ENOENT {
            _ = mkdir(folder, 0o755)
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        }
        guard fd >= 0 else { throw StorageError.io("cannot open the lock file \(path): \(String(cString: strerror(errno)))") }
        let held = Held(fd: fd)
        var pause: UInt64 = 200_000  // 0.2 ms, doubling to 20 ms
        while flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                throw StorageError.io("cannot lock \(path): \(String(cString: strerror(errno)))")
            }
            if let deadline, Date() > deadline { return nil }
            try await Task.sleep(nanoseconds: pause)
            pause = min(pause * 2, 20_000_000)
        }
        return held
    }
}
