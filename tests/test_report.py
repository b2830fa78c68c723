"""Meeting-pack report: structure, escaping, missing sidecars, amber toggle, size at 500 accounts."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from churnml.report.load import read_scores_bundle
from churnml.report.render import render_report, write_report
from churnml.sidecars import sidecar_path

AS_OF = pd.Timestamp("2026-03-01")
INDICATORS = [
    ("active_users_change_30d", "usage", "Active users fell {v:.0%} in the last 30 days"),
    ("high_priority_tickets_90d", "support", "{v:.0f} high-priority tickets in the last 90 days"),
    ("detractor_share_180d", "nps", "{v:.0%} of NPS responses were detractors"),
    ("champion_left_90d", "champion", "A champion left in the last 90 days"),
    ("goals_achieved_share", "value", "Only {v:.0%} of success-plan goals achieved"),
    ("license_utilization_30d", "usage", "License utilization is {v:.0%}"),
    ("tenure_days", "contract", "Customer for {v:.0f} days"),
    ("open_tickets", "support", "{v:.0f} tickets open"),
]
HISTORY_INDICATORS = ["active_users_30d", "tickets_30d", "nps_latest_score", "events_30d"]
FAMILIES = ["usage", "support", "nps", "champion", "value", "contract"]


def make_frames(n_accounts: int = 12, seed: int = 0, *, n_red: int | None = None) -> dict:
    """Fixture frames with the shared-interface columns (scores, explanations, history, families,
    contacts). The first ``n_red`` accounts are red, then a third of the rest amber, rest green."""
    rng = np.random.default_rng(seed)
    n_red = n_accounts // 2 if n_red is None else n_red
    ids = np.array([f"A{i:05d}" for i in range(n_accounts)])
    n_amber = (n_accounts - n_red) // 2
    tier = np.array(
        ["red"] * n_red + ["amber"] * n_amber + ["green"] * (n_accounts - n_red - n_amber)
    )
    score = np.where(
        tier == "red",
        rng.integers(70, 100, n_accounts),
        np.where(
            tier == "amber", rng.integers(40, 70, n_accounts), rng.integers(0, 40, n_accounts)
        ),
    )
    arr = rng.integers(10, 500, n_accounts) * 1000.0
    prob = score / 100.0
    base = -1.8
    log_odds = base + rng.normal(1.5, 0.5, n_accounts)
    prev_tier = rng.choice(np.array(["red", "amber", "green", None], dtype=object), n_accounts)
    prev_score = np.where(prev_tier == None, np.nan, score - rng.integers(-10, 20, n_accounts))
    trend = np.select(
        [prev_tier == None, score - prev_score > 5, prev_score - score > 5],
        ["new", "rising", "falling"],
        "steady",
    )
    scores = pd.DataFrame(
        {
            "account_id": ids,
            "name": [f"Company {i}" for i in range(n_accounts)],
            "segment": rng.choice(["enterprise", "mid_market", "smb"], n_accounts),
            "csm": rng.choice(["Dana Lee", "Sam Ortiz", "Priya Nair"], n_accounts),
            "as_of": AS_OF,
            "contract_id": [f"C{i:05d}" for i in range(n_accounts)],
            "renewal_date": AS_OF + pd.to_timedelta(rng.integers(5, 180, n_accounts), unit="D"),
            "arr": arr,
            "probability": prob,
            "score": score.astype("int64"),
            "tier": tier,
            "arr_at_risk": arr * prob,
            "base_value": base,
            "log_odds": log_odds,
            "previous_score": prev_score,
            "previous_tier": pd.array(prev_tier, dtype="string"),
            "trend": trend,
            "pattern": np.where(tier == "red", rng.choice(["acute", "chronic"], n_accounts), ""),
            "top_reasons": "Active users fell 40% in the last 30 days\nA champion left in the last 90 days",
            "protective_reasons": "License utilization is 92%",
            "reason_code_1": "active_users_change_30d",
            "reason_code_2": "champion_left_90d",
            "reason_code_3": "detractor_share_180d",
            "play": "Run an adoption workshop",
            "plays": "Run an adoption workshop\nFind and brief a new champion",
            "model_name": "churnml",
            "model_version": "3",
            "scored_at": pd.Timestamp("2026-03-02 06:00"),
        }
    )
    scores["days_to_renewal"] = (scores["renewal_date"] - AS_OF).dt.days
    scores["rank"] = scores["probability"].rank(ascending=False, method="first").astype(int)

    k = len(INDICATORS)
    e_acc = np.repeat(ids, k)
    e_ind = np.tile(np.arange(k), n_accounts)
    contrib = rng.normal(0.0, 0.4, n_accounts * k) + np.where(e_ind < 4, 0.5, -0.1)
    kind = np.where(contrib > 0, "driver", "protective")
    values = rng.uniform(0.05, 0.95, n_accounts * k)
    explanations = pd.DataFrame(
        {
            "account_id": e_acc,
            "as_of": AS_OF,
            "indicator": [INDICATORS[i][0] for i in e_ind],
            "family": [INDICATORS[i][1] for i in e_ind],
            "value": values,
            "contribution": contrib,
            "kind": kind,
            "sentence": [INDICATORS[i][2].format(v=v) for i, v in zip(e_ind, values)],
            "play": np.where(kind == "driver", "Run an adoption workshop", ""),
        }
    )
    explanations["rank"] = (
        explanations.assign(a=explanations["contribution"].abs())
        .groupby(["account_id", "kind"])["a"]
        .rank(ascending=False, method="first")
        .astype(int)
    )
    months = pd.date_range(end=AS_OF, periods=12, freq="MS")
    h = pd.MultiIndex.from_product(
        [ids, months, HISTORY_INDICATORS], names=["account_id", "as_of", "indicator"]
    ).to_frame(index=False)
    h["value"] = rng.integers(0, 60, len(h)).astype(float)
    families = pd.DataFrame(
        {
            "account_id": np.repeat(ids, len(FAMILIES)),
            "family": np.tile(FAMILIES, n_accounts),
            "contribution": rng.normal(0.1, 0.4, n_accounts * len(FAMILIES)),
        }
    )
    roles = ["champion", "decision_maker", "executive_sponsor", "user"]
    contacts = pd.DataFrame(
        {
            "contact_id": [f"P{i:06d}" for i in range(n_accounts * len(roles))],
            "account_id": np.repeat(ids, len(roles)),
            "email": [f"person{i}@example.com" for i in range(n_accounts * len(roles))],
            "role": np.tile(roles, n_accounts),
            "title": np.tile(["Ops lead", "VP Finance", "COO", "Analyst"], n_accounts),
            "ended_at": pd.NaT,
        }
    )
    contacts.loc[contacts.index % 8 == 0, "ended_at"] = AS_OF - pd.Timedelta(days=20)
    return {
        "scores": scores,
        "explanations": explanations,
        "history": h,
        "families": families,
        "contacts": contacts,
    }


# --- a light HTML tree: enough to find landmarks, cards, captions and text -----------------------
VOID = {"meta", "link", "br", "img", "input", "hr", "col", "source", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children, self.text_parts = (
            tag,
            attrs,
            parent,
            [],
            [],
        )

    def text(self) -> str:
        return " ".join(
            " ".join(p for p in [*self.text_parts, *(c.text() for c in self.children)] if p).split()
        )

    def iter(self, tag=None):
        for child in self.children:
            if tag is None or child.tag == tag:
                yield child
            yield from child.iter(tag)


class TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.text_parts.append(data.strip())


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def by_id(root: Node) -> dict[str, Node]:
    return {n.attrs["id"]: n for n in root.iter() if "id" in n.attrs}


def cards_of(root: Node) -> list[Node]:
    return [n for n in root.iter("article") if "card" in n.attrs.get("class", "")]


def render(frames: dict, **kw) -> str:
    return render_report(
        frames["scores"],
        frames["explanations"],
        frames["history"],
        frames["families"],
        contacts=frames["contacts"],
        **kw,
    )


@pytest.fixture(scope="module")
def frames():
    return make_frames(12, seed=1)


@pytest.fixture(scope="module")
def full_html(frames):
    return render(frames)


def focus_amber(scores: pd.DataFrame) -> pd.DataFrame:
    """Amber accounts among the first five of their CSM's book, by ARR at risk."""
    from churnml.report.books import ranked

    ranked_scores = ranked(scores)
    amber = ranked_scores[(ranked_scores["tier"] == "amber") & ranked_scores["csm_focus"]]
    return amber.sort_values("arr_at_risk", ascending=False)


