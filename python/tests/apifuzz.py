"""Type-confusion fuzzing of the MLflow routes of a running `loam serve`.

Every MLflow route gets request bodies and query strings built from the fields MLflow's
protos give it, each field replaced in turn (and at random, several at once) by a value of
the wrong kind: null, booleans, numbers at and past the 64-bit limits, NaN, floats where
integers go, nested arrays and objects, long and unicode strings, control characters,
`%00` and path traversal in paths. The server must answer every request with a status
below 500 and stay up: a 5xx or a dropped connection is a failure, printed with the request.

    python apifuzz.py --url http://127.0.0.1:8080 --token loam_… --requests 3000 --seed 1
"""
import argparse
import json
import random
import sys
import urllib.error
import urllib.parse
import urllib.request

# Route → the fields MLflow's protos give its request (body for POST, query for GET).
ROUTES = {
    ("POST", "/api/2.0/mlflow/experiments/create"): {"name": "exp", "artifact_location": "", "tags": [{"key": "k", "value": "v"}]},
    ("GET", "/api/2.0/mlflow/experiments/get"): {"experiment_id": "0"},
    ("GET", "/api/2.0/mlflow/experiments/get-by-name"): {"experiment_name": "Default"},
    ("POST", "/api/2.0/mlflow/experiments/search"): {"max_results": 10, "page_token": "", "filter": "name = 'x'", "order_by": ["name"], "view_type": "ALL"},
    ("GET", "/api/2.0/mlflow/experiments/search"): {"max_results": 10, "page_token": "", "filter": "", "view_type": "ACTIVE_ONLY"},
    ("POST", "/api/2.0/mlflow/experiments/update"): {"experiment_id": "0", "new_name": "renamed"},
    ("POST", "/api/2.0/mlflow/experiments/delete"): {"experiment_id": "1"},
    ("POST", "/api/2.0/mlflow/experiments/restore"): {"experiment_id": "1"},
    ("POST", "/api/2.0/mlflow/experiments/set-experiment-tag"): {"experiment_id": "0", "key": "k", "value": "v"},
    ("POST", "/api/2.0/mlflow/runs/create"): {"experiment_id": "0", "user_id": "u", "start_time": 1700000000000, "run_name": "r",
                                              "tags": [{"key": "k", "value": "v"}]},
    ("GET", "/api/2.0/mlflow/runs/get"): {"run_id": "RUN"},
    ("POST", "/api/2.0/mlflow/runs/update"): {"run_id": "RUN", "status": "FINISHED", "end_time": 1700000000001, "run_name": "r2"},
    ("POST", "/api/2.0/mlflow/runs/delete"): {"run_id": "RUN"},
    ("POST", "/api/2.0/mlflow/runs/restore"): {"run_id": "RUN"},
    ("POST", "/api/2.0/mlflow/runs/search"): {"experiment_ids": ["0"], "filter": "metrics.loss < 1", "run_view_type": "ALL",
                                              "max_results": 10, "order_by": ["metrics.loss DESC"], "page_token": ""},
    ("POST", "/api/2.0/mlflow/runs/log-metric"): {"run_id": "RUN", "key": "loss", "value": 0.5, "timestamp": 1700000000000, "step": 1},
    ("POST", "/api/2.0/mlflow/runs/log-parameter"): {"run_id": "RUN", "key": "lr", "value": "0.1"},
    ("POST", "/api/2.0/mlflow/runs/set-tag"): {"run_id": "RUN", "key": "k", "value": "v"},
    ("POST", "/api/2.0/mlflow/runs/delete-tag"): {"run_id": "RUN", "key": "k"},
    ("POST", "/api/2.0/mlflow/runs/log-batch"): {"run_id": "RUN", "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}],
                                                 "params": [{"key": "p", "value": "1"}], "tags": [{"key": "t", "value": "1"}]},
    ("POST", "/api/2.0/mlflow/runs/log-inputs"): {"run_id": "RUN", "datasets": [{"dataset": {"name": "d", "digest": "x", "source_type": "local",
                                                                                             "source": "s"}, "tags": []}]},
    ("GET", "/api/2.0/mlflow/metrics/get-history"): {"run_id": "RUN", "metric_key": "loss", "max_results": 10, "page_token": ""},
    ("GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval"): {"run_ids": "RUN", "metric_key": "loss", "start_step": 0, "end_step": 10,
                                                                   "max_results": 10},
    ("GET", "/api/2.0/mlflow/artifacts/list"): {"run_id": "RUN", "path": "", "page_token": ""},
    ("POST", "/api/2.0/mlflow/logged-models/search"): {"experiment_ids": ["0"], "max_results": 10},
    ("GET", "/api/2.0/mlflow-artifacts/artifacts"): {"path": "0/RUN/artifacts"},
}
ARTIFACT = "/api/2.0/mlflow-artifacts/artifacts/"

