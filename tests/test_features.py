"""Indicator shapes against hand-worked examples, skips, the catalog, and SQL portability."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from churnml.features.catalog import load_catalog
from churnml.features.engine import build_features, feature_columns, queries

T = pd.Timestamp
AS_OF = T("2025-06-01")


@pytest.fixture(scope="module")
def tiny():
    """Two accounts; A1 has hand-placed rows around as_of = 2025-06-01, A2 has none."""
    accounts = pd.DataFrame({"account_id": ["A1", "A2"], "segment": ["smb", "smb"],
                             "touch_model": ["tech", "low"]})
    contracts = pd.DataFrame({
        "contract_id": ["K0", "K1", "K2"], "account_id": ["A1", "A1", "A2"],
        "start_date": [T("2024-01-01"), T("2025-01-01"), T("2025-01-01")],
        "end_date": [T("2025-01-01"), T("2026-01-01"), T("2026-01-01")],
        "arr": [1500.0, 1200.0, 900.0], "seats": [10.0, 10.0, 5.0],
        "outcome": ["downgraded", "open", "open"],
    })
    usage = pd.DataFrame({
        "account_id": ["A1"] * 5,
        "user_id": ["u1", "u1", "u1", "u2", "u2"],
        "ts": [T("2025-05-31"), T("2025-05-02"), T("2025-05-01"), T("2025-06-01"), T("2025-04-15")],
        "event": ["a", "b", "a", "a", "c"],
        "quantity": [3.0, 2.0, 1.0, 7.0, 1.0],
    })
    tickets = pd.DataFrame({
        "ticket_id": ["t1", "t2", "t3"], "account_id": ["A1"] * 3,
        "opened_at": [T("2025-05-20"), T("2025-03-10"), T("2025-06-01")],
        "closed_at": [T("2025-05-22"), T("2025-06-05"), pd.NaT],
        "priority": ["high", "normal", "urgent"], "csat": [4.0, 1.0, np.nan],
        "escalated": [False, True, True], "reopened": [False, False, False],
    })
    nps = pd.DataFrame({
        "response_id": ["r1", "r2", "r3"], "account_id": ["A1"] * 3,
        "responded_at": [T("2025-01-10"), T("2025-05-01"), T("2025-06-02")],
        "score": [9.0, 5.0, 0.0], "contact_id": ["c3", "c1", "c1"],
    })
    contacts = pd.DataFrame({
        "contact_id": ["c1", "c2", "c3"], "account_id": ["A1"] * 3,
        "role": ["champion", "champion", "executive_sponsor"],
        "started_at": [T("2024-01-01"), T("2025-06-10"), T("2024-01-01")],
        "ended_at": [T("2025-05-15"), pd.NaT, T("2025-07-01")],
        "user_id": ["u1", None, None],
    })
    goals = pd.DataFrame({
        "goal_id": ["g1", "g2", "g3"], "account_id": ["A1"] * 3,
        "created_at": [T("2025-01-01"), T("2025-02-01"), T("2025-03-01")],
        "due_at": [T("2025-04-01"), T("2025-05-01"), T("2025-05-15")],
        "target": [10.0, 10.0, 10.0], "achieved": [10.0, 4.0, 10.0],
        "achieved_at": [T("2025-03-15"), T("2025-05-01"), T("2025-06-15")],
    })
    return {"accounts": accounts, "contracts": contracts, "usage": usage, "tickets": tickets,
            "nps": nps, "contacts": contacts, "goals": goals}


@pytest.fixture(scope="module")
def tiny_spine():
    return pd.DataFrame({
        "account_id": ["A1", "A2"], "as_of": [AS_OF, AS_OF], "contract_id": ["K1", "K2"],
        "renewal_date": [T("2026-01-01")] * 2, "days_to_renewal": [214, 214],
        "arr": [1200.0, 900.0], "seats": [10.0, 5.0], "segment": ["smb", "smb"],
        "outcome": ["open", "open"], "label": pd.array([pd.NA, pd.NA], dtype="Int8"),
    })


@pytest.fixture(scope="module")
def tiny_features(tiny, tiny_spine):
    return build_features(tiny, tiny_spine).set_index("account_id")


EXPECTED_A1 = {
    # usage: window [as_of - 30 d, as_of); the row exactly at as_of is excluded,
    # the row exactly at the window start (2025-05-02) is included
    "active_users_30d": 1, "active_users_prev_30d": 2, "active_users_change_30d": -0.5,
    "events_30d": 5, "events_prev_30d": 2, "days_since_last_activity": 1,
    "feature_breadth_30d": 2, "license_utilization_30d": 0.1,
    # support
    "tickets_30d": 1, "tickets_90d": 2, "high_priority_tickets_90d": 1, "escalations_90d": 1,
    "open_tickets": 1, "oldest_open_ticket_days": 83, "mean_resolution_days_90d": 2.0,
    "csat_mean_90d": 4.0, "tickets_per_active_user_90d": 2.0,
    # NPS: r3 is after as_of
    "nps_latest_score": 5, "nps_previous_score": 9, "nps_change_vs_previous": -4,
    "account_nps_180d": 0.0, "detractor_share_180d": 0.5, "days_since_last_nps": 31,
    "decision_maker_detractor_180d": 0, "nps_responses_180d": 2,
    # champion: c1 left 17 days before as_of, c2 starts after as_of, the sponsor leaves after
    "champion_left_30d": 1, "champion_left_90d": 1, "days_since_champion_left": 17,
    "active_champions": 0, "no_executive_sponsor": 0, "champion_events_30d": 5,
    # value: g3 is achieved only after as_of
    "goals_achieved_share": 1 / 3, "goal_progress_mean": 1.4 / 3, "overdue_goals": 2,
    "days_to_first_value": 73,
    # contract
    "tenure_days": 517, "prior_renewals": 1, "past_downgrades": 1,
}


@pytest.mark.parametrize("indicator", sorted(EXPECTED_A1))
def test_shape_matches_the_hand_worked_value(tiny_features, indicator):
    got = float(tiny_features.loc["A1", indicator])
    assert math.isclose(got, EXPECTED_A1[indicator], rel_tol=1e-5, abs_tol=1e-5), got


def test_an_account_without_rows_gets_zero_counts_and_null_latest_values(tiny_features):
    a2 = tiny_features.loc["A2"]
    for counted in ("active_users_30d", "events_30d", "tickets_90d", "open_tickets",
                    "active_champions", "overdue_goals", "champion_left_90d"):
        assert a2[counted] == 0, counted
    for unknown in ("nps_latest_score", "days_since_last_activity", "csat_mean_90d",
                    "goals_achieved_share", "active_users_change_30d"):
        assert pd.isna(a2[unknown]), unknown
    assert a2["no_executive_sponsor"] == 1


def test_output_keeps_spine_rows_and_uses_compact_dtypes(tiny_features, tiny_spine):
    assert list(tiny_features.index) == list(tiny_spine["account_id"])
    numeric = [c for c in feature_columns(tiny_features.reset_index())
               if c not in tiny_spine.columns and c not in ("touch_model", "lifecycle_stage")]
    assert {str(tiny_features[c].dtype) for c in numeric} == {"float32"}
    assert tiny_features["lifecycle_stage"].dtype == "category"
    assert tiny_features.loc["A1", "touch_model"] == "tech"


def test_a_missing_table_skips_its_family_with_a_reason(tiny, tiny_spine, caplog):
    without = {k: v for k, v in tiny.items() if k != "nps"}
    features = build_features(without, tiny_spine)
    skipped = features.attrs["skipped"]
    assert "nps_latest_score" in skipped and "no nps table" in skipped["nps_latest_score"]
    assert "nps_change_vs_previous" in skipped  # derived from a skipped indicator
    assert "nps_latest_score" not in features and "tickets_90d" in features
    # listed once, in one line per cause
    lines = [r.getMessage() for r in caplog.records if "(no nps table)" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("skipped 10 indicators (no nps table): ")
    assert lines[0].count("nps_latest_score") == 1


def test_usage_without_user_id_skips_user_indicators(tiny, tiny_spine):
    tables = dict(tiny, usage=tiny["usage"].drop(columns="user_id"))
    features = build_features(tables, tiny_spine)
    assert features.attrs["skipped"]["active_users_30d"] == "usage has no user_id column"
    assert "license_utilization_30d" in features.attrs["skipped"]
    assert float(features.loc[0, "events_30d"]) == 5


def test_adding_a_catalog_entry_adds_a_column_without_python(tmp_path, tiny, tiny_spine):
    from churnml.features.catalog import DEFAULT_PATH

    for path in DEFAULT_PATH.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "extra.yaml").write_text(
        "family: support\ntable: tickets\nindicators:\n"
        "  - id: urgent_tickets_180d\n    shape: count_window\n    window_days: 180\n"
        "    where: {priority: [urgent]}\n    unit: tickets\n    direction: up\n"
        "    description: Urgent tickets in the last 180 days.\n"
    )
    features = build_features(tiny, tiny_spine, load_catalog(tmp_path))
    assert features.loc[0, "urgent_tickets_180d"] == 0  # t3 is urgent but opened at as_of
    assert "urgent_tickets_180d" in feature_columns(features, load_catalog(tmp_path))


def test_catalog_has_every_family_and_the_required_indicators():
    catalog = load_catalog()
    per_family = catalog.to_frame().groupby("family").size()
    assert len(catalog) >= 40 and (per_family >= 5).all(), per_family
    for required in ("active_users_30d", "license_utilization_30d", "high_priority_tickets_90d",
                     "account_nps_180d", "champion_left_90d", "no_executive_sponsor",
                     "goals_achieved_share", "tenure_days", "lifecycle_stage"):
        assert required in catalog


def test_sentences_fill_values_and_survive_missing_ones():
    catalog = load_catalog()
    row = {"active_users_change_30d": -0.4390, "active_users_prev_30d": 41, "active_users_30d": 23}
    assert catalog["active_users_change_30d"].render("risk", row) == (
        "Active users fell 44% in the last 30 days (41 → 23)")
    assert "unknown" in catalog["open_tickets"].render("risk", {"open_tickets": 3})
    assert catalog["tickets_30d"].render("risk", {}) == "unknown support tickets in the last 30 days"


def test_bad_catalog_entries_name_the_problem(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "family: usage\nindicators:\n  - id: x\n    shape: count_window\n    description: d\n"
        "    direction: sideways\n")
    with pytest.raises(ValueError, match="direction must be one of .* but got 'sideways'"):
        load_catalog(tmp_path)


def test_every_query_transpiles_to_spark(tiny, tiny_spine):
    import sqlglot

    from churnml.features.sources import TIME_COLUMNS

    work = queries(load_catalog(), tiny, missing={})
    assert len(work) > 10
    for family, ids, sql in work:
        out = sqlglot.transpile(sql.text, read="duckdb", write="spark")
        assert out and "SELECT" in out[0], (family, ids)
        assert "'" not in sql.text, f"{ids}: values must be bound parameters, not literals"
    assert set(TIME_COLUMNS) <= set(tiny)


def test_as_of_with_a_time_of_day_is_refused(tiny, tiny_spine):
    spine = tiny_spine.assign(as_of=AS_OF + pd.Timedelta(hours=5))
    with pytest.raises(ValueError, match="as_of must be dates"):
        build_features(tiny, spine)


def test_tables_can_be_a_folder_of_parquet_files(tmp_path, tiny, tiny_spine, tiny_features):
    from churnml.data.load import write_tables

    write_tables(tiny, tmp_path)
    from_files = build_features(str(tmp_path), tiny_spine).set_index("account_id")
    columns = [c for c in feature_columns(tiny_features.reset_index()) if c not in tiny_spine]
    pd.testing.assert_frame_equal(from_files[columns], tiny_features[columns], check_dtype=False,
                                  check_categorical=False)


def test_a_usage_row_without_quantity_counts_once(tiny, tiny_spine):
    """events_30d for A1 is 3 (2025-05-31) + 2 (2025-05-02); with those quantities missing each
    row counts once, and the caller's frame is left as it was."""
    usage = tiny["usage"].copy()
    usage["quantity"] = pd.array([None, None, 1.0, 7.0, 1.0], dtype="Float32")
    before = usage.copy()
    got = build_features({**tiny, "usage": usage}, tiny_spine).set_index("account_id")
    assert got.loc["A1", "events_30d"] == 2
    assert got.loc["A1", "events_prev_30d"] == 2  # unchanged: 2025-05-01 (1) and 2025-04-15 (1)
    pd.testing.assert_frame_equal(usage, before)


