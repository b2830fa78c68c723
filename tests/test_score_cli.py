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
