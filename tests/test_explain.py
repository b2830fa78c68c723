"""Exact TreeSHAP backends, the explain frames, family sums and plays.

Models are small LightGBM boosters trained here on hand-made indicator columns (with a pandas
categorical and missing values), one shallow (WOODELF's dense path) and one deep (its sparse path).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

lgb = pytest.importorskip("lightgbm")

from test_reasons import FakeCatalog, make_frame

from churnml.explain import backends
from churnml.explain.contributions import REASON_COLUMNS, explain_all, family_contributions
from churnml.explain.plays import Plays, load_plays


def _train(frame, **params):
    X = frame[FakeCatalog.FEATURES]
    base = {
        "objective": "binary",
        "verbose": -1,
        "learning_rate": 0.1,
        "min_data_per_group": 5,
        "num_threads": 1,
    }
    rounds = params.pop("rounds")
    return lgb.train({**base, **params}, lgb.Dataset(X, frame["label"]), rounds)


@pytest.fixture(scope="module")
def frame():
    return make_frame(2500, seed=1)


@pytest.fixture(scope="module", params=["shallow", "deep"])
def booster(request, frame):
    if request.param == "shallow":
        b = _train(frame, num_leaves=15, max_depth=4, rounds=30)
        assert max(_depths(b)) <= 10  # WOODELF's dense path
    else:
        b = _train(frame, num_leaves=63, min_data_in_leaf=2, rounds=12, max_depth=-1)
        assert max(_depths(b)) > 10  # WOODELF's sparse path
    return b


def _depths(booster):
    def depth(node):
        if "split_index" not in node:
            return 0
        return 1 + max(depth(node["left_child"]), depth(node["right_child"]))

    return [depth(t["tree_structure"]) for t in booster.dump_model()["tree_info"]]


def _x(frame, n=400):
    return frame[FakeCatalog.FEATURES].iloc[:n]


def test_available_backends_and_auto():
    names = backends.available_backends()
    assert "native" in names
    assert backends.resolve_backend("auto") in names
    assert backends.resolve_backend("auto", n_rows=10) == "native"  # small inputs: native is faster
    if "woodelf" in names:
        assert backends.resolve_backend("auto", n_rows=backends.AUTO_MIN_ROWS) == "woodelf"
    with pytest.raises(ValueError, match="backend='fast'"):
        backends.resolve_backend("fast")


def test_missing_backend_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(backends, "available_backends", lambda: ["native"])
    with pytest.raises(ValueError, match=r"pip install 'churnml\[shap\]'"):
        backends.resolve_backend("shap")
    assert backends.resolve_backend("auto", n_rows=10**6) == "native"  # the documented fallback


@pytest.mark.parametrize("backend", ["auto", "woodelf"])
def test_default_backend_matches_native(booster, frame, backend):
    if backend not in ("auto", *backends.available_backends()):
        pytest.skip("woodelf-explainer not installed")
    X = _x(frame, backends.AUTO_MIN_ROWS)  # enough rows for "auto" to pick its fast backend
    ref, ref_base = backends.contributions(booster, X, backend="native")
    got, base = backends.contributions(booster, X, backend=backend)
    assert got.shape == ref.shape == (len(X), len(FakeCatalog.FEATURES))
    np.testing.assert_allclose(got, ref, atol=1e-4, rtol=0)
    np.testing.assert_allclose(base, ref_base, atol=1e-9)
    # same top-3 drivers wherever the 3rd and 4th are not a near tie
    order = np.argsort(-ref, axis=1)
    gap = np.take_along_axis(ref, order[:, 2:3], 1) - np.take_along_axis(ref, order[:, 3:4], 1)
    clear = gap[:, 0] > 1e-3
    mine = np.sort(np.argsort(-got, axis=1)[:, :3], axis=1)
    assert (mine[clear] == np.sort(order[:, :3], axis=1)[clear]).all()


@pytest.mark.parametrize("backend", backends.BACKENDS)
def test_contributions_add_up_to_raw_score(booster, frame, backend):
    if backend not in backends.available_backends():
        pytest.skip(f"{backend} not installed")
    X = _x(frame, 300)
    values, base = backends.contributions(booster, X, backend=backend)
    raw = booster.predict(X, raw_score=True)
    np.testing.assert_allclose(values.sum(axis=1) + base, raw, atol=1e-4, rtol=0)


def test_unknown_and_reordered_categories_are_exact(booster, frame):
    X = _x(frame, 200).copy()
    seg = X["segment"].astype(object)
    seg.iloc[:20] = "public_sector"  # a level the model never saw
    X["segment"] = pd.Categorical(
        seg, categories=["smb", "public_sector", "enterprise", "mid_market"]
    )
    ref, _ = backends.contributions(booster, X, backend="native")
    for name in set(backends.available_backends()) - {"native"}:
        got, _ = backends.contributions(booster, X, backend=name)
        np.testing.assert_allclose(got, ref, atol=1e-4, rtol=0)


def test_chunks_and_worker_processes_give_the_same_values(booster, frame, monkeypatch):
    if "woodelf" not in backends.available_backends():
        pytest.skip("woodelf-explainer not installed")
    from churnml.explain import _woodelf

    X = _x(frame, 300)
    whole, _ = backends.contributions(booster, X, backend="woodelf", n_jobs=1)
    chunked, _ = backends.contributions(booster, X, backend="woodelf", chunk_size=70, n_jobs=1)
    monkeypatch.setattr(_woodelf, "_PARALLEL_MIN_ROWS", 10)
    forked, _ = backends.contributions(booster, X, backend="woodelf", n_jobs=2)
    # WOODELF sums per-leaf values in float32, so the order of summation shows at ~1e-6
    np.testing.assert_allclose(chunked, whole, atol=1e-5, rtol=0)
    np.testing.assert_allclose(forked, whole, atol=1e-5, rtol=0)


def test_missing_model_columns_are_named(booster, frame):
    with pytest.raises(ValueError, match="tickets_90d"):
        backends.numeric_frame(booster, _x(frame).drop(columns="tickets_90d"))


def test_explain_frame_shape_order_and_plays(booster, frame):
    features = frame.iloc[:300]
    ex = explain_all(booster, features, catalog=FakeCatalog(), backend="native")
    r = ex.reasons
    assert list(r.columns) == REASON_COLUMNS
    assert set(r["kind"]) <= {"driver", "protective"}
    drivers, prot = r[r["kind"] == "driver"], r[r["kind"] == "protective"]
    assert (drivers["contribution"] > 0).all() and (prot["contribution"] < 0).all()
    assert drivers.groupby("account_id").size().max() <= 3
    assert prot.groupby("account_id").size().max() <= 2
    # ranks are 1..k and contributions strongest first within each account and kind
    for (_, kind), g in r.groupby(["account_id", "kind"]):
        assert list(g["rank"]) == list(range(1, len(g) + 1))
        c = g["contribution"].to_numpy()
        assert (np.diff(c) <= 0).all() if kind == "driver" else (np.diff(c) >= 0).all()
    # the account order follows the feature frame
    firsts = r.drop_duplicates("account_id")["account_id"].tolist()
    assert firsts == [a for a in features["account_id"] if a in set(firsts)]
    # every driver has its play, protective factors none
    plays = load_plays()
    expected = [plays.play_for(i, f) for i, f in zip(drivers["indicator"], drivers["family"])]
    assert drivers["play"].tolist() == expected and drivers["play"].notna().all()
    assert prot["play"].isna().all()
    assert r["sentence"].notna().all() and (r["sentence"].str.len() > 0).all()
    # log-odds = base + contributions = the booster's raw score; families add up to the same
    np.testing.assert_allclose(
        ex.log_odds, booster.predict(features[FakeCatalog.FEATURES], raw_score=True), atol=1e-6
    )
    fam = ex.families.groupby("account_id", sort=False)["contribution"].sum()
    np.testing.assert_allclose(fam.to_numpy(), ex.log_odds - ex.base_value, atol=1e-9)
    assert set(ex.families["family"]) == set(FakeCatalog().families)


def test_family_contributions_match_explain_all(booster, frame):
    features = frame.iloc[:120]
    ex = explain_all(booster, features, catalog=FakeCatalog(), backend="native")
    fam = family_contributions(booster, features, catalog=FakeCatalog(), backend="native")
    pd.testing.assert_frame_equal(fam, ex.families)
    assert list(fam.columns) == ["account_id", "as_of", "family", "contribution"]
    # the indicator values it gathered, in the contribution columns' order (history rows reuse)
    names = list(ex.contributions.columns)
    numeric = [pd.api.types.is_numeric_dtype(features[c]) for c in names]
    assert any(numeric) and not all(numeric)
    values = np.column_stack([features[c].to_numpy(dtype=np.float64) if ok
                              else np.full(len(features), np.nan)
                              for c, ok in zip(names, numeric)])  # fmt: skip
    np.testing.assert_array_equal(ex.feature_values, values)


def test_explain_without_protective_or_drivers(booster, frame):
    features = frame.iloc[:50]
    r = explain_all(booster, features, catalog=FakeCatalog(), top_risk=2, top_protective=0).reasons
    assert set(r["kind"]) == {"driver"} and r["rank"].max() <= 2
    with pytest.raises(ValueError, match="top_risk=-1"):
        explain_all(booster, features, catalog=FakeCatalog(), top_risk=-1)


def test_plays_file_validation(tmp_path):
    plays = load_plays()
    assert plays.play_for("no_executive_sponsor", "champion") == "Re-establish an executive sponsor"
    assert plays.play_for("champion_left_90d", "champion") == "Re-establish an executive sponsor"
    assert (
        plays.play_for("high_priority_tickets_90d", "support")
        == "Escalation review with support lead"
    )
    assert (
        plays.play_for("license_utilization_30d", "usage") == "Adoption workshop for inactive seats"
    )
    assert plays.play_for("something_new", "value") == plays.families["value"]
    assert set(plays.families) == {"usage", "support", "nps", "champion", "value", "contract"}
    bad = tmp_path / "plays.yaml"
    bad.write_text("families:\n  usage: ''\n")
    with pytest.raises(ValueError, match="usage"):
        load_plays(bad)
    bad.write_text("families:\n  billing: Call finance\n")
    with pytest.raises(ValueError, match="billing"):
        load_plays(bad)
    bad.write_text("family:\n  usage: x\n")
    with pytest.raises(ValueError, match="family"):
        load_plays(bad)


def test_custom_plays_reach_the_frame(booster, frame):
    plays = Plays({f: f"Play for {f}" for f in FakeCatalog().families}, {})
    r = explain_all(booster, frame.iloc[:60], catalog=FakeCatalog(), plays=plays).reasons
    d = r[r["kind"] == "driver"]
    assert (d["play"] == "Play for " + d["family"]).all()


def test_package_is_callable_as_the_verb(booster, frame):
    import churnml

    r = churnml.explain(booster, frame.iloc[:20], catalog=FakeCatalog(), backend="native")
    assert list(r.columns) == REASON_COLUMNS and r.attrs["backend"] == "native"


def test_best_iteration_is_respected_like_lightgbm(frame):
    b = _train(frame, num_leaves=15, rounds=30)
    b.best_iteration = 12  # what early stopping leaves on the booster
    X = _x(frame, 300)
    raw = b.predict(X, raw_score=True)  # LightGBM uses the best iteration by default
    for name in backends.available_backends():
        values, base = backends.contributions(b, X, backend=name)
        np.testing.assert_allclose(values.sum(axis=1) + base, raw, atol=1e-4, rtol=0, err_msg=name)


def test_with_a_fitted_churn_model(frame):
    estimator = pytest.importorskip("churnml.model.estimator")
    train = frame.iloc[:1800].drop(columns=["account_id", "as_of"])
    model = estimator.ChurnModel(n_estimators=60, random_state=0).fit(
        train[FakeCatalog.FEATURES], train["label"]
    )
    features = frame.iloc[1800:2100].copy()
    seg = features["segment"].astype(object)
    seg.iloc[:10] = "public_sector"  # unknown to the model: prepare makes it missing
    features["segment"] = seg
    ex = {
        b: explain_all(model, features, catalog=FakeCatalog(), backend=b)
        for b in ("native", "woodelf")
    }
    np.testing.assert_allclose(ex["woodelf"].contributions, ex["native"].contributions, atol=1e-4)
    np.testing.assert_allclose(ex["native"].log_odds, model.predict_raw(features), atol=1e-6)
    assert (ex["woodelf"].reasons["indicator"] == ex["native"].reasons["indicator"]).mean() > 0.95
    assert list(ex["native"].contributions.columns) == list(model.feature_names_in_)


def test_summary_joins_the_reasons_per_account(booster, frame):
    features = frame.iloc[:200]
    ex = explain_all(booster, features, catalog=FakeCatalog(), backend="native")
    r, s = ex.reasons, ex.summary
    assert len(s) == len(features) and list(s.index) == list(range(len(features)))
    pos = {a: i for i, a in enumerate(features["account_id"])}
    for acc, g in r.groupby("account_id", sort=False):
        row = s.iloc[pos[acc]]
        d, p = g[g["kind"] == "driver"], g[g["kind"] == "protective"]
        if len(d):
            assert row["top_reasons"] == "\n".join(d["sentence"])
        else:
            assert pd.isna(row["top_reasons"])
        if len(p):
            assert row["protective_reasons"] == "\n".join(p["sentence"])
        else:
            assert pd.isna(row["protective_reasons"])
        codes = [row[f"reason_code_{k}"] for k in (1, 2, 3)]
        assert [c for c in codes if not pd.isna(c)] == d["indicator"].tolist()[:3]
        if len(d):
            assert row["play"] == d["play"].iloc[0]
            assert row["plays"] == "\n".join(dict.fromkeys(d["play"]))
    silent = sorted(set(range(len(features))) - {pos[a] for a in r["account_id"]})
    assert s.iloc[silent].isna().all().all()


def test_woodelf_sums_are_woodelfs_own_to_the_bit(booster, frame):
    """The group routine (prepared split columns, lookup-table patterns, one float32 matrix) gives
    exactly what WOODELF's own explainer gives on the same trees: deep and shallow models."""
    if "woodelf" not in backends.available_backends():
        pytest.skip("woodelf-explainer not installed")
    from woodelf.explainer import WoodelfExplainer

    from churnml.explain import _woodelf

    X = backends.numeric_frame(booster, _x(frame, 600))
    ensemble, _ = _woodelf.load_ensemble(booster)
    mine = _woodelf.woodelf_contributions(ensemble, X, n_jobs=1)
    ensemble.split_class.columns = {
        c: _woodelf._Column(X[c].to_numpy(dtype=np.float64)) for c in X.columns
    }
    theirs = WoodelfExplainer(ensemble).shap_values(X, verbose=False)
    assert np.array_equal(mine, np.asarray(theirs, dtype=np.float64))


