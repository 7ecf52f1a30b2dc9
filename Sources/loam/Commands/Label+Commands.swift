import ArgumentParser
import Foundation
import Loam
import LoamFormat
import LoamLabels

extension Label {
    struct SchemaCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "schema", abstract: "Define and list a dataset's label schemas.",
                                                        subcommands: [SchemaAdd.self, SchemaList.self])
    }

    struct SchemaAdd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Adds a label schema to a dataset, or changes one (classes may only be added at the end once in use).",
            discussion: """
                Kinds: class, multilabel, rating, text, boxes, polygons, spans, relations. Examples:
                  loam label schema add sentiment -d reviews --kind class --classes negative,neutral,positive
                  loam label schema add objects -d photos --kind boxes --classes cat,dog --image-column path --width-column w --height-column h
                  loam label schema add entities -d notes --kind spans --classes PER,ORG --text-column text
                """)
        @OptionGroup var repository: RepositoryOptions
        @Argument(help: "The schema's name (letters, digits, '_', '-').") var name: String
        @Option(name: .shortAndLong, help: "The dataset it labels.") var dataset: String
        @Option(help: "class, multilabel, rating, text, boxes, polygons, spans or relations.") var kind: String
        @Option(help: "The allowed classes, comma-separated, in index order.") var classes: String?
        @Option(help: "rating: the lowest value.") var min: Double?
        @Option(help: "rating: the highest value.") var max: Double?
        @Option(help: "boxes, polygons: the column naming each image.") var imageColumn: String?
        @Option(help: "boxes, polygons: the column holding each image's width in pixels.") var widthColumn: String?
        @Option(help: "boxes, polygons: the column holding each image's height in pixels.") var heightColumn: String?
        @Option(help: "spans, relations: the column holding the text.") var textColumn: String?
        @Flag(help: "spans: let spans overlap.") var allowOverlap = false

        func run() async throws {
            try await reportingErrors {
                guard let kind = LabelSchema.Kind(rawValue: kind) else {
                    throw ValidationError("--kind takes \(LabelSchema.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                let schema = LabelSchema(name: name, kind: kind, classes: classes.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } },
                                         min: min, max: max, widthColumn: widthColumn, heightColumn: heightColumn, imageColumn: imageColumn,
                                         textColumn: textColumn, allowOverlap: allowOverlap ? true : nil)
                let commit = try await Labeler(repository: try repository.open()).define(schema, on: dataset)
                print("label schema \(name) on \(dataset): commit \(commit.prefix(12))")
            }
        }
    }

    struct SchemaList: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Lists a dataset's label schemas.")
        @OptionGroup var repository: RepositoryOptions
        @Option(name: .shortAndLong, help: "The dataset.") var dataset: String
        @Option(help: "The ref to read.") var ref = "HEAD"
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingErrors {
                let schemas = try await Labeler(repository: try repository.open()).schemas(of: dataset, at: ref)
                if json { print("[" + schemas.map { $0.json() }.joined(separator: ",") + "]"); return }
                print(formatTable(header: ["schema", "kind", "classes"],
                                  rows: schemas.map { [$0.name, $0.kind.rawValue, ($0.classes ?? []).joined(separator: ", ")] }), terminator: "")
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Labels one row (replacing the annotator's earlier label of it).",
            discussion: """
                The value is the class name for class and text schemas, a number for ratings, JSON otherwise:
                  loam label add -d reviews --schema sentiment --row 7 --annotator ana positive
                  loam label add -d photos --schema objects --row 3 --annotator ana '[{"label":"cat","x":10,"y":20,"w":50,"h":40}]'
                """)
        @OptionGroup var repository: RepositoryOptions
        @Option(name: .shortAndLong, help: "The dataset.") var dataset: String
        @Option(help: "The label schema.") var schema: String
        @Option(help: "The row's _rowid.") var row: UInt64
        @Option(help: "Who labels (default: the commit author).") var annotator: String?
        @Argument(help: "The label (omit with --skip).") var value: String?
        @Flag(help: "Record that the annotator skipped the row.") var skip = false
        @Option(help: "human, model, import or adjudication.") var source = "human"
        @Option(help: "A model pre-label's model.") var model: String?
        @Option(help: "A model pre-label's probability.") var score: Double?

        func run() async throws {
            try await reportingErrors {
                guard let source = Annotation.Source(rawValue: source) else { throw ValidationError("--source takes human, model, import or adjudication") }
                guard skip == (value == nil) else { throw ValidationError(skip ? "--skip takes no value" : "give the label's value, or --skip") }
                let repo = try repository.open()
                let draft = Labeler.Draft(rowID: row, schema: schema, annotator: annotator ?? repo.currentAuthor, input: value.map(LabelInput.text) ?? .none,
                                          source: source, model: model, score: score)
                let summary = try await Labeler(repository: repo).annotate([draft], on: dataset)
                print("\(summary.replaced > 0 ? "replaced" : "added") \(schema) label of row \(row): commit \(summary.commit.prefix(12))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lists annotations, or (with --by) one label per row as loaders gather them.")
        @OptionGroup var repository: RepositoryOptions
        @Option(name: .shortAndLong, help: "The dataset.") var dataset: String
        @Option(help: "The label schema (default: all).") var schema: String?
        @Option(help: "One label per row: majority, adjudicated or annotator:NAME (needs --schema).") var by: String?
        @Option(help: "The ref to read.") var ref = "HEAD"
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await reportingErrors {
                let labels = Labeler(repository: try repository.open())
                if let by {
                    guard let schema else { throw ValidationError("--by needs --schema") }
                    let chosen = try await labels.gather(schema, of: dataset, by: try Gathering(parsing: by), at: ref).sorted { $0.key < $1.key }
                    if json {
                        print("[" + chosen.map { "{\"row_id\":\($0.key),\"value\":\($0.value.map(JSONText.quote) ?? "null")}" }.joined(separator: ",") + "]")
                        return
                    }
                    print(formatTable(header: ["row_id", schema], rows: chosen.map { [String($0.key), $0.value ?? "NULL"] }), terminator: "")
                    return
                }
                let annotations = try await labels.annotations(of: dataset, schema: schema, at: ref)
                if json { print(try JSONOutput.text(annotations)); return }
                print(formatTable(header: ["row_id", "schema", "annotator", "value", "source", "status"],
                                  rows: annotations.map { [String($0.rowID), $0.schema, $0.annotator, $0.value ?? "NULL", $0.source.rawValue, $0.status.rawValue] }),
                      terminator: "")
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Imports labels from a file as one commit (nothing if any label is wrong).",
            discussion: "Formats: jsonl, csv (every field, as export writes them), coco (a JSON file), yolo (a folder with data.yaml and labels/), voc (a folder with Annotations/), labelstudio (Label Studio's JSON export).")
        @OptionGroup var repository: RepositoryOptions
        @Option(name: .shortAndLong, help: "The dataset.") var dataset: String
        @Option(help: "The label schema.") var schema: String
        @Option(help: "jsonl, csv, coco, yolo, voc or labelstudio.") var format: String
        @Option(help: "coco, yolo, voc: whose labels they are.") var annotator = "import"
        @Argument(help: "The file (or YOLO or VOC folder).") var path: String

        func run() async throws {
            try await reportingErrors {
                guard let format = LabelFormat(rawValue: format) else { throw ValidationError("--format takes \(LabelFormat.allCases.map(\.rawValue).joined(separator: ", "))") }
                let summary = try await Labeler(repository: try repository.open()).importLabels(schema, of: dataset, from: path, format: format, annotator: annotator)
                print("imported \(summary.inserted + summary.replaced) labels (\(summary.inserted) new, \(summary.replaced) replaced): commit \(summary.commit.prefix(12))")
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Exports labels: every annotation (jsonl, csv, labelstudio) or one label per image (coco, yolo, voc).")
        @OptionGroup var repository: RepositoryOptions
        @Option(name: .shortAndLong, help: "The dataset.") var dataset: String
        @Option(help: "The label schema.") var schema: String
        @Option(help: "jsonl, csv, coco, yolo, voc or labelstudio.") var format: String
        @Option(help: "coco, yolo, voc: which label per image — majority, adjudicated or annotator:NAME.") var by = "majority"
        @Option(help: "The ref to read.") var ref = "HEAD"
        @Option(name: .shortAndLong, help: "The file (or YOLO folder) to write.") var output: String

        func run() async throws {
            try await reportingErrors {
                guard let format = LabelFormat(rawValue: format) else { throw ValidationError("--format takes \(LabelFormat.allCases.map(\.rawValue).joined(separator: ", "))") }
                let count = try await Labeler(repository: try repository.open()).export(schema, of: dataset, to: output, format: format,
                                                                                         by: try Gathering(parsing: by), at: ref)
                print("wrote \(count) \(format == .coco || format.isFolder ? "objects" : "annotations") to \(output)")
            }
        }
    }
}