def test_a_dict_of_frames_matches_contacts_by_email_like_the_loader(saas_small, spine_small, tmp_path):
    """make_saas leaves some contacts without account_id (known only by email): build_features
    on the dict gives the same champion indicators as on the same data read from Parquet."""
    from churnml.data.load import write_tables

    contacts = saas_small["contacts"]
    assert contacts["account_id"].isna().any()
    write_tables(saas_small, tmp_path)
    spine = spine_small[spine_small["as_of"] == spine_small["as_of"].max()]
    champion = ["active_champions", "active_decision_makers", "no_executive_sponsor"]
    from_dict = build_features(saas_small, spine)[champion]
    from_files = build_features(tmp_path, spine)[champion]
    pd.testing.assert_frame_equal(from_dict, from_files, check_dtype=False)


def _catalog_with(tmp_path, entries: str):
    """The packaged catalog plus a usage family file holding ``entries``."""
    from churnml.features.catalog import DEFAULT_PATH

    tmp_path.mkdir(exist_ok=True)
    for path in DEFAULT_PATH.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "extra.yaml").write_text("family: usage\ntable: usage\nindicators:\n" + entries)
    return load_catalog(tmp_path)


def _entry(ind_id: str, shape: str, days: int | None, **params) -> str:
    """One catalog entry as YAML (unit, direction and description filled in)."""
    lines = [f"  - id: {ind_id}", f"    shape: {shape}",
             *([f"    window_days: {days}"] if days is not None else []),
             *(f"    {key}: {value}" for key, value in params.items()),
             "    unit: x", "    direction: down", "    description: d"]
    return "\n".join(lines) + "\n"


