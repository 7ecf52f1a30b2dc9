"""Governance at scale, one run, release build. Every row says what each system did.

- pii: a generated corpus, one column per kind (email, phone, card, IBAN, SSN, IPv4, IPv6) plus decoy columns
  (order numbers, version strings, timestamps, prices) that hold no personal data. `loam pii scan` reads it from
  the repository; Presidio's pattern recognizers (presidio-analyzer, no NLP model: its regex and checksum
  recognizers only) analyze the same values already in memory in Python. Recall: rows found / rows holding the
  kind; false positives: decoy rows flagged. MB/s over the text bytes scanned.
- encryption: the same table imported into a plaintext and an encrypted repository, then scanned by a SQL
  aggregate that reads every column (`sum` of numbers, `sum(length(text))`), and read whole by the Python client
  with every byte touched (plaintext: memory-mapped; encrypted: decrypted into memory).
- erasure: N rows of users, then 50 commits of history (updates of a few users each, a branch, tags), then
  `loam erase users --where "user_id = 42"`: the person leaves every version. At 1M and 10M rows.

    bash bench/governance.sh [--erase-rows 1000000,10000000] [--pii-rows 200000] [--enc-rows 2000000]
"""
import argparse
import datetime
import json
import os
import random
import subprocess
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc


def run(binary, *args, env=None):
    start = time.perf_counter()
    done = subprocess.run([os.path.join(binary, "loam"), *map(str, args)], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"loam {' '.join(map(str, args[:3]))}: {done.stderr}")
    return time.perf_counter() - start, done.stdout


def write_arrow(table, path):
    with ipc.new_file(path, table.schema) as w:
        w.write_table(table, max_chunksize=65536)


# --- PII ---------------------------------------------------------------------------------------------------

def luhn_complete(digits):
    total = 0
    for i, d in enumerate(reversed(digits + [0])):
        if i % 2 == 1:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return digits + [(10 - total % 10) % 10]


def iban(rng):
    bban = "".join(str(rng.randrange(10)) for _ in range(18))
    country = "DE"
    numeric = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - numeric % 97:02d}{bban}"


