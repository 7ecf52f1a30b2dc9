import Foundation
import LoamCloud
import PostgresNIO

/// The task store in a PostgreSQL catalog (migration `v8-label-tasks`, as on SQLite), so annotators reach
/// one queue through any of several `loam serve` processes. Handing out the next item is one transaction:
/// an advisory lock per (task, annotator) keeps one annotator's two tabs from taking two items at once, and
/// the item row is taken `FOR UPDATE`, so annotators racing for an item's last place get it once.
public final class PostgresLabelTaskStore: LabelTaskStore {
    let catalog: PostgresMetaStore
    private var logger: Logger { catalog.logger }

    public init(catalog: PostgresMetaStore) { self.catalog = catalog }

    static let migrations: [PostgresMigration] = [
        PostgresMigration("v8-label-tasks", [
            """
            CREATE TABLE label_tasks (id TEXT PRIMARY KEY, dataset TEXT NOT NULL, schema TEXT NOT NULL, query TEXT NOT NULL, commit_id TEXT NOT NULL,
                annotators BIGINT NOT NULL, overlap DOUBLE PRECISION NOT NULL, items BIGINT NOT NULL, active_learning BOOLEAN NOT NULL,
                created_by TEXT NOT NULL, created_at BIGINT NOT NULL, status TEXT NOT NULL)
            """,
            """
            CREATE TABLE label_task_items (task TEXT NOT NULL, position BIGINT NOT NULL, row_id BIGINT NOT NULL, needed BIGINT NOT NULL,
                taken BIGINT NOT NULL DEFAULT 0, uncertainty DOUBLE PRECISION, PRIMARY KEY (task, position))
            """,
            "CREATE UNIQUE INDEX label_task_items_row ON label_task_items (task, row_id)",
            "CREATE INDEX label_task_items_open ON label_task_items (task, position) WHERE taken < needed",
            "CREATE TABLE label_task_members (task TEXT NOT NULL, user_name TEXT NOT NULL, role TEXT NOT NULL, PRIMARY KEY (task, user_name))",
            """
            CREATE TABLE label_assignments (task TEXT NOT NULL, row_id BIGINT NOT NULL, annotator TEXT NOT NULL, state TEXT NOT NULL,
                assigned_at BIGINT NOT NULL, done_at BIGINT, PRIMARY KEY (task, annotator, row_id))
            """,
            "CREATE INDEX label_assignments_item ON label_assignments (task, row_id)",
            "CREATE INDEX label_assignments_open ON label_assignments (task, annotator) WHERE state = 'assigned'",
        ]),
    ]