EVENT_FILTERS = (
    _entry("a_events_30d", "sum_window", 30, column="quantity", where="{event: [a]}")
    + _entry("a_or_b_events_30d", "sum_window", 30, column="quantity", where="{event: [a, b]}")
    + _entry("b_users_30d", "distinct_window", 30, column="user_id", where="{event: [b]}")
)


@pytest.mark.parametrize("source", ["frames", "parquet"])
def test_a_usage_filter_on_event_names_counts_those_events(tmp_path, tiny, tiny_spine, source):
    """A1's rows in [as_of - 30 d, as_of): u1 'a' 3 (2025-05-31) and u1 'b' 2 (2025-05-02): the
    grains keep events as codes, the filter still names them (it matched nothing before)."""
    from churnml.data.load import write_tables

    catalog = _catalog_with(tmp_path / "catalog", EVENT_FILTERS)
    tables = tiny
    if source == "parquet":  # usage read in place by DuckDB (the lazy path)
        write_tables(tiny, tmp_path / "data")
        tables = str(tmp_path / "data")
    got = build_features(tables, tiny_spine, catalog).set_index("account_id")
    assert got.loc["A1", ["a_events_30d", "a_or_b_events_30d", "b_users_30d"]].tolist() == [3, 5, 1]
    assert got.loc["A2", ["a_events_30d", "b_users_30d"]].tolist() == [0, 0]


