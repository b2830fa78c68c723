"""The Spark engine on a real multi-process Spark (``local-cluster``: a master and two executor
JVMs on 127.0.0.1), started for this module and stopped after it.

One synthetic world of 150 accounts, written as Parquet the way a lakehouse holds it: usage split
over several files with every account's rows spread across them, an empty file among them, and one
account with 100x the events of the others. Spark features, scores, reasons and CRM fields must
equal the local engine's on the same data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")
pytestmark = [
    pytest.mark.slow,
    # pyspark's own notices about pandas 3 (churnml hands Spark Arrow, never pandas UDFs)
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

MASTER = "local-cluster[2,1,1024]"
WORLD = {"n_accounts": 150, "months": 13, "seed": 11}
AS_OF = ["2024-10-01", "2024-12-01", "2025-01-01", "2025-02-01"]
SCORED_AT = pd.Timestamp("2025-02-02 06:00:00")


@pytest.fixture(scope="module")
def spark():
    from churnml.spark import spark_session

    session = spark_session(MASTER, conf={"spark.default.parallelism": "4",
                                          "spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()


def _write_usage(usage: pd.DataFrame, folder) -> None:
    """Usage as three files with rows shuffled across them, plus an empty one."""
    folder.mkdir()
    order = np.random.default_rng(0).permutation(len(usage))
    for i, part in enumerate(np.array_split(order, 3)):
        usage.iloc[np.sort(part)].to_parquet(folder / f"part-{i}.parquet", index=False)
    usage.iloc[:0].to_parquet(folder / "part-empty.parquet", index=False)


def _orphan_champion(contacts: pd.DataFrame, usage: pd.DataFrame, accounts):
    """The most active champion of ``accounts`` loses its account and its email's domain: it
    matches no account, yet its usage (by user_id) still counts for the account using it."""
    users = usage["user_id"].astype("string").value_counts()
    champions = contacts[contacts["role"].eq("champion").fillna(False)
                         & contacts["account_id"].isin(accounts) & contacts["user_id"].notna()]
    pick = champions.index[users.reindex(champions["user_id"].astype("string")).fillna(0).argmax()]
    contacts = contacts.copy()
    account = str(contacts.loc[pick, "account_id"])
    contacts.loc[pick, "account_id"] = pd.NA
    contacts.loc[pick, "email"] = "lost@nowhere.example"
    return contacts, account


def _orphan_respondent(contacts: pd.DataFrame, nps: pd.DataFrame, spine: pd.DataFrame):
    """A decision maker who is the only decision-maker detractor of an account at an as_of loses
    its account and its email's domain: its answer still counts, since a respondent's role comes
    from every contact (on Spark too). Returns the contacts and that (account, as_of)."""
    deciders = contacts[contacts["role"].isin(["decision_maker", "executive_sponsor"])
                        & contacts["account_id"].notna()]
    low = nps[nps["score"] <= 6].merge(deciders[["contact_id"]], on="contact_id")
    days = (spine[["as_of"]].drop_duplicates().merge(low, how="cross")
            .assign(back=lambda f: (f["as_of"] - f["responded_at"]).dt.days))
    seen = days[(days["back"] > 0) & (days["back"] <= 180)].merge(spine[["account_id", "as_of"]])
    alone = seen.groupby(["account_id", "as_of"])["contact_id"].transform("nunique") == 1
    pick = seen[alone].iloc[0]
    contacts = contacts.copy()
    at = contacts["contact_id"] == pick["contact_id"]
    contacts.loc[at, ["account_id", "email"]] = [pd.NA, "gone@nowhere.example"]
    return contacts, (str(pick["account_id"]), pick["as_of"])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(folder, tables as the local engine loads them, the skewed account, the account of the
    orphan champion, the (account, as_of) of the orphan respondent)."""
    from churnml import load_tables, make_spine
    from churnml.data.load import write_tables
    from churnml.datasets import make_saas

    tables = make_saas(**WORLD)
    usage = tables.pop("usage")
    in_spine = make_spine(tables, as_of=AS_OF)["account_id"].unique()  # reads no usage
    skewed = str(usage.loc[usage["account_id"].isin(in_spine), "account_id"].mode()[0])
    mine = usage[usage["account_id"] == skewed]
    usage = pd.concat([usage, *[mine] * 99], ignore_index=True)  # 100x the events of one account
    tables["contacts"], orphan = _orphan_champion(tables["contacts"], usage, in_spine)
    tables["contacts"], respondent = _orphan_respondent(
        tables["contacts"], tables["nps"], make_spine(tables, as_of=AS_OF, horizon_days=180))
    folder = tmp_path_factory.mktemp("spark-world")
    write_tables(tables, folder)
    _write_usage(usage, folder / "usage")
    local = load_tables({**tables, "usage": usage})
    local.update(oracle=tables["oracle"])
    return folder, local, skewed, orphan, respondent


@pytest.fixture(scope="module")
def spine(world):
    from churnml import make_spine

    return make_spine(world[1], as_of=AS_OF, horizon_days=180)


