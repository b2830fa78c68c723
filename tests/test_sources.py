"""Sources: database URLs and credentials, the lazy usage table against the pandas path, the
bounded read of scoring, and the SQLAlchemy fallback (SQLite)."""

from __future__ import annotations

import pandas as pd
import pytest

from churnml.data.load import load_tables, open_tables, write_tables
from churnml.errors import ChurnmlError
from churnml.features.engine import build_features
from churnml.sources.lazy import LazyTable, is_lazy
from churnml.sources.urls import expand_env, redact

TABLES = ["accounts", "contracts", "usage", "tickets", "nps", "contacts", "goals"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory, saas_small):
    path = tmp_path_factory.mktemp("sources") / "data"
    write_tables({k: v for k, v in saas_small.items() if k in TABLES}, path)
    return path


@pytest.fixture(scope="module")
def few_dates(spine_small):
    """The spine's last three months (enough to reach every window, quicker to build)."""
    dates = sorted(spine_small["as_of"].unique())[-3:]
    return spine_small[spine_small["as_of"].isin(dates)].reset_index(drop=True)


@pytest.fixture(scope="module")
def pandas_features(folder, few_dates):
    return build_features(load_tables(folder, validate=False), few_dates)


def test_redact_hides_passwords_and_secret_parameters():
    assert redact("postgresql://u:pa:ss@db/x") == "postgresql://u:***@db/x"
    assert redact("mysql+pymysql://u:p@h/db?charset=utf8&password=x") == (
        "mysql+pymysql://u:***@h/db?charset=utf8&password=***")
    assert redact("sqlite:///tmp/x.db") == "sqlite:///tmp/x.db"


def test_env_variables_fill_the_url_and_a_missing_one_is_named(monkeypatch):
    monkeypatch.setenv("CHURNML_TEST_PW", "s3cret")
    assert expand_env("postgresql://u:${CHURNML_TEST_PW}@db/x") == "postgresql://u:s3cret@db/x"
    monkeypatch.delenv("CHURNML_TEST_PW")
    with pytest.raises(ChurnmlError, match="CHURNML_TEST_PW"):
        expand_env("postgresql://u:${CHURNML_TEST_PW}@db/x")


def test_a_mapping_keeps_a_url_source_and_does_not_show_it():
    from churnml.data.mapping import mapping_from_dict

    m = mapping_from_dict({"source": "postgresql://u:hunter2@db:5432/wh", "tables": {}},
                          base="/somewhere")
    assert m.source == "postgresql://u:hunter2@db:5432/wh"  # not a path under base
    assert "hunter2" not in repr(m)


def test_usage_stays_lazy_and_builds_the_same_features(folder, few_dates, pandas_features):
    tables = open_tables(folder, validate=False)
    try:
        assert is_lazy(tables["usage"]) and not is_lazy(tables["accounts"])
        assert len(tables["usage"]) == len(pd.read_parquet(folder / "usage.parquet"))
        lazy = build_features(tables, few_dates)
        # the source's connection is left as it was: a second build works the same
        again = build_features(tables, few_dates)
    finally:
        tables["usage"].close()
    pd.testing.assert_frame_equal(lazy, pandas_features, check_exact=True)
    pd.testing.assert_frame_equal(again, pandas_features, check_exact=True)


def test_mapping_sql_usage_is_lazy_and_equal(folder, few_dates, pandas_features, tmp_path):
    raw = pd.read_parquet(folder / "usage.parquet").rename(
        columns={"account_id": "customer", "ts": "happened_at"})
    raw.to_parquet(folder / "events_raw.parquet")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        f"source: {folder}\n"
        "tables:\n"
        "  usage:\n"
        "    sql: SELECT customer AS account_id, happened_at AS ts, user_id, event, quantity "
        "FROM events_raw\n")
    try:
        tables = open_tables(mapping=mapping, validate=False)
        assert is_lazy(tables["usage"])
        lazy = build_features(tables, few_dates)
        tables["usage"].close()
    finally:
        (folder / "events_raw.parquet").unlink()
    pd.testing.assert_frame_equal(lazy, pandas_features, check_exact=True)


