"""A scoring run as one unit: killed at each write step, concurrent runs, leftovers, lock, modes.

One small synthetic customer base (80 accounts, 12 months) and a 20-tree model with a training
profile, pickled so that child processes score with the same model. Run A (2025-04-01) is the
committed baseline; run B (2025-05-01) is the one interrupted.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from churnml.errors import ChurnmlError
from churnml.report.load import read_scores_bundle
from churnml.scoring.commit import pending_journal, recover, run_id_of

AS_OF_A, AS_OF_B, AS_OF_C = "2025-04-01", "2025-05-01", "2025-06-01"
STAGED = [
    "explanations", "history", "families", "personas", "changes", "scores", "runs", "contributions"
]
#: every step of a run's writes, in order, as named by CHURNML_KILL_AT
STEPS = [
    *(f"stage:{k}" for k in STAGED),
    "stage:crm",  # inside write_crm, after the database transaction committed
    "database",
    "stage:manifest",
    "journal",
    *(f"commit:{k}" for k in [*STAGED, "crm", "manifest"]),
    "committed",
]
BEFORE_COMMIT = STEPS[: STEPS.index("journal")]
MID_COMMIT = STEPS[STEPS.index("journal") : STEPS.index("committed")]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Data folder, tables, and a small model with its training profile (also pickled)."""
    from churnml import build_features, make_spine
    from churnml.data.load import write_tables
    from churnml.datasets import make_saas
    from churnml.features.catalog import load_catalog
    from churnml.features.engine import feature_columns
    from churnml.model.config import load_config
    from churnml.model.estimator import ChurnModel
    from churnml.model.profile import data_profile

    root = tmp_path_factory.mktemp("runs")
    tables = make_saas(n_accounts=150, months=12, seed=5)
    tables = {k: v for k, v in tables.items() if k != "oracle"}
    write_tables(tables, root / "data")
    start = (tables["usage"]["ts"].min() + pd.DateOffset(months=3)).normalize()
    spine = make_spine(tables, start=start, end=tables["usage"]["ts"].max(), cadence="monthly")
    frame = build_features(tables, spine)
    train = frame[frame["label"].notna()]
    # enough trees that the scores spread beyond the no-signal limit: the report has red cards
    model = ChurnModel(
        n_estimators=60, params={"learning_rate": 0.2}, calibration=None,
        feature_columns=feature_columns(train), time_column="as_of",
    ).fit(train)
    model.config_ = load_config(tiers={"red": 0.2, "amber": 0.12})
    model.catalog_ = load_catalog()
    model.model_name_, model.model_version_ = "churnml", "1"
    model.training_info_ = {"data_profile": data_profile(tables, frame, model, model.catalog_)}
    (root / "model.pkl").write_bytes(pickle.dumps(model))
    return SimpleNamespace(root=root, data=root / "data", tables=tables, model=model)


def run(world, folder: Path, as_of, **kwargs):
    """``run_score`` into ``folder`` with a CRM CSV and a SQLite table beside the scores."""
    from churnml.scoring.run import run_score

    return run_score(
        world.model,
        world.tables,
        as_of,
        folder / "scores.parquet",
        crm_out=folder / "crm.csv",
        db=f"sqlite:///{folder}/crm.db",
        progress=False,
        **kwargs,
    )


@pytest.fixture(scope="module")
def baseline(world):
    """A folder holding the committed run A."""
    folder = world.root / "baseline"
    run(world, folder, AS_OF_A)
    return folder


def report_state(folder: Path):
    """The as_of date a complete, single-run folder shows, or the ChurnmlError refusing it."""
    from churnml.report.render import render_report

    try:
        bundle = read_scores_bundle(folder / "scores.parquet")
    except ChurnmlError as error:
        return error
    scores = bundle["scores"]
    (as_of,) = set(pd.to_datetime(scores["as_of"]))
    for kind in ("explanations", "families"):
        assert set(pd.to_datetime(bundle[kind]["as_of"])) == {as_of}, kind
        assert set(bundle[kind]["account_id"]) <= set(scores["account_id"]), kind
    assert pd.to_datetime(bundle["history"]["as_of"]).max() == as_of
    html = render_report(
        bundle["scores"], bundle["explanations"], bundle["history"], bundle["families"]
    )
    # the cards read this run's explanations (a mixed or broken folder says "no explanations file")
    assert (scores["tier"] == "red").any() and "no explanations file" not in html
    assert 'class="chart waterfall"' in html
    manifest = json.loads((folder / "scores_manifest.json").read_text())
    assert manifest["as_of"] == str(as_of.date())
    return str(as_of.date())