    private func read<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await catalog.prepare("label task", Self.migrations)
        return try await catalog.withConnection(body)
    }

    private func write<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await catalog.prepare("label task", Self.migrations)
        return try await catalog.transaction(body)
    }

    private func rows(_ c: PostgresConnection, _ query: PostgresQuery) async throws -> [PostgresRow] {
        try await c.query(query, logger: logger).collect()
    }

    private static var now: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    public func create(_ task: LabelTask, items: [(rowID: UInt64, needed: Int, uncertainty: Double?)], manager: String) async throws {
        try await write { c in
            _ = try await self.rows(c, """
                INSERT INTO label_tasks (id, dataset, schema, query, commit_id, annotators, overlap, items, active_learning, created_by, created_at, status)
                VALUES (\(task.id), \(task.dataset), \(task.schema), \(task.query), \(task.commit), \(Int64(task.annotators)), \(task.overlap),
                        \(Int64(task.items)), \(task.activeLearning), \(task.createdBy), \(task.createdAt), \(task.status))
                """)
            // One statement for the whole queue; a missing uncertainty is NULL (a flag beside each value says which).
            _ = try await self.rows(c, """
                INSERT INTO label_task_items (task, position, row_id, needed, uncertainty)
                SELECT \(task.id), n - 1, r, k, CASE WHEN h THEN u END
                FROM unnest(\(items.map { Int64(bitPattern: $0.rowID) })::bigint[], \(items.map { Int64($0.needed) })::bigint[],
                            \(items.map { $0.uncertainty ?? 0 })::float8[], \(items.map { $0.uncertainty != nil })::bool[]) WITH ORDINALITY AS i(r, k, u, h, n)
                """)
            _ = try await self.rows(c, "INSERT INTO label_task_members (task, user_name, role) VALUES (\(task.id), \(manager), 'manager')")
        }
    }

    private static let taskColumns = "id, dataset, schema, query, commit_id, annotators, overlap, items, active_learning, created_by, created_at, status"

    private static func task(_ row: PostgresRow) throws -> LabelTask {
        let (id, dataset, schema, query, commit, annotators, overlap, items, active, by, at, status) =
            try row.decode((String, String, String, String, String, Int64, Double, Int64, Bool, String, Int64, String).self)
        return LabelTask(id: id, dataset: dataset, schema: schema, query: query, commit: commit, annotators: Int(annotators), overlap: overlap,
                         items: Int(items), activeLearning: active, createdBy: by, createdAt: at, status: status)
    }

    public func task(_ id: String) async throws -> LabelTask? {
        try await read { c in try await self.rows(c, "SELECT \(unescaped: Self.taskColumns) FROM label_tasks WHERE id = \(id)").first.map(Self.task) }
    }

    public func tasks(dataset: String?) async throws -> [LabelTask] {
        try await read { c in
            try await self.rows(c, """
                SELECT \(unescaped: Self.taskColumns) FROM label_tasks WHERE \(dataset)::text IS NULL OR dataset = \(dataset) ORDER BY created_at, id COLLATE "C"
                """).map(Self.task)
        }
    }

    public func setStatus(_ id: String, _ status: String) async throws {
        try await write { c in _ = try await self.rows(c, "UPDATE label_tasks SET status = \(status) WHERE id = \(id)") }
    }

    public func setMember(_ task: String, user: String, role: TaskRole) async throws {
        try await write { c in
            _ = try await self.rows(c, """
                INSERT INTO label_task_members (task, user_name, role) VALUES (\(task), \(user), \(role.rawValue))
                ON CONFLICT (task, user_name) DO UPDATE SET role = excluded.role
                """)
        }
    }

    public func members(_ task: String) async throws -> [String: TaskRole] {
        try await read { c in
            var members: [String: TaskRole] = [:]
            for row in try await self.rows(c, "SELECT user_name, role FROM label_task_members WHERE task = \(task)") {
                let (user, role) = try row.decode((String, String).self)
                members[user] = TaskRole(rawValue: role)
            }
            return members
        }
    }

    private static func item(_ row: PostgresRow) throws -> (rowID: UInt64, position: Int, needed: Int, uncertainty: Double?) {
        let (rowID, position, needed, uncertainty) = try row.decode((Int64, Int64, Int64, Double?).self)
        return (UInt64(bitPattern: rowID), Int(position), Int(needed), uncertainty)
    }

    public func next(_ task: String, annotator: String) async throws -> (rowID: UInt64, position: Int, needed: Int, uncertainty: Double?)? {
        try await write { c in
            _ = try await self.rows(c, "SELECT pg_advisory_xact_lock(hashtext(\(task)), hashtext(\(annotator)))")
            if let open = try await self.rows(c, """
                SELECT i.row_id, i.position, i.needed, i.uncertainty FROM label_assignments a
                JOIN label_task_items i ON i.task = a.task AND i.row_id = a.row_id
                WHERE a.task = \(task) AND a.annotator = \(annotator) AND a.state = 'assigned' ORDER BY i.position LIMIT 1
                """).first { return try Self.item(open) }
            guard let row = try await self.rows(c, """
                SELECT i.row_id, i.position, i.needed, i.uncertainty FROM label_task_items i
                WHERE i.task = \(task) AND i.taken < i.needed
                  AND NOT EXISTS (SELECT 1 FROM label_assignments a WHERE a.task = \(task) AND a.annotator = \(annotator) AND a.row_id = i.row_id)
                ORDER BY i.position LIMIT 1 FOR UPDATE OF i
                """).first else { return nil }
            let picked = try Self.item(row)
            _ = try await self.rows(c, "UPDATE label_task_items SET taken = taken + 1 WHERE task = \(task) AND position = \(Int64(picked.position))")
            _ = try await self.rows(c, """
                INSERT INTO label_assignments (task, row_id, annotator, state, assigned_at)
                VALUES (\(task), \(Int64(bitPattern: picked.rowID)), \(annotator), 'assigned', \(Self.now))
                """)
            return picked
        }
    }

    public func assignment(_ task: String, rowID: UInt64, annotator: String) async throws -> String? {
        try await read { c in
            try await self.rows(c, "SELECT state FROM label_assignments WHERE task = \(task) AND annotator = \(annotator) AND row_id = \(Int64(bitPattern: rowID))")
                .first.map { try $0.decode(String.self) }
        }
    }

    public func finish(_ task: String, rowID: UInt64, annotator: String, state: String) async throws {
        let row = Int64(bitPattern: rowID)
        try await write { c in
            guard let was = try await self.rows(c, """
                SELECT state FROM label_assignments WHERE task = \(task) AND annotator = \(annotator) AND row_id = \(row) FOR UPDATE
                """).first.map({ try $0.decode(String.self) }) else { return }
            _ = try await self.rows(c, """
                UPDATE label_assignments SET state = \(state), done_at = \(Self.now) WHERE task = \(task) AND annotator = \(annotator) AND row_id = \(row)
                """)
            // A skip gives the item's place back; a submit after a skip takes it again.
            let change: Int64 = state == "skipped" && was != "skipped" ? -1 : state != "skipped" && was == "skipped" ? 1 : 0
            if change != 0 { _ = try await self.rows(c, "UPDATE label_task_items SET taken = taken + \(change) WHERE task = \(task) AND row_id = \(row)") }
        }
    }

    public func progress(_ task: String) async throws -> (perAnnotator: [String: (submitted: Int, skipped: Int, open: Int)], complete: Int) {
        try await read { c in
            var out: [String: (submitted: Int, skipped: Int, open: Int)] = [:]
            for row in try await self.rows(c, "SELECT annotator, state, count(*) FROM label_assignments WHERE task = \(task) GROUP BY annotator, state") {
                let (annotator, state, count) = try row.decode((String, String, Int64).self)
                var entry = out[annotator, default: (0, 0, 0)]
                switch state {
                case "submitted": entry.submitted = Int(count)
                case "skipped": entry.skipped = Int(count)
                default: entry.open = Int(count)
                }
                out[annotator] = entry
            }
            let complete = try await self.rows(c, """
                SELECT count(*) FROM (SELECT a.row_id, count(*) AS answers FROM label_assignments a WHERE a.task = \(task) AND a.state = 'submitted'
                  GROUP BY a.row_id) s JOIN label_task_items i ON i.task = \(task) AND i.row_id = s.row_id WHERE s.answers >= i.needed
                """)[0].decode(Int64.self)
            return (out, Int(complete))
        }
    }

    public func answeredItems(_ task: String, atLeast answers: Int) async throws -> [UInt64] {
        try await read { c in
            try await self.rows(c, """
                SELECT row_id FROM label_assignments WHERE task = \(task) AND state = 'submitted' GROUP BY row_id HAVING count(*) >= \(Int64(answers)) ORDER BY row_id
                """).map { UInt64(bitPattern: try $0.decode(Int64.self)) }
        }
    }

    public func item(_ task: String, rowID: UInt64) async throws -> (position: Int, needed: Int, uncertainty: Double?)? {
        try await read { c in
            try await self.rows(c, "SELECT row_id, position, needed, uncertainty FROM label_task_items WHERE task = \(task) AND row_id = \(Int64(bitPattern: rowID))")
                .first.map { let item = try Self.item($0); return (item.position, item.needed, item.uncertainty) }
        }
    }
}
