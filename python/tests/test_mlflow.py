"""The unmodified `mlflow` client (mlflow-skinny) against a real `loam serve`."""
import json
import os
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import BACKENDS, LOAM, loam as run, on_backend

mlflow = pytest.importorskip("mlflow")
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


@pytest.fixture(scope="module", params=BACKENDS)
def tracking(request, tmp_path_factory):
    """A served repository on the embedded catalog, and one on PostgreSQL + S3: every test runs on both."""
    with on_backend(request.param, tmp_path_factory.mktemp("tracking") / "repo") as repo:
        run("user", "add", "ada", repo=repo)
        writer = run("token", "create", "--user", "ada", "--role", "writer", repo=repo).strip()
        reader = run("token", "create", "--user", "ada", "--role", "reader", repo=repo).strip()
        process = subprocess.Popen([LOAM, "serve", "--repo", str(repo), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        url = "http://" + process.stdout.readline().split()[1]
        os.environ["MLFLOW_TRACKING_TOKEN"] = writer
        mlflow.set_tracking_uri(url)
        yield {"url": url, "repo": repo, "writer": writer, "reader": reader}
        process.kill()
        os.environ.pop("MLFLOW_TRACKING_TOKEN", None)


def test_a_training_script_logs_and_reads_back(tracking, tmp_path):
    mlflow.set_experiment("cats")  # get-by-name answers 404, then create
    experiment = mlflow.get_experiment_by_name("cats")
    assert experiment is not None and experiment.name == "cats"
    with mlflow.start_run(run_name="first") as active:
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"layers": 3, "optimizer": "adam"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=4)
        mlflow.set_tag("team", "vision")
        mlflow.set_tags({"data": "v1", "owner": "ada"})
        (tmp_path / "model.txt").write_text("weights")
        (tmp_path / "plots").mkdir()
        (tmp_path / "plots" / "a.csv").write_text("1,2\n")
        mlflow.log_artifact(str(tmp_path / "model.txt"))
        mlflow.log_artifacts(str(tmp_path / "plots"), artifact_path="plots")
        run_id = active.info.run_id
    client = MlflowClient()
    got = client.get_run(run_id)
    assert got.info.status == "FINISHED" and got.info.run_name == "first" and got.info.end_time
    assert got.data.params == {"lr": "0.1", "layers": "3", "optimizer": "adam"}
    assert got.data.metrics == {"loss": 0.2, "acc": 0.9, "f1": 0.8}
    assert got.data.tags["team"] == "vision" and got.data.tags["owner"] == "ada"
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, 1.0 / (s + 1)) for s in range(5)]
    names = sorted(a.path for a in client.list_artifacts(run_id))
    assert names == ["model.txt", "plots"]
    assert [a.path for a in client.list_artifacts(run_id, "plots")] == ["plots/a.csv"]
    downloaded = client.download_artifacts(run_id, "model.txt", str(tmp_path / "down"))
    assert open(downloaded).read() == "weights"


def test_search_runs_with_a_filter_and_an_order(tracking):
    mlflow.set_experiment("sweep")
    for lr in (0.1, 0.01, 0.001):
        with mlflow.start_run():
            mlflow.log_param("lr", lr)
            mlflow.log_metric("rmse", lr * 10)
    client = MlflowClient()
    exp = client.get_experiment_by_name("sweep")
    found = client.search_runs([exp.experiment_id], filter_string="metrics.rmse < 0.5 and params.lr != '0.1'", order_by=["metrics.rmse ASC"])
    assert [r.data.params["lr"] for r in found] == ["0.001", "0.01"]
    found = client.search_runs([exp.experiment_id], order_by=["metrics.rmse DESC"], max_results=2)
    assert [r.data.metrics["rmse"] for r in found] == [1.0, 0.1] and found.token  # a second page exists
    rest = client.search_runs([exp.experiment_id], order_by=["metrics.rmse DESC"], max_results=2, page_token=found.token)
    assert [r.data.metrics["rmse"] for r in rest] == [0.01] and not rest.token
    assert len(client.search_runs([exp.experiment_id], "attributes.status = 'FINISHED'", max_results=1)) == 1
    assert len(client.search_runs([exp.experiment_id], "params.lr LIKE '0.0%'")) == 2
    with pytest.raises(MlflowException):
        client.search_runs([exp.experiment_id], "metrics.rmse << 1")


