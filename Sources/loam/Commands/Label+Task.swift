import ArgumentParser
import Foundation
import Loam
import LoamFormat
import LoamLabels

extension Label {
    struct TaskCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "task", abstract: "Labelling tasks: a query's rows, k blind annotators per item, a queue, review of disagreements.",
            discussion: """
                You act as LOAM_AUTHOR (else your user name); `loam serve` acts as the token's user.
                  loam label task create -d reviews --schema sentiment --query "SELECT _rowid FROM reviews" --annotators 3 --overlap 0.2
                  loam label task member TASK ana annotator
                  LOAM_AUTHOR=ana loam label task next TASK            # then: loam label task submit TASK ROW positive
                  loam label task disagreements TASK                     # a reviewer's side-by-side view
                  loam label task resolve TASK ROW positive
                """,
            subcommands: [Create.self, List.self, Member.self, Next.self, Submit.self, Skip.self, Progress.self, Disagreements.self,
                          Resolve.self, Agreement.self, Close.self])

        static func open(_ options: RepositoryOptions) throws -> (LabelTasks, String) {
            let repo = try options.open()
            return (try LabelTasks(repository: repo), repo.currentAuthor)
        }

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Creates a task over the rows a query returns (its _rowid column); you become its manager.")
            @OptionGroup var repository: RepositoryOptions
            @Option(name: .shortAndLong, help: "The dataset.") var dataset: String
            @Option(help: "The label schema.") var schema: String
            @Option(help: "A SELECT returning the rows' _rowid.") var query: String
            @Option(help: "Independent annotators per overlapped item.") var annotators = 1
            @Option(help: "The fraction of items that get --annotators annotators (the rest get one).") var overlap = 1.0
            @Option(help: "The seed choosing the overlapped items.") var seed: UInt64 = 0
            @Flag(help: "Print JSON.") var json = false

            func run() async throws {
                try await reportingErrors {
                    let (tasks, user) = try TaskCommand.open(repository)
                    let task = try await tasks.create(dataset: dataset, schema: schema, query: query, annotators: annotators, overlap: overlap, seed: seed, by: user)
                    if json { print(try JSONOutput.text(task)); return }
                    print("task \(task.id): \(task.items) items of \(dataset) for \(schema)\(task.activeLearning ? ", most uncertain first" : ""); manager \(user)")
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Lists tasks.")
            @OptionGroup var repository: RepositoryOptions
            @Option(name: .shortAndLong, help: "Only this dataset's.") var dataset: String?
            @Flag(help: "Print JSON.") var json = false

            func run() async throws {
                try await reportingErrors {
                    let (tasks, _) = try TaskCommand.open(repository)
                    let all = try await tasks.tasks(dataset: dataset)
                    if json { print(try JSONOutput.text(all)); return }
                    print(formatTable(header: ["task", "dataset", "schema", "items", "annotators", "overlap", "status"],
                                      rows: all.map { [$0.id, $0.dataset, $0.schema, String($0.items), String($0.annotators), String($0.overlap), $0.status] }), terminator: "")
                }
            }
        }

        struct Member: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Gives a user a role in a task (a manager's step): annotator, reviewer or manager.")
            @OptionGroup var repository: RepositoryOptions
            @Argument var task: String
            @Argument var user: String
            @Argument var role: String

            func run() async throws {
                try await reportingErrors {
                    guard let role = TaskRole(rawValue: role) else { throw ValidationError("a role is annotator, reviewer or manager") }
                    let (tasks, me) = try TaskCommand.open(repository)
                    try await tasks.setMember(task, user: user, role: role, by: me)
                    print("\(user) is a\(role == .annotator ? "n" : "") \(role.rawValue) of task \(task)")
                }
            }
        }

        struct Next: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Your next item (your open one first); nothing when you are done.")
            @OptionGroup var repository: RepositoryOptions
            @Argument var task: String
            @Flag(help: "Print JSON.") var json = false

            func run() async throws {
                try await reportingErrors {
                    let (tasks, me) = try TaskCommand.open(repository)
                    let item = try await tasks.next(task, annotator: me)
                    if json { print(item.map { (try? JSONOutput.text($0)) ?? "null" } ?? "null"); return }
                    guard let item else { print("no items left for \(me) in task \(task)"); return }
                    print("row \(item.rowID) (queue position \(item.position))" + (item.suggestion.map { "; model suggests \($0)" } ?? "")
                          + (item.yours.map { "; your answer: \($0)" } ?? ""))
                }
            }
        }

        struct Submit: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Submits your answer for an item you were given.")
            @OptionGroup var repository: RepositoryOptions
            @Argument var task: String
            @Argument var row: UInt64
            @Argument(help: "The label (class name, number, text or JSON, as the schema's kind).") var value: String

            func run() async throws {
                try await reportingErrors {
                    let (tasks, me) = try TaskCommand.open(repository)
                    let summary = try await tasks.submit(task, rowID: row, annotator: me, input: .text(value))
                    print("\(me) labelled row \(row): commit \(summary.commit.prefix(12))")
                }
            }
        }

        struct Skip: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Skips an item you were given (it goes to someone else).")
            @OptionGroup var repository: RepositoryOptions
            @Argument var task: String
            @Argument var row: UInt64

            func run() async throws {
                try await reportingErrors {
                    let (tasks, me) = try TaskCommand.open(repository)
                    try await tasks.skip(task, rowID: row, annotator: me)
                    print("\(me) skipped row \(row)")
                }
            }
        }

        struct Progress: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Progress overall and per annotator (reviewers and managers).")
            @OptionGroup var repository: RepositoryOptions
            @Argument var task: String
            @Flag(help: "Print JSON.") var json = false

            func run() async throws {
                try await reportingErrors {
                    let (tasks, me) = try TaskCommand.open(repository)
                    let p = try await tasks.progress(task, by: me)
                    if json { print(try JSONOutput.text(p)); return }
                    print("\(p.complete) of \(p.items) items complete; \(p.annotations) answers")
                    print(formatTable(header: ["annotator", "submitted", "skipped", "open"],
                                      rows: p.annotators.map { [$0.annotator, String($0.submitted), String($0.skipped), String($0.open)] }), terminator: "")
                }
            }
        }

        struct Disagreements: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Items answered differently, every answer side by side (reviewers).")
            @OptionGroup var repository: RepositoryOptions
            @Argument var task: String
            @Flag(help: "Include resolved items.") var all = false
            @Flag(help: "Print JSON.") var json = false

            func run() async throws {
                try await reportingErrors {
                    let (tasks, me) = try TaskCommand.open(repository)
                    let items = try await tasks.disagreements(task, by: me, includeResolved: all)
                    if json { print(try JSONOutput.text(items)); return }
                    print(formatTable(header: ["row", "answers", "resolution"],
                                      rows: items.map { [String($0.rowID), $0.answers.map { "\($0.annotator): \($0.value)" }.joined(separator: "; "), $0.resolution ?? ""] }),
                          terminator: "")
                }
            }
        }

        struct Resolve: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Resolves an item (reviewers): the adjudicated label.")
            @OptionGroup var repository: RepositoryOptions
            @Argument var task: String
            @Argument var row: UInt64
            @Argument var value: String

            func run() async throws {
                try await reportingErrors {
                    let (tasks, me) = try TaskCommand.open(repository)
                    let summary = try await tasks.resolve(task, rowID: row, reviewer: me, input: .text(value))
                    print("\(me) resolved row \(row): commit \(summary.commit.prefix(12))")
                }
            }
        }

        struct Agreement: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Agreement among the task's annotators (reviewers).")
            @OptionGroup var repository: RepositoryOptions
            @Argument var task: String

            func run() async throws {
                try await reportingErrors {
                    let (tasks, me) = try TaskCommand.open(repository)
                    print(try JSONOutput.text(try await tasks.agreement(task, by: me)))
                }
            }
        }

        struct Close: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Closes a task (managers): no more items are handed out or answers taken.")
            @OptionGroup var repository: RepositoryOptions
            @Argument var task: String

            func run() async throws {
                try await reportingErrors {
                    let (tasks, me) = try TaskCommand.open(repository)
                    try await tasks.close(task, by: me)
                    print("task \(task) is closed")
                }
            }
        }
}
}