@pytest.mark.parametrize("shape, params, message", [
    ("sum_window", {"column": "duration"}, "'x' .* reads column 'duration'"),
    ("sum_window", {"column": "user_id"}, "'x' .* reads column 'user_id'"),
    ("sum_window", {"column": "quantity", "where": "{user_id: [u1]}"},
     "'x' .* filters on 'user_id'"),
    ("sum_window", {"column": "quantity", "where": "{event: {min: 3}}"},
     "indicator x: a filter on usage's 'event' is a list of names"),
    ("sum_window", {"column": "quantity", "where": "{event: [on, reports]}"},
     "indicator x: event names are text.*quote"),
    ("latest_value", {"column": "quantity"}, "'x' .* has shape latest_value"),
    ("count_window", {"time": "created_at"}, "'x' .* dates its rows by 'created_at'"),
    ("sum_window", {"column": "quantity", "table": "champion_usage", "where": "{event: [a]}"},
     r"'x' \(table champion_usage\) filters on 'event'"),
    ("days_since_last", {"table": "tickets", "time": "first_reply_at"},
     "'x' .* dates its rows by 'first_reply_at', but tickets rows are dated by opened_at or closed"),
    ("count_window", {"table": "contracts", "where": "{outcome: [churned]}"},
     "'x' .* reads outcome: a term's outcome is the label"),
    ("latest_value", {"table": "tickets", "column": "csat", "nth": 0}, "'x' .* has nth: 0"),
    ("count_window", {"table": "tickets", "where": "{csat: {lt: 3}}"},
     "indicator x: the filter on 'csat' has an unknown rule 'lt'"),
    ("count_window", {"table": "tickets", "where": "{priority: []}"},
     "indicator x: the filter on 'priority' lists no value"),
    ("count_window", {"table": "tickets", "where": "{priority: [on, high]}"},
     "indicator x: the filter on 'priority' mixes true / false .* quote"),
])
def test_an_entry_that_cannot_mean_what_it_says_is_refused(tmp_path, tiny, tiny_spine, shape,
                                                            params, message, monkeypatch):
    """Each was a silent 0 or NaN, a database error deep in the build, or read the label (usage
    is summed per day first: another column or a filter on users cannot be read); now a clear
    error, given before usage is read."""
    from churnml.features import sources

    catalog = _catalog_with(tmp_path, _entry("x", shape, 30, **params))

    def not_yet(*args, **kwargs):
        raise AssertionError("usage was reduced before the catalog was checked")

    monkeypatch.setattr(sources, "register_usage", not_yet)
    usage = tiny["usage"].assign(duration=1.0)
    with pytest.raises(ValueError, match=message):
        build_features({**tiny, "usage": usage}, tiny_spine, catalog)


