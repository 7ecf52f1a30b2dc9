import Foundation

/// What Loam shows people (the CLI's output, the server's messages) passes through here: control characters that came from
/// data, names or commit messages (ESC sequences, BEL, CR, bidirectional overrides) are
/// shown escaped as `\u{1b}`, so nothing stored in a repository can drive the terminal.
/// Newlines and tabs stay. Data written as CSV, JSON or Arrow goes out unchanged.
public enum TerminalText {
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if needsEscape(scalar) { out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16))}".unicodeScalars) } else { out.append(scalar) }
        }
        return String(out)
    }

    public static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == "\n" || scalar == "\t" { return false }
        if scalar.properties.generalCategory == .control { return true }  // C0, DEL, C1
        return (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)  // bidi overrides and isolates
    }
}
