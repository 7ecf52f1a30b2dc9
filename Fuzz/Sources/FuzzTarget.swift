// The SQL lexer and parser under libFuzzer. The property: any bytes give a
// parse or an SQLError whose position lies inside the statement; never a crash,
// a trap, another error type or a hang (libFuzzer's -timeout catches those).
//
//   scripts/fuzz.sh [SECONDS]            build with -sanitize=fuzzer and run on Fuzz/corpus
//   loam-fuzz FILE...                     (a plain build) replay inputs, e.g. a crash libFuzzer saved
import Foundation
import LoamQuery

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let sql = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        _ = try SQLStatement(sql)
    } catch let error as SQLError {
        precondition(error.position >= 0 && error.position <= sql.count, "error position \(error.position) outside a statement of \(sql.count) characters")
        precondition(!error.message.isEmpty, "an SQLError without a message")
        _ = error.description  // the caret rendering must not trap either
    } catch {
        preconditionFailure("the parser threw \(type(of: error)), not an SQLError: \(error)")
    }
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
