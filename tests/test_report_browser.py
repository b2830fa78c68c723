"""The meeting pack in real headless Chromium: no requests, no console errors, visible, filterable;
the family-first cards, each CSM's book and the audit section are on screen."""

from __future__ import annotations

import pytest
from browser import open_html, screenshot
from test_report import make_frames

from churnml.report.render import render_report, write_report

pytestmark = pytest.mark.slow
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    import pandas as pd

    from churnml.audit import HealthScoreAudit

    f = make_frames(30, seed=5, n_red=9)
    f["scores"].loc[3, "name"] = HOSTILE
    f["scores"].loc[0, "name"] = "Northwind Logistics"
    ids = f["scores"]["account_id"]
    personas = pd.DataFrame(
        {"account_id": ids.repeat(3).to_numpy(), "as_of": f["scores"]["as_of"].iloc[0],
         "persona": ["decision_maker", "influencer", "user"] * len(ids),
         "health": ["at risk", "watch", "healthy"] * len(ids),
         "sentence": ["No executive sponsor", None, "Usage is steady"] * len(ids)}
    )  # fmt: skip
    f["scores"]["score_change"] = pd.array([12] + [None] * (len(ids) - 1), dtype="Int16")
    f["scores"]["changed_since"] = pd.Timestamp("2026-02-01")
    changes = pd.DataFrame(
        {"account_id": [ids.iloc[0]], "indicator": ["champion_left_30d"], "points": [9.0],
         "sentence": ["The champion left 20 days ago"], "rank": [1]}
    )  # fmt: skip
    audit = HealthScoreAudit(
        pd.DataFrame({"metric": ["roc_auc"], "label": ["ROC-AUC"], "model": [0.78],
                      "health_score": [0.6]}),
        pd.DataFrame(columns=["account_id", "as_of", "name", "csm", "arr", "health_score",
                              "health", "probability", "tier", "kind"]),
        {"test_dates": ["2026-01-01"], "rows": 300, "churned": 40, "without_health_score": 0,
         "capacity": 50, "model": "models:/churnml/3"},
    )  # fmt: skip
    html = render_report(
        f["scores"],
        f["explanations"],
        f["history"],
        f["families"],
        contacts=f["contacts"],
        include_amber=True,
        personas=personas,
        changes=changes,
        audit=audit,
    )
    path = write_report(tmp_path_factory.mktemp("report") / "red_accounts.html", html)
    return path, int(f["scores"]["tier"].isin(["red", "amber"]).sum())


def test_report_loads_offline_without_errors_and_filters(report):
    report_path, n_cards = report
    with open_html(report_path) as (page, log):
        page.wait_for_timeout(200)
        screenshot(page, "report_overview.png")

        assert log.requests == [report_path.resolve().as_uri()]
        assert log.console_errors == [] and log.page_errors == []
        assert log.dialogs == [], "an injected script ran"
        assert page.get_by_role("heading", name="Overview").is_visible()
        assert page.get_by_role("table", name="Red accounts by ARR at risk (9)").is_visible()
        cards = page.locator("main article.card")
        assert cards.count() == n_cards > 9  # red and amber
        assert page.get_by_role("article", name=HOSTILE).count() == 1

        first = cards.first
        first.scroll_into_view_if_needed()
        assert first.is_visible()
        assert first.get_by_role("img").first.is_visible()
        assert first.get_by_role("heading", name="Why it is at risk, by area").is_visible()
        assert first.get_by_role("heading", name="Relationship health by persona").is_visible()
        assert first.get_by_text("AT RISK").first.is_visible()
        changed = cards.filter(has_text="The champion left 20 days ago")
        assert changed.count() == 1
        changed.scroll_into_view_if_needed()
        assert changed.get_by_role("heading", name="What changed since 1 Feb 2026").is_visible()
        assert changed.get_by_text("+9 pts").is_visible()
        assert first.locator("details.by-indicator svg").is_hidden()  # folded until opened
        first.locator("details.by-indicator summary").click()
        assert first.locator("details.by-indicator svg").is_visible()
        changed.evaluate("card => card.scrollIntoView()")
        screenshot(page, "report_card.png")
        books = page.locator("section.book")
        assert books.count() == 3 and books.first.is_visible()
        assert page.locator("section.audit table").is_visible()

        # filter by CSM: only that CSM's cards and table rows stay visible
        assert page.locator("#filters").is_visible()
        csm = first.get_attribute("data-csm")
        page.select_option("#filter-csm", csm)
        visible = [c.get_attribute("data-csm") for c in cards.all() if c.is_visible()]
        assert visible and set(visible) == {csm} and len(visible) < cards.count()
        rows = page.locator("#red-table tbody tr")
        assert {r.get_attribute("data-csm") for r in rows.all() if r.is_visible()} == {csm}
        assert [b.get_attribute("data-csm") for b in books.all() if b.is_visible()] == [csm]
        assert page.locator("#filter-status").inner_text().startswith(f"Showing {len(visible)} of")
        page.select_option("#filter-csm", "")
        assert all(c.is_visible() for c in cards.all())

        # sorting the table by score (click the header button)
        page.locator("#red-table thead th", has_text="Score").locator("button").click()
        scores = [
            float(v)
            for v in rows.locator("td:nth-child(4)").evaluate_all(
                "cells => cells.map(c => c.dataset.value)"
            )
        ]
        assert scores == sorted(scores, reverse=True)
        assert log.requests == [report_path.resolve().as_uri()]


def test_report_works_without_javascript_and_prints_one_card_per_page(report):
    report_path, _ = report
    with open_html(report_path, javascript=False) as (page, log):
        assert log.requests == [report_path.resolve().as_uri()]
        assert not page.locator("#filters").is_visible(), "no dead controls without JavaScript"
        cards = page.locator("main article.card")
        assert cards.first.is_visible() and cards.nth(8).is_visible()
        page.emulate_media(media="print")
        breaks = cards.evaluate_all("cs => cs.map(c => getComputedStyle(c).breakBefore)")
        assert set(breaks) == {"page"}
        page.emulate_media(media="screen")
        page.set_viewport_size({"width": 800, "height": 1000})
        page.evaluate("document.querySelector('article.card').scrollIntoView()")
        screenshot(page, "report_card_narrow_nojs.png")
