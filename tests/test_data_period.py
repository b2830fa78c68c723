"""data_period: the snapshot range a data set supports, from its own dates (never the clock)."""

import pandas as pd
import pytest

from churnml.snapshots import data_period


def test_period_runs_from_warm_up_after_first_activity_to_the_day_after_the_last(saas_small):
    start, end = data_period(saas_small)
    first = min(saas_small[t][c].min() for t, c in
                [("usage", "ts"), ("tickets", "opened_at"), ("nps", "responded_at")])
    assert start == (first + pd.Timedelta(days=90)).normalize()
    assert end == saas_small["usage"]["ts"].max().normalize() + pd.Timedelta(days=1)
    assert data_period(saas_small, warmup_days=0)[0] == first.normalize()


def test_contracts_alone_bound_the_period_and_empty_data_is_an_error():
    contracts = pd.DataFrame({"start_date": pd.to_datetime(["2025-01-01", "2025-03-05"])})
    start, end = data_period({"contracts": contracts}, warmup_days=10)
    assert (start, end) == (pd.Timestamp("2025-01-11"), pd.Timestamp("2025-03-06"))
    with pytest.raises(ValueError, match="no dated rows"):
        data_period({"contracts": contracts.iloc[:0]})


def test_the_period_ends_with_usage_when_other_feeds_run_longer():
    tables = {
        "usage": pd.DataFrame({"ts": pd.to_datetime(["2025-01-05 09:00", "2025-06-25 14:00"])}),
        "tickets": pd.DataFrame({"opened_at": pd.to_datetime(["2025-02-01", "2025-06-30"])}),
    }
    assert data_period(tables)[1] == pd.Timestamp("2025-06-26")
    del tables["usage"]  # without usage the latest activity ends it
    assert data_period(tables)[1] == pd.Timestamp("2025-07-01")