def test_decision_patterns_are_woodelfs_own(booster, frame):
    """Every leaf's decision patterns, in WOODELF's order and dtype, as its own generator gives
    them (new and repeated path features, ignored right neighbour leaves)."""
    if "woodelf" not in backends.available_backends():
        pytest.skip("woodelf-explainer not installed")
    from woodelf.core.decision_patterns import decision_patterns_generator

    from churnml.explain import _woodelf

    X = backends.numeric_frame(booster, _x(frame, 300))
    ensemble, _ = _woodelf.load_ensemble(booster)
    ensemble.split_class.columns = {
        c: _woodelf._Column(X[c].to_numpy(dtype=np.float64)) for c in X.columns
    }
    repeated = 0
    for tree in ensemble.trees[:40]:
        mine = list(_woodelf._decision_patterns(tree, X))
        theirs = list(decision_patterns_generator(tree, X, False, True))
        assert [leaf.index for leaf, _ in mine] == [leaf.index for leaf, _ in theirs]
        for (_, a), (_, b) in zip(mine, theirs):
            assert a.dtype == b.dtype and np.array_equal(a, b)
        paths = tree.get_nodes_to_path_dict().values()
        repeated += sum(len({n.feature_name for n in p}) < len(p) for p in paths)
    assert repeated > 0