def runs_as_of(folder: Path) -> set[str]:
    runs = pd.read_parquet(folder / "scores_runs.parquet")
    return {str(d.date()) for d in pd.to_datetime(runs["as_of"]).unique()}


def temporary_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_every_write_step_leaves_a_folder_report_renders_or_refuses(
    world, baseline, tmp_path, monkeypatch
):
    """Run B stopped at each step (the folder copied as a kill -9 would leave it), then the next
    run's recovery: before the journal, run A stays whole; from the journal on, report refuses
    until the commit is finished, and then shows run B with run A still in the history."""
    import churnml.scoring.run as run_module
    from churnml.scoring import commit
    from churnml.scoring.run import output_files

    folder = tmp_path / "out"
    shutil.copytree(baseline, folder)
    seen = []

    def snapshot(step):
        seen.append(step)
        shutil.copytree(folder, tmp_path / step.replace(":", "-"))

    monkeypatch.setattr(commit, "checkpoint", snapshot)
    monkeypatch.setattr(run_module, "checkpoint", snapshot)
    run(world, folder, AS_OF_B)
    monkeypatch.undo()
    assert seen == STEPS
    with pytest.raises(ChurnmlError, match="interrupted while committing"):
        read_scores_bundle(tmp_path / "commit-families" / "scores.parquet")
    for step in STEPS:
        state = tmp_path / step.replace(":", "-")
        shown = report_state(state)
        if step in BEFORE_COMMIT:
            assert shown == AS_OF_A and temporary_files(state), step
        elif step in MID_COMMIT:
            assert isinstance(shown, ChurnmlError), step
        else:
            assert shown == AS_OF_B
        out = state / "scores.parquet"
        recovered = recover(out, output_files(out, state / "crm.csv"))
        assert temporary_files(state) == [] and pending_journal(state / "scores.parquet") is None
        expected = AS_OF_A if step in BEFORE_COMMIT else AS_OF_B
        assert report_state(state) == expected, step
        assert runs_as_of(state) == ({AS_OF_A} if expected == AS_OF_A else {AS_OF_A, AS_OF_B})
        assert (recovered["completed"] is not None) == (step in MID_COMMIT)
        crm = pd.read_csv(state / "crm.csv")
        assert set(crm["as_of"].str[:10]) == {expected}, step
    mixed = tmp_path / "committed"  # run B, with one sidecar of run A copied in by hand
    shutil.copy(baseline / "scores_families.parquet", mixed)
    run_a = run_id_of(baseline / "scores.parquet")
    with pytest.raises(ChurnmlError, match=f"scores_families.parquet from run {run_a}"):
        read_scores_bundle(mixed / "scores.parquet")
    pd.read_parquet(mixed / "scores_families.parquet").to_parquet(mixed / "scores_families.parquet")
    with pytest.raises(ChurnmlError, match="families.parquet from a file without run id"):
        read_scores_bundle(mixed / "scores.parquet")


KILL_DRIVER = """
import os, pickle, shutil, sys
from churnml.data.load import load_tables
from churnml.scoring.run import run_score

model_file, data, base, root, as_of = sys.argv[1:6]
tables = load_tables(data)
for step in sys.argv[6:]:
    out = os.path.join(root, step.replace(":", "-"))
    shutil.copytree(base, out)
    pid = os.fork()
    if pid == 0:  # the model is unpickled in the child: LightGBM is not fork-safe once used
        os.environ["CHURNML_KILL_AT"] = step
        model = pickle.load(open(model_file, "rb"))
        run_score(model, tables, as_of, os.path.join(out, "scores.parquet"), progress=False,
                  crm_out=os.path.join(out, "crm.csv"), db=f"sqlite:///{out}/crm.db")
        os._exit(3)
    print(step, os.waitpid(pid, 0)[1], flush=True)
"""


