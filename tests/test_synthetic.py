"""The synthetic SaaS world: deterministic, on contract, hard enough, and its signals lead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churnml.data.contract import CONTRACT
from churnml.data.synthetic import causes
from churnml.datasets import make_saas


def test_same_seed_same_tables_and_other_seed_differs(saas_small):
    again = make_saas(n_accounts=300, months=18, seed=3)
    for name, frame in saas_small.items():
        assert frame.equals(again[name]), name
    other = make_saas(n_accounts=300, months=18, seed=4)
    assert not other["contracts"]["arr"].equals(saas_small["contracts"]["arr"])


#: the contract tables make_saas writes (subscriptions and churn events come with its export)
NATIVE = [name for name in CONTRACT if name not in ("subscriptions", "churn_events")]


def test_tables_follow_the_contract(saas_small):
    for name in NATIVE:
        spec = CONTRACT[name]
        frame = saas_small[name]
        missing = set(spec.required) - set(frame.columns)
        assert not missing, (name, missing)
        for column, kind in spec.columns.items():
            if column in frame and kind == "timestamp":
                assert pd.api.types.is_datetime64_any_dtype(frame[column]), (name, column)
                assert getattr(frame[column].dtype, "tz", None) is None
        if spec.key:
            assert not frame.duplicated(list(spec.key)).any(), name
    assert set(saas_small["contracts"]["outcome"].unique()) <= {
        "renewed",
        "churned",
        "downgraded",
        "expanded",
        "open",
    }
    assert (saas_small["contracts"]["end_date"] > saas_small["contracts"]["start_date"]).all()


@pytest.fixture(scope="module")
def demo_size():
    """The demo's 2,000 accounts over 24 months; half the usage volume keeps the tests quick
    (outcomes are drawn before usage, so ``usage_scale`` leaves contracts and oracle alone)."""
    return make_saas(n_accounts=2000, months=24, seed=7, usage_scale=0.5)


def test_churn_rate_and_oracle_auc_are_honest(demo_size):
    oracle = demo_size["oracle"]
    resolved = oracle[oracle["churn_probability"].notna()]
    churned = resolved["outcome"] == "churned"
    assert 0.08 <= churned.mean() <= 0.15
    auc = roc_auc_score(churned, resolved["churn_probability"])
    assert 0.80 <= auc <= 0.92, auc


def test_usage_scale_changes_usage_only():
    small = make_saas(n_accounts=100, months=6, seed=5, usage_scale=0.5)
    large = make_saas(n_accounts=100, months=6, seed=5, usage_scale=1.5)
    assert small["oracle"].equals(large["oracle"])
    assert small["contracts"].equals(large["contracts"])
    assert 2 * len(small["usage"]) < len(large["usage"])


def test_churn_rate_is_configurable():
    tables = make_saas(n_accounts=600, months=12, seed=1, churn_rate=0.3)
    oracle = tables["oracle"].dropna(subset=["churn_probability"])
    assert 0.2 < (oracle["outcome"] == "churned").mean() < 0.4


def _windows_before_renewal(tables, table, time_col):
    """Per resolved term: rows dated 0-90 days (late) and 90-180 days (early) before its end."""
    terms = tables["contracts"]
    terms = terms[terms["outcome"].isin(["churned", "renewed"])]
    # only renewals with the whole look-back inside the simulated window
    first = tables["usage"]["ts"].min()
    terms = terms[terms["end_date"] - pd.Timedelta(days=180) >= first]
    events = tables[table].astype({"account_id": str})
    daily = events.groupby(["account_id", events[time_col].dt.floor("D")]).size().rename("n")
    joined = terms[["contract_id", "account_id", "end_date"]].merge(
        daily.reset_index(), on="account_id"
    )
    lag = (joined["end_date"] - joined[time_col]).dt.days
    late = joined[(lag > 0) & (lag <= 90)].groupby("contract_id")["n"].sum()
    early = joined[(lag > 90) & (lag <= 180)].groupby("contract_id")["n"].sum()
    return (
        terms.set_index("contract_id")
        .assign(late=late, early=early)
        .fillna({"late": 0, "early": 0})
    )


def test_signals_lead_the_renewal(demo_size):
    """In the 90 days before renewal, the usage of accounts churning for low adoption falls, and
    churners' ticket load is higher."""
    usage = _windows_before_renewal(demo_size, "usage", "ts")
    cause = usage.index.map(demo_size["oracle"].set_index("contract_id")["primary_driver"])
    group = usage["outcome"].where(usage["outcome"].ne("churned") | (cause == "adoption"))
    trend = ((usage["late"] + 1) / (usage["early"] + 1)).groupby(group).median()
    assert trend["churned"] < trend["renewed"], trend

    tickets = _windows_before_renewal(demo_size, "tickets", "opened_at")
    per_seat = (tickets["late"] / tickets["seats"]).groupby(tickets["outcome"]).mean()
    assert per_seat["churned"] > per_seat["renewed"], per_seat


