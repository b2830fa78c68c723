"""The old README mapping — churned terms cut at the churn date, renewed ones on anniversaries —
applied to a subscription export through the CLI: the leakage guard names the renewal calendar
and the champion gate keeps the model from promotion."""

from __future__ import annotations

import shutil
from pathlib import Path

LEAKY = Path(__file__).parent / "data" / "leaky_terms_mapping.yaml"


def test_churned_terms_ending_on_the_churn_date_block_promotion(tmp_path, monkeypatch, capsys):
    from churnml.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    assert main(["generate", "--accounts", "300", "--months", "18", "--seed", "5",
                 "--export", "subscriptions", "--out", "export", "-q"]) == 0
    mapping = tmp_path / "leaky.yaml"
    shutil.copy(LEAKY, mapping)
    capsys.readouterr()
    assert main(["train", "--data", "export", "--mapping", str(mapping), "--trials", "1"]) == 0
    out = capsys.readouterr().out
    assert "Leakage guard:  1 PROBABLE LEAK" in out
    assert "days_off_anniversary separates churned from retained rows" in out
    assert "do churned terms end on the churn date?" in out
    assert "Champion:       registered, not promoted — probable leak: days_off_anniversary" in out

    # the same export through its own mapping (terms cut by churnml): no leak
    capsys.readouterr()
    assert main(["features", "--mapping", "export/mapping.yaml", "--start", "2025-03-01",
                 "--as-of", "2025-10-01", "--out", "f.parquet"]) == 0
    assert "Leakage guard:  no probable leak" in capsys.readouterr().out