def test_distinct_patterns_match_factorize():
    from churnml.explain._woodelf import _distinct

    rng = np.random.default_rng(3)
    for width, dtype in ((3, np.uint8), (12, np.uint16), (20, np.uint32)):
        patterns = rng.integers(0, 2**width, 5000).astype(dtype)
        inverse, unique = _distinct(patterns, width)
        assert np.array_equal(unique[inverse], patterns)
        assert np.array_equal(np.sort(unique), np.unique(patterns))
    # many rows per pattern: every pattern of the width is computed, occurring or not
    sparse = rng.choice(np.array([0, 5, 9], dtype=np.uint8), 5000)
    inverse, unique = _distinct(sparse, 4)
    assert np.array_equal(unique[inverse], sparse) and np.array_equal(unique, np.arange(16))


def test_sentences_rendered_once_per_distinct_value_are_the_per_row_sentences(booster, frame):
    from churnml.explain import reasons

    features = frame.iloc[:500].copy()
    features.loc[features.index[:50], "active_users_change_30d"] = -0.0  # renders "-0%", not "0%"
    calls = []
    original = reasons.render_sentences

    def counting(catalog, frame_, rows, *args, **kwargs):
        calls.append(len(rows))
        return original(catalog, frame_, rows, *args, **kwargs)

    ex = explain_all(booster, features, catalog=FakeCatalog(), backend="native")
    r = ex.reasons
    rows = pd.Series(range(len(features)), index=features["account_id"])[r["account_id"]]
    per_row = original(
        FakeCatalog(), features, rows.to_numpy(), r["indicator"].to_numpy(object),
        r["kind"].to_numpy(object),
    )  # fmt: skip
    assert r["sentence"].tolist() == per_row
    import unittest.mock

    with unittest.mock.patch.object(reasons, "render_sentences", counting):
        again = explain_all(booster, features, catalog=FakeCatalog(), backend="native")
    assert again.reasons["sentence"].tolist() == per_row
    assert sum(calls) < len(per_row)  # repeated values were rendered once


