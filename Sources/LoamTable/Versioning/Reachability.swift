import LoamStorage

/// The objects a set of commits can reach: the commits and all their
/// ancestors, their manifests, fragments and deletion vectors. Each object
/// remembers the first root (a ref name) that reached it, for reports.
public struct Reachability: Sendable {
    public enum Kind: String, Sendable { case commit, manifest, fragment, deletionVector = "deletion vector" }

    public private(set) var objects: [ObjectID: (kind: Kind, root: String)] = [:]
    /// Objects referenced but unreadable: (id, kind, root, what went wrong).
    public private(set) var problems: [(id: ObjectID, kind: Kind, root: String, problem: String)] = []

    /// Walks from `roots` (name → commit). With `verify`, every object's bytes are re-hashed.
    public static func walk(_ roots: [(name: String, commit: ObjectID)], tables: TableStore,
                            verify: Bool = false) async throws -> Reachability {
        var result = Reachability()
        for (name, root) in roots {
            var queue = [root]
            while let id = queue.popLast() {
                guard result.objects[id] == nil else { continue }
                result.objects[id] = (.commit, name)
                guard await result.check(id, .commit, name, tables, verify) else { continue }
                let commit: Commit
                do { commit = try await tables.commit(id) } catch {
                    result.problems.append((id, .commit, name, "\(error)"))
                    continue
                }
                queue.append(contentsOf: commit.parents)
                for (dataset, manifestID) in commit.tree where result.objects[manifestID] == nil {
                    result.objects[manifestID] = (.manifest, name)
                    guard await result.check(manifestID, .manifest, name, tables, verify) else { continue }
                    let manifest: Manifest
                    do { manifest = try await tables.manifest(manifestID) } catch {
                        result.problems.append((manifestID, .manifest, name, "manifest of '\(dataset)': \(error)"))
                        continue
                    }
                    for fragment in manifest.fragments {
                        if result.objects[fragment.object] == nil {
                            result.objects[fragment.object] = (.fragment, name)
                            _ = await result.check(fragment.object, .fragment, name, tables, verify)
                        }
                        if let vector = fragment.deletions, result.objects[vector] == nil {
                            result.objects[vector] = (.deletionVector, name)
                            _ = await result.check(vector, .deletionVector, name, tables, verify)
                        }
                    }
                }
            }
        }
        return result
    }

    /// Records a missing or corrupt object; true when it is fine. An object an erasure replaced is checked as its
    /// replacement, which is reachable in its place.
    private mutating func check(_ id: ObjectID, _ kind: Kind, _ root: String, _ tables: TableStore, _ verify: Bool) async -> Bool {
        let holder = tables.objects.resolve(id)
        if holder != id, objects[holder] == nil { objects[holder] = (kind, root) }
        do {
            guard try await tables.objects.contains(id) else {
                problems.append((id, kind, root, "missing"))
                return false
            }
            if verify {
                let bytes = try await tables.objects.stored(id)
                let actual = ObjectID.hash(bytes.buffer)
                if actual != holder {
                    problems.append((id, kind, root, "corrupt: its bytes hash to \(actual.short)"))
                    return false
                }
            }
            return true
        } catch {
            problems.append((id, kind, root, "unreadable: \(error)"))
            return false
        }
    }
}
