"""The family-first card in the meeting pack: risk by area, the area waterfall, persona health,
what changed, plays with owners; each CSM's book; the audit section."""

from __future__ import annotations

import pandas as pd
import pytest
from test_report import AS_OF, by_id, cards_of, make_frames, parse

from churnml.audit import HealthScoreAudit
from churnml.report.render import render_report

ACCOUNT = "A00000"
FAMILIES = {  # family -> (contribution, leading)
    "champion": (0.9, True), "usage": (0.5, True), "support": (0.2, False),
    "nps": (-0.1, False), "value": (0.0, False), "contract": (-0.3, False),
}  # fmt: skip
SENTENCES = [  # (family, area_rank, sentence)
    ("champion", 1, "The champion left 20 days ago"),
    ("champion", 1, "No executive sponsor"),
    ("usage", 2, "Low usage per seat: 20 product events per licensed seat"),
]


@pytest.fixture(scope="module")
def frames():
    f = make_frames(12, seed=1)
    s = f["scores"]
    raised = sum(c for c, _ in FAMILIES.values() if c > 0)
    families = pd.DataFrame(
        [(ACCOUNT, AS_OF, fam, c, c / raised if c > 0 else None, lead)
         for fam, (c, lead) in FAMILIES.items()],
        columns=["account_id", "as_of", "family", "contribution", "share", "leading"],
    )  # fmt: skip
    f["families"] = pd.concat([families, f["families"][f["families"]["account_id"] != ACCOUNT]])
    expl = f["explanations"]
    drivers = pd.DataFrame(
        [{"account_id": ACCOUNT, "as_of": AS_OF, "indicator": f"ind_{i}", "family": fam,
          "value": 1.0, "contribution": 0.3, "kind": "driver", "rank": i + 1,
          "sentence": sentence, "play": "Play", "area_rank": rank}
         for i, (fam, rank, sentence) in enumerate(SENTENCES)]
    )  # fmt: skip
    keep = ~((expl["account_id"] == ACCOUNT) & (expl["kind"] == "driver"))
    f["explanations"] = pd.concat([drivers, expl[keep]], ignore_index=True)
    at = s["account_id"] == ACCOUNT
    s.loc[at, "log_odds"] = s.loc[at, "base_value"] + sum(c for c, _ in FAMILIES.values())
    s["score_change"] = pd.array([None] * len(s), dtype="Int16")
    s["changed_since"] = pd.NaT
    s.loc[at, ["score_change", "changed_since"]] = [12, pd.Timestamp("2026-02-01")]
    s.loc[at, ["trend", "plays", "play_owners"]] = [
        "rising", "Re-establish an executive sponsor\nAdoption workshop", "Executive sponsor\nCSM",
    ]  # fmt: skip
    f["personas"] = pd.DataFrame(
        {"account_id": ACCOUNT, "as_of": AS_OF, "persona": ["decision_maker", "influencer", "user"],
         "contribution": [0.3, 0.1, -0.2], "health": ["at risk", "watch", "healthy"],
         "indicator": ["no_executive_sponsor", None, "events_30d"],
         "sentence": ["No executive sponsor", None, "<b>4,000</b> product events"]}
    )  # fmt: skip
    f["changes"] = pd.DataFrame(
        {"account_id": ACCOUNT, "as_of": AS_OF, "indicator": ["champion_left_30d", "tickets_30d"],
         "points": [8.4, 3.2], "sentence": ["The champion left 20 days ago", "6 support tickets"],
         "rank": [1, 2]}
    )  # fmt: skip
    return f


