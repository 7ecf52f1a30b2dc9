import Foundation
import LoamTestSupport
import Testing

/// Imports stream: the resident set depends on the fragment size, not on the
/// size of the input file.
@Suite struct BoundedMemoryTests {
    /// Writes a CSV of about `megabytes` MB with 1 KB text rows.
    func writeCSV(megabytes: Int, to url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else { throw CocoaError(.fileWriteUnknown) }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        let text = String(repeating: "lorem ipsum ", count: 85)
        var chunk = "id,text,score\n"
        for i in 0..<(megabytes * 1000) {
            chunk += "\(i),\(text),\(Double(i % 1000) / 7)\n"
            if chunk.utf8.count > 1 << 20 { try handle.write(contentsOf: Data(chunk.utf8)); chunk = "" }
        }
        try handle.write(contentsOf: Data(chunk.utf8))
    }

    func peakRSS(importing file: URL, into repo: URL) throws -> Int {
        try peakRSS(["import", "--repo", repo.path, file.path, "-d", "big", "--fragment-rows", "8192", "-q"])
    }

    /// Peak resident set of one `loam` command, in bytes.
    func peakRSS(_ arguments: [String]) throws -> Int {
        let result = try TestEnvironment.runPython("peak_rss.py", [TestEnvironment.loamBinary] + arguments)
        #expect(result.status == 0, "\(result.error)")
        return Int(result.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    @Test func peakMemoryDoesNotGrowWithTheInput() throws {
        let dir = try TestEnvironment.temporaryDirectory("loam-memory")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try TestEnvironment.loam(["init", dir.path], repo: dir).status == 0)
        let small = dir.appendingPathComponent("small.csv"), large = dir.appendingPathComponent("large.csv")
        try writeCSV(megabytes: 20, to: small)
        try writeCSV(megabytes: 120, to: large)
        let smallPeak = try peakRSS(importing: small, into: dir)
        let largePeak = try peakRSS(importing: large, into: dir)
        print("peak RSS: \(smallPeak >> 20) MiB importing 20 MB, \(largePeak >> 20) MiB importing 120 MB")
        #expect(largePeak < 110 << 20, "importing 120 MB took \(largePeak >> 20) MiB")
        #expect(Double(largePeak) < Double(smallPeak) * 1.5 + Double(16 << 20), "memory grew with the input: \(smallPeak >> 20) → \(largePeak >> 20) MiB")
        let count = try TestEnvironment.loam(["count", "big"], repo: dir)
        #expect(count.output == "\(140_000)\n")

        // A query without ORDER BY or GROUP BY streams its 130 MB result: memory holds a few fragments (and
        // what malloc keeps of their copies), not the rows; held as values they would take several times that.
        let out = dir.appendingPathComponent("out.csv")
        let queryPeak = try peakRSS(["query", "--repo", dir.path, "SELECT id, text FROM big WHERE score > 10", "--format", "csv", "-o", out.path])
        print("peak RSS: \(queryPeak >> 20) MiB streaming a query over 140 MB")
        #expect(queryPeak < 160 << 20, "streaming a query took \(queryPeak >> 20) MiB")
        let written = try Data(contentsOf: out)
        let expected = (0..<140_000).filter { Double($0 % 1000) / 7 > 10 }.count
        #expect(written.count > 100_000_000 && written.filter { $0 == UInt8(ascii: "\n") }.count == expected + 1)
    }
}
