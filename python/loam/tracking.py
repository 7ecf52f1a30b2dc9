"""Experiment tracking from Python, with lineage: `repo.start_run(...)` on a `loam.connect(...)` repository.

    with repo.start_run("cats", params={"lr": 0.1}) as run:
        for batch in repo.dataset("train").to_numpy(["x", "y"], seed=1, epoch=0):   # recorded as the run's input
            ...
            run.log_metric("loss", loss, step=step)                                 # batched in the background

Metrics, params and tags are queued and sent as MLflow log-batch calls from a background
thread (at most every `flush_seconds`, 1,000 metrics a call), so logging never waits on the
network. A dataset read while the run is active records its name, commit, columns, shuffle
seed, epoch, batch size and shard as an input of the run: `loam runs show RUN` prints it and
`loam runs reproduce RUN` gives back the same batches. Inside a plain `mlflow.start_run()` the
same record is logged with `mlflow.log_input` (loam.mlflow).
"""
import contextvars
import sys
import json
import threading
import time

from .errors import ServerError

_active = contextvars.ContextVar("loam_active_run", default=None)


def active_run():
    """The run a `with repo.start_run(...)` block has open in this context, if any."""
    return _active.get()


class Run:
    def __init__(self, repo, experiment, run_name=None, params=None, tags=None, flush_seconds=0.5):
        self._repo = repo
        exp = self._call("GET", "/api/2.0/mlflow/experiments/get-by-name", {"experiment_name": experiment}, missing_ok=True)
        if exp is None:
            experiment_id = self._call("POST", "/api/2.0/mlflow/experiments/create", {"name": experiment})["experiment_id"]
        else:
            experiment_id = exp["experiment"]["experiment_id"]
        body = {"experiment_id": experiment_id, "start_time": int(time.time() * 1000),
                "tags": [{"key": k, "value": str(v)} for k, v in (tags or {}).items()]}
        if run_name:
            body["run_name"] = run_name
        info = self._call("POST", "/api/2.0/mlflow/runs/create", body)["run"]["info"]
        self.id, self.experiment_id, self.name = info["run_id"], experiment_id, info["run_name"]
        self._metrics, self._params, self._tags = [], [], []
        self._lock = threading.Lock()
        self._sending = threading.Lock()  # one flush at a time, so batches arrive in the order they were logged
        self._wake = threading.Event()
        self._closed = False
        self._error = None
        self._recorded = set()
        self._flush_seconds = flush_seconds
        self._thread = threading.Thread(target=self._loop, name=f"loam-run-{self.id[:8]}", daemon=True)
        self._thread.start()
        for key, value in (params or {}).items():
            self.log_param(key, value)
        self._token = None

    def _call(self, method, path, body, missing_ok=False):
        try:
            if method == "GET":
                return json.loads(self._repo.request("GET", path, body)[2])
            return json.loads(self._repo.request(method, path, body=body)[2] or b"{}")
        except ServerError as e:
            if missing_ok and e.status == 404:
                return None
            raise

    # --- logging ---------------------------------------------------------------------------------

    def log_metric(self, key, value, step=0, timestamp=None):
        with self._lock:
            self._metrics.append({"key": key, "value": float(value), "step": int(step),
                                  "timestamp": int(timestamp if timestamp is not None else time.time() * 1000)})
            if len(self._metrics) >= 1000:
                self._wake.set()

    def log_metrics(self, metrics, step=0):
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def log_param(self, key, value):
        with self._lock:
            self._params.append({"key": key, "value": str(value)})

    def log_params(self, params):
        for key, value in params.items():
            self.log_param(key, value)

    def set_tag(self, key, value):
        with self._lock:
            self._tags.append({"key": key, "value": str(value)})

    def record_input(self, dataset, **read):
        """Records a dataset read (done for you by the loaders while the run is active)."""
        source = {"dataset": dataset.name, "commit": dataset.commit, **read}
        key = json.dumps(source, sort_keys=True)
        if key in self._recorded:
            return
        self._recorded.add(key)
        self.flush()
        self._call("POST", "/api/2.0/mlflow/runs/log-inputs", {"run_id": self.id, "datasets": [{
            "tags": [{"key": "loam.read", "value": key}],
            "dataset": {"name": dataset.name, "digest": dataset.commit[:12], "source_type": "loam", "source": key,
                        "schema": json.dumps({"columns": list(read.get("columns") or dataset.schema.names)})}}]})

    def _take(self):
        with self._lock:
            metrics, self._metrics = self._metrics[:1000], self._metrics[1000:]
            params, self._params = self._params[:100], self._params[100:]
            tags, self._tags = self._tags[:100], self._tags[100:]
            return metrics, params, tags

    def flush(self):
        """Sends everything queued, in order (log-batch calls of at most 1,000 metrics)."""
        with self._sending:
            while True:
                metrics, params, tags = self._take()
                if not (metrics or params or tags):
                    break
                self._call("POST", "/api/2.0/mlflow/runs/log-batch", {"run_id": self.id, "metrics": metrics, "params": params, "tags": tags})

    def _loop(self):
        while not self._closed:
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception as error:  # reported by end()
                self._error = error
                return

    def end(self, status="FINISHED"):
        self._closed = True
        self._wake.set()
        self._thread.join()
        if self._error is None:
            self.flush()
        self._call("POST", "/api/2.0/mlflow/runs/update", {"run_id": self.id, "status": status, "end_time": int(time.time() * 1000)})
        if self._error is not None:
            raise self._error

    def __enter__(self):
        self._token = _active.set(self)
        return self

    def __exit__(self, kind, error, trace):
        _active.reset(self._token)
        self.end("FAILED" if kind is not None else "FINISHED")
        return False


def note_read(dataset, **read):
    """Records a training read as an input of the active run, when there is one: a `repo.start_run`
    block's, else MLflow's active run (any tracking server; see loam.mlflow) when mlflow is in use."""
    run = _active.get()
    if run is not None:
        run.record_input(dataset, **read)
    elif "mlflow" in sys.modules:
        from .mlflow import record_read
        record_read(dataset, **read)