# --- structure --------------------------------------------------------------------------------
def test_one_card_per_red_account_then_amber_accounts_a_csm_discusses_first(frames, full_html):
    root = parse(full_html)
    ids = by_id(root)
    cards = cards_of(root)
    red = frames["scores"][frames["scores"]["tier"] == "red"].sort_values(
        "arr_at_risk", ascending=False
    )
    amber = focus_amber(frames["scores"])
    assert len(red) == 6 and len(amber) > 0
    assert len(cards) == len(red) + len(amber)
    names = [ids[c.attrs["aria-labelledby"]].text() for c in cards]
    assert names == red["name"].tolist() + amber["name"].tolist()
    for card, (_, row) in zip(cards, red.iterrows()):
        assert "RED" in card.text() and str(row["score"]) in card.text()
        assert card.attrs["data-csm"] == row["csm"]


def test_landmarks_tables_and_charts_are_accessible(full_html):
    root = parse(full_html)
    assert len(list(root.iter("main"))) == 1
    assert any(True for _ in root.iter("header"))
    tables = list(root.iter("table"))
    assert tables, "the overview table and family tables are expected"
    for table in tables:
        assert list(table.iter("caption")), "every table has a caption"
        assert all("scope" in th.attrs for th in table.iter("th"))
    svgs = list(root.iter("svg"))
    assert len(svgs) > 6
    for svg in svgs:
        assert svg.attrs.get("role") == "img" and svg.attrs.get("aria-label")
        assert list(svg.iter("title"))