def test_kill_9_then_the_next_run_completes_or_replaces_it(world, baseline, tmp_path):
    """Real SIGKILLs at one step of each kind; the next run then leaves a complete folder whose
    history keeps every committed run and no temporary file."""
    steps = ["stage:scores", "database", "commit:families"]
    driver = tmp_path / "driver.py"
    driver.write_text(KILL_DRIVER)
    done = subprocess.run(
        [
            sys.executable,
            str(driver),
            str(world.root / "model.pkl"),
            str(world.data),
            str(baseline),
            str(tmp_path),
            AS_OF_B,
            *steps,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    status = dict(line.split() for line in done.stdout.splitlines())
    assert status == {s: str(int(signal.SIGKILL)) for s in steps}, done.stderr[-2000:]
    for step in steps:
        shown = report_state(tmp_path / step.replace(":", "-"))
        if step in BEFORE_COMMIT:
            assert shown == AS_OF_A, step
        else:
            assert isinstance(shown, ChurnmlError), step
    folder = tmp_path / "stage-scores"
    assert temporary_files(folder)  # the killed run's staged files are still there ...
    manifest = run(world, folder, AS_OF_C)
    assert temporary_files(folder) == []  # ... until the next run removes them
    assert manifest["recovered"]["removed"] and manifest["recovered"]["completed"] is None
    assert report_state(folder) == AS_OF_C and runs_as_of(folder) == {AS_OF_A, AS_OF_C}
    folder = tmp_path / "commit-families"
    manifest = run(world, folder, AS_OF_C)
    assert manifest["recovered"]["completed"]  # the killed run B was committed first
    assert report_state(folder) == AS_OF_C
    assert runs_as_of(folder) == {AS_OF_A, AS_OF_B, AS_OF_C}


SCORE_CHILD = """
import pickle, sys
from churnml.scoring.run import run_score

model_file, data, out, as_of = sys.argv[1:5]
manifest = run_score(pickle.load(open(model_file, "rb")), data, as_of, out, progress=False,
                     db="sqlite:///" + out.replace("scores.parquet", "crm.db"))
print(manifest["run_id"])
"""


def test_concurrent_runs_on_one_output_lose_no_history(world, baseline, tmp_path):
    """Two processes with the same --out and different as_of, released together from the lock:
    both succeed, one after the other, and the history keeps the rows of both (and of run A)."""
    from churnml.scoring.lock import output_lock

    folder = tmp_path / "out"
    shutil.copytree(baseline, folder)
    out = folder / "scores.parquet"
    script = tmp_path / "child.py"
    script.write_text(SCORE_CHILD)
    logs, children = [], []
    with output_lock([out]):
        for as_of in (AS_OF_B, AS_OF_C):
            logs.append(tmp_path / f"{as_of}.err")
            with logs[-1].open("w") as err:
                children.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            str(script),
                            str(world.root / "model.pkl"),
                            str(world.data),
                            str(out),
                            as_of,
                        ],
                        stdout=subprocess.PIPE,
                        stderr=err,
                        text=True,
                    )
                )
        deadline = time.monotonic() + 300
        while not all("waiting up to" in log.read_text() for log in logs):
            assert time.monotonic() < deadline and all(c.poll() is None for c in children)
            time.sleep(0.2)
    ids = [child.communicate(timeout=300)[0].strip() for child in children]
    assert [c.returncode for c in children] == [0, 0], [log.read_text()[-1500:] for log in logs]
    assert len(set(ids)) == 2
    runs = pd.read_parquet(folder / "scores_runs.parquet")
    assert runs_as_of(folder) == {AS_OF_A, AS_OF_B, AS_OF_C}
    for as_of in (AS_OF_B, AS_OF_C):
        from churnml import make_spine

        accounts = make_spine(world.tables, as_of)["account_id"]
        kept = runs.loc[pd.to_datetime(runs["as_of"]) == pd.Timestamp(as_of), "account_id"]
        assert sorted(kept) == sorted(accounts)
    assert report_state(folder) in (AS_OF_B, AS_OF_C)
    import sqlalchemy as sa

    with sa.create_engine(f"sqlite:///{folder}/crm.db").connect() as conn:
        dates = conn.execute(sa.text("select distinct substr(as_of, 1, 10) from churn_risk"))
        assert {d for (d,) in dates} == {AS_OF_A, AS_OF_B, AS_OF_C}


