"""`loam label agreement` next to the reference implementations, on the same generated ratings (with
missing ratings and a skewed class mix): Krippendorff's alpha at all four levels against the
`krippendorff` package, Fleiss' kappa against statsmodels, Cohen's kappa (plain, linear, quadratic)
against scikit-learn, percent agreement against its definition."""
import itertools
import json

import numpy as np
import pytest

from conftest import loam as run

krippendorff = pytest.importorskip("krippendorff")
inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
metrics = pytest.importorskip("sklearn.metrics")

ANNOTATORS, ITEMS = 5, 240


def generate(missing):
    """truth per item, each annotator right with their own skill, else a random class; some ratings missing."""
    rng = np.random.default_rng(17)
    truth = rng.choice([1, 2, 3, 4], size=ITEMS, p=[0.5, 0.25, 0.15, 0.1])
    skill = [0.9, 0.8, 0.7, 0.6, 0.4]
    matrix = np.full((ANNOTATORS, ITEMS), np.nan)
    for a in range(ANNOTATORS):
        for i in range(ITEMS):
            if rng.random() < missing:
                continue
            matrix[a, i] = truth[i] if rng.random() < skill[a] else rng.integers(1, 5)
    return matrix


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    path = tmp_path_factory.mktemp("agreement")
    run("init", str(path / "repo"))
    for name, missing in [("votes", 0.2), ("complete", 0.0)]:
        matrix = generate(missing)
        lines = ["item,annotator,label"] + [f"item{i},ann{a},{int(matrix[a, i])}" for a in range(ANNOTATORS) for i in range(ITEMS)
                                             if not np.isnan(matrix[a, i])]
        (path / f"{name}.csv").write_text("\n".join(lines) + "\n")
        run("import", str(path / f"{name}.csv"), "-d", name, repo=path / "repo")
    return path / "repo"


def report(repo, dataset, *flags):
    return json.loads(run("label", "agreement", f"SELECT item, annotator, label FROM {dataset}", "--json", *flags, repo=repo))


def test_krippendorffs_alpha_at_every_level_equals_the_krippendorff_package(repo):
    got = report(repo, "votes")
    matrix = generate(0.2)
    assert got["items"] == ITEMS and got["annotators"] == [f"ann{a}" for a in range(ANNOTATORS)]
    for level in ["nominal", "ordinal", "interval", "ratio"]:
        want = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
        assert got["krippendorff_alpha"][level] == pytest.approx(want, abs=1e-9), level


def test_fleiss_kappa_equals_statsmodels(repo):
    got = report(repo, "complete")
    table, _ = inter_rater.aggregate_raters(generate(0.0).T.astype(int))
    assert got["fleiss_kappa"] == pytest.approx(inter_rater.fleiss_kappa(table, method="fleiss"), abs=1e-9)


@pytest.mark.parametrize("weights", ["none", "linear", "quadratic"])
def test_cohens_kappa_for_every_pair_equals_scikit_learn(repo, weights):
    got = report(repo, "votes", "--weights", weights)
    matrix = generate(0.2)
    pairs = {(p["a"], p["b"]): p for p in got["cohen_kappa"]}
    assert len(pairs) == ANNOTATORS * (ANNOTATORS - 1) // 2
    for a, b in itertools.combinations(range(ANNOTATORS), 2):
        both = ~np.isnan(matrix[a]) & ~np.isnan(matrix[b])
        want = metrics.cohen_kappa_score(matrix[a][both].astype(int), matrix[b][both].astype(int),
                                         weights=None if weights == "none" else weights)
        pair = pairs[(f"ann{a}", f"ann{b}")]
        assert pair["items"] == int(both.sum()) and pair["kappa"] == pytest.approx(want, abs=1e-9), (a, b)
    best = max(got["annotator_kappa"], key=lambda name: got["annotator_kappa"][name])
    assert best in ("ann0", "ann1")  # the most skilled annotators agree most with the rest


def test_percent_agreement_is_the_mean_share_of_agreeing_pairs(repo):
    got = report(repo, "votes")
    matrix = generate(0.2)
    shares = []
    for i in range(ITEMS):
        values = [v for v in matrix[:, i] if not np.isnan(v)]
        if len(values) >= 2:
            pairs = list(itertools.combinations(values, 2))
            shares.append(sum(x == y for x, y in pairs) / len(pairs))
    assert got["percent_agreement"] == pytest.approx(float(np.mean(shares)), abs=1e-12)


def test_a_query_without_three_columns_is_refused(repo):
    import subprocess
    from conftest import LOAM
    done = subprocess.run([LOAM, "label", "agreement", "SELECT item FROM votes", "--repo", str(repo)], capture_output=True, text=True)
    assert done.returncode != 0 and "needs item, annotator and value" in done.stderr, done.stderr
