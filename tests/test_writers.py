"""The fast writers give the old writers' output: CSV bytes as pandas wrote them, SQLite rows as
SQLAlchemy's per-row statements wrote them."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from churnml.scoring import database
from churnml.scoring.atomic import csv_to
from churnml.scoring.crm import file_frame, get_preset, to_crm, write_crm
from churnml.scoring.csv_text import csv_bytes
from test_crm import make_scores


def pandas_csv(frame: pd.DataFrame) -> bytes:
    """What ``csv_to`` wrote before (pandas and the csv module)."""
    text = frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S", lineterminator="\r\n")
    return text.encode("utf-8")


def awkward_frame(n=400, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    floats = rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)
    floats[:12] = [0.0, -0.0, 1e16, 1e15, 123456789.0, 1e-5, 0.1, np.inf, -np.inf, np.nan,
                   5e-324, 1.7976931348623157e308]  # fmt: skip
    texts = ["plain", "a,b", 'say "hi"', "two\nlines", "cr\rhere", "", None, "ünïcödé €", "'=1"]
    return pd.DataFrame(
        {
            "float": floats,
            "int": rng.integers(-(10**12), 10**12, n),
            "small": rng.integers(0, 100, n).astype(np.int16),
            "flag": rng.random(n) > 0.5,
            "nullable": pd.array(
                np.where(rng.random(n) > 0.2, rng.integers(0, 99, n), None), dtype="Int16"
            ),
            "text": pd.array(rng.choice(np.array(texts, dtype=object), n), dtype="string"),
            "objects": np.array(rng.choice(["x", None, "y,z"], n), dtype=object),
            "stamp": pd.to_datetime(rng.integers(0, 2**31, n), unit="s").where(
                rng.random(n) > 0.1
            ),
            "zoned": pd.to_datetime(rng.integers(0, 2**31, n), unit="s", utc=True).tz_convert(
                "America/New_York"
            ),
        }
    )


def test_csv_bytes_are_the_pandas_bytes():
    frame = awkward_frame()
    assert csv_bytes(frame) == pandas_csv(frame)
    assert csv_bytes(frame.iloc[:0]) == pandas_csv(frame.iloc[:0])


@pytest.mark.parametrize("preset", ["generic", "salesforce", "hubspot"])
def test_crm_csv_is_the_pandas_file(tmp_path, preset):
    scores = make_scores(seed=2)
    scores.loc[0, "name"] = "=HYPERLINK(\"x\")"  # a neutralised formula, quoted for its quotes
    scores.loc[1, "top_reasons"] = "first reason, with a comma\nsecond reason"
    spec = get_preset(preset)
    frame = file_frame(to_crm(scores, spec), tmp_path / "crm.csv", spec)
    write_crm(scores, tmp_path / "crm.csv", preset=preset)
    assert (tmp_path / "crm.csv").read_bytes() == pandas_csv(frame)


def test_kinds_arrow_does_not_reproduce_fall_back_to_pandas(tmp_path):
    odd = pd.DataFrame({"level": pd.Categorical(["a", "b,c"]), "x": [1.5, 2.0]})
    assert csv_bytes(odd) is None and csv_bytes(odd[["x"]]) is None
    assert csv_bytes(pd.DataFrame({"f": np.float32([0.1, 2]), "x": [1, 2]})) is None
    csv_to(odd, tmp_path / "odd.csv")
    assert (tmp_path / "odd.csv").read_bytes() == pandas_csv(odd)


def _table(path) -> tuple:
    """Every stored value with its SQLite storage class, and the table's DDL."""
    con = sqlite3.connect(path)
    try:
        names = [row[1] for row in con.execute("PRAGMA table_info(churn_risk)")]
        cells = ", ".join(f'"{n}", typeof("{n}")' for n in names)
        rows = con.execute(f"SELECT {cells} FROM churn_risk ORDER BY rowid").fetchall()
        return rows, con.execute("SELECT sql FROM sqlite_master").fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("preset", ["generic", "salesforce"])
def test_sqlite_upsert_stores_what_the_statements_stored(tmp_path, monkeypatch, preset):
    first = make_scores(seed=3, scored_at="2025-06-02 08:00:00.123456")
    second = first.copy()
    second.loc[[0, 2], "score"] = np.array([1, 99], dtype=np.int16)
    second.loc[1, "top_reasons"] = None
    second["scored_at"] = pd.Timestamp("2025-06-03 09:30")
    for name in ("fast", "statements"):
        if name == "statements":
            monkeypatch.setattr(database, "_sqlite_upsert", database._statement_write)
        url = f"sqlite:///{tmp_path / name}.db"
        assert write_crm(first, db=url, preset=preset).inserted == len(first)
        assert write_crm(second, db=url, preset=preset).updated == 3
    assert _table(tmp_path / "fast.db") == _table(tmp_path / "statements.db")
