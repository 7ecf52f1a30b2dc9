"""MLflow models against a real `loam serve`, through the unmodified client: `mlflow.sklearn.log_model`
and autolog (MLflow 3's logged models), the model registry (versions, aliases, tags, stages) and
`mlflow.pyfunc.load_model("models:/name@alias")`, with each model's lineage back to the data commit."""
import json
import subprocess
import urllib.error
import urllib.request

import numpy as np
import pytest

import loam
from conftest import BACKENDS, LOAM, loam as run, on_backend

mlflow = pytest.importorskip("mlflow")
sklearn = pytest.importorskip("sklearn")
pytest.importorskip("skops")  # mlflow.sklearn's default serialization
import loam.mlflow  # noqa: E402,F401  (lineage from plain MLflow runs)
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, history, tmp_path_factory):
    """The history repository served from the embedded catalog, and cloned onto PostgreSQL + S3 and served from there."""
    with on_backend(request.param, tmp_path_factory.mktemp("models") / "repo", source=history) as repo:
        process = subprocess.Popen([LOAM, "serve", "--repo", str(repo), "--port", "0", "--anonymous"], stdout=subprocess.PIPE, text=True)
        url = "http://" + process.stdout.readline().split()[1]
        mlflow.set_tracking_uri(url)
        yield {"repo": repo, "url": url, "dataset": loam.open(str(repo)).dataset("t")}
        process.kill()


def training_data(ds):
    """Embeddings → label, read from Loam inside the active run (so the run records the read)."""
    batches = list(ds.to_numpy(["emb", "label"], batch_size=5000, seed=2))
    return np.concatenate([b["emb"] for b in batches]), np.concatenate([b["label"] for b in batches])


def error_code(call):
    with pytest.raises(MlflowException) as failure:
        call()
    return failure.value.error_code


def test_log_model_register_alias_and_load_by_alias_with_lineage(server):
    ds = server["dataset"]
    mlflow.set_experiment("models")
    with mlflow.start_run() as active:
        X, y = training_data(ds)
        model = LogisticRegression(max_iter=500).fit(X, y)
        info = mlflow.sklearn.log_model(model, name="clf", input_example=X[:2])
    client = MlflowClient()
    logged = client.get_logged_model(info.model_id)
    assert logged.source_run_id == active.info.run_id and logged.status.to_int() == 2 and logged.name == "clf"  # READY
    assert logged.artifact_location.endswith(f"/models/{info.model_id}/artifacts")
    assert "MLmodel" in {a.path for a in client.list_logged_model_artifacts(info.model_id)}
    assert [o.model_id for o in client.get_run(active.info.run_id).outputs.model_outputs] == [info.model_id]
    assert (mlflow.sklearn.load_model(info.model_uri).predict(X) == model.predict(X)).all()

    version = mlflow.register_model(info.model_uri, "sentiment")
    assert version.version == "1" and version.run_id == active.info.run_id  # (MLflow's client drops model_id from the reply)
    client.set_registered_model_alias("sentiment", "champion", version.version)
    assert client.get_model_version_by_alias("sentiment", "champion").version == "1"
    pyfunc = mlflow.pyfunc.load_model("models:/sentiment@champion")
    assert (pyfunc.predict(X[:50]) == model.predict(X[:50])).all()
    with urllib.request.urlopen(f"{server['url']}/api/2.0/mlflow/logged-models/{info.model_id}") as reply:  # the client drops registrations
        assert json.loads(reply.read())["model"]["info"]["registrations"] == [{"name": "sentiment", "version": "1"}]

    # Lineage: the version → its run → the exact data commit and read the run trained on.
    shown = run("models", "show", "sentiment@champion", repo=server["repo"])
    assert "sentiment v1  @champion" in shown and info.model_id in shown and active.info.run_id in shown
    assert f"t @ {ds.commit[:12]}" in shown and "shuffle seed 2" in shown
    runs_show = run("runs", "show", active.info.run_id, repo=server["repo"])
    assert info.model_id in runs_show and "registered as sentiment v1" in runs_show
    assert "sentiment" in run("models", "list", repo=server["repo"])


def test_autolog_logs_metrics_and_a_model_with_them(server):
    ds = server["dataset"]
    mlflow.set_experiment("autolog")
    mlflow.sklearn.autolog(log_input_examples=False, silent=True)
    try:
        with mlflow.start_run() as active:
            X, y = training_data(ds)
            LogisticRegression(max_iter=500).fit(X, y)
    finally:
        mlflow.sklearn.autolog(disable=True)
    client = MlflowClient()
    metrics = client.get_run(active.info.run_id).data.metrics
    assert 0 <= metrics["training_accuracy_score"] <= 1 and "training_log_loss" in metrics
    [model] = client.search_logged_models(experiment_ids=[active.info.experiment_id])
    assert model.source_run_id == active.info.run_id
    assert {m.key for m in model.metrics} >= {"training_accuracy_score"}
    found = client.search_logged_models(experiment_ids=[active.info.experiment_id], filter_string="metrics.training_accuracy_score >= 0")
    assert [m.model_id for m in found] == [model.model_id]
    assert client.search_logged_models(experiment_ids=[active.info.experiment_id], filter_string="name = 'no such model'") == []


