import Foundation
import Loam
import LoamFormat
@testable import LoamLabels
import LoamTable
import LoamTestSupport
import Testing

/// Labels on a real repository: validation, versioning (replace, branch, merge, time travel), gathering
/// and the file formats' round trips.
@Suite struct LabelStoreTests {
    /// A repository with `photos` (path, w, h, caption): 4 images 640×480 (the last 100×50).
    static func photos() async throws -> (Repository, Labeler, [UInt64]) {
        let dir = try TestEnvironment.temporaryDirectory("labels")
        let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
        let fields = [Field(name: "path", type: .utf8), Field(name: "w", type: .int64), Field(name: "h", type: .int64), Field(name: "caption", type: .utf8)]
        let columns: [[Value]] = [
            [.string("img/a.jpg"), .string("img/b.jpg"), .string("img/c.png"), .string("small/d.jpg")],
            [.int(640), .int(640), .int(640), .int(100)],
            [.int(480), .int(480), .int(480), .int(50)],
            [.string("Ana met Bob"), .string("Zoë in Zürich"), .string("🙂 Ana"), .string("")],
        ]
        let arrays = try zip(columns, fields).map { try ArrowArray.fromValues($0, type: $1.type) }
        try await repo.createDataset("photos", schema: Schema(fields: fields), batches: [RecordBatch(schema: Schema(fields: fields), columns: arrays)], message: "photos")
        let labels = Labeler(repository: repo)
        try await labels.define(LabelSchema(name: "kind", kind: .single, classes: ["indoor", "outdoor"]), on: "photos")
        try await labels.define(LabelSchema(name: "objects", kind: .boxes, classes: ["cat", "dog"], widthColumn: "w", heightColumn: "h", imageColumn: "path"), on: "photos")
        try await labels.define(LabelSchema(name: "entities", kind: .spans, classes: ["PER", "LOC"], textColumn: "caption"), on: "photos")
        var ids: [UInt64] = []
        try await repo.dataset("photos").scan(columns: [], includeRowID: true) { b in for i in 0..<b.length { ids.append(b.columns[0].buffers[1].load(i, as: UInt64.self)) } }
        return (repo, labels, ids)
    }

    static func box(_ label: String, _ x: Double, _ y: Double, _ w: Double, _ h: Double) -> JSONValue {
        .object([("label", .string(label)), ("x", .double(x)), ("y", .double(y)), ("w", .double(w)), ("h", .double(h))])
    }

