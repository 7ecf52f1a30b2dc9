"""One MLflow client script, step by step, against a real `mlflow server` and against `loam serve`:
each step's answer (values, shapes, error codes; never ids or times) is compared, and the steps
whose answers differ are listed. Run by bench/mlflow_parity.sh, which installs full MLflow into a
throwaway venv and starts both servers.

    python bench/mlflow_parity.py --mlflow http://127.0.0.1:5001 --loam http://127.0.0.1:5002
"""
import argparse
import datetime
import json
import os
import tempfile

import mlflow
import numpy as np
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression

X = np.random.default_rng(0).normal(size=(60, 3))
Y = (X[:, 0] > 0).astype(int)


def user_tags(tags):
    return {k: v for k, v in tags.items() if not k.startswith("mlflow.")}


def steps():
    """(name, function(client, state) -> comparable answer)."""
    out = []

    def step(name):
        def register(fn):
            out.append((name, fn))
            return fn
        return register

    @step("create experiment")
    def _(c, s):
        s["exp"] = c.create_experiment("parity", tags={"team": "a"})
        return type(s["exp"]).__name__

    @step("create the same experiment again")
    def _(c, s):
        c.create_experiment("parity")

    @step("get experiment by name")
    def _(c, s):
        e = c.get_experiment_by_name("parity")
        return e.name, e.lifecycle_stage, e.tags.get("team"), e.experiment_id == s["exp"]

    @step("get a missing experiment by name")
    def _(c, s):
        return c.get_experiment_by_name("no-such-experiment")

    @step("get a missing experiment by id")
    def _(c, s):
        c.get_experiment("987654")

    @step("set experiment tag")
    def _(c, s):
        c.set_experiment_tag(s["exp"], "stage", "dev")
        return c.get_experiment(s["exp"]).tags.get("stage")

    @step("search experiments by name, ordered")
    def _(c, s):
        for n in ["parity-b", "parity-a"]:
            c.create_experiment(n)
        return [e.name for e in c.search_experiments(filter_string="name LIKE 'parity%'", order_by=["name ASC"])]

    @step("search experiments, default order")
    def _(c, s):
        return [e.name for e in c.search_experiments(filter_string="name LIKE 'parity%'")]

    @step("rename experiment")
    def _(c, s):
        c.rename_experiment(c.get_experiment_by_name("parity-b").experiment_id, "parity-renamed")
        return c.get_experiment_by_name("parity-renamed") is not None

    @step("delete and list deleted experiments")
    def _(c, s):
        c.delete_experiment(c.get_experiment_by_name("parity-a").experiment_id)
        from mlflow.entities import ViewType
        return sorted(e.name for e in c.search_experiments(view_type=ViewType.DELETED_ONLY))

    @step("restore experiment")
    def _(c, s):
        e = c.get_experiment_by_name("parity-a")
        c.restore_experiment(e.experiment_id)
        return c.get_experiment(e.experiment_id).lifecycle_stage

    @step("create run")
    def _(c, s):
        r = c.create_run(s["exp"], run_name="first", tags={"k": "v"})
        s["run"] = r.info.run_id
        return r.info.status, r.info.run_name, user_tags(r.data.tags)

    @step("log params")
    def _(c, s):
        c.log_param(s["run"], "lr", 0.1)
        c.log_param(s["run"], "layers", "3")
        return c.get_run(s["run"]).data.params

    @step("log the same param with another value")
    def _(c, s):
        c.log_param(s["run"], "lr", 0.2)

    @step("log metrics with steps")
    def _(c, s):
        for i in range(5):
            c.log_metric(s["run"], "loss", 1 / (i + 1), step=i, timestamp=1000 + i)
        return [(m.step, m.value) for m in c.get_metric_history(s["run"], "loss")]

    @step("log NaN and infinity")
    def _(c, s):
        c.log_metric(s["run"], "odd", float("nan"), step=0)
        c.log_metric(s["run"], "odd", float("inf"), step=1)
        return [str(m.value) for m in c.get_metric_history(s["run"], "odd")]

    @step("log batch")
    def _(c, s):
        from mlflow.entities import Metric, Param, RunTag
        c.log_batch(s["run"], metrics=[Metric("acc", 0.9, 5, 3)], params=[Param("opt", "adam")], tags=[RunTag("t2", "x")])
        r = c.get_run(s["run"])
        return r.data.metrics.get("acc"), r.data.params.get("opt"), r.data.tags.get("t2")

    @step("latest metric value")
    def _(c, s):
        return c.get_run(s["run"]).data.metrics.get("loss")

    @step("set and delete tag")
    def _(c, s):
        c.set_tag(s["run"], "temp", "1")
        c.delete_tag(s["run"], "temp")
        return "temp" in c.get_run(s["run"]).data.tags

    @step("delete a missing tag")
    def _(c, s):
        c.delete_tag(s["run"], "never-set")

    @step("get a missing run")
    def _(c, s):
        c.get_run("0" * 32)

    @step("log to a missing run")
    def _(c, s):
        c.log_metric("f" * 32, "x", 1.0)

    @step("log inputs (a dataset)")
    def _(c, s):
        from mlflow.entities import Dataset, DatasetInput, InputTag
        ds = Dataset(name="train", digest="abc", source_type="local", source="{}")
        c.log_inputs(s["run"], [DatasetInput(ds, [InputTag("mlflow.data.context", "training")])])
        return [(i.dataset.name, i.dataset.digest) for i in c.get_run(s["run"]).inputs.dataset_inputs]

    @step("second run, finished")
    def _(c, s):
        r = c.create_run(s["exp"], run_name="second")
        c.log_metric(r.info.run_id, "loss", 0.05)
        c.log_param(r.info.run_id, "lr", "0.5")
        c.set_terminated(r.info.run_id, "FINISHED")
        s["run2"] = r.info.run_id
        return c.get_run(r.info.run_id).info.status

    @step("search runs by metric, ordered")
    def _(c, s):
        return [r.info.run_name for r in c.search_runs([s["exp"]], "metrics.loss < 1", order_by=["metrics.loss DESC"])]

    @step("search runs by param")
    def _(c, s):
        return [r.info.run_name for r in c.search_runs([s["exp"]], "params.lr = '0.5'")]

    @step("search runs: tag IS NULL")
    def _(c, s):
        return sorted(r.info.run_name for r in c.search_runs([s["exp"]], "tags.k IS NULL"))

    @step("search runs: dataset name")
    def _(c, s):
        return [r.info.run_name for r in c.search_runs([s["exp"]], "datasets.name = 'train'")]

    @step("search runs: attribute status")
    def _(c, s):
        return [r.info.run_name for r in c.search_runs([s["exp"]], "attributes.status = 'FINISHED'")]

    @step("search runs: bad filter")
    def _(c, s):
        c.search_runs([s["exp"]], "metrics.loss <<< 1")

    @step("search runs: paging")
    def _(c, s):
        page = c.search_runs([s["exp"]], max_results=1, order_by=["attributes.run_name ASC"])
        rest = c.search_runs([s["exp"]], max_results=1, order_by=["attributes.run_name ASC"], page_token=page.token)
        return [r.info.run_name for r in page], [r.info.run_name for r in rest]

    @step("delete and restore run")
    def _(c, s):
        c.delete_run(s["run2"])
        deleted = c.get_run(s["run2"]).info.lifecycle_stage
        c.restore_run(s["run2"])
        return deleted, c.get_run(s["run2"]).info.lifecycle_stage

    @step("log artifacts and list the root")
    def _(c, s):
        folder = tempfile.mkdtemp()
        with open(os.path.join(folder, "notes.txt"), "w") as f:
            f.write("hello")
        os.makedirs(os.path.join(folder, "sub"))
        with open(os.path.join(folder, "sub", "a.csv"), "w") as f:
            f.write("1,2\n")
        c.log_artifact(s["run"], os.path.join(folder, "notes.txt"))
        c.log_artifacts(s["run"], os.path.join(folder, "sub"), artifact_path="sub")
        return sorted((a.path, a.is_dir, a.file_size) for a in c.list_artifacts(s["run"]))

    @step("list artifacts of '.'")
    def _(c, s):
        return sorted(a.path for a in c.list_artifacts(s["run"], "."))

    @step("list a sub folder")
    def _(c, s):
        return sorted(a.path for a in c.list_artifacts(s["run"], "sub"))

    @step("download the run root")
    def _(c, s):
        path = c.download_artifacts(s["run"], ".", tempfile.mkdtemp())
        return sorted(os.path.relpath(os.path.join(d, f), path) for d, _, fs in os.walk(path) for f in fs)

    @step("update run name")
    def _(c, s):
        c.update_run(s["run"], name="renamed")
        return c.get_run(s["run"]).info.run_name

    @step("sklearn log_model")
    def _(c, s):
        mlflow.set_experiment(experiment_id=s["exp"])
        with mlflow.start_run() as r:
            s["model_run"] = r.info.run_id
            info = mlflow.sklearn.log_model(LogisticRegression().fit(X, Y), name="clf")
        s["model"] = info
        m = c.get_logged_model(info.model_id)
        return m.name, str(m.status), m.source_run_id == r.info.run_id

    @step("run outputs name the model")
    def _(c, s):
        return [o.model_id == s["model"].model_id for o in c.get_run(s["model_run"]).outputs.model_outputs]

    @step("load the logged model")
    def _(c, s):
        return mlflow.sklearn.load_model(s["model"].model_uri).predict(X[:5]).tolist()

    @step("search logged models")
    def _(c, s):
        return [m.name for m in c.search_logged_models(experiment_ids=[s["exp"]])]

    @step("list logged model artifacts")
    def _(c, s):
        return sorted(a.path for a in c.list_logged_model_artifacts(s["model"].model_id))

    @step("set logged model tag")
    def _(c, s):
        c.set_logged_model_tags(s["model"].model_id, {"quality": "good"})
        return c.get_logged_model(s["model"].model_id).tags.get("quality")

    @step("autolog a fit")
    def _(c, s):
        mlflow.sklearn.autolog(silent=True, log_input_examples=False)
        try:
            with mlflow.start_run() as r:
                LogisticRegression().fit(X, Y)
        finally:
            mlflow.sklearn.autolog(disable=True)
        return sorted(c.get_run(r.info.run_id).data.metrics)

    @step("register model")
    def _(c, s):
        v = mlflow.register_model(s["model"].model_uri, "parity-model")
        return v.version, v.current_stage, v.status

    @step("create an existing registered model")
    def _(c, s):
        c.create_registered_model("parity-model")

    @step("get registered model")
    def _(c, s):
        m = c.get_registered_model("parity-model")
        return m.name, [v.version for v in m.latest_versions]

    @step("set and get alias")
    def _(c, s):
        c.set_registered_model_alias("parity-model", "champion", "1")
        return c.get_model_version_by_alias("parity-model", "champion").version

    @step("load a model by alias")
    def _(c, s):
        return mlflow.pyfunc.load_model("models:/parity-model@champion").predict(X[:5]).tolist()

    @step("a models:/ source without its model_id")
    def _(c, s):
        c.create_model_version("parity-model", s["model"].model_uri, run_id=s["model_run"])

    @step("second version, tags, description")
    def _(c, s):
        v = c.create_model_version("parity-model", s["model"].model_uri, run_id=s["model_run"], model_id=s["model"].model_id,
                                   tags={"n": "2"}, description="again")
        got = c.get_model_version("parity-model", v.version)
        return got.version, got.tags, got.description

    @step("search model versions")
    def _(c, s):
        return sorted(v.version for v in c.search_model_versions("name = 'parity-model'"))

    @step("search registered models")
    def _(c, s):
        return [m.name for m in c.search_registered_models("name LIKE 'parity%'")]

    @step("transition stage, archiving others")
    def _(c, s):
        c.transition_model_version_stage("parity-model", "1", "Production")
        c.transition_model_version_stage("parity-model", "2", "Production", archive_existing_versions=True)
        return c.get_model_version("parity-model", "1").current_stage, [v.version for v in c.get_latest_versions("parity-model", ["Production"])]

    @step("registered model and version tags")
    def _(c, s):
        c.set_registered_model_tag("parity-model", "owner", "ada")
        c.set_model_version_tag("parity-model", "1", "ok", "yes")
        return c.get_registered_model("parity-model").tags, c.get_model_version("parity-model", "1").tags

    @step("download URI of a version")
    def _(c, s):
        return c.get_model_version_download_uri("parity-model", "1").endswith("/artifacts")

    @step("get a missing version")
    def _(c, s):
        c.get_model_version("parity-model", "99")

    @step("alias 'latest' is refused")
    def _(c, s):
        c.set_registered_model_alias("parity-model", "latest", "1")

    @step("rename registered model")
    def _(c, s):
        c.rename_registered_model("parity-model", "parity-model-2")
        return c.get_model_version_by_alias("parity-model-2", "champion").version

    @step("delete version drops its alias")
    def _(c, s):
        c.delete_model_version("parity-model-2", "1")
        return c.get_registered_model("parity-model-2").aliases

    @step("versions are not reused")
    def _(c, s):
        return c.create_model_version("parity-model-2", s["model"].model_uri, model_id=s["model"].model_id).version

    @step("delete registered model")
    def _(c, s):
        c.delete_registered_model("parity-model-2")
        return [m.name for m in c.search_registered_models("name = 'parity-model-2'")]

    return out