def test_the_registry_versions_tags_stages_renames_and_errors(server):
    client = MlflowClient()
    mlflow.set_experiment("registry")
    with mlflow.start_run():
        X, y = training_data(server["dataset"])
        first = mlflow.sklearn.log_model(LogisticRegression(max_iter=200).fit(X, y), name="a")
        second = mlflow.sklearn.log_model(LogisticRegression(C=0.1, max_iter=200).fit(X, y), name="b")
    client.create_registered_model("ranker", tags={"team": "search"}, description="first cut")
    assert error_code(lambda: client.create_registered_model("ranker")) == "RESOURCE_ALREADY_EXISTS"
    v1 = client.create_model_version("ranker", first.model_uri, model_id=first.model_id)
    v2 = client.create_model_version("ranker", second.model_uri, model_id=second.model_id, tags={"note": "smaller C"})
    assert (v1.version, v2.version) == ("1", "2")
    client.set_model_version_tag("ranker", "1", "validated", "yes")
    client.update_model_version("ranker", "2", description="regularized")
    got = client.get_model_version("ranker", "2")
    assert got.description == "regularized" and got.tags == {"note": "smaller C"} and got.source == second.model_uri
    assert client.get_model_version_download_uri("ranker", "1").endswith(f"/models/{first.model_id}/artifacts")

    client.transition_model_version_stage("ranker", "1", "Production")
    client.transition_model_version_stage("ranker", "2", "Production", archive_existing_versions=True)
    assert client.get_model_version("ranker", "1").current_stage == "Archived"
    assert [v.version for v in client.get_latest_versions("ranker", stages=["Production"])] == ["2"]

    client.set_registered_model_alias("ranker", "prod", "2")
    assert error_code(lambda: client.set_registered_model_alias("ranker", "latest", "1")) == "INVALID_PARAMETER_VALUE"
    assert error_code(lambda: client.set_registered_model_alias("ranker", "x", "9")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.get_model_version("ranker", "7")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.create_model_version("ranker", "models:/m-0000", model_id="m-0000")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.create_model_version("ranker", first.model_uri)) == "INVALID_PARAMETER_VALUE"  # model_id must name it

    found = client.search_model_versions("name = 'ranker' and tags.note = 'smaller C'")
    assert [v.version for v in found] == ["2"]
    assert [m.name for m in client.search_registered_models("name LIKE 'rank%'")] == ["ranker"]
    registered = client.get_registered_model("ranker")
    assert registered.tags == {"team": "search"} and registered.aliases == {"prod": "2"}

    client.rename_registered_model("ranker", "ranker-v2")
    assert client.get_model_version("ranker-v2", "2").aliases == ["prod"]
    assert error_code(lambda: client.get_registered_model("ranker")) == "RESOURCE_DOES_NOT_EXIST"
    client.delete_model_version("ranker-v2", "2")  # its alias goes with it
    assert client.get_registered_model("ranker-v2").aliases == {}
    v3 = client.create_model_version("ranker-v2", second.model_uri, model_id=second.model_id)
    assert v3.version == "3"  # numbers are never reused
    client.delete_registered_model("ranker-v2")
    assert client.search_registered_models("name = 'ranker-v2'") == []


def test_search_ordering_null_and_dataset_filters_and_the_run_root(server, tmp_path):
    client = MlflowClient()
    for name in ["zeta", "alpha", "mid"]:
        client.create_experiment(f"order-{name}")
    names = [e.name for e in client.search_experiments(filter_string="name LIKE 'order-%'", order_by=["name ASC"])]
    assert names == ["order-alpha", "order-mid", "order-zeta"]
    newest_first = [e.name for e in client.search_experiments(filter_string="name LIKE 'order-%'")]
    assert newest_first == ["order-mid", "order-alpha", "order-zeta"]  # MLflow's default: creation time, newest first

    mlflow.set_experiment("filters")
    with mlflow.start_run() as tagged:
        mlflow.set_tag("reviewed", "yes")
        training_data(server["dataset"])
        (tmp_path / "notes.txt").write_text("hello")
        mlflow.log_artifact(str(tmp_path / "notes.txt"))
    with mlflow.start_run() as plain:
        pass
    experiment = [tagged.info.experiment_id]
    ids = lambda f: {r.info.run_id for r in client.search_runs(experiment, filter_string=f)}  # noqa: E731
    assert ids("tags.reviewed IS NULL") == {plain.info.run_id}
    assert ids("tags.reviewed IS NOT NULL") == {tagged.info.run_id}
    assert ids("datasets.name = 't'") == {tagged.info.run_id}
    assert ids("datasets.context = 'training'") == {tagged.info.run_id}
    assert [a.path for a in client.list_artifacts(tagged.info.run_id, ".")] == ["./notes.txt"]  # the client joins "." itself
    out = client.download_artifacts(tagged.info.run_id, ".", str(tmp_path / "down"))
    assert open(f"{out}/notes.txt").read() == "hello"


def test_wrongly_typed_fields_get_mlflows_validation_error(server):
    def post(path, body):
        req = urllib.request.Request(server["url"] + path, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(req)
        return failure.value.code, json.loads(failure.value.read())

    status, body = post("/api/2.0/mlflow/experiments/create", {"name": ["a", "b"]})
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE" and "'name'" in body["message"]
    status, body = post("/api/2.0/mlflow/registered-models/create", {})
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE" and "'name'" in body["message"]
    status, body = post("/api/2.0/mlflow/runs/create", {"experiment_id": "0", "start_time": "soon"})
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE" and "start_time" in body["message"]


def test_a_pytorch_model_logs_and_loads_back(server):
    torch = pytest.importorskip("torch")
    mlflow.set_experiment("torch-models")
    net = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    with mlflow.start_run() as active:
        X, _ = training_data(server["dataset"])  # the embeddings: 8 floats a row
        info = mlflow.pytorch.log_model(net, name="net", input_example=X[:2])
    loaded = mlflow.pytorch.load_model(info.model_uri)
    sample = torch.from_numpy(X[:16])
    assert torch.equal(loaded(sample), net(sample))
    assert MlflowClient().get_logged_model(info.model_id).source_run_id == active.info.run_id
