import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `loam-bench null-http`: an HTTP/1.1 server on a free loopback port that answers
/// every request with `200 {}` as soon as its body has arrived, a thread per
/// connection. Timing the `mlflow` client against it gives the client's own cost
/// per call, the floor under any server's time. Prints `Serving 127.0.0.1:PORT`.
func runNullHTTPServer() -> Never {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 }
    }
    guard listener >= 0, bound, listen(listener, 64) == 0 else {
        FileHandle.standardError.write(Data("null-http: cannot listen on 127.0.0.1: \(String(cString: strerror(errno)))\n".utf8))
        exit(1)
    }
    FileHandle.standardOutput.write(Data("Serving 127.0.0.1:\(UInt16(bigEndian: address.sin_port))\n".utf8))
    while true {
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { continue }
        var one: Int32 = 1
        setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        Thread.detachNewThread { answerRequests(on: connection) }
    }
}

/// Reads requests off one connection (head, then Content-Length bytes of body) and answers each with `{}`.
private func answerRequests(on connection: Int32) {
    defer { close(connection) }
    let response = Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".utf8)
    let headEnd = Array("\r\n\r\n".utf8)
    var pending: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        while let end = firstRange(of: headEnd, in: pending) {
            let head = String(decoding: pending[..<end], as: UTF8.self).lowercased()
            let bodyLength = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            let total = end + headEnd.count + bodyLength
            guard pending.count >= total else { break }
            pending.removeFirst(total)
            guard response.withUnsafeBytes({ write(connection, $0.baseAddress, $0.count) }) == response.count else { return }
        }
        let count = chunk.withUnsafeMutableBytes { read(connection, $0.baseAddress, $0.count) }
        guard count > 0 else { return }
        pending += chunk[..<count]
    }
}

private func firstRange(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] && Array(haystack[start..<start + needle.count]) == needle {
        return start
    }
    return nil
}