ROW_SHAPES = (
    _entry("usage_rows_45d", "count_window", 45)
    + _entry("quantity_per_row_45d", "mean_window", 45, column="quantity")
    + _entry("a_share_45d", "share_window", 45, share_where="{event: [a]}")
)


@pytest.mark.parametrize("source", ["frames", "parquet"])
def test_usage_shapes_that_count_rows_count_usage_rows_not_days(tmp_path, tiny, tiny_spine, source):
    """A1 in [as_of - 45 d, as_of): u1 'a' 3 (05-31), u1 'b' 2 (05-02), u1 'a' 1 (05-01), plus
    u1 'b' 4 on 05-31 added here: 4 rows on 3 days, 2 of them 'a'. Usage is summed per day
    before the indicators read it; these shapes still count its rows (they counted days)."""
    from churnml.data.load import write_tables

    extra = pd.DataFrame({"account_id": ["A1"], "user_id": ["u1"], "ts": [T("2025-05-31")],
                          "event": ["b"], "quantity": [4.0]})
    tables = {**tiny, "usage": pd.concat([tiny["usage"], extra], ignore_index=True)}
    if source == "parquet":
        write_tables(tables, tmp_path / "data")
        tables = str(tmp_path / "data")
    catalog = _catalog_with(tmp_path / "catalog", ROW_SHAPES)
    got = build_features(tables, tiny_spine, catalog).set_index("account_id")
    assert got.loc["A1", "usage_rows_45d"] == 4
    assert got.loc["A1", "quantity_per_row_45d"] == pytest.approx((3 + 2 + 1 + 4) / 4)
    assert got.loc["A1", "a_share_45d"] == pytest.approx(2 / 4)
    assert got.loc["A2", "usage_rows_45d"] == 0 and pd.isna(got.loc["A2", "quantity_per_row_45d"])