def test_lazy_validation_finds_what_pandas_finds(tmp_path, folder):
    usage = pd.read_parquet(folder / "usage.parquet")
    usage["account_id"] = usage["account_id"].astype(str)
    bad = usage.head(4).copy()
    bad.loc[bad.index[0], "account_id"] = "NOPE"  # an orphan
    bad.loc[bad.index[1], "ts"] = pd.Timestamp("2030-01-01")  # in the future
    data = tmp_path / "data"
    data.mkdir()
    for f in folder.glob("*.parquet"):
        (data / f.name).write_bytes(f.read_bytes())
    pd.concat([usage, bad], ignore_index=True).to_parquet(data / "usage.parquet")
    from churnml.data.validate import validate

    now = pd.Timestamp("2026-06-01")
    lazy = open_tables(data, validate=False)
    checked = validate(lazy, raise_on_fatal=False, now=now)
    lazy["usage"].close()
    plain = validate(load_tables(data, validate=False), raise_on_fatal=False, now=now)

    def usage_rows(report):
        rows = report[report["table"] == "usage"]
        return dict(zip(rows["check"], rows["count"]))

    found = usage_rows(checked)
    assert found == usage_rows(plain)
    assert found["orphan_key"] >= 1 and found["future_date"] >= 1
    assert found["duplicate_rows"] >= 2  # the two rows copied unchanged
    orphan = checked[(checked["table"] == "usage") & (checked["check"] == "orphan_key")]
    assert "account_id=NOPE" in orphan["examples"].iloc[0]


def test_scoring_reads_usage_only_from_the_longest_lookback(folder, spine_small):
    from churnml.features.catalog import load_catalog
    from churnml.scoring.indicator_history import usage_read_since
    from churnml.snapshots import data_period

    as_of = pd.Timestamp(spine_small["as_of"].max())
    spine = spine_small[spine_small["as_of"] == as_of].reset_index(drop=True)
    since = usage_read_since(load_catalog(), as_of)
    assert as_of - pd.Timedelta(days=400) < since <= as_of - pd.Timedelta(days=365)
    whole = open_tables(folder, validate=False)
    bounded = open_tables(folder, validate=False, since=since)
    try:
        rows = bounded["usage"].con.execute(
            f'SELECT COUNT(*), MIN("ts") FROM ({bounded["usage"].select})').fetchall()[0]
        assert rows[0] < len(whole["usage"]) and rows[1] >= since
        # the bound reaches the Parquet scan itself (row groups before it are skipped)
        plan = bounded["usage"].con.execute(
            f'EXPLAIN SELECT * FROM ({bounded["usage"].select})').fetchall()[0][1]
        scan = plan[plan.index("PARQUET_SCAN"):]
        assert "Filters" in scan and "ts >=" in scan
        # what needs the whole history comes from the per-account summary
        assert len(bounded["usage"]) == len(whole["usage"])
        assert data_period(bounded) == data_period(whole)
        pd.testing.assert_frame_equal(build_features(bounded, spine),
                                      build_features(whole, spine), check_exact=True)
    finally:
        whole["usage"].close()
        bounded["usage"].close()


def test_sqlalchemy_fallback_reads_sqlite(tmp_path, saas_small):
    import sqlalchemy as sa

    small = {k: saas_small[k].head(200) for k in ("accounts", "contracts", "usage")}
    engine = sa.create_engine(f"sqlite:///{tmp_path}/crm.db")
    for name, frame in small.items():
        frame.to_sql(name, engine, index=False)
    engine.dispose()
    tables = load_tables(f"sqlite:///{tmp_path}/crm.db", validate=False)
    assert sorted(tables) == ["accounts", "contracts", "usage"]
    got = tables["usage"].sort_values(["account_id", "ts"], ignore_index=True)
    want = small["usage"].sort_values(["account_id", "ts"], ignore_index=True)
    assert got["account_id"].astype(str).tolist() == want["account_id"].astype(str).tolist()
    assert (got["ts"].to_numpy() == want["ts"].to_numpy()).all()
    assert got["quantity"].tolist() == want["quantity"].astype(float).tolist()


def test_scoring_a_folder_reads_a_bounded_usage_and_scores_as_the_pandas_tables(
        folder, features_small, tmp_path):
    """``run_score`` on a folder (usage lazy, read from the look-back on) writes the scores and
    reasons that ``score`` computes from every table in pandas."""
    from churnml.features.catalog import load_catalog
    from churnml.features.engine import feature_columns
    from churnml.model.config import load_config
    from churnml.model.estimator import ChurnModel
    from churnml.scoring.run import run_score
    from churnml.scoring.score import score

    train = features_small[features_small["label"].notna()]
    model = ChurnModel(n_estimators=30, feature_columns=feature_columns(train),
                       time_column="as_of").fit(train)
    model.config_ = load_config(tiers={"red": 0.3, "amber": 0.15})
    model.catalog_ = load_catalog()
    model.model_name_, model.model_version_ = "churnml", "1"
    as_of = pd.Timestamp(features_small["as_of"].max())
    expected = score(model, load_tables(folder), as_of).sort_values("account_id", ignore_index=True)
    run_score(model, folder, as_of, tmp_path / "scores.parquet", progress=False)
    got = pd.read_parquet(tmp_path / "scores.parquet").sort_values("account_id", ignore_index=True)
    assert len(got) == len(expected) > 0
    for column in ("account_id", "probability", "score", "tier", "top_reasons"):
        assert got[column].astype(str).tolist() == expected[column].astype(str).tolist(), column