def test_no_external_references_and_csp_hash_matches_the_inline_script(full_html):
    import base64
    import hashlib
    import re

    root = parse(full_html)
    for node in root.iter():
        for attr in ("src", "href"):
            value = node.attrs.get(attr)
            assert value is None or value.startswith("#"), (node.tag, attr, value)
    assert "http://" not in full_html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in full_html
    scripts = list(root.iter("script"))
    assert len(scripts) == 1
    body = re.search(r"<script>(.*?)</script>", full_html, re.DOTALL).group(1)
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    csp = next(
        m for m in root.iter("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"
    )
    assert f"'sha256-{digest}'" in csp.attrs["content"]
    assert "default-src 'none'" in csp.attrs["content"]


def test_overview_counts_movers_and_model(frames, full_html):
    scores = frames["scores"]
    root = parse(full_html)
    header_text = next(root.iter("header")).text()
    assert "1 Mar 2026" in header_text and "churnml" in header_text and "3" in header_text
    tiles = {
        n.attrs["class"].split()[-1]: n.text()
        for n in root.iter("div")
        if n.attrs.get("class", "").startswith("tile ")
    }
    for tier in ("red", "amber", "green"):
        assert tiles[f"tile-{tier}"].startswith(
            f"{tier.upper()} {int((scores['tier'] == tier).sum())} "
        )
    new_red = {a.text() for a in by_id(root)["new-red-heading"].parent.iter("a")}
    red = scores[scores["tier"] == "red"]
    assert new_red == set(red.loc[red["previous_tier"].fillna("") != "red", "name"])
    table_rows = next(iter(by_id(root)["red-table"].iter("tbody"))).children
    assert len(table_rows) == len(red)


def test_waterfall_other_bar_is_the_difference_of_given_numbers(frames, full_html):
    import re

    scores = frames["scores"].set_index("name")
    card = cards_of(parse(full_html))[0]
    name = card.children[0].children[0].children[0].text()
    by_indicator = next(d for d in card.iter("details") if "by-indicator" in d.attrs["class"])
    svg = next(s for s in by_indicator.iter("svg") if "waterfall" in s.attrs["class"])
    label = svg.attrs["aria-label"]
    row = scores.loc[name]
    expl = frames["explanations"]
    expl = expl[expl["account_id"] == row["account_id"]]
    shown = expl.reindex(expl["contribution"].abs().sort_values(ascending=False).index).head(6)
    other = row["log_odds"] - row["base_value"] - shown["contribution"].sum()
    assert f"average account {row['base_value']:+.2f}" in label
    assert f"All other indicators {other:+.2f}" in label
    assert label.endswith(f"this account {row['log_odds']:+.2f}")
    assert len(re.findall(r"[+-]\d+\.\d\d", label)) == len(shown) + 3


def test_people_show_left_and_active_status(frames, full_html):
    cards = cards_of(parse(full_html))
    texts = " ".join(c.text() for c in cards)
    assert "LEFT 9 Feb 2026" in texts  # ended 20 days before as_of
    assert "Active" in texts and "Executive sponsor" in texts


# --- escaping ---------------------------------------------------------------------------------
def test_hostile_text_is_escaped_everywhere():
    f = make_frames(4, seed=2, n_red=2)
    evil = "<script>alert(1)</script>"
    f["scores"].loc[0, ["name", "csm"]] = [evil, '"><img src=x onerror=alert(2)>']
    f["explanations"].loc[f["explanations"]["account_id"] == "A00000", "sentence"] = (
        "<b>bold</b> & co"
    )
    f["explanations"].loc[f["explanations"]["account_id"] == "A00000", "indicator"] = "<i>x</i>"
    html = render(f)
    root = parse(html)
    assert len(list(root.iter("script"))) == 1
    assert not list(root.iter("img")) and not list(root.iter("b")) and not list(root.iter("i"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    ids = by_id(root)
    names = [ids[c.attrs["aria-labelledby"]].text() for c in cards_of(root)]
    assert evil in names
    assert "<b>bold</b> & co" in root.text()


# --- missing inputs -----------------------------------------------------------------------------
def test_scores_only_renders_with_not_available_sections(frames):
    html = render_report(frames["scores"])
    root = parse(html)
    cards = cards_of(root)
    assert len(cards) == 6 + len(focus_amber(frames["scores"]))
    text = cards[0].text()
    assert "Contribution chart not available" in text
    assert "Monthly history not available" in text
    assert "Risk by area not available" in text
    assert "Contact details not available" in text
    # drivers fall back to the scores frame's own sentences and plays
    assert "A champion left in the last 90 days" in text and "Find and brief a new champion" in text
    assert not [s for s in root.iter("svg") if "waterfall" in s.attrs.get("class", "")]


def test_accounts_sharing_a_name_are_told_apart_by_their_id(frames):
    """Two red accounts named alike (regions of one customer) appeared as the same name twice
    in every list and card; each now carries its id, a name of its own stays as it is."""
    scores = frames["scores"].copy()
    red = scores.index[scores["tier"] == "red"][:2]
    scores.loc[red, "name"] = "Orbit Bio"
    root = parse(render_report(scores))
    headings = [h.text() for h in root.iter("h3") if h.attrs.get("id", "").endswith("-name")]
    ids = scores.loc[red, "account_id"].tolist()
    assert sorted(h for h in headings if h.startswith("Orbit Bio")) == sorted(
        f"Orbit Bio ({i})" for i in ids)
    others = [h for h in headings if not h.startswith("Orbit Bio")]
    assert others and all(h.startswith("Company ") and "(" not in h for h in others)


def test_minimal_scores_frame_and_no_red_accounts():
    scores = pd.DataFrame({"account_id": ["a", "b"], "score": [10, 20], "tier": ["green", "GREEN"]})
    html = render_report(scores)
    assert not cards_of(parse(html))
    assert "No red accounts in this run." in html
    with pytest.raises(ValueError, match="'tier'"):
        render_report(scores.drop(columns="tier"))


def test_account_without_key_contacts_is_flagged(frames):
    contacts = frames["contacts"][frames["contacts"]["role"] == "user"]
    html = render(dict(frames, contacts=contacts))
    assert "No champion, decision maker or executive sponsor on record" in html


def test_amber_toggle_adds_amber_cards_after_red(frames):
    root = parse(render(frames, include_amber=True))
    tiers = [c.attrs["class"].split()[-1] for c in cards_of(root)]
    n_red = int((frames["scores"]["tier"] == "red").sum())
    n_amber = int((frames["scores"]["tier"] == "amber").sum())
    assert tiers == ["card-red"] * n_red + ["card-amber"] * n_amber
    assert "AMBER" in cards_of(root)[-1].text()


# --- files and CLI ------------------------------------------------------------------------------
def write_bundle(tmp_path, frames, kinds=("explanations", "history", "families")):
    scores_path = tmp_path / "scores.parquet"
    frames["scores"].to_parquet(scores_path)
    for kind in kinds:
        frames[kind].to_parquet(sidecar_path(scores_path, kind))
    return scores_path


def test_read_bundle_handles_missing_sidecars_and_bad_columns(tmp_path, frames):
    path = write_bundle(tmp_path, frames, kinds=("history",))
    bundle = read_scores_bundle(path)
    assert bundle["explanations"] is None and bundle["families"] is None
    assert len(bundle["history"]) == len(frames["history"])
    frames["families"].drop(columns="family").to_parquet(sidecar_path(path, "families"))
    with pytest.raises(ValueError, match=r"families sidecar .*\['family'\]"):
        read_scores_bundle(path)
    with pytest.raises(FileNotFoundError, match="churnml score"):
        read_scores_bundle(tmp_path / "nope.parquet")


def test_write_report_is_atomic_and_overwrites(tmp_path):
    out = tmp_path / "sub" / "r.html"
    write_report(out, "old")
    write_report(out, "<p>new</p>")
    assert out.read_text() == "<p>new</p>"
    assert [p.name for p in out.parent.iterdir()] == ["r.html"]


def test_cli_report_end_to_end(tmp_path, frames, capsys):
    from churnml.cli import main

    path = write_bundle(tmp_path, frames, kinds=("explanations", "families"))
    data = tmp_path / "data"
    data.mkdir()
    frames["contacts"].to_parquet(data / "contacts.parquet")
    s = frames["scores"]
    s[["account_id", "name", "segment", "csm"]].to_parquet(data / "accounts.parquet")
    s.assign(start_date=s["renewal_date"] - pd.Timedelta(days=365), end_date=s["renewal_date"])[
        ["contract_id", "account_id", "start_date", "end_date", "arr"]
    ].to_parquet(data / "contracts.parquet")
    out = tmp_path / "red.html"
    assert (
        main(
            [
                "report",
                "--scores",
                str(path),
                "--data",
                str(data),
                "--out",
                str(out),
                "--include-amber",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "history" in printed and str(out) in printed
    root = parse(out.read_text())
    assert len(cards_of(root)) == int(s["tier"].isin(["red", "amber"]).sum())
    assert "Monthly history not available" in root.text()
    assert "Champion" in cards_of(root)[0].text()


# --- scale ----------------------------------------------------------------------------------------
def test_500_red_accounts_render_every_card_under_15_mb():
    f = make_frames(700, seed=3, n_red=500)
    html = render(f)
    assert len(html.encode()) < 15_000_000
    assert len(cards_of(parse(html))) == 500


def test_categorical_keys_and_labels_render_the_same_report(frames, full_html):
    cat = {
        "scores": frames["scores"].astype(
            {
                "account_id": "category",
                "tier": "category",
                "previous_tier": "category",
                "segment": "category",
                "csm": "category",
                "trend": "category",
            }
        ),
        **{
            k: frames[k].astype({"account_id": "category"})
            for k in ("explanations", "history", "families", "contacts")
        },
    }
    cat["history"] = cat["history"].astype({"indicator": "category"})
    assert render(cat) == full_html
