import ArgumentParser
import Loam

// The library's enums as typed command-line arguments: ArgumentParser checks the
// value and lists the choices in `--help` and in its error.
extension ImportFormat: ExpressibleByArgument {}
extension ExportFormat: ExpressibleByArgument {}
extension Role: ExpressibleByArgument {}

/// How `loam query` prints a result.
enum QueryFormat: String, CaseIterable, ExpressibleByArgument {
    case table, csv, jsonl, arrow
}
