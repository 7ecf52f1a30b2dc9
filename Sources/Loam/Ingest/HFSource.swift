import Foundation
import LoamFormat

/// A Hugging Face dataset saved with `save_to_disk`: `state.json` lists its Arrow stream files in
/// order, `dataset_info.json` its features. A DatasetDict folder (`dataset_dict.json`) holds one
/// such folder per split; `--split` chooses one. A folder of the Hugging Face cache (what
/// `load_dataset` prepared) has `dataset_info.json` beside one Arrow file (or shards) per split.
/// Each column keeps its feature as JSON in the field metadata `hf.feature`, and a ClassLabel column (int64) its
/// names in `hf.class_names` (a JSON array), so `to_hf()` gives the features back (an Image is a struct of bytes and path).
final class HFSource: RecordSource {
    let schema: Schema
    private let sources: [ArrowSource]
    private var current = 0
    let totalBytes: Int

    var bytesRead: Int {
        sources.prefix(current).reduce(0) { $0 + $1.totalBytes } + (current < sources.count ? sources[current].bytesRead : 0)
    }

    static func isDataset(_ folder: URL) -> Bool {
        ["state.json", "dataset_dict.json"].contains { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
            || isCache(folder)
    }

    /// A folder of the Hugging Face cache (`~/.cache/huggingface/datasets/<name>/<config>/<version>/<hash>/`):
    /// `dataset_info.json` beside `<builder>-<split>.arrow` files (or shards `<builder>-<split>-00000-of-00003.arrow`).
    static func isCache(_ folder: URL) -> Bool {
        FileManager.default.fileExists(atPath: folder.appendingPathComponent("dataset_info.json").path)
            && !FileManager.default.fileExists(atPath: folder.appendingPathComponent("state.json").path)
            && ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).contains { $0.hasSuffix(".arrow") }
    }

    /// The cache folder's Arrow files of each split, shards in order.
    static func cacheSplits(_ folder: URL) -> [String: [String]] {
        var out: [String: [(String, Int)]] = [:]
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".arrow") && !$0.hasPrefix("cache-") }
        for name in names {
            var stem = String(name.dropLast(".arrow".count))
            var shard = 0
            if let match = stem.range(of: #"-(\d{5})-of-\d{5}$"#, options: .regularExpression) {
                shard = Int(stem[match].dropFirst().prefix(5)) ?? 0
                stem = String(stem[..<match.lowerBound])
            }
            guard let dash = stem.lastIndex(of: "-") else { continue }
            out[String(stem[stem.index(after: dash)...]), default: []].append((name, shard))
        }
        return out.mapValues { $0.sorted { $0.1 < $1.1 }.map(\.0) }
    }

    init(path: String, split: String?, maxRowsPerByte: Int) throws {
        var folder = URL(fileURLWithPath: path)
        func json(_ name: String) throws -> [String: Any]? {
            let url = folder.appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw LoamError.badInput(file: url.path, line: nil, column: nil, message: "is not a JSON object")
            }
            return object
        }
        let datasetDict = try json("dataset_dict.json")
        if let dict = datasetDict {
            let splits = dict["splits"] as? [String] ?? []
            guard let split else {
                throw LoamError.invalidArgument("\(path) is a DatasetDict with splits \(splits.joined(separator: ", ")); choose one with --split")
            }
            guard splits.contains(split) else {
                throw LoamError.invalidArgument("\(path) has no split '\(split)' (it has \(splits.joined(separator: ", ")))")
            }
            folder = folder.appendingPathComponent(split)
        }
        let names: [String]
        if Self.isCache(folder) {
            let splits = Self.cacheSplits(folder)
            let chosen: String
            if let split {
                guard splits[split] != nil else { throw LoamError.invalidArgument("\(path) has no split '\(split)' (it has \(splits.keys.sorted().joined(separator: ", ")))") }
                chosen = split
            } else {
                guard splits.count == 1, let only = splits.keys.first else {
                    throw LoamError.invalidArgument("\(path) is a cached dataset with splits \(splits.keys.sorted().joined(separator: ", ")); choose one with --split")
                }
                chosen = only
            }
            names = splits[chosen] ?? []
        } else {
            if let split, datasetDict == nil {
                throw LoamError.invalidArgument("--split \(split): \(path) holds one dataset, not a DatasetDict (dataset_dict.json)")
            }
            let statePath = folder.appendingPathComponent("state.json").path
            guard let state = try json("state.json"), let files = state["_data_files"] as? [[String: Any]] else {
                throw LoamError.badInput(file: statePath, line: nil, column: nil, message: "has no _data_files list (is this a save_to_disk folder?)")
            }
            names = try files.map { entry -> String in
                guard let name = entry["filename"] as? String, !name.contains("/"), name != "..", !name.isEmpty else {
                    throw LoamError.badInput(file: statePath, line: nil, column: nil, message: "lists a data file outside its folder: \(entry)")
                }
                return name
            }
            guard !names.isEmpty else { throw LoamError.badInput(file: statePath, line: nil, column: nil, message: "lists no data files") }
        }
        sources = try names.map { try ArrowSource(input: .file(folder.appendingPathComponent($0).path), maxRowsPerByte: maxRowsPerByte) }
        let first = sources[0].schema
        for (name, source) in zip(names, sources) where source.schema.fields.map({ [$0.name, $0.type.name] }) != first.fields.map({ [$0.name, $0.type.name] }) {
            throw LoamError.badInput(file: folder.appendingPathComponent(name).path, line: nil, column: nil,
                                     message: "has columns \(source.schema.fields.map(\.name)), unlike \(names[0])")
        }
        // Each column's feature (Image, Audio, ClassLabel, Sequence, …) as JSON, and ClassLabel names on their own.
        var fields = first.fields
        if let info = try json("dataset_info.json"), let features = info["features"] as? [String: Any] {
            for (i, field) in fields.enumerated() {
                guard let feature = features[field.name] as? [String: Any] else { continue }
                fields[i].metadata["hf.feature"] = String(decoding: try JSONSerialization.data(withJSONObject: feature, options: [.sortedKeys]), as: UTF8.self)
                guard feature["_type"] as? String == "ClassLabel", let labels = feature["names"] as? [String], field.type.isInteger else { continue }
                let text = String(decoding: try JSONSerialization.data(withJSONObject: labels), as: UTF8.self)
                fields[i].metadata["hf.class_names"] = text
            }
        }
        schema = Schema(fields: fields, metadata: first.metadata)
        totalBytes = sources.reduce(0) { $0 + $1.totalBytes }
    }

    func nextBatch(maxRows: Int, maxBytes: Int) throws -> RecordBatch? {
        while current < sources.count {
            if let batch = try sources[current].nextBatch(maxRows: maxRows, maxBytes: maxBytes) {
                return RecordBatch(schema: schema, columns: batch.columns, length: batch.length)
            }
            current += 1
        }
        return nil
    }
}
