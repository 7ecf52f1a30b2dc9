#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Crash-testing hooks. With `LOAM_FAILPOINT=NAME:N` the process kills
/// itself with SIGKILL the Nth time it reaches the point `NAME`
/// (`any:N` counts every point), so tests can stop a write at each durable
/// step and check that the repository is exactly as it was before.
public enum FailPoint {
    private static let target: (name: String, count: Int)? = {
        guard let raw = getenv("LOAM_FAILPOINT") else { return nil }
        let parts = String(cString: raw).split(separator: ":")
        guard parts.count == 2, let n = Int(parts[1]) else { return nil }
        return (String(parts[0]), n)
    }()
    /// Writers hit points from more than one task at a time (fragments are written concurrently).
    private static let hits = Atomic<Int>(0)

    @inline(__always) public static func hit(_ name: StaticString) {
        guard let target else { return }
        guard target.name == "any" || target.name == "\(name)" else { return }
        if hits.add(1, ordering: .relaxed).newValue == target.count {
            let note = "loam: failpoint \(name) reached, killing\n"
            _ = note.withCString { write(2, $0, strlen($0)) }
            kill(getpid(), SIGKILL)
        }
    }
}