def test_failures_and_the_errors_the_client_expects(tracking):
    client = MlflowClient()
    assert client.get_experiment_by_name("no such experiment") is None  # a missing experiment reads as missing
    with pytest.raises(MlflowException) as missing:
        client.get_run("0" * 32)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    mlflow.set_experiment("failures")
    with pytest.raises(RuntimeError):
        with mlflow.start_run() as active:
            failed = active.info.run_id
            raise RuntimeError("training crashed")
    assert client.get_run(failed).info.status == "FAILED"
    with mlflow.start_run() as active:
        mlflow.log_param("x", 1)
        mlflow.log_param("x", 1)  # the same value again is fine
        with pytest.raises(MlflowException) as changed:
            mlflow.log_param("x", 2)
        assert changed.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException):
        client.create_experiment("failures")  # exists
    exp = client.get_experiment_by_name("failures")
    client.delete_experiment(exp.experiment_id)
    assert client.get_experiment(exp.experiment_id).lifecycle_stage == "deleted"
    client.restore_experiment(exp.experiment_id)
    assert client.get_experiment(exp.experiment_id).lifecycle_stage == "active"


def test_batches_and_their_limits(tracking):
    from mlflow.entities import Metric, Param, RunTag
    client = MlflowClient()
    exp = client.create_experiment("batches")
    run_ = client.create_run(exp)
    client.log_batch(run_.info.run_id, metrics=[Metric("m", float(i), 1000 + i, i) for i in range(1000)],
                     params=[Param(f"p{i}", str(i)) for i in range(100)], tags=[RunTag("t", "v")])
    assert len(client.get_metric_history(run_.info.run_id, "m")) == 1000
    import requests
    too_many = {"run_id": run_.info.run_id, "params": [{"key": f"q{i}", "value": "1"} for i in range(101)]}
    answer = requests.post(tracking["url"] + "/api/2.0/mlflow/runs/log-batch", json=too_many,
                           headers={"Authorization": f"Bearer {tracking['writer']}"})
    assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    readonly = requests.post(tracking["url"] + "/api/2.0/mlflow/runs/log-metric",
                             json={"run_id": run_.info.run_id, "key": "m", "value": 1, "timestamp": 1},
                             headers={"Authorization": f"Bearer {tracking['reader']}"})
    assert readonly.status_code == 403 and readonly.json()["error_code"] == "PERMISSION_DENIED"
    assert requests.get(tracking["url"] + "/api/2.0/mlflow/runs/get", params={"run_id": run_.info.run_id}).status_code == 401


def test_experiment_search_and_bulk_history(tracking):
    import requests
    client = MlflowClient()
    names = [e.name for e in client.search_experiments(filter_string="name LIKE 'sw%'")]
    assert names == ["sweep"]
    exp = client.create_experiment("bulk")
    runs = [client.create_run(exp).info.run_id for _ in range(2)]
    for r, run_id in enumerate(runs):
        for step in range(100):
            client.log_metric(run_id, "loss", step + r, step=step)
    answer = requests.get(tracking["url"] + "/api/2.0/mlflow/metrics/get-history-bulk-interval",
                          params={"run_ids": runs, "metric_key": "loss", "start_step": 10, "end_step": 59, "max_results": 5},
                          headers={"Authorization": f"Bearer {tracking['reader']}"})
    assert answer.status_code == 200
    points = answer.json()["metrics"]
    for r, run_id in enumerate(runs):
        mine = [p for p in points if p["run_id"] == run_id]
        assert [p["step"] for p in mine] == [10, 22, 34, 46, 59]  # spread evenly (index k·49/4), first and last kept
        assert all(p["value"] == p["step"] + r for p in mine)
    history = client.get_metric_history(runs[0], "loss")
    assert len(history) == 100