    @Test func badLabelsNameTheRowAndFieldAndWriteNothing() async throws {
        let (repo, labels, ids) = try await Self.photos()
        let head = try await repo.resolve("HEAD")
        func failure(_ drafts: [Labeler.Draft]) async -> String {
            do { try await labels.annotate(drafts, on: "photos"); return "no error" } catch { return "\(error)" }
        }
        let good = Labeler.Draft(rowID: ids[0], schema: "kind", annotator: "ana", input: .text("indoor"))
        let unknown = await failure([good, .init(rowID: ids[1], schema: "kind", annotator: "ana", input: .text("underwater"))])
        #expect(unknown.contains("photos row \(ids[1]), label 'kind', value: 'underwater' is not one of the classes"), "\(unknown)")
        let outside = await failure([.init(rowID: ids[3], schema: "objects", annotator: "ana", input: .json(.array([Self.box("cat", 0, 0, 10, 10), Self.box("dog", 90, 10, 20, 5)])))])
        #expect(outside.contains("photos row \(ids[3]), label 'objects', value[1]: x + w = 110 lies outside the image, which is 100 pixels wide"), "\(outside)")
        let overlap = await failure([.init(rowID: ids[0], schema: "entities", annotator: "ana", input: .text(#"[{"label":"PER","start":0,"end":3},{"label":"PER","start":2,"end":6}]"#))])
        #expect(overlap.contains("spans 0…3 (PER) and 2…6 (PER) overlap"), "\(overlap)")
        let past = await failure([.init(rowID: ids[1], schema: "entities", annotator: "ana", input: .text(#"[{"label":"LOC","start":6,"end":14}]"#))])
        #expect(past.contains("end 14 is past the text, which is 13 characters long"), "\(past)")  // "Zoë in Zürich": 13 scalars
        let missing = await failure([.init(rowID: 999_999, schema: "kind", annotator: "ana", input: .text("indoor"))])
        #expect(missing.contains("no live row of 'photos' has _rowid 999999"))
        let noSchema = await failure([.init(rowID: ids[0], schema: "mood", annotator: "ana", input: .text("x"))])
        #expect(noSchema.contains("no label schema 'mood'"))
        #expect(try await repo.resolve("HEAD") == head)  // nothing was committed
    }

    @Test func relabellingReplacesTheSameRowAndTimeTravelSeesTheOld() async throws {
        let (repo, labels, ids) = try await Self.photos()
        let first = try await labels.annotate([.init(rowID: ids[0], schema: "kind", annotator: "ana", input: .text("indoor"))], on: "photos")
        #expect(first.inserted == 1 && first.replaced == 0)
        let second = try await labels.annotate([.init(rowID: ids[0], schema: "kind", annotator: "ana", input: .text("outdoor"))], on: "photos")
        #expect(second.inserted == 0 && second.replaced == 1)
        #expect(try await labels.annotations(of: "photos", schema: "kind").map(\.value) == ["outdoor"])
        #expect(try await labels.annotations(of: "photos", schema: "kind", at: "HEAD~1").map(\.value) == ["indoor"])
        let diff = try await repo.diff("HEAD~1", "HEAD", dataset: "photos__labels")
        #expect(diff.first?.modified.count == 1 && diff.first?.added.isEmpty == true)
    }

    @Test func mergeRefusesOneKeyLabelledDifferentlyAndKeepsIdenticalOnes() async throws {
        let (repo, labels, ids) = try await Self.photos()
        try await repo.createBranch("a")
        try await repo.createBranch("b")
        try await repo.switchBranch("a")
        try await labels.annotate([.init(rowID: ids[0], schema: "kind", annotator: "ana", input: .text("indoor")),
                                   .init(rowID: ids[1], schema: "kind", annotator: "ana", input: .text("outdoor"))], on: "photos")
        try await repo.switchBranch("b")
        try await labels.annotate([.init(rowID: ids[0], schema: "kind", annotator: "ana", input: .text("outdoor")),
                                   .init(rowID: ids[1], schema: "kind", annotator: "ana", input: .text("outdoor")),
                                   .init(rowID: ids[2], schema: "kind", annotator: "bob", input: .text("indoor"))], on: "photos")
        try await labels.define(LabelSchema(name: "mood", kind: .rating, min: 1, max: 5), on: "photos")  // a schema added on one side only
        try await repo.switchBranch("main")
        _ = try await repo.merge("a")
        let refused = try await repo.merge("b")
        #expect(refused.commit == nil)
        #expect(refused.conflicts.count == 1)
        let conflict = try #require(refused.conflicts.first)
        #expect(conflict.kind == .key && conflict.dataset == "photos__labels")
        #expect(conflict.description.contains("row_id=\(ids[0])") && conflict.description.contains("value: ours 'indoor', theirs 'outdoor'"), "\(conflict)")
        let merged = try await repo.merge("b", resolution: MergeResolution(conflicts: [conflict.key: .theirs]))
        #expect(merged.commit != nil)
        let now = try await labels.annotations(of: "photos", schema: "kind").sorted { ($0.rowID, $0.annotator) < ($1.rowID, $1.annotator) }
        #expect(now.map { "\($0.rowID):\($0.annotator):\($0.value!)" } == ["\(ids[0]):ana:outdoor", "\(ids[1]):ana:outdoor", "\(ids[2]):bob:indoor"])
        #expect(try await labels.schemas(of: "photos").map(\.name) == ["entities", "kind", "mood", "objects"])
    }

    @Test func gatheringByMajorityAdjudicationAndAnnotator() {
        func a(_ row: UInt64, _ who: String, _ v: String, _ source: Annotation.Source = .human, _ status: Annotation.Status = .submitted) -> Annotation {
            Annotation(rowID: row, schema: "s", annotator: who, value: v, source: source, model: source == .model ? "m" : nil, status: status)
        }
        let all = [a(1, "x", "pos"), a(1, "y", "pos"), a(1, "z", "neg"),            // 2–1
                   a(2, "x", "pos"), a(2, "y", "neg"),                                // tie
                   a(2, "rev", "neg", .adjudication),                                 // resolved
                   a(3, "m1", "neg", .model), a(3, "x", "pos"),                       // a model's pre-label is not a vote
                   a(4, "x", "neg", .human, .draft)]                                  // a draft is not a vote
        #expect(Labeler.gather(all, by: .majority) == [1: "pos", 2: nil, 3: "pos"])
        #expect(Labeler.gather(all, by: .adjudicated) == [1: nil, 2: "neg", 3: "pos"])
        #expect(Labeler.gather(all, by: .annotator("y")) == [1: "pos", 2: "neg"])
    }

    @Test func schemasInUseOnlyGainClasses() async throws {
        let (_, labels, ids) = try await Self.photos()
        try await labels.annotate([.init(rowID: ids[0], schema: "kind", annotator: "ana", input: .text("indoor"))], on: "photos")
        try await labels.define(LabelSchema(name: "kind", kind: .single, classes: ["indoor", "outdoor", "studio"]), on: "photos")
        await #expect(throws: LabelError.self) {
            try await labels.define(LabelSchema(name: "kind", kind: .single, classes: ["outdoor", "indoor"]), on: "photos")
        }
        await #expect(throws: LabelError.self) {
            try await labels.define(LabelSchema(name: "kind", kind: .multi, classes: ["indoor", "outdoor"]), on: "photos")
        }
        await #expect(throws: LabelError.self) {
            try await labels.define(LabelSchema(name: "objects2", kind: .boxes, classes: ["cat"], widthColumn: "nope", heightColumn: "h"), on: "photos")
        }
    }

    @Test func formatsRoundTrip() async throws {
        let (repo, labels, ids) = try await Self.photos()
        try await labels.define(LabelSchema(name: "note", kind: .text), on: "photos")
        try await labels.annotate([
            .init(rowID: ids[0], schema: "objects", annotator: "ana", input: .json(.array([Self.box("cat", 10.5, 20, 100, 50), Self.box("dog", 300, 200, 40.25, 80)]))),
            .init(rowID: ids[1], schema: "objects", annotator: "ana", input: .json(.array([Self.box("dog", 0, 0, 640, 480)]))),
            .init(rowID: ids[3], schema: "objects", annotator: "ana", input: .json(.array([]))),
            .init(rowID: ids[0], schema: "kind", annotator: "ana", input: .text("indoor")),
            .init(rowID: ids[0], schema: "note", annotator: "ana", input: .text("a, \"quoted\"\nsecond line — ünïcode")),
            .init(rowID: ids[1], schema: "kind", annotator: "m", input: .text("outdoor"), source: .model, model: "resnet", score: 0.75),
            .init(rowID: ids[2], schema: "kind", annotator: "bob", input: .none),
        ], on: "photos")
        let dir = try TestEnvironment.temporaryDirectory("label-files")
        let before = try await labels.annotations(of: "photos", schema: "objects").sorted { $0.rowID < $1.rowID }
        for format in [LabelFormat.coco, .yolo, .voc] {
            let path = dir.appendingPathComponent("out-\(format.rawValue)").path
            #expect(try await labels.export("objects", of: "photos", to: path, format: format) == 3)
            let summary = try await labels.importLabels("objects", of: "photos", from: path, format: format, annotator: format.rawValue)
            #expect(summary.inserted == 3, "\(format)")  // three labelled images (one with no boxes)
            let back = try await labels.annotations(of: "photos", schema: "objects").filter { $0.annotator == format.rawValue }.sorted { $0.rowID < $1.rowID }
            #expect(back.map(\.rowID) == before.map(\.rowID))
            for (x, y) in zip(back, before) {
                let bx = try JSONValue.parse(x.value!).arrayValue!, by = try JSONValue.parse(y.value!).arrayValue!
                #expect(bx.count == by.count)
                for (p, q) in zip(bx, by) {
                    #expect(p["label"] == q["label"])
                    for k in ["x", "y", "w", "h"] { #expect(abs(p[k]!.numberValue! - q[k]!.numberValue!) < 1e-9, "\(format) \(k)") }
                }
            }
        }
        for (schema, count) in [("kind", 3), ("note", 1)] {
            let all = try await labels.annotations(of: "photos", schema: schema).sorted { $0.rowID < $1.rowID }
            for format in [LabelFormat.jsonl, .csv] {
                let path = dir.appendingPathComponent("\(schema).\(format.rawValue)").path
                #expect(try await labels.export(schema, of: "photos", to: path, format: format) == count)
                let summary = try await labels.importLabels(schema, of: "photos", from: path, format: format)
                #expect(summary.replaced == count && summary.inserted == 0)  // the same keys come back
                let back = try await labels.annotations(of: "photos", schema: schema).sorted { $0.rowID < $1.rowID }
                #expect(back == all, "\(schema) \(format)")
            }
        }
        // Label Studio: every annotation (people's, a model's with its score, a skip) comes back as it was.
        let studio = dir.appendingPathComponent("studio.json").path
        let objects = try await labels.annotations(of: "photos", schema: "objects").filter { $0.annotator == "ana" }.sorted { $0.rowID < $1.rowID }
        try await labels.annotate([.init(rowID: ids[2], schema: "objects", annotator: "yolo-v9", input: .json(.array([Self.box("dog", 1, 2, 3, 4)])),
                                         source: .model, model: "yolo-v9", score: 0.625)], on: "photos")
        #expect(try await labels.export("objects", of: "photos", to: studio, format: .labelstudio) > 0)
        try await labels.define(LabelSchema(name: "objects2", kind: .boxes, classes: ["cat", "dog"], widthColumn: "w", heightColumn: "h", imageColumn: "path"), on: "photos")
        let text = try String(contentsOfFile: studio, encoding: .utf8).replacingOccurrences(of: "\"from_name\":\"objects\"", with: "\"from_name\":\"objects2\"")
        try text.write(toFile: studio, atomically: true, encoding: .utf8)
        try await labels.importLabels("objects2", of: "photos", from: studio, format: .labelstudio)
        let again = try await labels.annotations(of: "photos", schema: "objects2")
        let anaAgain = again.filter { $0.annotator == "ana" }.sorted { $0.rowID < $1.rowID }
        #expect(anaAgain.map(\.rowID) == objects.map(\.rowID))
        for (x, y) in zip(anaAgain, objects) {
            let bx = try JSONValue.parse(x.value!).arrayValue!, by = try JSONValue.parse(y.value!).arrayValue!
            #expect(bx.count == by.count)
            for (p, q) in zip(bx, by) { for k in ["x", "y", "w", "h"] { #expect(abs(p[k]!.numberValue! - q[k]!.numberValue!) < 1e-9) } }
        }
        let model = try #require(again.first { $0.source == .model })
        #expect(model.model == "yolo-v9" && model.score == 0.625 && model.rowID == ids[2])
        _ = repo
    }

    @Test func labelStudioSpansCountUTF16LikeLabelStudio() async throws {
        let (_, labels, ids) = try await Self.photos()
        // Loam counts Unicode scalars, Label Studio UTF-16 code units: in "🙂 Ana" the emoji is 1 scalar and 2 units.
        let dir = try TestEnvironment.temporaryDirectory("studio-spans")
        try await labels.annotate([.init(rowID: ids[2], schema: "entities", annotator: "ana", input: .text(#"[{"label":"PER","start":2,"end":5}]"#))], on: "photos")
        let path = dir.appendingPathComponent("spans.json").path
        try await labels.export("entities", of: "photos", to: path, format: .labelstudio)
        let tasks = try JSONValue.parse(try String(contentsOfFile: path, encoding: .utf8)).arrayValue!
        let task = try #require(tasks.first { $0["id"]?.intValue == Int(ids[2]) })
        let region = try #require(task["annotations"]?.arrayValue?.first?["result"]?.arrayValue?.first)
        #expect(region["value"]?["text"]?.stringValue == "Ana")
        #expect(region["value"]?["start"]?.intValue == 3 && region["value"]?["end"]?.intValue == 6)
        // A file as Label Studio writes it (a numeric user): UTF-16 3…6 is scalars 2…5 again.
        let file = dir.appendingPathComponent("from-studio.json")
        try Data(#"[{"id":1,"data":{"loam_rowid":\#(ids[2])},"annotations":[{"completed_by":7,"result":[{"from_name":"entities","type":"labels","value":{"start":3,"end":6,"labels":["LOC"]}}]}]}]"#.utf8).write(to: file)
        try await labels.importLabels("entities", of: "photos", from: file.path, format: .labelstudio)
        let imported = try await labels.annotations(of: "photos", schema: "entities").first { $0.annotator == "labelstudio-user-7" }
        #expect(imported?.value == #"[{"label":"LOC","start":2,"end":5}]"#)
    }

    @Test func importErrorsNameTheFileAndPlace() async throws {
        let (_, labels, _) = try await Self.photos()
        let dir = try TestEnvironment.temporaryDirectory("label-bad")
        let coco = dir.appendingPathComponent("bad.json")
        try Data(#"{"images":[{"id":1,"file_name":"a.jpg"}],"categories":[{"id":1,"name":"cat"}],"annotations":[{"id":9,"image_id":1,"category_id":7,"bbox":[0,0,1,1]}]}"#.utf8).write(to: coco)
        do { try await labels.importLabels("objects", of: "photos", from: coco.path, format: .coco); Issue.record("no error") } catch {
            #expect("\(error)".contains("bad.json, annotations[0] (id 9): category_id is not the id of a category"), "\(error)")
        }
        let lines = dir.appendingPathComponent("bad.jsonl")
        try Data("{\"row_id\":1,\"annotator\":\"a\",\"value\":\"indoor\"}\n{\"row_id\":2,\n".utf8).write(to: lines)
        do { try await labels.importLabels("kind", of: "photos", from: lines.path, format: .jsonl); Issue.record("no error") } catch {
            #expect("\(error)".contains("bad.jsonl, line 2: not JSON"), "\(error)")
        }
    }

    @Test func overlapAgreementMatchesBoxesAndSpansByIoU() throws {
        func a(_ who: String, _ row: UInt64, _ value: String) -> Annotation { Annotation(rowID: row, schema: "o", annotator: who, value: value) }
        // Row 1: x and y draw the same cat (IoU 81/119 ≈ 0.68), y adds a dog: F1 = 2·1/3. Row 2: both empty: 1.
        let boxes = [a("x", 1, #"[{"label":"cat","x":0,"y":0,"w":10,"h":10}]"#),
                     a("y", 1, #"[{"label":"cat","x":1,"y":1,"w":10,"h":10},{"label":"dog","x":50,"y":50,"w":5,"h":5}]"#),
                     a("x", 2, "[]"), a("y", 2, "[]")]
        let o = try OverlapAgreement(boxes, kind: .boxes)
        #expect(o.items == 2 && o.comparisons == 2)
        #expect(abs(o.agreement! - (2.0 / 3 + 1) / 2) < 1e-12)
        #expect(abs(o.meanIoU! - 81.0 / 119) < 1e-12)
        #expect(o.perClass["cat"]! == 1 && o.perClass["dog"]! == 0)
        // Spans: [0,4) vs [0,5) IoU 0.8 match; [6,8) vs [7,9) IoU 1/3 does not.
        let spans = [a("x", 1, #"[{"label":"PER","start":0,"end":4},{"label":"LOC","start":6,"end":8}]"#),
                     a("y", 1, #"[{"label":"PER","start":0,"end":5},{"label":"LOC","start":7,"end":9}]"#)]
        let s = try OverlapAgreement(spans, kind: .spans)
        #expect(abs(s.agreement! - 0.5) < 1e-12 && abs(s.meanIoU! - 0.8) < 1e-12)
    }
}
