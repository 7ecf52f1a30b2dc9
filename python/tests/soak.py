"""Soak test: several clients read, write, query and track against a real `loam serve` while
the server is killed with SIGKILL and restarted every minute (and CLI writers are killed mid-write).
At the end every acknowledged write must be there, `loam fsck` must be clean, and the server's
memory must have stayed bounded. Prints one JSON summary; exit status 1 on any loss.

    python soak.py --loam .build/release/loam --minutes 10
"""
import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request


class Server:
    def __init__(self, loam, repo, port):
        self.loam, self.repo, self.port = loam, repo, port
        self.process = None
        self.peak_rss_kb = 0
        self.restarts = 0

    def start(self):
        self.process = subprocess.Popen([self.loam, "serve", "--repo", self.repo, "--port", str(self.port)],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("Serving"):
            raise RuntimeError(f"server did not start: {line!r}")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def restart(self):
        self.kill()
        for _ in range(100):  # the port is free at once (close-on-exec, SO_REUSEADDR); retry briefly anyway
            try:
                self.start()
                break
            except RuntimeError:
                time.sleep(0.1)
        self.restarts += 1

    def sample_memory(self):
        try:
            with open(f"/proc/{self.process.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        self.peak_rss_kb = max(self.peak_rss_kb, int(line.split()[1]))
        except OSError:
            pass


def call(port, token, method, path, body):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method=method,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}") if "json" in response.headers.get("Content-Type", "") else response.read()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--loam", required=True)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="loam-soak-")
    repo = os.path.join(work, "repo")
    env = dict(os.environ, LOAM_REPO=repo)

    def loam(*argv, check=True):
        done = subprocess.run([args.loam, *argv], capture_output=True, text=True, env=env)
        if check and done.returncode != 0:
            raise RuntimeError(f"loam {' '.join(argv)}: {done.stderr}")
        return done

    loam("init", repo)
    with open(os.path.join(work, "c.csv"), "w") as f:
        f.write("id,n\n" + "".join(f"{i},0\n" for i in range(8)))
    loam("import", os.path.join(work, "c.csv"), "-d", "counter", "-q")
    with open(os.path.join(work, "l.csv"), "w") as f:
        f.write("writer,seq\n-1,-1\n")
    loam("import", os.path.join(work, "l.csv"), "-d", "log", "-q")
    loam("user", "add", "soak")
    token = loam("token", "create", "--user", "soak", "--role", "admin").stdout.strip()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = Server(args.loam, repo, port)
    server.start()
    run_id = call(port, token, "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": "0", "start_time": 1})["run"]["info"]["run_id"]

    deadline = time.monotonic() + args.minutes * 60
    lock = threading.Lock()
    acked_rows, acked_increments, attempted_increments, acked_metrics = set(), [0] * 8, [0] * 8, set()
    counts = {"http_writes": 0, "cli_writes": 0, "cli_killed": 0, "reads": 0, "metrics": 0, "errors_during_restart": 0}
    unexpected = []

    def note(kind):
        with lock:
            counts[kind] += 1

    def looping(name, action):
        """A client: `action(1)`, `action(2)`, … until the deadline; a refused connection (the server
        is restarting) is expected, any HTTP error is not."""
        def body():
            i = 0
            while time.monotonic() < deadline:
                i += 1
                try:
                    action(i)
                except urllib.error.HTTPError as error:
                    unexpected.append(f"{name}: HTTP {error.code} {error.read()[:200]!r}")
                except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                    note("errors_during_restart")
                    time.sleep(0.2)
        return body

    def http_write(w, seq):
        if seq % 2:
            call(port, token, "POST", "/api/v1/query", {"sql": f"INSERT INTO log VALUES ({w}, {seq})"})
            with lock:
                acked_rows.add((w, seq))
        else:
            with lock:
                attempted_increments[w] += 1
            call(port, token, "POST", "/api/v1/query", {"sql": f"UPDATE counter SET n = n + 1 WHERE id = {w}"})
            with lock:
                acked_increments[w] += 1
        note("http_writes")

    def cli_writer(w):
        seq = 0
        while time.monotonic() < deadline:
            seq += 1
            process = subprocess.Popen([args.loam, "query", f"INSERT INTO log VALUES ({w}, {seq})"], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if rng.random() < 0.1:  # killed mid-write: it was never acknowledged, so it may or may not land
                time.sleep(rng.random() * 0.05)
                process.send_signal(signal.SIGKILL)
                process.wait()
                note("cli_killed")
                continue
            _, err = process.communicate()
            if process.returncode == 0:
                with lock:
                    acked_rows.add((w, seq))
                note("cli_writes")
            else:
                unexpected.append(f"cli writer {w}: {err.strip()[:200]}")

    def read(_):
        sql = rng.choice(["SELECT count(*) FROM log", "SELECT writer, max(seq) FROM log GROUP BY writer ORDER BY writer",
                          "SELECT sum(n) FROM counter", "SELECT * FROM log ORDER BY seq DESC LIMIT 5"])
        call(port, token, "POST", "/api/v1/query", {"sql": sql})
        note("reads")

    def track(step):
        call(port, token, "POST", "/api/2.0/mlflow/runs/log-metric",
             {"run_id": run_id, "key": "loss", "value": 1.0 / step, "timestamp": step, "step": step})
        with lock:
            acked_metrics.add(step)
        note("metrics")

    threads = [threading.Thread(target=looping(f"writer {w}", lambda seq, w=w: http_write(w, seq))) for w in range(3)]
    threads += [threading.Thread(target=cli_writer, args=(w,)) for w in (100, 101)]
    threads += [threading.Thread(target=looping("reader", read)) for _ in range(2)] + [threading.Thread(target=looping("tracker", track))]
    for t in threads:
        t.start()
    next_kill = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(1)
        server.sample_memory()
        if time.monotonic() >= next_kill:
            server.restart()
            next_kill += 60
    for t in threads:
        t.join()
    server.kill()

    # Verify on the repository itself, with no server.
    rows = loam("query", "SELECT writer, seq FROM log", "--format", "csv").stdout.strip().splitlines()[1:]
    present = {tuple(int(x) for x in line.split(",")) for line in rows}
    lost_rows = sorted(acked_rows - present)
    duplicates = len(rows) - len(present)
    counters = loam("query", "SELECT id, n FROM counter ORDER BY id", "--format", "csv").stdout.strip().splitlines()[1:]
    n = {int(a): int(b) for a, b in (line.split(",") for line in counters)}
    lost_increments = [w for w in range(3) if not (acked_increments[w] <= n[w] <= attempted_increments[w])]
    server.start()
    logged, page = set(), ""
    while True:  # get-history answers in pages
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=loss"
                                         f"&max_results=25000&page_token={page}", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            history = json.loads(response.read())
        logged |= {int(m["step"]) for m in history.get("metrics", [])}
        page = history.get("next_page_token")
        if not page:
            break
    server.kill()
    lost_metrics = sorted(acked_metrics - logged)
    fsck = loam("fsck", check=False)
    summary = {"minutes": args.minutes, "server_restarts": server.restarts, **counts,
               "acknowledged_rows": len(acked_rows), "lost_rows": len(lost_rows), "duplicate_rows": duplicates,
               "acknowledged_increments": sum(acked_increments), "counter_violations": lost_increments,
               "acknowledged_metrics": len(acked_metrics), "lost_metrics": len(lost_metrics),
               "fsck_clean": fsck.returncode == 0, "server_peak_rss_mb": round(server.peak_rss_kb / 1024, 1),
               "unexpected_errors": len(unexpected)}
    print(json.dumps(summary))
    for line in unexpected[:10]:
        print("UNEXPECTED", line, file=sys.stderr)
    if lost_rows:
        print("LOST", lost_rows[:20], file=sys.stderr)
    ok = not lost_rows and not duplicates and not lost_increments and not lost_metrics and fsck.returncode == 0 and not unexpected
    subprocess.run(["rm", "-rf", work])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
