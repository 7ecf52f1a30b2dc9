// The SQL lexer, parser, binder and evaluator under libFuzzer. The properties: any bytes
// give a parse or an SQLError whose position lies inside the statement; a query that parses
// runs (under a 2-second statement_timeout) against a small dataset of extreme values —
// Int64.min and max, UInt64.max, NaN, ±inf, -0.0, 1e308, dates and timestamps at their
// limits, empty and unicode strings, NULLs — and answers or throws; never a crash, a trap
// or a hang (libFuzzer's -timeout catches those).
//
//
// With LOAM_FUZZ=parquet the input is a Parquet file instead: Loam's reader opens it and decodes
// every row group, and must answer with rows or a FormatError, never a crash or a hang. With
// LOAM_FUZZ=arrow it is an Arrow IPC file or stream (dictionaries, conversions, big-endian swaps).
//
//   scripts/fuzz.sh [SECONDS] [sql|parquet|arrow]   build with -sanitize=fuzzer and run on Fuzz/corpus(-parquet|-arrow)
//   loam-fuzz FILE...                         (a plain build) replay inputs, e.g. a crash libFuzzer saved
import Foundation
import Loam
import LoamFormat
import LoamQuery

let fuzzParquet = ProcessInfo.processInfo.environment["LOAM_FUZZ"] == "parquet"
let fuzzArrow = ProcessInfo.processInfo.environment["LOAM_FUZZ"] == "arrow"

/// An Arrow IPC file or stream's bytes: opened (dictionaries decoded) and every record batch read, under the
/// bound imports set; rows or a FormatError are the answer, never a crash or a hang.
func fuzzArrowFile(_ data: UnsafePointer<UInt8>, _ size: Int) {
    let storage = ByteStorage(copying: UnsafeRawBufferPointer(start: data, count: size))
    do {
        var reader = try IPCReader(data: ByteView(storage: storage))
        reader.maxRowsPerBodyByte = 8
        for b in 0..<reader.batchCount {
            let batch = try reader.batch(b)
            precondition(batch.columns.allSatisfy { $0.length == batch.length }, "columns of unequal length")
            for column in batch.columns where column.length > 0 { _ = column.value(at: column.length - 1) }
        }
    } catch is FormatError {
        return
    } catch {
        preconditionFailure("the Arrow reader threw \(type(of: error)), not a FormatError: \(error)")
    }
}

/// A Parquet file's bytes: opened, and every row group decoded (with an error, or rows, as the answer).
func fuzzParquetFile(_ data: UnsafePointer<UInt8>, _ size: Int) {
    let storage = ByteStorage(copying: UnsafeRawBufferPointer(start: data, count: size))
    do {
        let reader = try ParquetReader(data: ByteView(storage: storage))
        for g in 0..<reader.rowGroupCount {
            let batch = try reader.rowGroup(g)
            precondition(batch.columns.allSatisfy { $0.length == batch.length }, "columns of unequal length")
        }
    } catch is FormatError {
        return
    } catch {
        preconditionFailure("the Parquet reader threw \(type(of: error)), not a FormatError: \(error)")
    }
}

/// Runs async work to completion from libFuzzer's synchronous callback.
func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    nonisolated(unsafe) var result: Result<T, Error>?
    let done = DispatchSemaphore(value: 0)
    Task {
        do { result = .success(try await body()) } catch { result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try result!.get()
}

/// One repository per process: dataset `x` of extreme values (and `y`, its copy, to join).
let fixture: Repository = {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loam-fuzz-\(getpid())")
    try? FileManager.default.removeItem(at: dir)
    let csv = """
        i,u,f,s,d,t,b
        9223372036854775807,18446744073709551615,1e308,,1970-01-01,1970-01-01T00:00:00Z,true
        -9223372036854775808,0,-1e308,é\u{1b}ü,9999-12-31,2262-04-11T23:47:16Z,false
        0,1,NaN," ",0001-01-01,1677-09-21T00:12:44Z,
        -1,9223372036854775808,-0.0,x,2024-02-29,2024-02-29T12:00:00Z,true
        ,,inf,,,,
        1,2,-inf,'quoted',1969-12-31,1969-12-31T23:59:59Z,false
        """
    return try! blocking {
        let repo = try await Repository.initialize(at: dir)
        try Data((csv + "\n").utf8).write(to: dir.appendingPathComponent("x.csv"))
        var options = ImportOptions(schema: "i:int64, u:uint64, f:float64, s:string, d:date32, t:timestamp[us, UTC], b:bool")
        options.fragmentRows = 2
        try await repo.importData(from: dir.appendingPathComponent("x.csv").path, into: "x", options: options)
        try await repo.importData(from: dir.appendingPathComponent("x.csv").path, into: "y", options: options)
        return repo
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if fuzzParquet { fuzzParquetFile(data, size); return 0 }
    if fuzzArrow { fuzzArrowFile(data, size); return 0 }
    let sql = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let statement: SQLStatement
    do {
        statement = try SQLStatement(sql)
    } catch let error as SQLError {
        precondition(error.position >= 0 && error.position <= sql.count, "error position \(error.position) outside a statement of \(sql.count) characters")
        precondition(!error.message.isEmpty, "an SQLError without a message")
        _ = error.description  // the caret rendering must not trap either
        return 0
    } catch {
        preconditionFailure("the parser threw \(type(of: error)), not an SQLError: \(error)")
    }
    // Only queries run: a write would change the fixture under later inputs.
    guard statement.isQuery else { return 0 }
    _ = try? blocking { try await StatementLimit.run(timeout: 2) { try await fixture.execute(statement) } }
    return 0
}

#if LIBFUZZER
// SwiftPM links an executable's entry point as `<product>_main`; under libFuzzer it hands over to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
               _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("loam_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return runDriver(&count, &arguments, fuzzOne)
}
#else
@main struct Replay {
    static func main() throws {
        var replayed = 0
        for path in CommandLine.arguments.dropFirst() {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            _ = bytes.withUnsafeBufferPointer { fuzzOne($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
            replayed += 1
        }
        print("replayed \(replayed) input(s): no crash")
    }
}
#endif
