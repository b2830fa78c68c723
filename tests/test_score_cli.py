"""``churnml score`` and ``churnml report`` on the command line: --capacity, --config, --mapping
without --data, and the warnings for an as_of outside the data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

AS_OF = "2025-11-01"


@pytest.fixture(scope="module")
def project(tmp_path_factory, saas_small, features_small):
    """A data folder, a mapping naming it as ``source:``, and a saved pyfunc model."""
    import mlflow

    from churnml.data.load import write_tables
    from churnml.features.catalog import load_catalog
    from churnml.features.engine import feature_columns
    from churnml.model.config import load_config
    from churnml.model.estimator import ChurnModel
    from churnml.model.pyfunc import ChurnPyfunc

    root = tmp_path_factory.mktemp("score-cli")
    write_tables({k: v for k, v in saas_small.items() if k != "oracle"}, root / "export")
    (root / "mapping.yaml").write_text("source: export\n")
    train = features_small[features_small["label"].notna()]
    model = ChurnModel(
        n_estimators=40, feature_columns=feature_columns(train), time_column="as_of"
    ).fit(train)
    wrapper = ChurnPyfunc(model, load_catalog(), load_config())
    mlflow.pyfunc.save_model(str(root / "model"), python_model=wrapper)
    return root


def _score(project, *extra, out="scores.parquet", as_of=AS_OF):
    from churnml.cli import main

    path = project / out
    argv = ["score", "--model", str(project / "model"), "--mapping", str(project / "mapping.yaml"),
            "--as-of", as_of, "--out", str(path), *extra]  # fmt: skip
    assert main(argv) == 0
    manifest = json.loads(path.with_name(f"{path.stem}_manifest.json").read_text())
    return pd.read_parquet(path), manifest


def test_capacity_from_the_command_line_with_the_mapping_as_the_source(project, capsys):
    scores, manifest = _score(project, "--capacity", "7")
    red = scores["tier"] == "red"
    assert red.sum() == 7 and manifest["rows_by_tier"]["red"] == 7
    assert scores.loc[red, "probability"].min() >= scores.loc[~red, "probability"].max()
    assert manifest["tiers"]["capacity"] == 7 and manifest["tiers"]["capacity_applied"]
    assert "7 red accounts; the 5 with the most ARR at risk" in capsys.readouterr().out


def test_config_tiers_override_the_models(project, capsys):
    (project / "tiers.yaml").write_text("trials: 1\ntiers:\n  red: 0.3\n  amber: 0.15\n")
    scores, manifest = _score(project, "--config", str(project / "tiers.yaml"), out="cfg.parquet")
    p = scores["probability"].to_numpy()
    expected = np.where(p >= 0.3, "red", np.where(p >= 0.15, "amber", "green"))
    assert (scores["tier"].astype(str).to_numpy() == expected).all()
    assert (manifest["tiers"]["red"], manifest["tiers"]["amber"]) == (0.3, 0.15)
    # without --config the model's own (relative) tiers apply
    _, default = _score(project, out="default.parquet")
    assert default["tiers"]["red"] == "2x"


def test_as_of_after_the_data_is_warned_in_the_digest_manifest_and_report(project, capsys):
    from churnml.cli import main

    with pytest.warns(UserWarning, match="days after the end of the data"):
        _, manifest = _score(project, out="late.parquet", as_of="2026-04-01")
    assert [w["kind"] for w in manifest["warnings"]][:1] == ["as_of_after_data"]
    printed = capsys.readouterr().out
    assert "warning: as_of 2026-04-01 is " in printed and "Score at or before" in printed
    html = project / "late.html"
    argv = ["report", "--scores", str(project / "late.parquet"),
            "--mapping", str(project / "mapping.yaml"), "--out", str(html)]  # fmt: skip
    assert main(argv) == 0
    text = html.read_text()
    assert "days after the end of the data" in text
    # contacts read through the mapping: the cards list people, not "not available"
    assert 'class="people-list"' in text and "Contact details not available" not in text


def test_as_of_before_the_data_is_warned(saas_small):
    from churnml.scoring.coverage import as_of_warnings
    from churnml.snapshots import data_period

    start, end = data_period(saas_small)
    early = as_of_warnings(saas_small, start - pd.Timedelta(days=20))
    assert [w["kind"] for w in early] == ["as_of_before_data"]
    assert f"Score at or after {start.date()}" in early[0]["message"]
    assert as_of_warnings(saas_small, start) == as_of_warnings(saas_small, end) == []
    assert as_of_warnings(saas_small, end + pd.Timedelta(days=31)) == []


def test_data_or_a_mapping_is_required(tmp_path):
    from churnml.cli import build_parser
    from churnml.errors import UsageError

    for argv in (["score", "--as-of", AS_OF, "--out", str(tmp_path / "s.parquet")],
                 ["train"], ["validate"], ["features", "--as-of", AS_OF, "--out", "f.parquet"]):  # fmt: skip
        args = build_parser().parse_args(argv)
        with pytest.raises(UsageError, match="--mapping with a source"):
            args.handler(args)


def test_plays_file_and_capacity_per_csm_from_the_command_line(project, capsys):
    from churnml.cli import main

    plays = project / "plays.yaml"
    plays.write_text(
        "owners: {csm: CSM, am: Account manager}\n"
        "families: {usage: {play: Usage call with the account manager, owner: am}}\n"
    )
    scores, manifest = _score(project, "--plays", str(plays), "--capacity-per-csm", "2",
                              out="plays.parquet")  # fmt: skip
    usage = scores[scores["top_family"] == "usage"]
    assert len(usage) and (usage["play"] == "Usage call with the account manager").all()
    assert (usage["play_owner"] == "Account manager").all()
    assert scores.groupby("csm")["csm_focus"].sum().max() == 2
    assert manifest["books"]["capacity_per_csm"] == 2
    plays.write_text("families: {usage: {play: X, owner: cfo}}\n")
    argv = ["score", "--model", str(project / "model"), "--mapping", str(project / "mapping.yaml"),
            "--as-of", AS_OF, "--out", str(project / "bad.parquet"), "--plays", str(plays)]  # fmt: skip
    assert main(argv) == 2
    assert "--plays" in capsys.readouterr().err and not (project / "bad.parquet").exists()


def test_audit_on_the_command_line_and_in_the_report(project, saas_small, capsys):
    from churnml.cli import main
    from churnml.data.synthetic.health_score import vendor_health_scores

    health = project / "health.csv"
    vendor_health_scores(saas_small, seed=3).to_csv(health, index=False)
    out = project / "audit.json"
    audit_argv = ["audit", "--model", str(project / "model"),
                  "--mapping", str(project / "mapping.yaml"), "--capacity", "10"]  # fmt: skip
    assert main([*audit_argv, "--health-score", str(health), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ROC-AUC" in printed and "deployed model" in printed and f"wrote {out}" in printed
    audit = json.loads(out.read_text())
    assert audit["summary"]["capacity"] == 10 and len(audit["metrics"]) == 6
    _score(project, out="audited.parquet")
    html = project / "audited.html"
    argv = ["report", "--scores", str(project / "audited.parquet"), "--audit", str(out),
            "--out", str(html)]  # fmt: skip
    assert main(argv) == 0
    assert "The existing health score beside the model" in html.read_text()
    health.write_text("account_id,date,health_score\nA1,2026-01-01,140\n")
    assert main([*audit_argv, "--health-score", str(health)]) == 1
    assert "1 of 1 rows are not numbers from 0 to 100" in capsys.readouterr().err


def test_generate_writes_the_vendor_health_score(tmp_path, capsys):
    from churnml.cli import main

    assert main(["generate", "--accounts", "30", "--months", "4", "--seed", "2",
                 "--health-score", "--out", str(tmp_path)]) == 0  # fmt: skip
    health = pd.read_parquet(tmp_path / "health_scores.parquet")
    assert {"account_id", "date", "health_score", "health"} <= set(health.columns)
    assert "health_scores" in capsys.readouterr().out
