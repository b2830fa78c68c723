"""The red-account digest printed by ``churnml score``."""

import pandas as pd

from churnml.report.digest import red_digest


def _scores():
    return pd.DataFrame({
        "account_id": ["A1", "A2", "A3"], "name": ["Acme", None, "Calm Co"],
        "tier": ["red", "red", "green"], "score": [81, 70, 10],
        "arr": [100_000.0, 300_000.0, 1e6], "arr_at_risk": [81_000.0, 210_000.0, 100_000.0],
        "days_to_renewal": [40, 12, 90], "trend": ["rising", None, "steady"],
        "top_reasons": ["No executive sponsor\nCSAT dropped 1.2 points", "Tickets piling up", None],
        "play": ["Re-establish an executive sponsor", None, None],
    })


def test_red_accounts_in_order_of_arr_at_risk_with_reasons():
    text = red_digest(_scores())
    lines = text.splitlines()
    assert lines[0] == "2 red accounts; the 2 with the most ARR at risk:"
    assert lines[1].startswith("1. A2 (A2): score 70; ARR 300,000, 210,000 at risk")
    assert "2. Acme (A1): score 81, rising" in text
    assert "   - CSAT dropped 1.2 points" in lines
    assert "Calm Co" not in text


def test_limit_and_no_red():
    assert red_digest(_scores(), n=1).count("\n1. ") == 1 and "\n2. " not in red_digest(_scores(), n=1)
    assert red_digest(_scores().assign(tier="green")) == "no red accounts"
