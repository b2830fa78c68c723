"""Sentences for hand-built accounts: the right template, the account's values, the right direction.

``FakeCatalog`` is a tiny stand-in with the catalog interface (``catalog[id]``, ``ids``,
``families``, ``Indicator.render(kind, row)``); test_explain.py trains its models on ``make_frame``.
The last tests run the same checks against the real packaged catalog.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from churnml.explain.contributions import explain_all
from churnml.explain.reasons import has_sentence, render_sentence, sentence_applies


class _Missing(string.Formatter):
    def format_field(self, value, spec):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "unknown"
        return super().format_field(value, spec)


@dataclass(frozen=True)
class FakeIndicator:
    id: str
    family: str
    shape: str
    direction: str
    risk_sentence: str | None
    protective_sentence: str | None
    unit: str = ""
    description: str = ""
    params: dict = field(default_factory=dict)

    def render(self, kind, row):
        template = self.risk_sentence if kind == "risk" else self.protective_sentence
        value = row.get(self.id)
        ok = isinstance(value, (int, float)) and not math.isnan(value)
        values = {**row, "value": value, "abs_value": abs(value) if ok else None}
        return _Missing().vformat(template, (), values)


_ENTRIES = [
    (
        "active_users_30d",
        "usage",
        "count_window",
        "down",
        "Only {value:.0f} active users in 30 days",
        "{value:.0f} active users in 30 days",
    ),
    ("active_users_prev_30d", "usage", "count_window", "down", None, None),
    (
        "active_users_change_30d",
        "usage",
        "change_between_windows",
        "down",
        "Active users fell {abs_value:.0%} in the last 30 days ({active_users_prev_30d:.0f} → {active_users_30d:.0f})",
        "Active users grew {abs_value:.0%} in the last 30 days ({active_users_prev_30d:.0f} → {active_users_30d:.0f})",
    ),
    (
        "tickets_90d",
        "support",
        "count_window",
        "up",
        "{value:.0f} support tickets in 90 days",
        "No support tickets in 90 days",
    ),
    (
        "champion_left_90d",
        "champion",
        "flag",
        "up",
        "A champion left in the last 90 days",
        "No champion left in the last 90 days",
    ),
    (
        "nps_latest_score",
        "nps",
        "latest_value",
        "down",
        "Latest NPS response was {value:.0f}",
        "Latest NPS response was {value:.0f}",
    ),
    (
        "days_to_renewal",
        "contract",
        "spine",
        "none",
        "Renewal is in {value:.0f} days",
        "Renewal is in {value:.0f} days",
    ),
    ("segment", "contract", "spine", "none", "Segment: {value}", "Segment: {value}"),
]


class FakeCatalog:
    FEATURES: ClassVar[list[str]] = [e[0] for e in _ENTRIES]

    def __init__(self):
        self._by_id = {e[0]: FakeIndicator(*e) for e in _ENTRIES}

    def __getitem__(self, key):
        return self._by_id[key]

    def __iter__(self):
        return iter(self._by_id.values())

    @property
    def ids(self):
        return list(self._by_id)

    @property
    def families(self):
        return sorted({i.family for i in self})


def make_frame(n, seed=0):
    """Spine-like rows with indicator columns and a label that depends on them."""
    rng = np.random.default_rng(seed)
    prev = rng.integers(1, 60, n).astype(float)
    now = np.maximum(prev * rng.lognormal(-0.1, 0.4, n), 0).round()
    nps = rng.integers(0, 11, n).astype(float)
    nps[rng.random(n) < 0.2] = np.nan
    segment = pd.Categorical(rng.choice(["enterprise", "mid_market", "smb"], n))
    segment[rng.random(n) < 0.05] = np.nan
    frame = pd.DataFrame(
        {
            "account_id": [f"A{i:05d}" for i in range(n)],
            "as_of": pd.Timestamp("2025-06-01"),
            "active_users_30d": now,
            "active_users_prev_30d": prev,
            "active_users_change_30d": now / prev - 1,
            "tickets_90d": pd.array(rng.poisson(3, n), dtype="Int16"),
            "champion_left_90d": pd.array((rng.random(n) < 0.15).astype(int), dtype="Int8"),
            "nps_latest_score": pd.array(nps, dtype="Float32"),
            "days_to_renewal": pd.array(rng.integers(0, 180, n), dtype="Int16"),
            "segment": segment,
        }
    )
    logit = (
        -1.5
        - 2.0 * frame["active_users_change_30d"]
        + 0.25 * frame["tickets_90d"].astype(float)
        + 1.5 * frame["champion_left_90d"].astype(float)
        - 0.15 * (frame["nps_latest_score"].astype(float).fillna(5) - 5)
        + 0.6 * (frame["segment"] == "smb")
    )
    frame["label"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


@pytest.fixture(scope="module")
def booster():
    lgb = pytest.importorskip("lightgbm")
    frame = make_frame(1500, seed=5)
    params = {
        "objective": "binary",
        "verbose": -1,
        "num_leaves": 7,
        "min_data_per_group": 5,
        "num_threads": 1,
    }
    return lgb.train(params, lgb.Dataset(frame[FakeCatalog.FEATURES], frame["label"]), 20)


def _hand_built():
    rows = make_frame(3, seed=9).drop(columns="label")
    rows["account_id"] = ["fell", "rose", "gap"]
    rows["active_users_prev_30d"] = [41.0, 20.0, np.nan]
    rows["active_users_30d"] = [23.0, 30.0, 23.0]
    rows["active_users_change_30d"] = [23 / 41 - 1, 0.5, np.nan]
    rows["tickets_90d"] = pd.array([7, 0, 2], dtype="Int16")
    rows["champion_left_90d"] = pd.array([1, 0, 0], dtype="Int8")
    rows["nps_latest_score"] = pd.array([3, 9, None], dtype="Float32")
    rows["days_to_renewal"] = pd.array([23, 150, 90], dtype="Int16")
    rows["segment"] = pd.Categorical(["smb", "enterprise", "gov"])  # "gov" is unknown to the model
    return rows.reset_index(drop=True)


def _explain_with(values, booster, rows, catalog=None, **kw):
    v = np.zeros((len(rows), len(FakeCatalog.FEATURES)))
    for (i, name), c in values.items():
        v[i, FakeCatalog.FEATURES.index(name)] = c
    catalog = catalog if catalog is not None else FakeCatalog()
    return explain_all(booster, rows, catalog=catalog, values=v, base_value=0.0, **kw).reasons


def test_sentences_carry_the_accounts_values_and_direction(booster):
    rows = _hand_built()
    r = _explain_with(
        {
            (0, "active_users_change_30d"): 0.9,
            (0, "champion_left_90d"): 0.5,
            (0, "days_to_renewal"): 0.2,
            (0, "tickets_90d"): 0.1,
            (0, "nps_latest_score"): -0.3,
            (1, "active_users_change_30d"): -0.7,
            (1, "champion_left_90d"): -0.2,
            (1, "tickets_90d"): -0.1,
        },
        booster,
        rows,
    )
    fell = r[r["account_id"] == "fell"]
    assert fell["sentence"].tolist() == [
        "Active users fell 44% in the last 30 days (41 → 23)",
        "A champion left in the last 90 days",
        "Renewal is in 23 days",
        "Latest NPS response was 3",
    ]
    assert fell["kind"].tolist() == ["driver"] * 3 + ["protective"]
    assert fell["indicator"].tolist()[:3] == [
        "active_users_change_30d",
        "champion_left_90d",
        "days_to_renewal",
    ]
    assert fell["value"].iloc[0] == pytest.approx(23 / 41 - 1)
    rose = r[r["account_id"] == "rose"]
    assert rose["sentence"].tolist() == [
        "Active users grew 50% in the last 30 days (20 → 30)",
        "No champion left in the last 90 days",
    ]
    assert rose["indicator"].tolist()[1] == "champion_left_90d"  # tickets_90d is third: not shown
    r2 = _explain_with({(0, "tickets_90d"): -0.5, (1, "tickets_90d"): -0.5}, booster, rows)
    # "No support tickets" is a claim of zero: true for 'rose' (0 tickets), false for 'fell' (7)
    assert r2["account_id"].tolist() == ["rose"]
    assert r2["sentence"].tolist() == ["No support tickets in 90 days"]


def test_indicators_sharing_a_sentence_give_one_reason(booster):
    # as the champion's departure flags and its days since do ("The champion left 20 days ago")
    import dataclasses

    catalog = FakeCatalog()
    shared = catalog["champion_left_90d"].risk_sentence
    catalog._by_id["days_to_renewal"] = dataclasses.replace(
        catalog["days_to_renewal"], risk_sentence=shared
    )
    values = {(0, "champion_left_90d"): 0.5, (0, "days_to_renewal"): 0.9,
              (0, "tickets_90d"): 0.2, (0, "active_users_change_30d"): 0.1}  # fmt: skip
    r = _explain_with(values, booster, _hand_built(), catalog=catalog)
    drivers = r[(r["account_id"] == "fell") & (r["kind"] == "driver")]
    # the stronger of the two states it; the third reason slot goes to the next driver
    assert drivers["indicator"].tolist() == [
        "days_to_renewal", "tickets_90d", "active_users_change_30d"
    ]
    assert drivers["sentence"].tolist()[0] == shared
    assert drivers["rank"].tolist() == [1, 2, 3]


def test_a_sentence_is_never_stated_against_the_value(booster):
    rows = _hand_built()
    r = _explain_with(
        {
            (
                1,
                "active_users_change_30d",
            ): 0.8,  # positive SHAP, but users rose: no "fell" sentence
            (1, "champion_left_90d"): 0.6,  # flag is off: no "a champion left"
            (1, "tickets_90d"): 0.4,  # zero tickets cannot be a risk
            (1, "segment"): 0.1,
            (0, "champion_left_90d"): -0.3,  # flag is on: never "no champion left"
        },
        booster,
        rows,
    )
    assert r[r["account_id"] == "rose"]["sentence"].tolist() == ["Segment: enterprise"]
    assert r[r["account_id"] == "fell"].empty


def test_missing_values_render_unknown_and_unknown_categories_work(booster):
    rows = _hand_built()
    rows.loc[2, "active_users_change_30d"] = -0.5  # known change, unknown previous count
    r = _explain_with(
        {
            (2, "active_users_change_30d"): 0.6,
            (2, "segment"): 0.4,
            (2, "nps_latest_score"): 0.5,  # its own value is missing: never stated
            (2, "active_users_30d"): 0.3,
        },
        booster,
        rows,
    )
    gap = r[r["account_id"] == "gap"]
    assert gap["sentence"].tolist() == [
        "Active users fell 50% in the last 30 days (unknown → 23)",
        "Segment: gov",
        "Only 23 active users in 30 days",
    ]
    assert np.isnan(gap["value"].iloc[1])  # categorical values are not numbers
    # a template referring to a missing indicator of the same row renders "unknown"
    row = {
        "active_users_change_30d": -0.5,
        "active_users_30d": 10.0,
        "active_users_prev_30d": float("nan"),
    }
    text = render_sentence(FakeCatalog()["active_users_change_30d"], "driver", row)
    assert text == "Active users fell 50% in the last 30 days (unknown → 10)"
    # the model itself explains an unseen level and missing values without error
    real = explain_all(booster, rows, catalog=FakeCatalog(), backend="auto").reasons
    assert set(real["account_id"]) <= {"fell", "rose", "gap"}


def test_rules_table():
    cat = FakeCatalog()
    v = np.array([-0.5, 0.0, 0.5, np.nan])
    change = cat["active_users_change_30d"]
    assert sentence_applies(change, "driver", v).tolist() == [True, False, False, False]
    assert sentence_applies(change, "protective", v).tolist() == [False, False, True, False]
    flag = cat["champion_left_90d"]
    assert sentence_applies(flag, "driver", np.array([0, 1.0])).tolist() == [False, True]
    assert sentence_applies(flag, "protective", np.array([0, 1.0])).tolist() == [True, False]
    assert sentence_applies(cat["segment"], "driver", np.array(["smb", None], dtype=object)).all()
    assert not has_sentence(cat["active_users_prev_30d"], "driver")


def test_a_broken_template_falls_back_instead_of_raising():
    broken = FakeIndicator(
        "x", "usage", "count_window", "up", "{value:.0f} {nope!r:zz}", None, description="X count"
    )
    assert render_sentence(broken, "driver", {"x": 4.0}) == "X count: 4.0"


# ----------------------------------------------------------------------------- the real catalog
@pytest.fixture(scope="module")
def catalog():
    module = pytest.importorskip("churnml.features.catalog")
    return module.load_catalog()


def test_real_catalog_sentences_for_a_hand_built_account(catalog, booster):
    rows = _hand_built()
    r = _explain_with(
        {
            (0, "active_users_change_30d"): 0.9,
            (0, "days_to_renewal"): 0.5,
            (0, "champion_left_90d"): 0.2,
        },
        booster,
        rows,
        catalog=catalog,
    )
    text = r.set_index("indicator")["sentence"]
    assert "44%" in text["active_users_change_30d"] and "41" in text["active_users_change_30d"]
    assert "23" in text["active_users_change_30d"]
    assert "23" in text["days_to_renewal"] and "unknown" not in text["days_to_renewal"]
    assert (
        r.set_index("indicator").loc["champion_left_90d", "play"]
        == "Re-establish an executive sponsor"
    )


def test_real_catalog_missing_values_render_unknown(catalog):
    row = {"active_users_change_30d": -0.5, "active_users_30d": 10.0, "active_users_prev_30d": None}
    text = render_sentence(catalog["active_users_change_30d"], "driver", row)
    assert "unknown" in text and "50%" in text


def test_every_real_template_renders_with_plausible_values(catalog):
    row = {ind.id: 1.0 for ind in catalog}
    row.update(segment="smb", lifecycle_stage="mature", touch_model="high_touch")
    for ind in catalog:
        for kind in ("driver", "protective"):
            assert sentence_applies(ind, kind, np.array([np.nan, 1.0])).shape == (2,)
            if has_sentence(ind, kind):
                text = ind.render({"driver": "risk", "protective": "protective"}[kind], row)
                assert isinstance(text, str) and text.strip(), (ind.id, kind)


def test_the_typical_account_decides_which_sentences_apply_and_is_quoted(catalog):
    low_usage = catalog["events_per_seat_90d"]  # direction down
    v = np.array([10.0, 88.0, 150.0, np.nan])
    assert sentence_applies(low_usage, "driver", v, 88.0).tolist() == [True, False, False, False]
    assert sentence_applies(low_usage, "protective", v, 88.0).tolist() == [
        False, False, True, False]
    # without a typical value the old rule stands: a "down" risk sentence always applies
    assert sentence_applies(low_usage, "driver", v[:3]).all()
    friction = catalog["tickets_per_active_user_90d"]  # direction up
    assert sentence_applies(friction, "driver", np.array([0.1, 0.3, 0.0]), 0.2).tolist() == [
        False, True, False]
    text = render_sentence(low_usage, "driver", {"events_per_seat_90d": 7.0, "typical": 88.0})
    assert text.endswith("7 product events per licensed seat in the last 90 days "
                         "(typical account: 88)"), text


def test_explain_states_a_risk_only_on_the_risky_side_of_the_typical_account(booster):
    rows = _hand_built()  # account "fell" has 7 tickets in 90 days
    shap = {(0, "tickets_90d"): 0.4}
    try:
        booster.typical_values_ = {"tickets_90d": 10.0}  # 7 is below typical: no "many tickets"
        assert "tickets_90d" not in set(_explain_with(shap, booster, rows)["indicator"])
        booster.typical_values_ = {"tickets_90d": 2.0}  # 7 is above typical: stated
        assert "tickets_90d" in set(_explain_with(shap, booster, rows)["indicator"])
    finally:
        del booster.typical_values_


def test_a_negligible_contribution_is_not_stated(booster):
    from churnml.explain.contributions import MIN_CONTRIBUTION

    rows = _hand_built()  # account "fell" has 7 tickets in 90 days
    tiny = _explain_with({(0, "tickets_90d"): MIN_CONTRIBUTION / 2}, booster, rows)
    assert "tickets_90d" not in set(tiny["indicator"])
    stated = _explain_with({(0, "tickets_90d"): MIN_CONTRIBUTION * 2}, booster, rows)
    assert "tickets_90d" in set(stated["indicator"])


def test_sentences_rendered_by_column_equal_the_row_by_row_sentences(catalog):
    """render_distinct renders a template piece at a time over all rows; every real template on
    awkward values (1 and -1 before a plural noun, -0.0, NaN, large, fractional, a category,
    a column the frame lacks) reads exactly as Indicator.render row by row."""
    from churnml.explain.reasons import (
        SENTENCE_KIND,
        column_values,
        render_columns,
        render_distinct,
    )

    rng = np.random.default_rng(4)
    awkward = np.array([1.0, -1.0, 0.0, -0.0, np.nan, 12345.678, 0.5, -0.25, 2.0, 1.0001])
    frame = pd.DataFrame({"account_id": [f"A{i}" for i in range(40)]})
    numeric = [ind.id for ind in catalog if ind.id not in ("segment", "lifecycle_stage",
                                                          "touch_model")]
    for name in numeric[1:]:  # the first indicator's column is absent: its value reads unknown
        frame[name] = rng.choice(awkward, len(frame))
    frame["segment"] = pd.Categorical(rng.choice(["smb", "enterprise", None], len(frame)))
    typical = {name: 88.0 for name in numeric[::2]}
    shown = [(ind.id, kind) for ind in catalog for kind in SENTENCE_KIND if has_sentence(ind, kind)]
    rows = np.tile(np.arange(len(frame)), len(shown))
    indicator = np.repeat(np.array([i for i, _ in shown], dtype=object), len(frame))
    kinds = np.repeat(np.array([k for _, k in shown], dtype=object), len(frame))
    got = render_distinct(catalog, frame, rows, indicator, kinds, typical)
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    expected = []
    for r, i, k in zip(rows, indicator, kinds):
        row = {c: (np.nan if v is None and c in numeric else v) for c, v in records[r].items()}
        expected.append(render_sentence(catalog[i], k, {**row, "typical": typical.get(i)}))
    assert got == expected
    assert any(" 1 day" in s for s in got) and any("unknown" in s for s in got)
    columns = {c: column_values(frame[c]) for c in frame.columns}
    every = np.arange(len(frame))  # no real template needs the row-by-row fallback
    assert all(render_columns(catalog[i], k, columns, every, typical) for i, k in shown)


def test_as_strings_is_the_string_array_of_the_values():
    from churnml.explain.plays import Play
    from churnml.explain.reasons import as_strings

    values = np.array(
        [Play("Call", owner="CSM"), None, "Call", Play("Call", owner="Support lead"), "x", None],
        dtype=object,
    )
    for v in (values, np.array(["watch", "healthy", "watch"]), np.array([], dtype=object)):
        pd.testing.assert_extension_array_equal(as_strings(v), pd.array(v, dtype="string"))
