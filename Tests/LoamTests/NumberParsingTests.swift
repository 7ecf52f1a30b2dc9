import Foundation
import LoamFormat
import Testing

@Suite struct NumberParsingTests {
    func parse(_ text: String) -> Double? {
        var t = text
        return t.withUTF8 { NumberParsing.double(UnsafeRawBufferPointer($0)) }
    }

    func fast(_ text: String) -> Double? {
        var t = text
        return t.withUTF8 { NumberParsing.fastDouble(UnsafeRawBufferPointer($0)) }
    }

    @Test func fastPathAgreesWithStrtodBitForBit() {
        var generator = SystemRandomNumberGenerator()
        var texts: [String] = ["0.1", "0.2", "0.3", "1e-27", "9007199254740993", "0.44342675311138346", "123456789012345678.9",
                               "-0.0", "0", "1.7976931348623157e308", "5e-324", "2.2250738585072014e-308", "1e27", "-12.5e-3"]
        for _ in 0..<200_000 {
            let d = Double.random(in: 0..<1, using: &generator)
            texts.append(String(d))                                 // shortest round-trip form, up to 17 digits
            texts.append(String(format: "%.19g", d * 1000))         // 19 digits
            texts.append(String(format: "%.6f", Double.random(in: -1e6...1e6, using: &generator)))
            texts.append("\(UInt64.random(in: 0...9_999_999_999_999_999_999, using: &generator))e-\(Int.random(in: 0...27, using: &generator))")
            texts.append("\(UInt64.random(in: 0...99_999_999, using: &generator)).\(UInt64.random(in: 0...999_999_999_999, using: &generator))")
        }
        var usedFastPath = 0
        for text in texts {
            let expected = strtod(text, nil)
            guard let got = parse(text) else { Issue.record("\(text) did not parse"); continue }
            if got.bitPattern != expected.bitPattern { Issue.record("\(text): got \(got), strtod says \(expected)") }
            if fast(text) != nil { usedFastPath += 1 }
        }
        // The fast path must really be the common one for data like this.
        #expect(usedFastPath > texts.count * 3 / 4)
    }

    @Test func malformedNumbersAreRejected() {
        for text in ["", "-", ".", "e5", "1e", "1.2.3", "1e+", "0x10", " 1", "1 ", "1,5", "--1", "1e99999"] {
            #expect(parse(text) == nil || text == "1e99999", "\(text)")
        }
        #expect(parse("1e99999") == .infinity)
        #expect(parse("nan")?.isNaN == true)
        #expect(parse("-inf") == -.infinity)
    }
}