def test_champion_departure_lowers_later_usage(demo_size):
    contacts = demo_size["contacts"]
    left = contacts[(contacts["role"] == "champion") & contacts["ended_at"].notna()]
    left = left.dropna(subset=["account_id"]).drop_duplicates("account_id")
    usage = demo_size["usage"]
    usage = usage[usage["account_id"].isin(left["account_id"])]
    ended_at = usage["account_id"].astype(str).map(left.set_index("account_id")["ended_at"])
    champion_user = usage["account_id"].astype(str).map(left.set_index("account_id")["user_id"])
    # the other users of the account (the champion's own logins stop trivially)
    others = (usage["user_id"].astype(str) != champion_user).to_numpy()
    usage, ended_at = usage[others], ended_at[others]
    # 60 days before vs 60-120 days after the champion left
    lag = (usage["ts"] - ended_at).dt.days
    before = usage[(lag >= -60) & (lag < 0)].groupby("account_id").size()
    after = usage[(lag >= 60) & (lag < 120)].groupby("account_id").size()
    ratio = (after.reindex(before.index, fill_value=0) + 1) / (before + 1)
    assert ratio.median() < 0.95, ratio.median()


def test_noise_is_injected_at_the_stated_rate(saas_small):
    noise = saas_small["oracle"].attrs["noise"]
    contacts = saas_small["contacts"]
    assert contacts["account_id"].isna().sum() == (
        noise["contacts_matched_by_domain"] + noise["contacts_unmatched"]
    )
    assert saas_small["accounts"]["segment"].isna().sum() == noise["accounts_missing_segment"]
    assert saas_small["usage"].duplicated().sum() == noise["usage_duplicate_rows"]
    known = set(saas_small["accounts"]["account_id"])
    assert (~saas_small["tickets"]["account_id"].isin(known)).sum() == noise[
        "tickets_orphan_account"
    ]
    assert noise["contacts_matched_by_domain"] > 0 and noise["usage_duplicate_rows"] > 0


def test_no_activity_after_churn(saas_small):
    contracts = saas_small["contracts"]
    churn_end = contracts[contracts["outcome"] == "churned"].groupby("account_id")["end_date"].max()
    usage = saas_small["usage"].astype({"account_id": str})
    after = usage["ts"] >= usage["account_id"].map(churn_end)
    assert not after.any()


def test_bad_arguments_show_the_value():
    with pytest.raises(ValueError, match="churn_rate=1.5"):
        make_saas(n_accounts=10, months=6, churn_rate=1.5)
    with pytest.raises(ValueError, match="months=1"):
        make_saas(n_accounts=10, months=1)


def test_validation_finds_exactly_the_injected_noise(saas_small):
    from churnml.data.validate import validate

    noise = saas_small["oracle"].attrs["noise"]
    report = validate(saas_small, raise_on_fatal=False)
    assert not (report["severity"] == "fatal").any(), report
    found = report.set_index(["table", "check"])["count"]
    assert found[("tickets", "orphan_key")] == noise["tickets_orphan_account"]
    assert found[("usage", "duplicate_rows")] == noise["usage_duplicate_rows"]
    assert found[("contacts", "matched_by_email_domain")] == noise["contacts_matched_by_domain"]
    assert found[("contacts", "contact_unmatched")] == noise["contacts_unmatched"]
    # nothing else is wrong with the generated tables (missing segments stay below "mostly empty")
    assert len(report) == 4, report[["table", "column", "check", "count"]]


def test_some_churn_is_unannounced_and_some_red_accounts_renew(demo_size):
    oracle = demo_size["oracle"].dropna(subset=["churn_probability"])
    churned = oracle["outcome"] == "churned"
    riskiest = oracle["churn_probability"] >= oracle["churn_probability"].quantile(0.9)
    assert 0.2 < (~churned[riskiest]).mean() < 0.8  # many red renewals, yet risk concentrates
    # churn the signals did not foretell: true probability below the book's base rate
    assert (oracle.loc[churned, "churn_probability"] < churned.mean()).mean() > 0.05


def test_segments_differ_in_arr_and_terms(saas_small):
    contracts = saas_small["contracts"]
    segment = contracts["account_id"].map(saas_small["accounts"].set_index("account_id")["segment"])
    median_arr = contracts.groupby(segment, observed=True)["arr"].median()
    assert median_arr["enterprise"] > 2 * median_arr["mid_market"] > 4 * median_arr["smb"]
    # renewals compound, but no account grows out of its segment's range
    assert (
        contracts.groupby(segment, observed=True)["arr"].max()["smb"] < median_arr["mid_market"] * 3
    )
    days = (contracts["end_date"] - contracts["start_date"]).dt.days
    assert days[segment == "smb"].min() <= 31 and days[segment == "enterprise"].max() >= 730