def run_all(url):
    mlflow.set_tracking_uri(url)
    mlflow.set_registry_uri(url)
    client, state, answers = MlflowClient(url, url), {}, []
    for name, fn in steps():
        try:
            answer = ("ok", fn(client, state))
        except MlflowException as e:
            answer = ("error", e.error_code)
        except Exception as e:  # a client-side failure (a parse error on a reply) is an answer too
            answer = ("failed", type(e).__name__)
        answers.append((name, json.loads(json.dumps(answer, default=str))))
    return answers


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mlflow", required=True)
    parser.add_argument("--loam", required=True)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "mlflow-parity-latest.md"))
    args = parser.parse_args()
    reference, loam = run_all(args.mlflow), run_all(args.loam)
    differ = [(name, a, b) for (name, a), (_, b) in zip(reference, loam) if a != b]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# MLflow parity ({stamp}, mlflow {mlflow.__version__})", "",
             f"{len(reference)} steps of one client script against `mlflow server` and `loam serve`; "
             f"**{len(differ)} differ**.", "", "| step | mlflow server | loam serve |", "|---|---|---|"]
    for name, a, b in differ:
        lines.append(f"| {name} | `{json.dumps(a)[:120]}` | `{json.dumps(b)[:120]}` |")
    lines += ["", "Every step's answer:", "", "| step | answer (both) |", "|---|---|"]
    for (name, a), (_, b) in zip(reference, loam):
        if a == b:
            lines.append(f"| {name} | `{json.dumps(a)[:120]}` |")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines[:len(differ) + 6]))


if __name__ == "__main__":
    main()