STRANGE = [None, True, False, 0, -1, 1, 2 ** 31, 2 ** 63 - 1, 2 ** 63, -(2 ** 63), -(2 ** 63) - 1, 2 ** 64, 10 ** 30, 1e300, -1e300,
           1.5, float("nan"), float("inf"), "", " ", "0", "-1", "9223372036854775808", "1e309", "NaN", "x" * 70000, "é\u202e\u0000\u001b[31m",
           "../../etc/passwd", "%00", "a\u0000b", [], [None], [[[[[]]]]], {}, {"key": None}, {"a": {"b": {"c": []}}}, ["0", 1, None, {}]]
PATHS = ["0/RUN/artifacts/a.txt", "../../../../etc/passwd", "0/RUN/artifacts/%00x", "0/RUN/artifacts/a%2F..%2F..%2Fb", "%2e%2e/%2e%2e/x",
         "0/RUN/artifacts/" + "d/" * 300 + "f", "0/RUN/artifacts/\u202etxt.exe", "0/RUN/artifacts/a%0d%0aSet-Cookie:x", "", "0/RUN/artifacts/é"]


def send(url, token, method, path, body=None, query=None, raw=None):
    target = url + urllib.parse.quote(path, safe="/%:") + ("?" + urllib.parse.urlencode(query, doseq=True) if query else "")
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(target, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def confuse(fields, rng):
    body = dict(fields)
    for name in rng.sample(sorted(body), k=min(len(body), rng.choice([1, 1, 1, 2, 3]))):
        body[name] = rng.choice(STRANGE)
    if rng.random() < 0.1:
        body[rng.choice(["extra", "__proto__", "run_uuid", ""])] = rng.choice(STRANGE)
    if rng.random() < 0.05:
        body.pop(rng.choice(sorted(body)), None) if body else None
    return body


def as_query(body):
    query = {}
    for name, value in body.items():
        if value is None:
            continue
        query[name] = json.dumps(value) if isinstance(value, (list, dict)) and random.random() < 0.5 else (
            value if isinstance(value, list) else str(value))
    return query


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    # A real run to aim at, so that requests reach past the lookup of their run.
    status = send(args.url, args.token, "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": "0", "start_time": 1})
    run_id = None
    if status == 200:
        request = urllib.request.Request(args.url + "/api/2.0/mlflow/runs/search", data=json.dumps({"experiment_ids": ["0"]}).encode(),
                                         method="POST", headers={"Content-Type": "application/json",
                                                                 **({"Authorization": f"Bearer {args.token}"} if args.token else {})})
        with urllib.request.urlopen(request, timeout=60) as response:
            run_id = json.loads(response.read())["runs"][0]["info"]["run_id"]
    routes = sorted(ROUTES)
    failures, statuses = [], {}
    for n in range(args.requests):
        kind = rng.random()
        try:
            if kind < 0.08:  # artifact paths
                method = rng.choice(["GET", "PUT", "DELETE"])
                path = ARTIFACT + rng.choice(PATHS).replace("RUN", run_id or "r")
                status = send(args.url, args.token, method, path, raw=b"bytes" if method == "PUT" else None)
                what = f"{method} {path}"
            elif kind < 0.12:  # bodies that are not objects, or not JSON
                method, path = rng.choice([r for r in routes if r[0] == "POST"])
                raw = rng.choice([b"", b"null", b"[]", b"42", b'"x"', b"{", b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000])
                status = send(args.url, args.token, method, path, raw=raw)
                what = f"{method} {path} raw {raw[:60]!r}"
            else:
                method, path = routes[n % len(routes)] if n < len(routes) * 3 else rng.choice(routes)
                fields = {k: (run_id if v == "RUN" else v) for k, v in ROUTES[(method, path)].items()}
                body = confuse(fields, rng)
                if method == "GET":
                    status = send(args.url, args.token, method, path, query=as_query(body))
                else:
                    status = send(args.url, args.token, method, path, body=body)
                what = f"{method} {path} {json.dumps(body, default=str)[:300]}"
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            failures.append(f"no answer ({error}) to {what if 'what' in dir() else '?'}")
            break
        statuses[status] = statuses.get(status, 0) + 1
        if status >= 500:
            failures.append(f"{status} for {what}")
    print(json.dumps({"requests": sum(statuses.values()), "statuses": {str(k): v for k, v in sorted(statuses.items())},
                      "failures": len(failures)}))
    for failure in failures[:20]:
        print("FAIL", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
