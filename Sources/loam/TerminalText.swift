import Foundation
import Loam

/// `print` for the CLI's human output, with `TerminalText.escaped` applied.
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    Swift.print(TerminalText.escaped(items.map { "\($0)" }.joined(separator: separator)), terminator: terminator)
}
