import Foundation
import GRDB
import LoamStorage

/// The task store in the embedded catalog (`catalog.sqlite`), migration `v8-label-tasks`.
///
/// The queue is `label_task_items` in `position` order; `taken` counts the annotators an item
/// was handed to (a skip gives its place back). A partial index holds only the items that still
/// need someone, so finding the next item skips nothing the task has filled, however large.
public final class SQLiteLabelTaskStore: LabelTaskStore {
    let pool: DatabasePool

    public init(catalog: SQLiteMetaStore) throws {
        pool = catalog.pool
        do { try Self.migrator.migrate(pool) } catch { throw StorageError.io("cannot migrate the label task tables of \(catalog.path): \(error)") }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v8-label-tasks") { db in
            try db.execute(sql: """
                CREATE TABLE label_tasks (id TEXT PRIMARY KEY NOT NULL, dataset TEXT NOT NULL, schema TEXT NOT NULL, query TEXT NOT NULL,
                    commit_id TEXT NOT NULL, annotators INTEGER NOT NULL, overlap REAL NOT NULL, items INTEGER NOT NULL,
                    active_learning INTEGER NOT NULL, created_by TEXT NOT NULL, created_at INTEGER NOT NULL, status TEXT NOT NULL);
                CREATE TABLE label_task_items (task TEXT NOT NULL, position INTEGER NOT NULL, row_id INTEGER NOT NULL, needed INTEGER NOT NULL,
                    taken INTEGER NOT NULL DEFAULT 0, uncertainty REAL, PRIMARY KEY (task, position)) WITHOUT ROWID;
                CREATE UNIQUE INDEX label_task_items_row ON label_task_items (task, row_id);
                CREATE INDEX label_task_items_open ON label_task_items (task, position) WHERE taken < needed;
                CREATE TABLE label_task_members (task TEXT NOT NULL, user TEXT NOT NULL, role TEXT NOT NULL, PRIMARY KEY (task, user)) WITHOUT ROWID;
                CREATE TABLE label_assignments (task TEXT NOT NULL, row_id INTEGER NOT NULL, annotator TEXT NOT NULL, state TEXT NOT NULL,
                    assigned_at INTEGER NOT NULL, done_at INTEGER, PRIMARY KEY (task, annotator, row_id)) WITHOUT ROWID;
                CREATE INDEX label_assignments_item ON label_assignments (task, row_id);
                CREATE INDEX label_assignments_open ON label_assignments (task, annotator) WHERE state = 'assigned';
                """)
        }
        return migrator
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    public func create(_ task: LabelTask, items: [(rowID: UInt64, needed: Int, uncertainty: Double?)], manager: String) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO label_tasks (id, dataset, schema, query, commit_id, annotators, overlap, items, active_learning, created_by, created_at, status)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [task.id, task.dataset, task.schema, task.query, task.commit, task.annotators, task.overlap, task.items,
                                 task.activeLearning, task.createdBy, task.createdAt, task.status])
            let insert = try db.makeStatement(sql: "INSERT INTO label_task_items (task, position, row_id, needed, uncertainty) VALUES (?, ?, ?, ?, ?)")
            for (position, item) in items.enumerated() {
                try insert.execute(arguments: [task.id, position, Int64(bitPattern: item.rowID), item.needed, item.uncertainty])
            }
            try db.execute(sql: "INSERT INTO label_task_members (task, user, role) VALUES (?, ?, 'manager')", arguments: [task.id, manager])
        }
    }

    private static func task(_ row: Row) -> LabelTask {
        LabelTask(id: row["id"], dataset: row["dataset"], schema: row["schema"], query: row["query"], commit: row["commit_id"],
                  annotators: row["annotators"], overlap: row["overlap"], items: row["items"], activeLearning: row["active_learning"],
                  createdBy: row["created_by"], createdAt: row["created_at"], status: row["status"])
    }

    public func task(_ id: String) async throws -> LabelTask? {
        try await pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM label_tasks WHERE id = ?", arguments: [id]).map(Self.task) }
    }

    public func tasks(dataset: String?) async throws -> [LabelTask] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM label_tasks WHERE ?1 IS NULL OR dataset = ?1 ORDER BY created_at, id", arguments: [dataset]).map(Self.task)
        }
    }

    public func setStatus(_ id: String, _ status: String) async throws {
        try await pool.write { db in try db.execute(sql: "UPDATE label_tasks SET status = ? WHERE id = ?", arguments: [status, id]) }
    }

    public func setMember(_ task: String, user: String, role: TaskRole) async throws {
        try await pool.write { db in
            try db.execute(sql: "INSERT INTO label_task_members (task, user, role) VALUES (?, ?, ?) ON CONFLICT (task, user) DO UPDATE SET role = excluded.role",
                           arguments: [task, user, role.rawValue])
        }
    }

    public func members(_ task: String) async throws -> [String: TaskRole] {
        try await pool.read { db in
            Dictionary(try Row.fetchAll(db, sql: "SELECT user, role FROM label_task_members WHERE task = ?", arguments: [task])
                .compactMap { row in TaskRole(rawValue: row["role"]).map { (row["user"] as String, $0) } }, uniquingKeysWith: { $1 })
        }
    }

    public func next(_ task: String, annotator: String) async throws -> (rowID: UInt64, position: Int, needed: Int, uncertainty: Double?)? {
        try await pool.write { db in
            func item(_ row: Row) -> (rowID: UInt64, position: Int, needed: Int, uncertainty: Double?) {
                (UInt64(bitPattern: row["row_id"] as Int64), row["position"], row["needed"], row["uncertainty"])
            }
            // The annotator's open items (a handful at most, from the partial index), then their queue places: a join
            // ordered by position would walk the task's whole queue when the annotator has none open.
            let open = try Int64.fetchAll(db, sql: "SELECT row_id FROM label_assignments INDEXED BY label_assignments_open WHERE task = ? AND annotator = ? AND state = 'assigned'",
                                          arguments: [task, annotator])
            let placed = try open.compactMap { row in
                try Row.fetchOne(db, sql: "SELECT row_id, position, needed, uncertainty FROM label_task_items WHERE task = ? AND row_id = ?", arguments: [task, row])
            }
            if let first = placed.min(by: { ($0["position"] as Int) < ($1["position"] as Int) }) { return item(first) }
            guard let row = try Row.fetchOne(db, sql: """
                SELECT i.row_id, i.position, i.needed, i.uncertainty FROM label_task_items i INDEXED BY label_task_items_open
                WHERE i.task = ?1 AND i.taken < i.needed
                  AND NOT EXISTS (SELECT 1 FROM label_assignments a WHERE a.task = ?1 AND a.annotator = ?2 AND a.row_id = i.row_id)
                ORDER BY i.position LIMIT 1
                """, arguments: [task, annotator]) else { return nil }
            let picked = item(row)
            try db.execute(sql: "UPDATE label_task_items SET taken = taken + 1 WHERE task = ? AND position = ?", arguments: [task, picked.position])
            try db.execute(sql: "INSERT INTO label_assignments (task, row_id, annotator, state, assigned_at) VALUES (?, ?, ?, 'assigned', ?)",
                           arguments: [task, Int64(bitPattern: picked.rowID), annotator, Self.now])
            return picked
        }
    }

    public func assignment(_ task: String, rowID: UInt64, annotator: String) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT state FROM label_assignments WHERE task = ? AND annotator = ? AND row_id = ?",
                                arguments: [task, annotator, Int64(bitPattern: rowID)])
        }
    }

    public func finish(_ task: String, rowID: UInt64, annotator: String, state: String) async throws {
        try await pool.write { db in
            let was = try String.fetchOne(db, sql: "SELECT state FROM label_assignments WHERE task = ? AND annotator = ? AND row_id = ?",
                                          arguments: [task, annotator, Int64(bitPattern: rowID)])
            try db.execute(sql: "UPDATE label_assignments SET state = ?, done_at = ? WHERE task = ? AND annotator = ? AND row_id = ?",
                           arguments: [state, Self.now, task, annotator, Int64(bitPattern: rowID)])
            // A skip gives the item's place back; a submit after a skip takes it again.
            if state == "skipped" && was != "skipped" {
                try db.execute(sql: "UPDATE label_task_items SET taken = taken - 1 WHERE task = ? AND row_id = ?", arguments: [task, Int64(bitPattern: rowID)])
            } else if state != "skipped" && was == "skipped" {
                try db.execute(sql: "UPDATE label_task_items SET taken = taken + 1 WHERE task = ? AND row_id = ?", arguments: [task, Int64(bitPattern: rowID)])
            }
        }
    }

    public func progress(_ task: String) async throws -> (perAnnotator: [String: (submitted: Int, skipped: Int, open: Int)], complete: Int) {
        try await pool.read { db in
            var out: [String: (submitted: Int, skipped: Int, open: Int)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT annotator, state, count(*) AS n FROM label_assignments WHERE task = ? GROUP BY annotator, state", arguments: [task]) {
                var entry = out[row["annotator"], default: (0, 0, 0)]
                let n: Int = row["n"]
                switch row["state"] as String {
                case "submitted": entry.submitted = n
                case "skipped": entry.skipped = n
                default: entry.open = n
                }
                out[row["annotator"]] = entry
            }
            // Over the task's answers, not its queue: cheap however many items wait.
            let complete = try Int.fetchOne(db, sql: """
                SELECT count(*) FROM (SELECT a.row_id, count(*) AS answers FROM label_assignments a WHERE a.task = ?1 AND a.state = 'submitted'
                  GROUP BY a.row_id) s JOIN label_task_items i ON i.task = ?1 AND i.row_id = s.row_id WHERE s.answers >= i.needed
                """, arguments: [task]) ?? 0
            return (out, complete)
        }
    }

    public func answeredItems(_ task: String, atLeast answers: Int) async throws -> [UInt64] {
        try await pool.read { db in
            try Int64.fetchAll(db, sql: """
                SELECT row_id FROM label_assignments WHERE task = ? AND state = 'submitted' GROUP BY row_id HAVING count(*) >= ? ORDER BY row_id
                """, arguments: [task, answers]).map { UInt64(bitPattern: $0) }
        }
    }

    public func item(_ task: String, rowID: UInt64) async throws -> (position: Int, needed: Int, uncertainty: Double?)? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT position, needed, uncertainty FROM label_task_items WHERE task = ? AND row_id = ?",
                             arguments: [task, Int64(bitPattern: rowID)]).map { ($0["position"], $0["needed"], $0["uncertainty"]) }
        }
    }
}