def test_started_contributions_are_computed_while_the_caller_works(booster, frame, monkeypatch):
    if "woodelf" not in backends.available_backends():
        pytest.skip("woodelf-explainer not installed")
    import multiprocessing
    import os

    from churnml.explain import _woodelf
    from churnml.explain.contributions import start_explaining

    monkeypatch.setattr(_woodelf, "_PARALLEL_MIN_ROWS", 10)
    features = frame.iloc[:300]
    def workers():  # processes started since (other tests may leave a reusable pool running)
        return set(multiprocessing.active_children()) - before

    expected = explain_all(booster, features, catalog=FakeCatalog(), backend="woodelf")
    before = set(multiprocessing.active_children())
    jobs = min(os.cpu_count() or 1, booster.num_trees())
    pending = start_explaining(booster, features, backend="woodelf")
    assert len(workers()) == (jobs if jobs > 1 else 0)  # the workers run before result()
    got = explain_all(booster, features, catalog=FakeCatalog(), pending=pending)
    assert not workers()  # and are gone after it
    assert pending.result() is pending.result()  # computed once
    assert got.backend == expected.backend == "woodelf"
    pd.testing.assert_frame_equal(got.contributions, expected.contributions, check_exact=True)
    pd.testing.assert_frame_equal(got.reasons, expected.reasons, check_exact=True)
    cancelled = start_explaining(booster, features, backend="woodelf")
    assert len(workers()) == (jobs if jobs > 1 else 0)
    cancelled.cancel()
    assert not workers()