def test_a_held_lock_makes_the_second_run_fail_clearly_after_its_timeout(world, tmp_path):
    from churnml.scoring.lock import lock_path, output_lock

    out = tmp_path / "scores.parquet"
    with output_lock([out]):
        started = time.monotonic()
        busy = r"another churnml run is writing .*pid \d+"
        with pytest.raises(ChurnmlError, match=busy), output_lock([out], timeout=0.3):
            pass
        assert 0.3 <= time.monotonic() - started < 5
        with pytest.raises(ChurnmlError, match="another churnml run"):
            run(world, tmp_path, AS_OF_B, lock_timeout=0.2)
    assert not out.exists() and temporary_files(tmp_path) == []
    assert lock_path(out).exists()
    with output_lock([out], timeout=0):  # released with its holder
        pass


def test_new_files_follow_the_umask_and_replaced_files_keep_their_mode(tmp_path):
    from churnml.data.atomic import atomic_path
    from churnml.scoring.commit import Staging

    old = os.umask(0o027)
    try:
        target = tmp_path / "scores.parquet"
        with Staging(target, "r1") as staging:
            staging.stage("scores", target, lambda tmp: tmp.write_text("one"))
            staging.stage("crm", tmp_path / "crm.csv", lambda tmp: tmp.write_text("a"))
            staging.commit()
        assert (target.stat().st_mode & 0o777) == 0o640
        os.chmod(target, 0o644)  # an operator opens the file to the CRM import job
        with Staging(target, "r2") as staging:
            staging.stage("scores", target, lambda tmp: tmp.write_text("two"))
            staging.commit()
        assert (target.stat().st_mode & 0o777) == 0o644 and target.read_text() == "two"
        with atomic_path(tmp_path / "report.html") as tmp:
            tmp.write_text("x")
        assert ((tmp_path / "report.html").stat().st_mode & 0o777) == 0o640
    finally:
        os.umask(old)


def test_a_failed_run_leaves_nothing_and_leftovers_are_removed(world, baseline, tmp_path):
    """An unreachable database fails the run before any file changes; an old leftover of a
    killed run is removed by the next run."""
    from churnml.scoring.run import run_score

    folder = tmp_path / "out"
    shutil.copytree(baseline, folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix != ".lock"}
    (folder / ".scores.parquet.abc123.tmp").write_bytes(b"")
    with pytest.raises(Exception, match="(?i)connect"):
        run_score(
            world.model,
            world.tables,
            AS_OF_B,
            folder / "scores.parquet",
            progress=False,
            crm_out=folder / "crm.csv",
            db="postgresql+psycopg://churnml@127.0.0.1:1/nothing",
        )
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix != ".lock"}
    assert after == before  # this run's staging discarded, the old leftover removed
    assert report_state(folder) == AS_OF_A
    manifest = json.loads((folder / "scores_manifest.json").read_text())
    assert run_id_of(folder / "scores.parquet") == manifest["run_id"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"out": "scores.csv"}, "--out must be a .parquet file"),
        ({"crm_out": "crm.txt"}, "--crm-out: .*suffix must be .csv or .parquet"),
        ({"crm_out": "scores_runs.parquet"}, "one of the files --out writes"),
        ({"crm_preset": "bogus"}, "unknown CRM preset 'bogus'"),
    ],
)
def test_bad_outputs_are_refused_before_anything_slow(tmp_path, kwargs, message):
    from churnml.errors import UsageError
    from churnml.scoring.run import run_score

    paths = {k: tmp_path / v for k, v in kwargs.items() if k in ("out", "crm_out")}
    arguments = {"out": tmp_path / "scores.parquet", **kwargs, **paths}
    out = arguments.pop("out")
    with pytest.raises(UsageError, match=message):  # the model URI is never resolved
        run_score("models:/nothing@nowhere", tmp_path / "none", "2025-01-01", out, **arguments)
    assert list(tmp_path.iterdir()) == []
