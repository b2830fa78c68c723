"""The declarative indicator catalog: required entries, templates, validation of bad entries."""

from __future__ import annotations

import dataclasses
import string

import pytest

from churnml.features.catalog import DIRECTIONS, FAMILIES, load_catalog

REQUIRED = [
    # common interface
    "active_users_30d", "active_users_prev_30d", "active_users_change_30d", "events_30d",
    "days_since_last_activity", "license_utilization_30d", "tickets_30d", "tickets_90d",
    "high_priority_tickets_90d", "open_tickets", "nps_latest_score", "account_nps_180d",
    "detractor_share_180d", "active_champions", "champion_left_90d", "no_executive_sponsor",
    "goals_achieved_share", "overdue_goals", "arr", "seats", "tenure_days", "days_to_renewal",
    "segment", "lifecycle_stage",
    # issue 4 families
    "events_prev_30d", "events_change_30d", "events_slope_90d", "feature_breadth_30d",
    "power_users_30d", "power_users_change_30d", "oldest_open_ticket_days",
    "mean_resolution_days_90d", "escalations_90d", "reopen_rate_90d", "csat_mean_90d",
    "csat_change_90d", "tickets_per_active_user_90d", "nps_change_vs_previous",
    "account_nps_change_180d", "decision_maker_detractor_180d", "days_since_last_nps",
    "champion_left_30d", "decision_maker_left_90d", "champion_usage_change_30d",
    "days_since_champion_left", "goal_progress_mean", "open_goals", "days_to_first_value",
    "prior_renewals", "past_downgrades", "touch_model",
]  # fmt: skip


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_required_indicators_and_family_sizes(catalog):
    missing = [i for i in REQUIRED if i not in catalog]
    assert not missing, missing
    sizes = catalog.to_frame().groupby("family").size()
    assert len(catalog) >= 40 and set(sizes.index) == set(FAMILIES) and (sizes >= 5).all(), sizes
    assert catalog.families == [f for f in FAMILIES if f in catalog.families]


def test_entries_are_complete_and_frozen(catalog):
    for ind in catalog:
        assert ind.description and ind.direction in DIRECTIONS and ind.family in FAMILIES, ind.id
    assert {catalog[c].direction for c in ("segment", "touch_model", "lifecycle_stage")} == {"none"}
    assert catalog["active_users_30d"].window_days == 30
    assert catalog["active_users_30d"].params["column"] == "user_id"
    with pytest.raises(dataclasses.FrozenInstanceError):
        catalog["arr"].unit = "euro"
    with pytest.raises(KeyError, match="no indicator 'nope'"):
        catalog["nope"]


def test_every_placeholder_names_the_value_or_an_indicator(catalog):
    for ind in catalog:
        for template in (ind.risk_sentence, ind.protective_sentence):
            for _, name, _, _ in string.Formatter().parse(template or ""):
                if name is not None:
                    assert name in {"value", "abs_value", "typical"} or name in catalog, (
                        ind.id,
                        name,
                    )


def test_every_sentence_renders_with_values_and_without(catalog):
    row = {i: 0.25 for i in catalog.ids}
    row.update(segment="smb", touch_model="tech", lifecycle_stage="mature", typical=0.5)
    for ind in catalog:
        for kind in ("risk", "protective"):
            full, empty = ind.render(kind, row), ind.render(kind, {})
            template = ind.risk_sentence if kind == "risk" else ind.protective_sentence
            if template is None:
                assert full is None and empty is None
                continue
            assert "unknown" not in full, (ind.id, full)
            if "{" in template:
                assert "unknown" in empty, (ind.id, empty)
    change = catalog["active_users_change_30d"]
    assert change.render("risk", {"active_users_change_30d": -0.25, "active_users_prev_30d": 40,
                                  "active_users_30d": 30}) == (
        "Active users fell 25% in the last 30 days (40 → 30)")


def test_to_frame_lists_every_entry(catalog):
    frame = catalog.to_frame()
    assert list(frame["id"]) == catalog.ids
    assert {"family", "shape", "window_days", "direction", "risk_sentence"} <= set(frame.columns)


def _write(folder, name, text):
    (folder / name).write_text(text)
    return folder


ENTRY = "  - id: {id}\n    shape: count_window\n    window_days: 30\n    description: d\n"


def test_one_file_can_be_loaded_on_its_own(tmp_path):
    path = tmp_path / "support.yaml"
    path.write_text("family: support\ntable: tickets\nindicators:\n" + ENTRY.format(id="t_30d"))
    catalog = load_catalog(path)
    assert catalog.ids == ["t_30d"] and catalog["t_30d"].table == "tickets"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("family: usage\nindicators:\n" + ENTRY.format(id="a") + ENTRY.format(id="a"), "defined twice"),
        ("family: usage\nindicators:\n" + ENTRY.format(id="a") + "    colour: red\n",
         r"unknown keys \['colour'\]"),
        ("family: moods\nindicators:\n" + ENTRY.format(id="a"), "family must be one of"),
        ("family: usage\nindicators:\n" + ENTRY.format(id="a") + "    missing: 3\n",
         "missing must be a few words"),
        ("family: usage\nindicators:\n  - id: a\n    shape: count_window\n", "needs a 'description'"),
        ("family: usage\nindicators:\n  - id: a\n    shape: ratio\n    of: [b, c]\n    description: d\n",
         "refers to unknown indicator 'b'"),
    ],
)
def test_bad_entries_are_refused_with_the_reason(tmp_path, text, message):
    _write(tmp_path, "usage.yaml", text)
    with pytest.raises(ValueError, match=message):
        load_catalog(tmp_path)


def test_an_empty_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no catalog YAML"):
        load_catalog(tmp_path)


def test_a_count_of_one_reads_singular(catalog):
    power = catalog["power_users_30d"].render("risk", {"power_users_30d": 1.0})
    assert "1 user active" in power and "1 users" not in power
    assert "11 users active" in catalog["power_users_30d"].render("risk", {"power_users_30d": 11})
    days = catalog["days_since_last_activity"].render("risk", {"days_since_last_activity": 1})
    assert days.endswith("1 day"), days
    opened = catalog["open_tickets"].render(
        "risk", {"open_tickets": 1, "oldest_open_ticket_days": 21}
    )
    assert "1 ticket open, oldest 21 days" in opened, opened