def test_an_event_filter_naming_no_event_of_usage_warns(tmp_path, tiny, tiny_spine):
    """A typo in an event name counts nothing: the build says so, naming the indicator."""
    catalog = _catalog_with(tmp_path, _entry("typo_events_30d", "sum_window", 30,
                                             column="quantity", where="{event: [a, A]}"))
    with pytest.warns(UserWarning, match=r"typo_events_30d: usage has no event named 'A' \(its "
                      r"events: a, b, c\)"):
        got = build_features(tiny, tiny_spine, catalog).set_index("account_id")
    assert got.loc["A1", "typo_events_30d"] == 3  # 'a' still counts


def test_a_contact_without_a_start_date_is_in_post(tiny, tiny_spine):
    """c4, a champion with no started_at (CRMs often lack it): in post, so A1 has an active
    champion; the join kept only contacts whose start was known (it counted none)."""
    c4 = pd.DataFrame({"contact_id": ["c4"], "account_id": ["A1"], "role": ["champion"],
                       "started_at": [pd.NaT], "ended_at": [pd.NaT], "user_id": [None]})
    contacts = pd.concat([tiny["contacts"], c4], ignore_index=True)
    got = build_features({**tiny, "contacts": contacts}, tiny_spine).set_index("account_id")
    assert got.loc["A1", "active_champions"] == 1  # 0 without c4 (EXPECTED_A1)
    assert got.loc["A1", "champion_left_90d"] == 1  # c1 still left


def test_a_respondents_role_comes_from_a_contact_that_reached_no_account(tiny, tiny_spine):
    """r4 is A1's survey answered by c5, a decision maker whose contact row has no account (an
    email that matched no domain): still a decision-maker detractor of A1."""
    c5 = pd.DataFrame({"contact_id": ["c5"], "account_id": [None], "role": ["decision_maker"],
                       "started_at": [T("2024-01-01")], "ended_at": [pd.NaT], "user_id": [None]})
    r4 = pd.DataFrame({"response_id": ["r4"], "account_id": ["A1"], "contact_id": ["c5"],
                       "responded_at": [T("2025-05-10")], "score": [3.0]})
    tables = {**tiny, "contacts": pd.concat([tiny["contacts"], c5], ignore_index=True),
              "nps": pd.concat([tiny["nps"], r4], ignore_index=True)}
    got = build_features(tables, tiny_spine).set_index("account_id")
    assert got.loc["A1", "decision_maker_detractor_180d"] == 1  # 0 without r4 (EXPECTED_A1)
    # c1 listed again, without an account: still one role per contact, no response counted twice
    again = tiny["contacts"].iloc[[0]].assign(account_id=None, role="influencer")
    tables["contacts"] = pd.concat([tables["contacts"], again], ignore_index=True)
    twice = build_features(tables, tiny_spine).set_index("account_id")
    assert twice.loc["A1", "nps_responses_180d"] == got.loc["A1", "nps_responses_180d"] == 3
    assert twice.loc["A1", "decision_maker_detractor_180d"] == 1


