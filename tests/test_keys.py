"""Keys across systems: each table's own customer key reaches ``account_id`` through a column,
a key map or the email domain; the indicators equal those of the native tables, and
``validate`` reports the share of rows that reached an account with examples of the rest."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from churnml.data.load import load_tables, open_tables, write_tables
from churnml.data.mapping import mapping_from_dict
from churnml.data.validate import validate
from churnml.features.engine import build_features

NATIVE = ["accounts", "contracts", "contacts", "nps", "goals", "usage", "tickets"]


@pytest.fixture(scope="module")
def world(saas_small):
    """Native tables, and the same data as three systems would export it."""
    tables = {k: saas_small[k] for k in NATIVE}
    accounts = tables["accounts"]
    domain = accounts.set_index(accounts["account_id"].astype(str))["email_domain"].astype(str)
    usage = tables["usage"].assign(group_id="grp-" + tables["usage"]["account_id"].astype(str))
    tickets = tables["tickets"].assign(
        requester="ann@support." + tables["tickets"]["account_id"].astype(str).map(domain))
    subscriptions = tables["contracts"].assign(
        stripe_customer="cus_" + tables["contracts"]["account_id"].astype(str))
    keymap = pd.DataFrame({
        "source": ["segment"] * len(accounts) + ["stripe"] * len(accounts),
        "ext_id": [*("grp-" + accounts["account_id"].astype(str)),
                   *("cus_" + accounts["account_id"].astype(str))],
        "crm_id": [*accounts["account_id"].astype(str)] * 2,
    })
    return tables, {
        "tracks": usage.drop(columns="account_id"),
        "zendesk_tickets": tickets.drop(columns="account_id"),
        "billing_terms": subscriptions.drop(columns="account_id"),
        "account_keys": keymap,
    }


MAPPING = {
    "keys": {"table": "account_keys",
             "columns": {"system": "source", "external_id": "ext_id", "account_id": "crm_id"}},
    "tables": {
        "usage": {"table": "tracks", "account_key": {"column": "group_id", "system": "segment"}},
        "tickets": {"table": "zendesk_tickets", "account_key": {"email": "requester"}},
        "contracts": {"table": "billing_terms",
                      "account_key": {"column": "stripe_customer", "system": "stripe"}},
    },
}


def _write(folder, world, extra=None):
    native, raw = world
    write_tables({k: native[k] for k in ("accounts", "contacts", "nps", "goals")}, folder)
    write_tables({**raw, **(extra or {})}, folder)
    path = folder / "mapping.yaml"
    path.write_text(yaml.safe_dump({"source": str(folder), **MAPPING}))
    return path


@pytest.fixture(scope="module")
def spine(saas_small, spine_small):
    dates = sorted(spine_small["as_of"].unique())[-2:]
    return spine_small[spine_small["as_of"].isin(dates)].reset_index(drop=True)


def test_keys_through_a_key_map_and_email_give_the_native_indicators(tmp_path, world, spine):
    mapping = _write(tmp_path, world)
    native = build_features(world[0], spine)
    keyed = load_tables(mapping=mapping, validate=False)
    pd.testing.assert_frame_equal(build_features(keyed, spine), native, check_dtype=False,
                                  check_categorical=False)
    lazy = open_tables(mapping=mapping, validate=False)  # usage joined to the key map in SQL
    try:
        pd.testing.assert_frame_equal(build_features(lazy, spine), native, check_dtype=False,
                                      check_categorical=False)
        report = validate(lazy, raise_on_fatal=False)
    finally:
        lazy["usage"].close()
    matched = report[report["check"] == "account_key_match"].set_index("table")
    assert set(matched.index) == {"usage", "tickets", "contracts"}
    assert matched.loc[["usage", "contracts"], "message"].str.contains(r"\(100\.0%\)").all()
    # the world's own orphan tickets (an account_id not in accounts) reach no account by email
    known = world[0]["accounts"]["account_id"].astype(str)
    orphans = int((~world[0]["tickets"]["account_id"].astype(str).isin(known)).sum())
    assert orphans > 0
    assert matched.loc["tickets", "count"] == len(world[0]["tickets"]) - orphans
    unmatched = report[report["check"] == "account_key_unmatched"].set_index("table")
    assert list(unmatched.index) == ["tickets"] and unmatched["count"].iloc[0] == orphans


def test_rows_that_reach_no_account_are_counted_with_examples(tmp_path, world):
    _, raw = world
    tracks = raw["tracks"].copy()
    tracks.loc[tracks.index[:7], "group_id"] = "grp-nobody"
    tickets = raw["zendesk_tickets"].copy()
    tickets.loc[tickets.index[:3], "requester"] = "x@unknown-domain.example"
    mapping = _write(tmp_path, world, {"tracks": tracks, "zendesk_tickets": tickets})
    for tables in (load_tables(mapping=mapping, validate=False),
                   open_tables(mapping=mapping, validate=False)):
        report = validate(tables, raise_on_fatal=False).set_index(["table", "check"])
        missed = report.loc[("usage", "account_key_unmatched")]
        assert missed["count"] == 7 and "group_id=grp-nobody" in missed["examples"]
        assert report.loc[("usage", "account_key_match"), "count"] == len(tracks) - 7
        missed = report.loc[("tickets", "account_key_unmatched")]
        assert missed["count"] >= 3 and "unknown-domain.example" in missed["examples"]
        if hasattr(tables["usage"], "close"):
            tables["usage"].close()


def test_a_plain_account_column_is_a_rename_and_is_reported():
    m = mapping_from_dict({"tables": {"usage": {"account_key": {"column": "group_id"}}}})
    assert m.tables["usage"].columns["account_id"] == "group_id"
    assert m.tables["usage"].account_key.how == "column group_id"


@pytest.mark.parametrize("spec, message", [
    ({"tables": {"usage": {"account_key": {"column": "g", "system": "segment"}}}},
     "no keys: section"),
    ({"tables": {"usage": {"columns": {"account_id": "a"}, "account_key": {"column": "g"}}}},
     "either in columns or as account_key"),
    ({"tables": {"usage": {"account_key": {"email": "e", "system": "s"}}}}, "system goes with column"),
    ({"tables": {"usage": {"account_key": {"column": "g", "email": "e"}}}}, "either column"),
    ({"keys": {"table": "k", "columns": {"crm": "x"}}, "tables": {}}, "keys must be"),
    ({"tables": {"usage": {"account_key": "group_id"}}}, "account_key must be a mapping"),
])
def test_key_settings_are_checked_when_the_mapping_is_read(spec, message):
    with pytest.raises(ValueError, match=message):
        mapping_from_dict(spec)