_STOPPED_INSIDE_TQDM = """
import os, sys, time, types
import numpy as np, pandas as pd
from tqdm import tqdm
from churnml.explain import _woodelf

tqdm.get_lock()  # this process has drawn a progress bar before
flag = sys.argv[1]

def holding(_):  # a worker inside tqdm's lock (WOODELF draws progress) when it is stopped
    with tqdm.get_lock():
        open(flag, "w").close()
        time.sleep(60)

_woodelf._explain_group = holding
trees = [types.SimpleNamespace(depth=1), types.SimpleNamespace(depth=1)]
ensemble = types.SimpleNamespace(trees=trees, split_class=types.SimpleNamespace(columns={}))
running = _woodelf.RunningWoodelf(ensemble, pd.DataFrame({"a": np.zeros(3)}), 2)
while not os.path.exists(flag):
    time.sleep(0.05)
running.cancel()
for _ in tqdm(range(3), disable=True):  # the next progress bar here
    pass
print("went on")
"""


def test_a_cancelled_worker_does_not_leave_progress_bars_waiting(tmp_path):
    # a worker stopped while it held tqdm's lock (a semaphore shared across the fork) left the
    # parent's next progress bar waiting forever: a scoring job that cancelled hung
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _STOPPED_INSIDE_TQDM, str(tmp_path / "inside")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "went on"
