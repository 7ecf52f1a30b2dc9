"""Issue 18: profiles from per-fragment sketches, checked against numpy and pandas on the same rows, through the
CLI, the Python client and the server (a column masked for the reader shows its counts only)."""
import subprocess

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import loam
from conftest import LOAM, loam as run


def table(rng, start, n):
    ids = np.arange(start, start + n)
    score = rng.normal(3, 2, n)
    score[rng.random(n) < 0.05] = np.nan
    return pa.table({
        "id": pa.array(ids, pa.int64()),
        "label": pa.array(rng.integers(0, 6, n), pa.int32()),
        "score": pa.array(score, mask=rng.random(n) < 0.03),
        "text": pa.array([None if i % 11 == 0 else f"item {i % 997} ü{'x' * (i % 5)}" for i in ids]),
        "emb": pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(n * 8).astype(np.float32)), 8),
        "flag": pa.array(rng.random(n) < 0.3),
    })


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    path = tmp_path_factory.mktemp("quality") / "repo"
    run("init", str(path))
    r = loam.open(str(path))
    rng = np.random.default_rng(18)
    r.write(table(rng, 0, 40_000), "t")
    return path


def close(a, b, rel=1e-9):
    return a == pytest.approx(b, rel=rel, abs=1e-12)


def test_a_profile_matches_numpy_and_pandas_after_appends_and_deletes(repo):
    r = loam.open(str(repo))
    first = r.dataset("t").profile()
    assert first["fragmentsRead"] == first["fragments"] >= 1
    assert loam.open(str(repo)).dataset("t").profile()["fragmentsRead"] == 0  # kept sketches
    rng = np.random.default_rng(7)
    r.write(table(rng, 100_000, 5_000), "t")
    assert loam.open(str(repo)).dataset("t").profile()["fragmentsRead"] == 1  # only the appended fragment
    run("query", "DELETE FROM t WHERE label = 5 AND id % 3 = 0", repo=repo)

    ds = loam.open(str(repo)).dataset("t")
    profile = ds.profile()
    data = ds.to_arrow()
    columns = {c["name"]: c for c in profile["columns"]}
    assert profile["rows"] == data.num_rows
    for name in data.column_names:
        assert columns[name]["rows"] == data.num_rows
        assert columns[name]["nulls"] == data.column(name).null_count, name

    for name in ["id", "label", "score"]:
        values = data.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        values = values[~np.isnan(values)]
        c = columns[name]
        assert c["values"]["min"] == values.min() and c["values"]["max"] == values.max(), name
        assert close(c["values"]["mean"], values.mean()) and close(c["values"]["std"], values.std()), name
        ordered = np.sort(values)
        for key, q in [("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p95", 0.95)]:
            # The answer's place among the true values (a span where it repeats) is within 2% of q.
            low, high = (np.searchsorted(ordered, c["quantiles"][key], side) / len(values) for side in ("left", "right"))
            assert low - 0.02 <= q <= high + 0.02, (name, key, low, high)
        assert sum(b["count"] for b in c["histogram"]) == len(values)
    score = data.column("score").to_numpy(zero_copy_only=False)
    assert columns["score"]["nans"] == int(np.isnan(score[~pc.is_null(data.column("score")).to_numpy(zero_copy_only=False)]).sum())

    label = data.column("label").to_pandas()
    assert columns["label"]["distinct"] == label.nunique() and columns["label"]["distinctExact"]
    assert {e["value"]: e["count"] for e in columns["label"]["top"]} == {str(k): int(v) for k, v in label.value_counts().items()}
    assert abs(columns["id"]["distinct"] - data.num_rows) / data.num_rows < 0.05  # HyperLogLog past 4,096

    text = data.column("text").to_pandas().dropna()
    assert not columns["text"]["distinctExact"] and abs(columns["text"]["distinct"] / text.nunique() - 1) < 0.03  # 4,985 > 4,096
    assert close(columns["text"]["lengths"]["mean"], text.map(lambda s: len(s.encode())).mean())
    assert columns["text"]["minText"] == min(text, key=lambda s: s.encode()) and columns["text"]["maxText"] == max(text, key=lambda s: s.encode())
    counts = text.value_counts()
    # Fragments with more distinct values than the 1,024 each keeps: counts are lower bounds, and say so.
    assert not columns["text"]["topExact"]
    assert all(0 < e["count"] <= counts[e["value"]] for e in columns["text"]["top"]), columns["text"]["top"][:3]

    emb = data.column("emb").combine_chunks().flatten().to_numpy().reshape(-1, 8).astype(np.float64)
    norms = np.linalg.norm(emb, axis=1)
    assert close(columns["emb"]["norms"]["mean"], norms.mean(), 1e-9) and close(columns["emb"]["norms"]["max"], norms.max(), 1e-9)

    flag = data.column("flag").to_numpy(zero_copy_only=False)
    assert close(columns["flag"]["values"]["mean"], flag.mean())

    # The terminal view draws the same numbers.
    shown = run("profile", "t", repo=repo)
    assert "label  int32" in shown and str(int(label.value_counts().iloc[0])) in shown