ENTRIES_ON_OTHER_TABLES = [
    # (shape, window, params, A1's value, what the code before gave)
    ("count_window", 180, {"table": "tickets", "where": "{csat: [1, 2]}"}, 1, 0),  # t2, csat 1.0
    ("latest_value", None, {"table": "nps_with_role", "column": "score",
                            "where": "{role: [executive_sponsor]}"}, 9, 5),  # r1, not r2
    ("latest_value", 30, {"table": "nps", "column": "score"}, None, 5),  # r2 is 31 days old
    ("open_count", 30, {"table": "tickets"}, 1, 2),  # t4; t2 is open but was opened in March
    ("mean_duration", 90, {"table": "tickets"}, 2.0, 44.5),  # t2 closes after as_of: unknown
    ("prior_terms", None, {"table": "contracts", "where": "{arr: {max: 1400}}"}, 0, 1),  # K0 1500
    ("open_count", None, {"table": "tickets", "offset_days": 30}, 1, 2),  # opened 30+ days ago:
    # t2 (March), not t4 (2025-05-25, added below); both are open at as_of
]


@pytest.mark.parametrize("shape, days, params, expected, before", ENTRIES_ON_OTHER_TABLES)
def test_an_entry_keeps_its_own_window_and_filter(tmp_path, tiny, tiny_spine, shape, days,
                                                  params, expected, before):
    """A user's entry on tickets, NPS, goals or contracts means what it says: a number filter
    compares numbers (1.0 is 1), latest_value, goal, state and term shapes keep their own
    window and filter, and a duration counts only tickets closed before as_of. ``before``: the
    value they gave."""
    t4 = pd.DataFrame({"ticket_id": ["t4"], "account_id": ["A1"], "opened_at": [T("2025-05-25")],
                       "closed_at": [pd.NaT], "priority": ["normal"], "csat": [np.nan],
                       "escalated": [False], "reopened": [False]})
    tables = {**tiny, "tickets": pd.concat([tiny["tickets"], t4], ignore_index=True)}
    catalog = _catalog_with(tmp_path, _entry("mine", shape, days, **params))
    got = build_features(tables, tiny_spine, catalog).set_index("account_id").loc["A1", "mine"]
    if expected is None:
        assert pd.isna(got)
    else:
        assert got == pytest.approx(expected)
    assert got != pytest.approx(before)


def test_goal_entries_sharing_a_pass_keep_their_own_windows(tmp_path, tiny, tiny_spine):
    """g4 (created 2025-04-15, due 05-20, not achieved) is overdue; it was created 47 days
    before as_of: inside a 90-day window, not a 30-day one. Entries of 30 and 90 days share
    one pass over goals; the 30-day one took the pass's 90 days and counted g4 too."""
    g4 = pd.DataFrame({"goal_id": ["g4"], "account_id": ["A1"], "created_at": [T("2025-04-15")],
                       "due_at": [T("2025-05-20")], "target": [10.0], "achieved": [2.0],
                       "achieved_at": [pd.NaT]})
    tables = {**tiny, "goals": pd.concat([tiny["goals"], g4], ignore_index=True)}
    catalog = _catalog_with(tmp_path, _entry("overdue_30d", "goals_overdue", 30, table="goals")
                            + _entry("overdue_90d", "goals_overdue", 90, table="goals"))
    got = build_features(tables, tiny_spine, catalog).set_index("account_id")
    assert got.loc["A1", ["overdue_30d", "overdue_90d"]].tolist() == [0, 1]


def test_an_ended_terms_outcome_can_be_read_by_its_end_date(tmp_path, tiny, tiny_spine):
    """Terms that ended in the window, dated by end_date, have a known outcome: K0 (ended
    2025-01-01, downgraded, 1,500 ARR); the renewing K1 is not read."""
    entries = (_entry("downgrades_730d", "count_window", 730, table="contracts", time="end_date",
                      where="{outcome: [downgraded]}")
               + _entry("arr_ended_730d", "sum_window", 730, table="contracts", time="end_date",
                        column="arr"))
    got = build_features(tiny, tiny_spine, _catalog_with(tmp_path, entries)).set_index("account_id")
    assert got.loc["A1", ["downgrades_730d", "arr_ended_730d"]].tolist() == [1, 1500]
