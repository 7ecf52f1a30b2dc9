"""An acknowledged metric is durable: `loam serve` killed with SIGKILL in the middle of a load of
log-metric and log-batch calls keeps, after a restart, every point it answered 200 for."""
import http.client
import json
import signal
import subprocess
import threading
import time

from conftest import LOAM, loam as run


def start(repo):
    process = subprocess.Popen([LOAM, "serve", "--repo", str(repo), "--port", "0", "--anonymous"], stdout=subprocess.PIPE, text=True)
    host, port = process.stdout.readline().split()[1].rsplit(":", 1)
    return process, host, int(port)


def call(connection, path, body):
    connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    assert response.status == 200, data
    return json.loads(data)


def test_every_acknowledged_point_survives_kill_9(tmp_path):
    repo = tmp_path / "repo"
    run("init", str(repo))
    process, host, port = start(repo)
    setup = http.client.HTTPConnection(host, port, timeout=10)
    run_id = call(setup, "/api/2.0/mlflow/runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
    setup.close()

    acknowledged = {}  # series key -> steps answered 200, in order
    lock = threading.Lock()

    def load(worker):
        connection = http.client.HTTPConnection(host, port, timeout=10)
        key = f"w{worker}"
        step = 0
        try:
            while True:
                if worker % 2:
                    body = {"run_id": run_id, "key": key, "value": step * 0.5, "timestamp": 1, "step": step}
                    call(connection, "/api/2.0/mlflow/runs/log-metric", body)
                    steps = [step]
                else:
                    steps = list(range(step, step + 50))
                    body = {"run_id": run_id, "metrics": [{"key": key, "value": s * 0.5, "timestamp": 1, "step": s} for s in steps]}
                    call(connection, "/api/2.0/mlflow/runs/log-batch", body)
                with lock:
                    acknowledged.setdefault(key, []).extend(steps)
                step = steps[-1] + 1
        except (OSError, http.client.HTTPException, AssertionError):
            return  # the server died under us: whatever was in flight was never acknowledged

    threads = [threading.Thread(target=load, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    with lock:
        before = sum(len(v) for v in acknowledged.values())
    process.send_signal(signal.SIGKILL)
    process.wait()
    for t in threads:
        t.join()
    assert before > 100, f"only {before} points were acknowledged before the kill; the load did not run"

    process, host, port = start(repo)
    try:
        connection = http.client.HTTPConnection(host, port, timeout=10)
        lost = {}
        for key, steps in acknowledged.items():
            connection.request("GET", f"/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key={key}&max_results=25000")
            response = connection.getresponse()
            stored = [m["step"] for m in json.loads(response.read())["metrics"]]
            # Every acknowledged point is there, in order; a point in flight at the kill may be there too.
            assert stored[:len(steps)] == steps, key
            missing = set(steps) - set(stored)
            if missing:
                lost[key] = sorted(missing)[:5]
        assert not lost, f"acknowledged points lost: {lost}"
    finally:
        process.kill()