def test_the_server_answers_the_same_and_hides_a_masked_columns_values(repo, tmp_path):
    run("user", "add", "ana", repo=repo)
    reader = run("token", "create", "--user", "ana", "--role", "reader", repo=repo).strip()
    admin = run("token", "create", "--user", "ana", "--role", "admin", repo=repo).strip()
    run("mask", "t", "text", "--redact", "--roles", "reader", repo=repo)
    process = subprocess.Popen([LOAM, "serve", "--repo", str(repo), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = "http://" + process.stdout.readline().split()[1]
        local = loam.open(str(repo)).dataset("t").profile()
        full = loam.connect(url, token=admin).dataset("t").profile()
        assert [c for c in full["columns"]] == [c for c in local["columns"]]
        seen = {c["name"]: c for c in loam.connect(url, token=reader).dataset("t").profile()["columns"]}
        assert seen["text"]["nulls"] == next(c for c in local["columns"] if c["name"] == "text")["nulls"]
        assert "top" not in seen["text"] and "minText" not in seen["text"] and "lengths" not in seen["text"]
        assert seen["label"]["top"]  # the others as they are
        with pytest.raises(loam.LoamError):
            loam.connect(url, token=reader).dataset("nope")
    finally:
        process.kill()


EXPECTATIONS = """
[[expect]]
kind = "not_null"
column = "id"
gate = true

[[expect]]
kind = "range"
column = "label"
min = 0
max = 5
gate = true

[[expect]]
kind = "regex"
column = "text"
pattern = '^item [0-9]+ ü'

[[expect]]
kind = "quantile"
column = "score"
q = 0.5
min = 2.5
max = 3.5
"""


def test_checks_and_gates_through_the_cli_the_client_and_the_server(tmp_path):
    path = tmp_path / "repo"
    run("init", str(path))
    r = loam.open(str(path))
    rng = np.random.default_rng(3)
    r.write(table(rng, 0, 3_000), "t")
    spec = tmp_path / "t.expect.toml"
    spec.write_text(EXPECTATIONS)
    run("expect", "t", "--file", str(spec), repo=path)
    assert run("expect", "t", repo=path).strip() == EXPECTATIONS.strip()

    report = loam.open(str(path)).dataset("t").check()
    assert report["passed"] and [x["kind"] for x in report["results"]] == ["not_null", "range", "regex", "quantile"]
    median = np.nanmedian(r.dataset("t").to_arrow().column("score").to_numpy(zero_copy_only=False).astype(float))
    assert abs(report["results"][3]["observed"] - median) < 0.1

    # A breaking write through the Python client is refused by the gate; nothing changes.
    head = run("log", "--oneline", repo=path).splitlines()[0]
    bad = table(rng, 10_000, 50).set_column(1, "label", pa.array(np.full(50, 9), pa.int32()))
    with pytest.raises(loam.LoamError, match="range\\(label\\)"):
        r.write(bad, "t")
    assert run("log", "--oneline", repo=path).splitlines()[0] == head

    # A breaking row that is not gated is reported by check (exit 1), with its _rowid.
    run("query", "UPDATE t SET text = 'odd' WHERE id = 17", repo=path)
    done = subprocess.run([LOAM, "check", "t", "--repo", str(path)], capture_output=True, text=True)
    assert done.returncode == 1 and "✗ regex(text)" in done.stdout
    ds = loam.open(str(path)).dataset("t")
    failed = ds.check()
    row = int(np.asarray(ds.rowids())[ds.to_arrow().column("id").to_numpy() == 17][0])
    assert not failed["passed"] and failed["results"][2]["sampleRowIDs"] == [row]

    # The server: the same report, and a gated write over HTTP answers 422 with the report.
    process = subprocess.Popen([LOAM, "serve", "--repo", str(path), "--port", "0", "--anonymous"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = "http://" + process.stdout.readline().split()[1]
        remote = loam.connect(url)
        assert remote.dataset("t").check()["results"] == failed["results"]
        with pytest.raises(loam.LoamError, match="not_null\\(id\\)"):
            remote.query("INSERT INTO t (id, label) VALUES (NULL, 1)")
        assert remote.dataset("t").check()["rows"] == failed["rows"]
    finally:
        process.kill()


def test_drift_matches_scipy_and_numpy(tmp_path):
    stats = pytest.importorskip("scipy.stats")
    path = tmp_path / "repo"
    run("init", str(path))
    r = loam.open(str(path))
    rng = np.random.default_rng(11)
    r.write(table(rng, 0, 6_000), "t")
    run("tag", "v1", repo=path)
    shifted = table(rng, 10_000, 4_000)
    shifted = shifted.set_column(2, "score", pa.array(rng.normal(3.4, 2.2, 4_000)))
    shifted = shifted.set_column(1, "label", pa.array(rng.choice(6, 4_000, p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.1]), pa.int32()))
    emb = rng.standard_normal((4_000, 8)).astype(np.float32) + 0.3
    shifted = shifted.set_column(4, "emb", pa.FixedSizeListArray.from_arrays(pa.array(emb.reshape(-1)), 8))
    r.write(shifted, "t")

    report = run("drift", "t", "--from", "v1", "--json", repo=path)
    import json
    columns = {c["column"]: c for c in json.loads(report)["columns"]}
    old, new = loam.open(str(path)).dataset("t", ref="v1").to_arrow(), loam.open(str(path)).dataset("t").to_arrow()

    def numbers(t, name):
        v = t.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        return v[~np.isnan(v)]

    for name in ["score", "id", "label"]:
        a, b = numbers(old, name), numbers(new, name)
        ks = stats.ks_2samp(a, b, method="asymp")
        assert columns[name]["ks"] == pytest.approx(ks.statistic, abs=1e-12), name
        en = len(a) * len(b) / (len(a) + len(b))
        assert columns[name]["ksPValue"] == pytest.approx(stats.kstwobign.sf(ks.statistic * np.sqrt(en)), rel=1e-6, abs=1e-12), name
        edges = np.quantile(a, [i / 10 for i in range(1, 10)])
        p = np.maximum(np.bincount(np.searchsorted(edges, a, side="right"), minlength=10) / len(a), 1e-4)
        q = np.maximum(np.bincount(np.searchsorted(edges, b, side="right"), minlength=10) / len(b), 1e-4)
        assert columns[name]["psi"] == pytest.approx(float(np.sum((q - p) * np.log(q / p))), rel=1e-9), name
    assert columns["score"]["psi"] > 0.005 and columns["score"]["ksPValue"] < 1e-3  # a shifted 40% of the rows

    for name in ["label", "text", "flag"]:
        a = old.column(name).drop_null().to_pylist()
        b = new.column(name).drop_null().to_pylist()
        keys = sorted(set(map(str, a)) | set(map(str, b)), key=lambda k: k.encode())
        ca, cb = [sum(1 for v in a if str(v) == k) for k in keys], [sum(1 for v in b if str(v) == k) for k in keys]
        chi = stats.chi2_contingency(np.array([ca, cb]), correction=False)
        assert columns[name]["chiSquare"] == pytest.approx(chi.statistic, rel=1e-9), name
        assert columns[name]["chiSquareDOF"] == chi.dof
        assert columns[name]["chiSquarePValue"] == pytest.approx(chi.pvalue, rel=1e-6, abs=1e-300), name

    va = old.column("emb").combine_chunks().flatten().to_numpy().reshape(-1, 8).astype(np.float64)
    vb = new.column("emb").combine_chunks().flatten().to_numpy().reshape(-1, 8).astype(np.float64)
    ma, mb = va.mean(axis=0), vb.mean(axis=0)
    assert columns["emb"]["meanCosineShift"] == pytest.approx(1 - ma @ mb / np.linalg.norm(ma) / np.linalg.norm(mb), rel=1e-9)
    x, y = va[::-(-len(va) // 500)][:500], vb[::-(-len(vb) // 500)][:500]
    pooled = np.vstack([x, y])
    sq = ((pooled[:, None, :] - pooled[None, :, :]) ** 2).sum(-1)
    h = np.median(sq[np.triu_indices(len(pooled), 1)])
    k = np.exp(-sq / h)
    n, m = len(x), len(y)
    mmd = (k[:n, :n].sum() - np.trace(k[:n, :n])) / (n * (n - 1)) + (k[n:, n:].sum() - np.trace(k[n:, n:])) / (m * (m - 1)) - 2 * k[:n, n:].mean()
    assert columns["emb"]["mmd"] == pytest.approx(mmd, rel=1e-6) and mmd > 0

    # A bound on drift is an expectation like any other.
    spec = tmp_path / "drift.toml"
    spec.write_text('[[expect]]\nkind = "drift"\ncolumn = "score"\nagainst = "v1"\nmetric = "psi"\nmax = 0.01\n')
    run("expect", "t", "--file", str(spec), repo=path)
    result = loam.open(str(path)).dataset("t").check()["results"][0]
    assert not result["passed"] and result["observed"] == pytest.approx(columns["score"]["psi"], rel=1e-12)


def corpus(rng, n=1500, planted=150):
    """n texts of random words, and `planted` near copies of some (a word or two changed), with their pairs."""
    vocabulary = [f"w{i}" for i in range(3000)]
    texts = [" ".join(rng.choice(vocabulary, rng.integers(12, 25))) for _ in range(n)]
    pairs = []
    for k in range(planted):
        source = int(rng.integers(0, n))
        words = texts[source].split()
        for _ in range(1 if k % 2 else 0):
            words[int(rng.integers(0, len(words)))] = str(rng.choice(vocabulary))
        texts.append(" ".join(words))
        pairs.append((source, len(texts) - 1))
    return texts, pairs


def test_near_duplicates_recall_beside_datasketch_and_leakage(tmp_path):
    datasketch = pytest.importorskip("datasketch")
    import json
    rng = np.random.default_rng(5)
    texts, planted = corpus(rng)
    path = tmp_path / "repo"
    run("init", str(path))
    r = loam.open(str(path))
    r.write(pa.table({"n": np.arange(len(texts)), "text": texts}), "docs")
    ids = list(loam.open(str(path)).dataset("docs").rowids())

    report = json.loads(run("dedupe", "docs", "--near", "text", "--threshold", "0.7", "--json", repo=path))
    together = {}
    for k, cluster in enumerate(report["clusters"]):
        for row in cluster:
            together[row] = k
    found = sum(1 for a, b in planted if together.get(ids[a]) is not None and together.get(ids[a]) == together.get(ids[b]))

    # The reference: datasketch's MinHashLSH on the same character 5-gram shingles, same threshold.
    def minhash(text):
        m = datasketch.MinHash(num_perm=128, seed=1)
        t = text.lower()
        for i in range(max(1, len(t) - 4)):
            m.update(t[i:i + 5].encode())
        return m
    lsh = datasketch.MinHashLSH(threshold=0.7, num_perm=128)
    hashes = [minhash(t) for t in texts]
    for i, m in enumerate(hashes):
        lsh.insert(str(i), m)
    reference = sum(1 for a, b in planted if str(b) in lsh.query(hashes[a]))
    recall, reference_recall = found / len(planted), reference / len(planted)
    print(f"recall: Loam {recall:.3f}, datasketch {reference_recall:.3f}")
    assert recall >= 0.95 and recall >= reference_recall - 0.03, (recall, reference_recall)
    # Precision: every pair Loam put together is truly similar (Jaccard of the shingle sets ≥ 0.5).
    def shingles(t):
        t = t.lower()
        return {t[i:i + 5] for i in range(max(1, len(t) - 4))}
    index = {row: i for i, row in enumerate(ids)}
    for cluster in report["clusters"]:
        first = shingles(texts[index[cluster[0]]])
        for row in cluster[1:]:
            other = shingles(texts[index[row]])
            assert len(first & other) / len(first | other) >= 0.5

    # --apply keeps the first row of each cluster, as one commit.
    before = len(loam.open(str(path)).dataset("docs"))
    run("dedupe", "docs", "--near", "text", "--threshold", "0.7", "--apply", repo=path)
    assert len(loam.open(str(path)).dataset("docs")) == before - report["duplicates"]

    # Leakage between a train and a test split holding copies.
    r.write(pa.table({"n": np.arange(5), "text": [texts[0], texts[1] + " extra", "fresh words only here", texts[2], texts[3]]}), "test")
    leaks = json.loads(run("leakage", "--train", "docs", "--test", "test", "--column", "text", "--threshold", "0.7", "--json", repo=path))
    assert leaks["leakedTestRows"] == 4 and leaks["exact"] >= 3


def test_embedding_near_duplicates_match_exact_cosine(tmp_path):
    """`--near emb --cosine 0.95`: clusters checked against the exact cosine of every pair (numpy), with planted
    near-copies above the threshold and farther copies below it."""
    import json
    rng = np.random.default_rng(9)
    base = rng.standard_normal((1_500, 32)).astype(np.float32)

    def copies(k, noise):
        sources = rng.choice(len(base), k, replace=False)
        return sources, base[sources] + noise * np.linalg.norm(base[sources], axis=1, keepdims=True) * rng.standard_normal((k, 32)).astype(np.float32) / np.sqrt(32)
    near_sources, near = copies(150, 0.12)   # cosine about 0.99
    far_sources, far = copies(150, 0.6)      # cosine about 0.85: not duplicates at 0.95
    vectors = np.concatenate([base, near, far])
    path = tmp_path / "repo"
    run("init", str(path))
    loam.open(str(path)).write(pa.table({"n": np.arange(len(vectors)), "emb": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), 32)}), "images")
    ids = list(loam.open(str(path)).dataset("images").rowids())
    report = json.loads(run("dedupe", "images", "--near", "emb", "--cosine", "0.95", "--json", repo=path))
    assert report["measure"] == "cosine" and report["threshold"] == 0.95

    # The reference: every pair's exact cosine, its components at 0.95.
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similar = np.triu(unit @ unit.T >= 0.95, 1)
    edges = list(zip(*np.nonzero(similar)))
    index = {row: i for i, row in enumerate(ids)}
    together = {}
    for k, cluster in enumerate(report["clusters"]):
        for row in cluster:
            together[index[row]] = k
    found = sum(1 for a, b in edges if together.get(a) is not None and together.get(a) == together.get(b))
    assert found / len(edges) >= 0.97, (found, len(edges))
    planted = [(s, len(base) + i) for i, s in enumerate(near_sources)]
    assert sum(1 for a, b in planted if together.get(a) is not None and together.get(a) == together.get(b)) >= 0.97 * len(planted)
    # Precision: each cluster member is within 0.95 of another member (clusters join only verified pairs), and no far copy joins its source.
    for cluster in report["clusters"]:
        members = [index[r] for r in cluster]
        block = unit[members] @ unit[members].T
        np.fill_diagonal(block, -1)
        assert (block.max(axis=1) >= 0.95 - 1e-5).all()
    assert not any(together.get(s) is not None and together.get(s) == together.get(len(base) + 150 + i) for i, s in enumerate(far_sources)
                   if unit[s] @ unit[len(base) + 150 + i] < 0.95)

    # A vector column needs --cosine; a text column refuses it.
    done = subprocess.run([LOAM, "dedupe", "images", "--near", "emb", "--repo", str(path)], capture_output=True, text=True)
    assert done.returncode != 0 and "give --cosine" in done.stderr
    loam.open(str(path)).write(pa.table({"text": ["a b c", "a b d"]}), "docs")
    done = subprocess.run([LOAM, "dedupe", "docs", "--near", "text", "--cosine", "0.9", "--repo", str(path)], capture_output=True, text=True)
    assert done.returncode != 0 and "--cosine is for vector columns" in done.stderr

    # --apply keeps the first row of each cluster.
    run("dedupe", "images", "--near", "emb", "--cosine", "0.95", "--apply", repo=path)
    assert len(loam.open(str(path)).dataset("images")) == len(vectors) - report["duplicates"]


def test_label_issues_match_cleanlab(tmp_path):
    cleanlab = pytest.importorskip("cleanlab.filter")
    import json
    rng = np.random.default_rng(21)
    n, k = 3000, 4
    truth = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), truth] += 2.5
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = truth.copy()
    flipped = rng.random(n) < 0.1
    labels[flipped] = (labels[flipped] + rng.integers(1, k, flipped.sum())) % k
    path = tmp_path / "repo"
    run("init", str(path))
    loam.open(str(path)).write(pa.table({"y": pa.array(labels, pa.int64()),
                                         "probs": pa.FixedSizeListArray.from_arrays(pa.array(probs.reshape(-1)), k)}), "d")
    report = json.loads(run("label-issues", "d", "--label", "y", "--probabilities", "probs", "--json", repo=path))
    rowids = list(loam.open(str(path)).dataset("d").rowids())
    ours = [rowids.index(i["rowID"]) for i in report["issues"]]
    theirs = cleanlab.find_label_issues(labels, probs, filter_by="confident_learning", return_indices_ranked_by="self_confidence")
    assert set(ours) == set(theirs.tolist())
    assert ours == theirs.tolist()  # the same ranking
    caught = flipped[ours].mean()
    assert caught > 0.6, caught  # most flagged rows were truly flipped


def test_the_server_and_the_client_give_the_same_quality_answers(tmp_path):
    rng = np.random.default_rng(8)
    path = tmp_path / "repo"
    run("init", str(path))
    r = loam.open(str(path))
    texts, _ = corpus(rng, n=300, planted=30)
    probs = rng.dirichlet(np.ones(3), len(texts))
    base = pa.table({"text": texts, "y": pa.array(rng.integers(0, 3, len(texts)), pa.int64()),
                     "probs": pa.FixedSizeListArray.from_arrays(pa.array(probs.reshape(-1)), 3), "x": rng.normal(0, 1, len(texts))})
    r.write(base, "d")
    run("tag", "v1", repo=path)
    r.write(base.slice(0, 100), "d")
    local = loam.open(str(path)).dataset("d")
    process = subprocess.Popen([LOAM, "serve", "--repo", str(path), "--port", "0", "--anonymous"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        remote = loam.connect("http://" + process.stdout.readline().split()[1]).dataset("d")
        assert remote.drift("v1") == local.drift("v1") and local.drift("v1", columns=["x"])["columns"][0]["column"] == "x"
        assert remote.near_duplicates("text", threshold=0.7) == local.near_duplicates("text", threshold=0.7)
        assert local.near_duplicates("text", threshold=0.7)["duplicates"] >= 100  # the appended copies at least
        assert remote.near_duplicates("probs", cosine=0.99) == local.near_duplicates("probs", cosine=0.99)
        assert local.near_duplicates("probs", cosine=0.99)["duplicates"] >= 100
        assert remote.label_issues("y", "probs") == local.label_issues("y", "probs")
        with pytest.raises(loam.LoamError, match="probabilities"):
            remote.label_issues("y", "x")
    finally:
        process.kill()