def corpus(n, seed=5):
    rng = random.Random(seed)
    first = ["maria", "john", "wei", "fatima", "olga", "pedro", "amina", "kenji"]
    columns = {
        "email": [f"{rng.choice(first)}.{i}@{rng.choice(['example.com', 'mail.org', 'corp.io'])}" for i in range(n)],
        "phone": [rng.choice([f"+1 415 555 {rng.randrange(10000):04d}", f"(212) 555-{rng.randrange(10000):04d}",
                              f"+44 20 7946 {rng.randrange(10000):04d}"]) for _ in range(n)],
        "card": ["".join(map(str, luhn_complete([4] + [rng.randrange(10) for _ in range(14)]))) for _ in range(n)],
        "iban": [iban(rng) for _ in range(n)],
        "ssn": [f"{rng.randrange(100, 665):03d}-{rng.randrange(1, 99):02d}-{rng.randrange(1, 9999):04d}" for _ in range(n)],
        "ipv4": [f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(n)],
        "ipv6": [f"2001:db8:{rng.randrange(65536):x}:{rng.randrange(65536):x}::{rng.randrange(65536):x}" for _ in range(n)],
        "order_no": [f"ORD-{rng.randrange(10**9):09d}" for _ in range(n)],
        "version": [f"v{rng.randrange(10)}.{rng.randrange(100)}.{rng.randrange(1000)}" for _ in range(n)],
        "logged_at": [f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z" for _ in range(n)],
        "price": [f"{rng.randrange(100000) / 100:.2f} EUR" for _ in range(n)],
    }
    return columns


KIND = {"email": "email", "phone": "phone", "card": "credit_card", "iban": "iban", "ssn": "ssn", "ipv4": "ipv4", "ipv6": "ipv6"}
PRESIDIO_KIND = {"email": "EMAIL_ADDRESS", "phone": "PHONE_NUMBER", "card": "CREDIT_CARD", "iban": "IBAN_CODE", "ssn": "US_SSN",
                 "ipv4": "IP_ADDRESS", "ipv6": "IP_ADDRESS"}


def bench_pii(binary, work, n):
    columns = corpus(n)
    repo = os.path.join(work, "pii")
    run(binary, "init", repo)
    path = os.path.join(work, "pii.arrow")
    write_arrow(pa.table(columns), path)
    run(binary, "import", path, "-d", "people", "-q", "--repo", repo)
    text_bytes = sum(len(v.encode()) for values in columns.values() for v in values)
    seconds, out = run(binary, "pii", "scan", "people", "--json", "--repo", repo)
    report = json.loads(out)
    found = {c["column"]: {k["kind"]: k["rows"] for k in c["kinds"]} for c in report["columns"]}
    loam = {"seconds": seconds, "mb_per_s": text_bytes / seconds / 1e6,
            "recall": {col: found.get(col, {}).get(kind, 0) / n for col, kind in KIND.items()},
            "decoy_rows_flagged": {col: sum(found.get(col, {}).values()) for col in columns if col not in KIND}}
    result = {"rows": n, "text_bytes": text_bytes, "loam": loam}
    try:
        from presidio_analyzer.predefined_recognizers import (CreditCardRecognizer, EmailRecognizer, IbanRecognizer, IpRecognizer,
                                                              PhoneRecognizer, UsSsnRecognizer)
    except ImportError as e:
        result["presidio"] = {"skipped": f"presidio-analyzer not importable: {e}"}
        return result
    recognizers = [EmailRecognizer(), PhoneRecognizer(), CreditCardRecognizer(), IbanRecognizer(), UsSsnRecognizer(), IpRecognizer()]
    entities = sorted(set(PRESIDIO_KIND.values()))
    sample = max(1, n // 10)  # Presidio is slow: a tenth of the rows, its rate and recall extrapolate
    start = time.perf_counter()
    hits = {col: {} for col in columns}
    scanned = 0
    for col, values in columns.items():
        for value in values[:sample]:
            scanned += len(value.encode())
            kinds = set()
            for recognizer in recognizers:
                for r in recognizer.analyze(value, entities, None) or []:
                    if r.score >= 0.4:
                        kinds.add(r.entity_type)
            for kind in kinds:
                hits[col][kind] = hits[col].get(kind, 0) + 1
    seconds = time.perf_counter() - start
    result["presidio"] = {"rows_scanned": sample, "seconds": seconds, "mb_per_s": scanned / seconds / 1e6,
                          "recall": {col: hits[col].get(kind, 0) / sample for col, kind in PRESIDIO_KIND.items()},
                          "decoy_rows_flagged_per_n": {col: sum(hits[col].values()) * n // sample for col in columns if col not in KIND}}
    return result


# --- encryption ----------------------------------------------------------------------------------------------

def touch_every_byte(table):
    total = 0.0
    for column in table.columns:
        if pa.types.is_string(column.type):
            total += pc.sum(pc.binary_length(column)).as_py() or 0
        elif pa.types.is_fixed_size_list(column.type):
            total += pc.sum(pc.list_flatten(column)).as_py() or 0
        else:
            total += pc.sum(column).as_py() or 0
    return total


def bench_encryption(binary, work, n):
    rng = np.random.default_rng(2)
    table = pa.table({
        "id": pa.array(np.arange(n, dtype=np.int64)),
        "text": pa.array([f"review {i}: {'good' if i % 3 else 'bad'} product, would buy again {i * 7919 % 100003}" for i in range(n)]),
        "score": pa.array(rng.random(n)),
        "emb": pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(n * 16).astype(np.float32)), 16),
    })
    source = os.path.join(work, "enc.arrow")
    write_arrow(table, source)
    key = os.path.join(work, "master.key")
    out = {"rows": n, "bytes": os.path.getsize(source)}
    for name, init in [("plaintext", []), ("encrypted", ["--encrypt", "--key-file", key])]:
        repo = os.path.join(work, f"enc-{name}")
        env = dict(os.environ, LOAM_KEY_FILE=key) if name == "encrypted" else dict(os.environ)
        env.pop("LOAM_MASTER_KEY", None)
        if name == "plaintext":
            env.pop("LOAM_KEY_FILE", None)
        run(binary, "init", repo, *init, env=env)
        imported, _ = run(binary, "import", source, "-d", "t", "-q", "--repo", repo, env=env)
        sql = "SELECT sum(id), sum(score), sum(length(text)), count(emb) FROM t"
        run(binary, "query", sql, "--repo", repo, env=env)  # warm the page cache
        scans = [run(binary, "query", sql, "--repo", repo, env=env)[0] for _ in range(3)]
        os.environ.update({k: v for k, v in env.items() if k == "LOAM_KEY_FILE"})
        if name == "plaintext":
            os.environ.pop("LOAM_KEY_FILE", None)
        import loam
        reads = []
        for _ in range(3):
            start = time.perf_counter()
            touch_every_byte(loam.open(repo).dataset("t").to_arrow())
            reads.append(time.perf_counter() - start)
        out[name] = {"import_seconds": imported, "sql_scan_seconds": min(scans), "python_read_seconds": min(reads)}
    os.environ.pop("LOAM_KEY_FILE", None)
    p, e = out["plaintext"], out["encrypted"]
    out["overhead"] = {k: e[k] / p[k] - 1 for k in p}
    return out


# --- erasure -------------------------------------------------------------------------------------------------

def bench_erasure(binary, work, n, commits=50):
    repo = os.path.join(work, f"erase-{n}")
    run(binary, "init", repo)
    rng = np.random.default_rng(4)
    ids = np.arange(n, dtype=np.int64)
    table = pa.table({
        "user_id": pa.array(ids),
        "email": pa.array([f"user{i}@mail.example" for i in range(n)]),
        "name": pa.array([f"Person {i}" for i in range(n)]),
        "score": pa.array(rng.random(n)),
    })
    source = os.path.join(work, f"users-{n}.arrow")
    write_arrow(table, source)
    imported, _ = run(binary, "import", source, "-d", "users", "-q", "--repo", repo)
    start = time.perf_counter()
    for c in range(commits - 1):
        if c == 10:
            run(binary, "branch", "exp", "--repo", repo)
        if c % 10 == 0:
            run(binary, "tag", f"t{c}", "--repo", repo)
        touched = [42] + [int(x) for x in rng.integers(0, n, 3)]
        run(binary, "query", f"UPDATE users SET score = score + 1 WHERE user_id IN ({', '.join(map(str, touched))})", "--repo", repo)
    history = time.perf_counter() - start
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(repo, ".loam")) for f in fs)
    seconds, out = run(binary, "erase", "users", "--where", "user_id = 42", "--json", "--repo", repo)
    report = json.loads(out)
    verify_seconds, _ = run(binary, "erase", "--check", "user42@mail.example", "--repo", repo)
    return {"rows": n, "commits": commits, "repository_bytes": size, "import_seconds": imported, "history_seconds": history,
            "erase_seconds": seconds, "report": report, "byte_scan_seconds": verify_seconds}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--pii-rows", type=int, default=200_000)
    parser.add_argument("--enc-rows", type=int, default=2_000_000)
    parser.add_argument("--erase-rows", default="1000000,10000000")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="loam-governance-bench-")
    results = {"pii": bench_pii(args.bin, work, args.pii_rows),
               "encryption": bench_encryption(args.bin, work, args.enc_rows),
               "erasure": [bench_erasure(args.bin, work, int(n)) for n in args.erase_rows.split(",")]}
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    os.makedirs("bench/results", exist_ok=True)
    with open(f"bench/results/{stamp}-governance.json", "w") as f:
        json.dump(results, f, indent=2)
    pii, enc = results["pii"], results["encryption"]
    lines = [f"# Governance ({stamp}, one run, release build, 2 cores)", "",
             "## PII detection", "",
             f"{pii['rows']:,} rows × {len(corpus(1))} text columns, {pii['text_bytes'] / 1e6:.1f} MB of text.", "",
             "| | Loam (`loam pii scan`, from storage) | Presidio pattern recognizers (in memory) |", "|---|---|---|"]
    pr = pii.get("presidio", {})
    lines.append(f"| speed | {pii['loam']['mb_per_s']:.1f} MB/s ({pii['loam']['seconds']:.2f} s) | "
                 + (f"{pr['mb_per_s']:.3f} MB/s ({pr['rows_scanned']:,} rows per column) — Loam ×{pii['loam']['mb_per_s'] / pr['mb_per_s']:,.0f} |" if "mb_per_s" in pr else f"{pr.get('skipped', '—')} |"))
    for col in KIND:
        lines.append(f"| recall, {col} | {pii['loam']['recall'][col]:.3f} | {pr.get('recall', {}).get(col, float('nan')):.3f} |")
    for col in pii["loam"]["decoy_rows_flagged"]:
        lines.append(f"| decoy rows flagged, {col} | {pii['loam']['decoy_rows_flagged'][col]:,} | {pr.get('decoy_rows_flagged_per_n', {}).get(col, '—')} |")
    p, e = enc["plaintext"], enc["encrypted"]
    lines += ["", "## Encryption at rest", "",
              f"{enc['rows']:,} rows (id, text, score, a 16-float embedding), {enc['bytes'] / 1e6:.0f} MB as Arrow.", "",
              "| | plaintext | encrypted | overhead |", "|---|---|---|---|",
              f"| import | {p['import_seconds']:.2f} s | {e['import_seconds']:.2f} s | {enc['overhead']['import_seconds'] * 100:+.0f}% |",
              f"| SQL scan of every column (best of 3) | {p['sql_scan_seconds']:.2f} s | {e['sql_scan_seconds']:.2f} s | {enc['overhead']['sql_scan_seconds'] * 100:+.0f}% |",
              f"| Python client: read the table, touch every byte (best of 3) | {p['python_read_seconds']:.2f} s | {e['python_read_seconds']:.2f} s | {enc['overhead']['python_read_seconds'] * 100:+.0f}% |",
              "", "## Erasure from every version", "",
              "| rows | history | repository | erase (one person, every version) | rewritten | byte scan of .loam/ |", "|---|---|---|---|---|---|"]
    for r in results["erasure"]:
        rep = r["report"]
        lines.append(f"| {r['rows']:,} | {r['commits']} commits, 1 branch, 5 tags | {r['repository_bytes'] / 1e6:.0f} MB | {r['erase_seconds']:.2f} s "
                     f"({rep['rows']} row, {rep['copies']} copies) | {rep['fragments']} fragments, {rep['manifests']} manifests | {r['byte_scan_seconds']:.2f} s |")
    with open("bench/results/governance-latest.md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