def test_contact_users_appear_in_usage(saas_small):
    contacts = saas_small["contacts"]
    users = contacts[contacts["role"].isin(["champion", "power_user", "user"])]["user_id"]
    assert users.notna().all()
    seen = pd.Index(saas_small["usage"]["user_id"].unique()).astype(str)
    assert users.isin(seen).mean() > 0.9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tiny_worlds_and_zero_noise(seed):
    tiny = make_saas(n_accounts=1, months=3, seed=seed)  # some tables come out empty
    assert len(tiny["accounts"]) == 1 and len(tiny["contracts"]) >= 1
    assert set(tiny) == set(NATIVE) | {"oracle", "oracle_terms"}
    clean = make_saas(n_accounts=60, months=4, seed=seed, noise_rate=0)
    assert not any(clean["oracle"].attrs["noise"].values())
    assert clean["contacts"]["account_id"].notna().all()
    assert not clean["usage"].duplicated().any()


def test_goal_counts_do_not_give_away_monthly_billing(saas_small):
    contracts, goals = saas_small["contracts"], saas_small["goals"]
    monthly = (contracts["end_date"] - contracts["start_date"]).dt.days.le(31)
    monthly = monthly.groupby(contracts["account_id"]).any()
    smb = saas_small["accounts"].set_index("account_id")["segment"].eq("smb")
    per_account = goals.groupby("account_id").size().reindex(monthly.index, fill_value=0)
    by_billing = per_account[smb.reindex(monthly.index)].groupby(monthly).mean()
    assert 0.67 < by_billing[True] / by_billing[False] < 1.5, by_billing
    assert (goals["due_at"] > goals["created_at"]).all()
    known = goals["achieved_at"].notna()
    assert (goals.loc[known, "achieved"] <= goals.loc[known, "target"]).all()


def test_contacts_have_one_role_at_a_time_and_successors(saas_small):
    contacts = saas_small["contacts"]
    assert not (contacts["ended_at"] <= contacts["started_at"]).any()
    people = contacts.dropna(subset=["user_id"]).sort_values(["user_id", "started_at"])
    previous_end = people.groupby("user_id")["ended_at"].shift()
    again = people["user_id"].duplicated()
    assert again.any()  # promoted power users
    assert (previous_end[again] <= people.loc[again, "started_at"]).all()
    champions = contacts[contacts["role"] == "champion"]
    left = champions.loc[champions["ended_at"].notna(), "account_id"].dropna()
    replaced = champions[champions["account_id"].isin(left) & champions["ended_at"].isna()]
    assert 0 < replaced["account_id"].nunique() < left.nunique()


# --- the world's causes: separate drivers, each with its own signals and timing ---------------

CONTRIBUTIONS = [f"contribution_{d}" for d in causes.DRIVERS]


@pytest.fixture(scope="module")
def decided(demo_size):
    """The oracle's terms decided inside the window, a year or more into it (the look-backs of
    the signals below fit inside the simulated data)."""
    oracle = demo_size["oracle"].dropna(subset=["churn_probability"])
    return oracle[oracle["end_date"] >= pd.Timestamp("2025-07-01")].reset_index(drop=True)


def _before_end(tables, terms, table, column, days, where=None):
    """Rows of ``table`` dated within ``days`` = (from, to) days before each term's end, joined
    to the term (one row per term and event)."""
    events = tables[table].dropna(subset=["account_id"]).astype({"account_id": str})
    if where is not None:
        events = events[where(events)]
    joined = terms[["contract_id", "account_id", "end_date"]].merge(events, on="account_id")
    lag = (joined["end_date"] - joined[column]).dt.days
    return joined[(lag > days[0]) & (lag <= days[1])]


def _signals(tables, terms):
    """Per term, one observable signal per driver, read 2-5 months before the renewal."""
    late = (60, 150)
    usage = _before_end(tables, terms, "usage", "ts", late)
    tickets = _before_end(tables, terms, "tickets", "opened_at", late)
    defect = tickets["category"].astype(str).eq("bug") | tickets["escalated"]
    nps = _before_end(tables, terms, "nps", "responded_at", (60, 240))
    goals = _before_end(tables, terms, "goals", "due_at", (60, 420))
    left = _before_end(tables, terms, "contacts", "ended_at", (60, 300),
                       lambda c: c["role"].isin(["champion", "decision_maker"]))
    seats = terms.set_index("contract_id")["seats"]
    frame = pd.DataFrame(
        {
            "usage_per_seat": usage.groupby("contract_id").size() / seats,
            # tickets come from users (more use, more tickets): the defect share is the friction
            "defect_share": defect.groupby(tickets["contract_id"]).mean(),
            "nps": nps.groupby("contract_id")["score"].mean(),
            "goal_attainment": (goals["achieved"] / goals["target"])
            .groupby(goals["contract_id"])
            .mean(),
            "departures": left.groupby("contract_id").size(),
        },
        index=terms["contract_id"],
    )
    counts = ["usage_per_seat", "departures"]
    return frame.fillna({c: 0.0 for c in counts})