def render(f, **kw):
    return render_report(
        f["scores"], f["explanations"], f["history"], f["families"], contacts=f["contacts"],
        personas=f["personas"], changes=f["changes"], **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def card(frames):
    root = parse(render(frames))
    ids = by_id(root)
    name = frames["scores"].set_index("account_id").loc[ACCOUNT, "name"]
    return next(c for c in cards_of(root) if ids[c.attrs["aria-labelledby"]].text() == name)


def _section(card, css):
    return next(n for n in card.iter("section") if css in n.attrs.get("class", "").split())


def test_the_card_leads_with_risk_by_area_then_the_sentences_of_each_leading_area(card):
    reasons = _section(card, "reasons")
    areas = [n for n in reasons.iter("div") if n.attrs.get("class") == "area"]
    raised = 0.9 + 0.5 + 0.2
    assert [a.children[0].text() for a in areas] == [
        f"Relationship {0.9 / raised:.0%} of the raised risk",
        f"Adoption {0.5 / raised:.0%} of the raised risk",
    ]
    assert [li.text() for li in areas[0].iter("li")] == [s for f, _, s in SENTENCES[:2]]
    assert [li.text() for li in areas[1].iter("li")] == [SENTENCES[2][2]]
    also = next(p for p in reasons.iter("p") if "also" in p.attrs.get("class", ""))
    assert also.text() == f"Also raising risk: Support friction {0.2 / raised:.0%}"


def test_the_area_waterfall_steps_through_every_area(frames, card):
    svg = next(s for s in _section(card, "contrib").iter("svg"))
    label = svg.attrs["aria-label"]
    for text in (
        "Relationship +0.90",
        "Adoption +0.50",
        "Contract -0.30",
        "Support friction +0.20",
    ):
        assert text in label
    assert "Not in any area" not in label  # the areas add up to the account's log-odds
    assert label.index("Relationship") < label.index("Adoption") < label.index("Contract")


def test_persona_health_what_changed_and_plays_with_owners(card):
    personas = [li.text() for li in _section(card, "personas").iter("li")]
    assert personas == [
        "Decision makers AT RISK No executive sponsor",
        "Champions & power users WATCH",
        "Day-to-day users HEALTHY <b>4,000</b> product events",  # escaped, shown as text
    ]
    change = _section(card, "change")
    assert change.text().startswith("What changed since 1 Feb 2026 Risk up 12 points")
    assert [li.text() for li in change.iter("li")] == [
        "The champion left 20 days ago +8 pts", "6 support tickets +3 pts",
    ]  # fmt: skip
    plays = [li.text() for li in _section(card, "plays").iter("li")]
    assert plays == [
        "Re-establish an executive sponsor Owner: Executive sponsor",
        "Adoption workshop Owner: CSM",
    ]


def test_a_first_score_says_there_is_nothing_to_compare(frames):
    from test_report import focus_amber

    root = parse(render(frames))
    scores = frames["scores"]
    carded = pd.concat([scores[scores["tier"] == "red"], focus_amber(scores)])
    assert (carded["trend"] == "new").any()
    texts = [_section(c, "change").text() for c in cards_of(root)]
    assert (
        sum("First score for this account" in t for t in texts) == (carded["trend"] == "new").sum()
    )


def test_each_csm_book_lists_the_accounts_to_discuss_first(frames):
    from churnml.report.books import ranked

    html = render(frames)
    root = parse(html)
    section = by_id(root)["books-heading"].parent
    books = [n for n in section.iter("section") if n.attrs.get("class") == "book"]
    scores = ranked(frames["scores"])
    focus = scores[scores["csm_focus"]]
    assert [b.attrs["data-csm"] for b in books] == (
        focus.assign(e=focus["expected_arr_at_risk"]).groupby("csm")["e"].sum()
        .sort_values(ascending=False).index.tolist()
    )  # fmt: skip
    anchors = {c.attrs["id"] for c in cards_of(root)}
    for book in books:
        rows = next(book.iter("tbody")).children
        mine = focus[focus["csm"] == book.attrs["data-csm"]].sort_values("csm_rank")
        assert len(rows) == len(mine) <= 5
        assert [r.children[1].text() for r in rows] == mine["name"].tolist()
        for row, tier in zip(rows, mine["tier"]):
            links = [a.attrs["href"][1:] for a in row.iter("a")]
            assert bool(links and links[0] in anchors) == (tier in ("red", "amber"))


def test_the_audit_section_shows_both_scores_and_the_disagreements(frames):
    metrics = pd.DataFrame(
        {"metric": ["roc_auc", "churners_in_green_share"], "label": ["ROC-AUC", "Churners safest"],
         "model": [0.78, 0.10], "health_score": [0.61, 0.30]}
    )  # fmt: skip
    disagreements = pd.DataFrame(
        {"account_id": ["X1"], "as_of": [AS_OF], "name": ["Hidden Risk Inc"], "csm": ["Ann"],
         "arr": [50_000.0], "health_score": [82.0], "health": ["green"], "probability": [0.4],
         "tier": ["red"], "kind": ["missed_by_health_score"]}
    )  # fmt: skip
    summary = {"test_dates": ["2026-01-01", "2026-02-01"], "rows": 400, "churned": 60,
               "without_health_score": 3, "capacity": 50, "model": "models:/churnml/3"}  # fmt: skip
    root = parse(render(frames, audit=HealthScoreAudit(metrics, disagreements, summary)))
    section = by_id(root)["audit-heading"].parent
    rows = [[c.text() for c in r.children] for r in next(section.iter("tbody")).children]
    assert rows == [["ROC-AUC", "0.780", "0.610"], ["Churners safest", "10%", "30%"]]
    bold = [s.text() for s in section.iter("strong")]
    assert bold == ["0.780", "10%"]  # the better score: higher AUC, fewer churners called safe
    text = section.text()
    assert "1 account churned: green by the health score, flagged by the model" in text
    assert "Hidden Risk Inc" in text and "0 accounts churned: green by the model" in text
    assert "3 without one left out" in text
    assert by_id(parse(render(frames))).get("audit-heading") is None
