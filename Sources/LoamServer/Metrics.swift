import Foundation
import Synchronization

/// Counters for /metrics, in Prometheus' text format: requests by route, method and
/// status; request latency as a histogram; bytes of Arrow streamed; commits made.
final class Metrics: Sendable {
    private struct State {
        var requests: [String: Int] = [:]       // "route|method|status" → count
        var latency = [Int](repeating: 0, count: Metrics.buckets.count + 1)
        var latencySum = 0.0
        var bytesStreamed = 0
        var commits = 0
    }
    static let buckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30]
    private let state = Mutex(State())

    func request(route: String, method: String, status: Int, seconds: Double) {
        state.withLock { s in
            s.requests["\(route)|\(method)|\(status)", default: 0] += 1
            s.latency[Self.buckets.firstIndex { seconds <= $0 } ?? Self.buckets.count] += 1
            s.latencySum += seconds
        }
    }

    func streamed(_ bytes: Int) { state.withLock { $0.bytesStreamed += bytes } }
    func committed() { state.withLock { $0.commits += 1 } }

    func render() -> String {
        state.withLock { s in
            var lines = ["# HELP loam_http_requests_total HTTP requests by route, method and status.", "# TYPE loam_http_requests_total counter"]
            for (key, count) in s.requests.sorted(by: { $0.key < $1.key }) {
                let p = key.split(separator: "|", omittingEmptySubsequences: false)
                lines.append("loam_http_requests_total{route=\"\(p[0])\",method=\"\(p[1])\",status=\"\(p[2])\"} \(count)")
            }
            lines += ["# HELP loam_http_request_duration_seconds Time to answer a request.", "# TYPE loam_http_request_duration_seconds histogram"]
            var cumulative = 0
            for (i, bound) in Self.buckets.enumerated() {
                cumulative += s.latency[i]
                lines.append("loam_http_request_duration_seconds_bucket{le=\"\(bound)\"} \(cumulative)")
            }
            cumulative += s.latency[Self.buckets.count]
            lines += ["loam_http_request_duration_seconds_bucket{le=\"+Inf\"} \(cumulative)",
                      "loam_http_request_duration_seconds_sum \(s.latencySum)", "loam_http_request_duration_seconds_count \(cumulative)",
                      "# HELP loam_bytes_streamed_total Bytes of Arrow IPC sent in row, take, query and training streams.",
                      "# TYPE loam_bytes_streamed_total counter", "loam_bytes_streamed_total \(s.bytesStreamed)",
                      "# HELP loam_commits_total Commits made through the server.", "# TYPE loam_commits_total counter",
                      "loam_commits_total \(s.commits)"]
            return lines.joined(separator: "\n") + "\n"
        }
    }
}