def test_nan_and_infinite_values_and_malformed_metrics(tracking):
    import math
    import requests
    client = MlflowClient()
    run_id = client.create_run(client.create_experiment("odd values")).info.run_id
    for step, value in enumerate([float("nan"), float("inf"), float("-inf"), 0.5]):
        client.log_metric(run_id, "g", value, step=step)
    values = [m.value for m in client.get_metric_history(run_id, "g")]
    assert math.isnan(values[0]) and values[1:] == [float("inf"), float("-inf"), 0.5]
    client.log_metric(run_id, "h", float("nan"), step=7)
    assert math.isnan(client.get_run(run_id).data.metrics["h"])
    headers = {"Authorization": f"Bearer {tracking['writer']}"}
    # One bad metric rejects the whole batch, by name; the points before it are not written either.
    bad = {"run_id": run_id, "metrics": [{"key": "k", "value": 1, "timestamp": 1}, {"key": "k", "value": "high", "timestamp": 2}]}
    answer = requests.post(tracking["url"] + "/api/2.0/mlflow/runs/log-batch", json=bad, headers=headers)
    assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE" and "'k'" in answer.json()["message"]
    assert client.get_metric_history(run_id, "k") == []
    answer = requests.post(tracking["url"] + "/api/2.0/mlflow/runs/log-metric", data="[1, 2]", headers=headers)
    assert answer.status_code == 400 and answer.json()["error_code"] == "MALFORMED_REQUEST"
    answer = requests.post(tracking["url"] + "/api/2.0/mlflow/runs/log-metric", json={"run_id": run_id, "key": "k", "value": 1}, headers=headers)
    assert answer.status_code == 400 and "timestamp" in answer.json()["message"]
    answer = requests.post(tracking["url"] + "/api/2.0/mlflow/runs/log-metric", json={"run_id": run_id, "key": "k", "value": 1, "timestamp": 1.5},
                           headers=headers)
    assert answer.status_code == 400 and answer.json()["message"] == "metric 'k': timestamp must be an integer"
    client.log_metric(run_id, "k", 3.0, step=1)
    assert [m.value for m in client.get_metric_history(run_id, "k")] == [3.0]


def test_routes_not_served_answer_in_mlflows_error_shape(tracking):
    """Routes Loam does not serve (GenAI traces, an unknown path) answer MLflow's ENDPOINT_NOT_FOUND, never
    a parse failure or an INTERNAL_ERROR."""
    for method, path in [("POST", "/api/2.0/mlflow/traces/search"), ("POST", "/api/2.0/mlflow/no-such-route")]:
        req = urllib.request.Request(tracking["url"] + path, data=b"{}", method=method,
                                     headers={"Authorization": f"Bearer {tracking['writer']}", "Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as http:
            urllib.request.urlopen(req)
        assert http.value.code == 404 and json.loads(http.value.read())["error_code"] == "ENDPOINT_NOT_FOUND", path


def test_a_reader_token_may_search_but_not_write(tracking):
    """Searches are POSTs in MLflow's API; a reader token runs them, and a write is PERMISSION_DENIED."""
    os.environ["MLFLOW_TRACKING_TOKEN"] = tracking["reader"]
    try:
        client = MlflowClient()
        assert client.search_runs(["0"]) is not None and client.search_experiments() is not None
        with pytest.raises(MlflowException) as denied:
            client.create_registered_model("not-allowed")
        assert denied.value.error_code == "PERMISSION_DENIED"
    finally:
        os.environ["MLFLOW_TRACKING_TOKEN"] = tracking["writer"]