def test_oracle_contributions_add_up_to_the_log_odds(demo_size, decided):
    contrib = decided[CONTRIBUTIONS]
    total = decided["base_log_odds"] + contrib.sum(axis=1) + decided["noise"]
    np.testing.assert_allclose(total, decided["log_odds"], atol=1e-9)
    np.testing.assert_allclose(
        1 / (1 + np.exp(-decided["log_odds"])), decided["churn_probability"], atol=1e-9
    )
    # the primary driver is the largest contribution; no single cause dominates the churns
    largest = contrib.idxmax(axis=1).str.removeprefix("contribution_")
    assert (decided["primary_driver"].astype(str) == largest).all()
    causes_of_churn = decided.loc[decided["outcome"].eq("churned"), "primary_driver"]
    shares = causes_of_churn.value_counts(normalize=True)
    assert set(shares.index) == set(causes.DRIVERS) and shares.max() < 0.4, shares
    # the drivers explain most of the risk: the noise is small beside them
    assert decided["noise"].std() < contrib.sum(axis=1).std() / 2
    undecided = demo_size["oracle"]["churn_probability"].isna()
    assert demo_size["oracle"].loc[undecided, CONTRIBUTIONS].isna().all().all()


def test_each_driver_moves_its_own_signals(demo_size, decided):
    """Each driver's signal follows its own driver far more than any other (rank correlation)."""
    terms = decided.merge(demo_size["contracts"][["contract_id", "seats"]], on="contract_id")
    signals = _signals(demo_size, terms)
    contrib = terms.set_index("contract_id")[CONTRIBUTIONS]
    corr = pd.concat([signals, contrib], axis=1).corr("spearman")
    corr = corr.loc[signals.columns, CONTRIBUTIONS]
    own = {
        "usage_per_seat": ("adoption", -1),
        "defect_share": ("support", 1),
        "nps": ("sentiment", -1),
        "goal_attainment": ("value", -1),
        "departures": ("relationship", 1),
    }
    for signal, (driver, sign) in own.items():
        row = corr.loc[signal]
        mine = sign * row[f"contribution_{driver}"]
        others = row.drop(f"contribution_{driver}").abs().max()
        assert mine > 0.25 and mine > 2 * others, (signal, row.round(2).to_dict())


def test_acute_causes_rise_late_and_chronic_ones_show_early(demo_size, decided):
    """Support storms come in the months before the renewal; a departure weeks to months before
    it; unmet goals and sour opinion show a year ahead."""
    churned = decided[decided["outcome"].eq("churned")]
    cause = churned.set_index("contract_id")["primary_driver"].astype(str)
    defects = lambda t: t["category"].astype(str).eq("bug") | t["escalated"]  # noqa: E731
    late = _before_end(demo_size, churned, "tickets", "opened_at", (60, 150), defects)
    early = _before_end(demo_size, churned, "tickets", "opened_at", (240, 330), defects)
    rise = (late.groupby("contract_id").size().reindex(cause.index, fill_value=0) + 1) / (
        early.groupby("contract_id").size().reindex(cause.index, fill_value=0) + 1
    )
    assert rise[cause == "support"].median() >= 2 * rise[cause != "support"].median()

    left = _before_end(demo_size, churned, "contacts", "ended_at", (0, 720),
                       lambda c: c["role"].isin(["champion", "decision_maker"]))
    lead = (left["end_date"] - left["ended_at"]).dt.days.groupby(left["contract_id"]).min()
    lead = lead.reindex(cause.index[cause == "relationship"])
    assert lead.notna().mean() > 0.8 and 30 <= lead.median() <= 270, lead.describe()

    renewed = decided[decided["outcome"].eq("renewed")]
    for table, column, value, driver in (
        ("goals", "due_at", lambda g: g["achieved"] / g["target"], "value"),
        ("nps", "responded_at", lambda n: n["score"], "sentiment"),
    ):
        def year_ahead(terms):
            rows = _before_end(demo_size, terms, table, column, (240, 420))
            return value(rows).groupby(rows["contract_id"]).mean().median()

        assert year_ahead(churned[cause.to_numpy() == driver]) < year_ahead(renewed) - 0.1, driver
