import Foundation
import Loam
import LoamFormat
@testable import LoamLabels
import LoamTestSupport
import Testing

/// Tasks on a real repository and catalog: assignment, blindness, skips, roles, review, active learning.
@Suite struct LabelTaskTests {
    static func setup(rows: Int = 40) async throws -> (LabelTasks, [UInt64]) {
        let dir = try TestEnvironment.temporaryDirectory("tasks")
        let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
        let fields = [Field(name: "text", type: .utf8)]
        let texts = try ArrowArray.fromValues((0..<rows).map { .string("review \($0)") }, type: .utf8)
        try await repo.createDataset("reviews", schema: Schema(fields: fields), batches: [RecordBatch(schema: Schema(fields: fields), columns: [texts])], message: "reviews")
        let tasks = try LabelTasks(repository: repo)
        try await tasks.labels.define(LabelSchema(name: "sentiment", kind: .single, classes: ["neg", "pos"]), on: "reviews")
        var ids: [UInt64] = []
        try await repo.dataset("reviews").scan(columns: [], includeRowID: true) { b in for i in 0..<b.length { ids.append(b.columns[0].buffers[1].load(i, as: UInt64.self)) } }
        return (tasks, ids)
    }

    @Test func eachOverlappedItemGetsKDistinctBlindAnnotatorsAndTheRestOne() async throws {
        let (tasks, ids) = try await Self.setup()
        let task = try await tasks.create(dataset: "reviews", schema: "sentiment", query: "SELECT _rowid FROM reviews", annotators: 3, overlap: 0.25, seed: 7, by: "mia")
        #expect(task.items == 40)
        let overlapped = Set(ids.filter { SplitBucket.unit(id: $0, seed: 7) < 0.25 })
        let people = ["ana", "bob", "cy", "dee"]
        for p in people { try await tasks.setMember(task.id, user: p, role: .annotator, by: "mia") }
        var given: [UInt64: [String]] = [:]
        var progressed = true
        while progressed {
            progressed = false
            for p in people {
                guard let item = try await tasks.next(task.id, annotator: p) else { continue }
                #expect(item.yours == nil)  // never another annotator's answer
                given[item.rowID, default: []].append(p)
                try await tasks.submit(task.id, rowID: item.rowID, annotator: p, input: .text(p == "dee" ? "neg" : "pos"))
                progressed = true
            }
        }
        #expect(Set(given.keys) == Set(ids))
        for id in ids {
            #expect(given[id]!.count == (overlapped.contains(id) ? 3 : 1), "row \(id)")
            #expect(Set(given[id]!).count == given[id]!.count)  // k different people
        }
        let progress = try await tasks.progress(task.id, by: "mia")
        #expect(progress.complete == 40 && progress.annotations == 40 + 2 * overlapped.count)
        // Blindness: an annotator cannot open an item they were not given, nor see the reviewer's views.
        let notMine = ids.first { !given[$0]!.contains("ana") }!
        await #expect(throws: LabelError.self) { _ = try await tasks.item(task.id, rowID: notMine, annotator: "ana") }
        await #expect(throws: LabelError.self) { _ = try await tasks.disagreements(task.id, by: "ana") }
        await #expect(throws: LabelError.self) { try await tasks.submit(task.id, rowID: notMine, annotator: "ana", input: .text("neg")) }
        await #expect(throws: LabelError.self) { try await tasks.setMember(task.id, user: "eve", role: .manager, by: "ana") }
        await #expect(throws: LabelError.self) { _ = try await tasks.next(task.id, annotator: "eve") }  // not a member
        // Review: the items where dee disagreed; a resolution is the adjudicated label.
        try await tasks.setMember(task.id, user: "rev", role: .reviewer, by: "mia")
        let split = try await tasks.disagreements(task.id, by: "rev")
        #expect(Set(split.map(\.rowID)) == Set(given.filter { $0.value.count > 1 && $0.value.contains("dee") }.map(\.key)))
        let first = try #require(split.first)
        try await tasks.resolve(task.id, rowID: first.rowID, reviewer: "rev", input: .text("neg"))
        #expect(try await tasks.disagreements(task.id, by: "rev").count == split.count - 1)
        let adjudicated = try await tasks.labels.gather("sentiment", of: "reviews", by: .adjudicated)
        #expect(adjudicated[first.rowID]! == "neg")
        let agreement = try await tasks.agreement(task.id, by: "rev")
        #expect(agreement.ratings?.annotators.sorted() == people)
    }

    @Test func aSkipPassesTheItemOnAndAnOpenItemComesBack() async throws {
        let (tasks, _) = try await Self.setup(rows: 3)
        let task = try await tasks.create(dataset: "reviews", schema: "sentiment", query: "SELECT _rowid FROM reviews ORDER BY text DESC", by: "mia")
        for p in ["ana", "bob"] { try await tasks.setMember(task.id, user: p, role: .annotator, by: "mia") }
        let a = try #require(try await tasks.next(task.id, annotator: "ana"))
        #expect(try await tasks.next(task.id, annotator: "ana") == a)  // not submitted yet: the same item again
        let b = try #require(try await tasks.next(task.id, annotator: "bob"))
        #expect(b.rowID != a.rowID)
        try await tasks.skip(task.id, rowID: a.rowID, annotator: "ana")
        try await tasks.submit(task.id, rowID: b.rowID, annotator: "bob", input: .text("pos"))
        #expect(try await tasks.next(task.id, annotator: "bob")?.rowID == a.rowID)  // ana's skip went to bob
        let skipped = try await tasks.labels.annotations(of: "reviews", schema: "sentiment").first { $0.annotator == "ana" }
        #expect(skipped?.status == .skipped && skipped?.value == nil && skipped?.task == task.id)
    }

    @Test func preLabelScoresQueueTheLeastSureFirst() async throws {
        let (tasks, ids) = try await Self.setup(rows: 6)
        let scores = [0.99, 0.51, 0.8, 0.6, 0.95]  // the sixth row has no pre-label
        try await tasks.labels.annotate(zip(ids, scores).map { Labeler.Draft(rowID: $0, schema: "sentiment", annotator: "model-v1", input: .text("pos"),
                                                                          source: .model, model: "bert", score: $1) }, on: "reviews")
        let task = try await tasks.create(dataset: "reviews", schema: "sentiment", query: "SELECT _rowid FROM reviews", by: "mia")
        #expect(task.activeLearning)
        var order: [UInt64] = []
        while let item = try await tasks.next(task.id, annotator: "mia") {
            #expect(item.suggestion == "pos")
            order.append(item.rowID)
            try await tasks.submit(task.id, rowID: item.rowID, annotator: "mia", input: .text("neg"))
            if order.count == 5 { break }
        }
        #expect(order == [ids[1], ids[3], ids[2], ids[4], ids[0]])
        await #expect(throws: LabelError.self) {
            _ = try await tasks.create(dataset: "reviews", schema: "sentiment", query: "SELECT text FROM reviews", by: "mia")
        }
    }
}