def test_text_usage_is_read_through_pandas_and_bounded(tmp_path, saas_small):
    """CSV timestamps parse in pandas (formats, mixed zones): usage is then a pandas frame,
    still cut at ``since``."""
    data = tmp_path / "csv"
    data.mkdir()
    for name in ("accounts", "contracts", "usage"):
        saas_small[name].head(3000).to_csv(data / f"{name}.csv", index=False)
    since = pd.Timestamp(saas_small["usage"]["ts"].head(3000).median()).normalize()
    tables = open_tables(data, validate=False, since=since)
    assert isinstance(tables["usage"], pd.DataFrame)
    assert len(tables["usage"]) and tables["usage"]["ts"].min() >= since


def test_lazy_duplicate_check_is_exact_on_nulls_zeros_and_near_copies():
    """Rows repeat when every column is equal as SQL groups them (NULL with NULL, -0.0 with 0.0);
    a row that differs in one column only is no duplicate, whatever the hashes say."""
    import duckdb

    from churnml.data.sql_checks import lazy_checks

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE u AS SELECT * FROM (VALUES "
        "('a1', 'u1', TIMESTAMP '2026-01-01', 'login', 1.0),"
        "('a1', 'u1', TIMESTAMP '2026-01-01', 'login', 1.0),"  # copy 1
        "('a1', 'u1', TIMESTAMP '2026-01-01 00:00:01', 'login', 1.0),"  # one second later
        "('a1', NULL, TIMESTAMP '2026-01-02', 'login', 0.0),"
        "('a1', NULL, TIMESTAMP '2026-01-02', 'login', -0.0),"  # copy 2
        "('a2', 'u2', TIMESTAMP '2026-01-03', 'login', 2.0),"
        "('a2', 'u2', TIMESTAMP '2026-01-03', 'login', 2.0),"  # copy 3
        "('a2', 'u2', TIMESTAMP '2026-01-03', 'login', 2.0),"  # copy 4
        "('a2', 'u2', TIMESTAMP '2026-01-03', 'export', 2.0)"  # another event
        ") AS t(account_id, user_id, ts, event, quantity)")

    class Source:
        pass

    source = Source()
    source.con = con
    table = LazyTable("usage", source, "SELECT * FROM u",
                      ["account_id", "user_id", "ts", "event", "quantity"], lambda: None)
    found = {f["check"]: f for f in lazy_checks(table, None, pd.Timestamp("2027-01-01"))}
    assert found["duplicate_rows"]["count"] == 4
    assert "account_id=a2, user_id=u2" in found["duplicate_rows"]["examples"]
    frame = con.execute("SELECT * FROM u").df()
    assert int(frame.duplicated().sum()) == 4  # what the pandas path counts
    con.execute("CREATE TABLE v AS SELECT DISTINCT * FROM u")  # the near copies stay
    assert con.execute("SELECT COUNT(*) FROM v").fetchall()[0][0] == 5
    table.select = "SELECT * FROM v"
    assert "duplicate_rows" not in {
        f["check"] for f in lazy_checks(table, None, pd.Timestamp("2027-01-01"))
    }


def test_duckdb_memory_limit_leaves_room_for_usage_and_stays_within_the_machine(monkeypatch):
    from churnml.sources import resources

    gb = 1 << 30
    monkeypatch.setattr(resources, "_available", lambda: 20 * gb)
    # 258 MB of Parquet (20,000 accounts' usage) needs about 2 GB: below it, usage spills
    assert resources.memory_limit_bytes(258 << 20) == 8 * (258 << 20)
    assert resources.memory_limit_bytes(10 << 20) == gb  # at least 1 GB
    assert resources.memory_limit_bytes(5 * gb) == 10 * gb  # at most half the available memory
    monkeypatch.setenv("CHURNML_DUCKDB_MEMORY", "6GB")
    assert resources.duckdb_settings(258 << 20)["memory_limit"] == "6GB"
    monkeypatch.delenv("CHURNML_DUCKDB_MEMORY")
    assert resources.duckdb_settings(258 << 20)["memory_limit"] == f"{8 * 258}MB"
