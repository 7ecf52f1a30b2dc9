"""Loam's own run API: background-batched logging, and lineage from the data a run reads to
`loam runs show / compare / reproduce`."""
import json
import shutil
import subprocess

import numpy as np
import pyarrow.ipc as ipc
import pytest

import loam
from conftest import LOAM, loam as run


@pytest.fixture(scope="module")
def served(history, tmp_path_factory):
    repo = tmp_path_factory.mktemp("runs") / "repo"
    shutil.copytree(history, repo)
    process = subprocess.Popen([LOAM, "serve", "--repo", str(repo), "--port", "0", "--anonymous"], stdout=subprocess.PIPE, text=True)
    url = "http://" + process.stdout.readline().split()[1]
    yield {"repo": repo, "client": loam.connect(url)}
    process.kill()


def get_run(client, run_id):
    return json.loads(client.request("GET", "/api/2.0/mlflow/runs/get", {"run_id": run_id})[2])["run"]


def test_a_run_records_metrics_params_and_the_data_it_read(served):
    client = served["client"]
    ds = client.dataset("t")
    with client.start_run("lineage", params={"lr": 0.1, "layers": 2}, run_name="first") as active:
        batches = [b["id"].tolist() for b in ds.to_numpy(["id", "emb"], batch_size=100, seed=3, epoch=1)]
        for step, _ in enumerate(batches):
            active.log_metric("loss", 1.0 / (step + 1), step=step)
        active.set_tag("team", "vision")
    record = get_run(client, active.id)
    assert record["info"]["status"] == "FINISHED"
    assert {p["key"]: p["value"] for p in record["data"]["params"]} == {"lr": "0.1", "layers": "2"}
    history = json.loads(client.request("GET", "/api/2.0/mlflow/metrics/get-history", {"run_id": active.id, "metric_key": "loss"})[2])["metrics"]
    assert [m["step"] for m in history] == list(range(len(batches)))  # every point, in order
    read = json.loads(record["inputs"]["dataset_inputs"][0]["dataset"]["source"])
    assert read["dataset"] == "t" and read["commit"] == ds.commit and read["seed"] == 3 and read["epoch"] == 1 and read["batch_size"] == 100

    shown = run("runs", "show", active.id[:10], repo=served["repo"])
    assert "lr=0.1" in shown and f"t @ {ds.commit[:12]}" in shown and "shuffle seed 3 epoch 1" in shown

    out = str(served["repo"] / "reproduced.arrow")
    run("runs", "reproduce", active.id, "-o", out, repo=served["repo"])
    table = ipc.open_file(out).read_all()
    again = [[] for _ in batches]
    for b, i in zip(table.column("batch").to_pylist(), table.column("id").to_pylist()):
        again[b].append(i)
    assert again == batches  # exactly the rows, in exactly the order, batch by batch
    assert table.column("emb").type == ds.schema.field("emb").type


def test_failed_runs_compare_and_list(served):
    client = served["client"]
    with pytest.raises(ValueError):
        with client.start_run("lineage", params={"lr": 0.01}, run_name="second") as failing:
            next(client.dataset("t").to_numpy(["id"], batch_size=50, seed=4, epoch=0))
            failing.log_metric("loss", 0.5)
            raise ValueError("diverged")
    assert get_run(client, failing.id)["info"]["status"] == "FAILED"
    listed = run("runs", "list", "--experiment", "lineage", repo=served["repo"])
    assert "first" in listed and "second" in listed and "FAILED" in listed
    filtered = run("runs", "list", "--filter", "params.lr = '0.01'", repo=served["repo"])
    assert "second" in filtered and "first" not in filtered
    runs = json.loads(client.request("POST", "/api/2.0/mlflow/runs/search", body={"experiment_ids": [
        json.loads(client.request("GET", "/api/2.0/mlflow/experiments/get-by-name", {"experiment_name": "lineage"})[2])["experiment"]["experiment_id"]]})[2])["runs"]
    ids = [r["info"]["run_id"] for r in runs]
    compared = run("runs", "compare", *ids, repo=served["repo"])
    assert "params.lr" in compared and "≠" in compared and "seed 3 epoch 1" in compared and "seed 4 epoch 0" in compared


def test_local_repositories_point_to_the_server(history):
    with pytest.raises(loam.LoamError, match="loam serve"):
        loam.open(history).start_run("x")


def test_a_failed_background_flush_is_reported_not_lost(served):
    client = served["client"]
    with pytest.raises(loam.ServerError, match="write-once") as failure:
        with client.start_run("lineage", params={"lr": 0.1}, flush_seconds=0.05) as active:
            active.flush()
            active.log_param("lr", 0.2)  # rejected by the server when the background thread sends it
            import time
            time.sleep(0.3)
    assert failure.value.code == "INVALID_PARAMETER_VALUE"
    record = get_run(client, active.id)
    assert {p["key"]: p["value"] for p in record["data"]["params"]} == {"lr": "0.1"}
    assert record["info"]["status"] in ("FINISHED", "FAILED") and record["info"]["end_time"]
