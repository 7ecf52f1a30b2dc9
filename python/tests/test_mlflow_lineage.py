"""Lineage from any MLflow run: a Loam dataset read inside `mlflow.start_run()` is logged as the
run's input (mlflow.log_input with a Loam source), against `loam serve` and against MLflow's own
file store, and `loam runs reproduce` gives back the batches the run read."""
import json
import subprocess

import pyarrow.ipc as ipc
import pytest

import loam
from conftest import BACKENDS, LOAM, loam as run, on_backend

mlflow = pytest.importorskip("mlflow")
import loam.mlflow  # noqa: E402  (needs mlflow)
from mlflow.tracking import MlflowClient  # noqa: E402


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, history, tmp_path_factory):
    """The history repository served from the embedded catalog, and cloned onto PostgreSQL + S3 and served from there."""
    with on_backend(request.param, tmp_path_factory.mktemp("lineage") / "repo", source=history) as repo:
        process = subprocess.Popen([LOAM, "serve", "--repo", str(repo), "--port", "0", "--anonymous"], stdout=subprocess.PIPE, text=True)
        url = "http://" + process.stdout.readline().split()[1]
        yield {"repo": repo, "url": url}
        process.kill()


def loam_inputs(run_id):
    got = MlflowClient().get_run(run_id).inputs.dataset_inputs
    return [(json.loads(i.dataset.source), {t.key: t.value for t in i.tags}, i.dataset) for i in got if i.dataset.source_type == "loam"]


def test_a_plain_mlflow_run_records_the_read_and_loam_reproduces_it(server):
    mlflow.set_tracking_uri(server["url"])
    ds = loam.open(str(server["repo"])).dataset("t")
    mlflow.set_experiment("plain-mlflow")
    with mlflow.start_run() as active:
        batches = [b["id"].tolist() for b in ds.to_numpy(["id", "label"], batch_size=128, seed=6, epoch=2)]
        again = [b["id"].tolist() for b in ds.to_numpy(["id", "label"], batch_size=128, seed=6, epoch=2)]
        mlflow.log_input(loam.mlflow.dataset(ds, columns=["label"]), context="eval")
        mlflow.log_metric("loss", 0.5)
    assert again == batches
    inputs = loam_inputs(active.info.run_id)
    assert len(inputs) == 2  # the repeated read is logged once
    (read, tags, entity), (by_hand, hand_tags, _) = inputs
    assert read["dataset"] == "t" and read["commit"] == ds.commit and (read["seed"], read["epoch"], read["batch_size"]) == (6, 2, 128)
    assert read["columns"] == ["id", "label"] and tags["mlflow.data.context"] == "training" and json.loads(tags["loam.read"]) == read
    assert entity.name == "t" and entity.digest == ds.commit[:12] and json.loads(entity.profile) == {"num_rows": len(ds)}
    assert by_hand == {"dataset": "t", "commit": ds.commit, "columns": ["label"]} and hand_tags["mlflow.data.context"] == "eval"

    shown = run("runs", "show", active.info.run_id, repo=server["repo"])
    assert f"t @ {ds.commit[:12]}" in shown and "shuffle seed 6 epoch 2" in shown
    out = str(server["repo"] / "again.arrow")
    run("runs", "reproduce", active.info.run_id, "-o", out, repo=server["repo"])
    table = ipc.open_file(out).read_all()
    rebuilt = [[] for _ in batches]
    for b, i in zip(table.column("batch").to_pylist(), table.column("id").to_pylist()):
        rebuilt[b].append(i)
    assert rebuilt == batches


def test_reads_outside_a_run_log_nothing_and_any_tracking_store_gets_the_record(server, tmp_path, monkeypatch):
    ds = loam.open(str(server["repo"])).dataset("t")
    mlflow.set_tracking_uri(server["url"])
    assert mlflow.active_run() is None
    list(ds.to_numpy(["id"], batch_size=500, seed=1))  # no run: nothing to record, no error
    assert not loam.mlflow.record_read(ds, seed=1)

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    mlflow.set_tracking_uri(f"file:{tmp_path / 'mlruns'}")  # MLflow's own store, no Loam server
    mlflow.set_experiment("file-store")
    with mlflow.start_run() as active:
        list(ds.to_numpy(["id"], batch_size=500, seed=4, epoch=1, rank=1, world_size=2))
    [(read, _, entity)] = loam_inputs(active.info.run_id)
    assert entity.source_type == "loam" and entity.digest == ds.commit[:12]
    assert (read["commit"], read["seed"], read["epoch"], read["rank"], read["world_size"]) == (ds.commit, 4, 1, 1, 2)