def assert_same_frame(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same columns and rows; floats within 1e-9 relative with nulls in the same places."""
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for column in want.columns:
        a, b = got[column], want[column]
        numeric = pd.api.types.is_numeric_dtype(b) and not pd.api.types.is_bool_dtype(b)
        if numeric and not isinstance(b.dtype, pd.CategoricalDtype):
            x = pd.to_numeric(a).to_numpy(dtype="float64", na_value=np.nan)
            y = pd.to_numeric(b).to_numpy(dtype="float64", na_value=np.nan)
            assert (np.isnan(x) == np.isnan(y)).all(), f"{column}: nulls differ"
            ok = ~np.isnan(y)
            np.testing.assert_allclose(x[ok], y[ok], rtol=1e-9, atol=0, err_msg=column)
        else:
            left = a.astype("string").fillna("<NA>").reset_index(drop=True)
            right = b.astype("string").fillna("<NA>").reset_index(drop=True)
            assert left.equals(right), f"{column}: {left[left != right].head(3).tolist()}"


@pytest.fixture(scope="module")
def local_features(world, spine):
    from churnml import build_features

    return build_features(world[1], spine)


@pytest.fixture(scope="module")
def spark_features(spark, world, spine):
    from churnml import build_features

    return build_features(world[0], spine, engine="spark", spark=spark, buckets=5)


def test_every_indicator_equals_the_local_engine(spark_features, local_features, spine, world):
    assert spine["as_of"].nunique() == len(AS_OF)
    assert_same_frame(spark_features, local_features)
    skewed = local_features["account_id"] == world[2]
    assert skewed.any() and local_features.loc[skewed, "events_30d"].gt(0).any()
    orphan = local_features["account_id"] == world[3]
    assert local_features.loc[orphan, "champion_events_30d"].gt(0).any()
    account, as_of = world[4]
    answered = (local_features["account_id"] == account) & (local_features["as_of"] == as_of)
    assert local_features.loc[answered, "decision_maker_detractor_180d"].eq(1).all()


def test_a_subscription_export_gives_the_local_window_labels_and_indicators(spark):
    """A foreign-shaped export (subscriptions, churn events, no contracts) read through its
    mapping: the renewal terms are cut once for the whole book and every indicator equals the
    local engine's on window-label snapshots."""
    import yaml

    from churnml import build_features, load_tables, make_spine
    from churnml.data.mapping import mapping_from_dict
    from churnml.data.synthetic.export import MAPPING, make_saas_export
    from churnml.spark.tables import SparkTables

    export = make_saas_export(n_accounts=60, months=12, seed=11)
    tables = load_tables({k: v for k, v in export.items() if not k.startswith("oracle")},
                         mapping=mapping_from_dict(yaml.safe_load(MAPPING)))
    assert "contracts" not in {k for k, v in export.items()} and "subscriptions" in tables
    end = tables["usage"]["ts"].max().normalize()
    when = {"start": end - pd.DateOffset(months=4), "end": end, "horizon_days": 90,
            "label": "window"}
    spine = make_spine(tables, **when)
    book = SparkTables({k: v for k, v in tables.items() if k != "contracts"}, spark)
    pd.testing.assert_frame_equal(make_spine(book, **when), spine)
    got = build_features(book, spine, engine="spark", spark=spark, buckets=3)
    assert_same_frame(got, build_features(tables, spine))


def test_buckets_without_spine_accounts_and_an_empty_file(spark, world, spine, local_features):
    """Five accounts in 16 buckets: most buckets hold only rows of accounts outside the spine."""
    from churnml import build_features

    few = spine[spine["account_id"].isin(spine["account_id"].unique()[:5])]
    got = build_features(world[0], few, engine="spark", spark=spark, buckets=16)
    want = local_features[local_features.index.isin(few.index)].reset_index(drop=True)
    assert_same_frame(got, want)


@pytest.fixture(scope="module")
def model(world, local_features):
    from churnml.model.training import train

    return train(world[1], features=local_features, trials=1, progress=False, log=False).model


@pytest.fixture(scope="module")
def scored(spark, world, model, tmp_path_factory):
    """Spark scoring twice (the second run's trend reads the first) and local scoring alike."""
    from churnml.scoring.score import score_result
    from churnml.spark import score

    out = tmp_path_factory.mktemp("spark-scores")
    earlier = SCORED_AT - pd.Timedelta(days=31)
    score(model, world[0], "2025-01-01", out, spark=spark, buckets=3, scored_at=earlier)
    manifest = score(model, world[0], "2025-02-01", out, spark=spark, buckets=3,
                     scored_at=SCORED_AT, crm_preset="salesforce")
    first = score_result(model, world[1], "2025-01-01", scored_at=earlier)
    local = score_result(model, world[1], "2025-02-01", history=first.scores, scored_at=SCORED_AT)
    return out, manifest, local


def _read(folder, as_of_column="as_of", as_of="2025-02-01") -> pd.DataFrame:
    frame = pd.read_parquet(folder)
    frame = frame[frame[as_of_column].astype(str) == as_of].drop(columns=[as_of_column])
    return frame.reset_index(drop=True)


def test_spark_scores_equal_local_scores(scored):
    out, manifest, local = scored
    got = _read(out / "scores").sort_values("rank").reset_index(drop=True)
    want = local.scores.drop(columns=["as_of"])
    assert_same_frame(got[want.columns], want)
    assert manifest["accounts"] == len(want)
    counts = want["tier"].astype("string").value_counts()
    assert manifest["tiers"] == counts[counts > 0].to_dict()
    assert got["trend"].ne("new").any()  # the earlier run under out/scores gave the trend


def test_spark_reasons_equal_local_reasons(scored):
    out, _, local = scored
    keys = ["account_id", "kind", "rank"]
    got = _read(out / "explanations").sort_values(keys).reset_index(drop=True)
    want = local.explanations.drop(columns=["as_of"]).sort_values(keys).reset_index(drop=True)
    assert_same_frame(got[want.columns], want)
    keys = ["account_id", "family"]
    got = _read(out / "families").sort_values(keys).reset_index(drop=True)
    want = local.families.drop(columns=["as_of"]).sort_values(keys).reset_index(drop=True)
    assert_same_frame(got[want.columns], want)


def test_spark_crm_fields_equal_local_crm_fields(scored):
    from churnml.scoring.crm import to_crm

    out, _, local = scored
    want = to_crm(local.scores, "salesforce")
    as_of = "Churn_Risk_As_Of__c"
    got = _read(out / "crm", as_of).sort_values("Account_External_Id__c").reset_index(drop=True)
    want = want.drop(columns=[as_of]).sort_values("Account_External_Id__c").reset_index(drop=True)
    assert_same_frame(got[want.columns], want)


@pytest.fixture(scope="module")
def champion(world, local_features, tmp_path_factory):
    """A model trained, logged and registered as ``churnml@champion`` in a local MLflow store."""
    from churnml.model.training import train

    folder = tmp_path_factory.mktemp("spark-mlflow")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        result = train(world[1], features=local_features, trials=1, progress=False,
                       figures=False, tracking_uri=f"sqlite:///{folder}/mlflow.db")
        if not result.promoted:  # 150 accounts and one trial need not pass the champion gate
            from churnml.model.registry import promote

            promote("churnml", result.model_version)
        yield result


def test_pyfunc_spark_udf_scores_churnml_spark_features(spark, world, spine, champion):
    """``mlflow.pyfunc.spark_udf`` with ``models:/churnml@champion`` on a Spark DataFrame of
    churnml's own features gives the probabilities, scores and tiers of the pyfunc itself.

    (The reference call casts pandas categories to text with ``signature_frame``: the pyfunc's
    signature refuses a category column; Spark hands the UDF text already.)"""
    import mlflow
    from pyspark.sql import functions as F

    from churnml.model.pyfunc import signature_frame
    from churnml.spark import build_features
    from churnml.spark.features import local_features

    frame = build_features(world[0], spine[spine["as_of"] == spine["as_of"].max()], spark=spark,
                           buckets=3)
    names = list(champion.model.feature_names_in_)
    udf = mlflow.pyfunc.spark_udf(spark, "models:/churnml@champion", env_manager="local",
                                  result_type="probability double, score long, tier string")
    scored = frame.withColumn("risk", udf(F.struct(*names))).select("_row", *names, "risk.*")
    got = local_features(scored.toArrow())
    pyfunc = mlflow.pyfunc.load_model("models:/churnml@champion")
    want = pyfunc.predict(signature_frame(champion.model, got[names]))
    np.testing.assert_allclose(got["probability"], want["probability"], rtol=1e-9)
    np.testing.assert_allclose(got["probability"],
                               champion.model.predict_proba(got[names])[:, 1], rtol=1e-9)
    assert got["tier"].tolist() == want["tier"].tolist()
    assert got["score"].tolist() == want["score"].tolist()


def test_bucket_rule_follows_rows_and_cores():
    from churnml.spark import bucket_count

    assert bucket_count(1_000, cores=4) == 8  # small data: two buckets per core
    assert bucket_count(49_000_000, cores=2) == 13  # ceil(49M / 4M)
    assert bucket_count(49_000_000, cores=2, rows_per_bucket=1_000_000) == 49
    with pytest.raises(ValueError, match="rows_per_bucket=0"):
        bucket_count(10, cores=2, rows_per_bucket=0)


def test_unknown_engine_is_a_usage_error(world, spine):
    from churnml import build_features
    from churnml.errors import UsageError

    with pytest.raises(UsageError, match="engine='duck'"):
        build_features(world[1], spine, engine="duck")


def test_remote_folders_are_told_from_local_paths():
    from churnml.spark.tables import is_url

    assert [is_url(p) for p in ("s3a://lake/book", "dbfs:/churn", "hdfs://nn/x")] == [True] * 3
    assert [is_url(p) for p in ("/tmp/book", "book", "C:/book")] == [False] * 3
