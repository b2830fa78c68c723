"""Source presets: each one is a checked, portable SELECT per contract table that reads only the
raw tables and columns it declares; a mapping sets its options, overrides or adds columns and
names the schema, and nothing a mapping gives reaches the SQL except as a quoted name or a
checked word."""

from __future__ import annotations

import pandas as pd
import pytest

import churnml
from churnml.data.load import load_tables
from churnml.data.mapping import mapping_from_dict
from churnml.errors import ChurnmlError
from churnml.sources import compose, load_preset, preset_names


@pytest.fixture(scope="module")
def tiny_sets():
    """Both vendor sets of a tiny world, tracks included."""
    from churnml.data.synthetic.vendors import export_vendors

    world = churnml.datasets.make_saas(n_accounts=12, months=5, seed=2)
    return {crm: export_vendors(world, crm, seed=2) for crm in ("salesforce", "hubspot")}


def test_the_packaged_presets_and_what_they_give():
    assert preset_names() == ["hubspot", "nps", "salesforce", "segment", "stripe", "zendesk"]
    gives = {name: sorted(load_preset(name).tables) for name in preset_names()}
    assert gives["salesforce"] == ["accounts", "contacts", "contracts", "tickets"]
    assert gives["stripe"] == ["accounts", "subscriptions"] and gives["segment"] == ["usage"]
    for name in preset_names():  # each cites the public schema documentation it follows
        assert load_preset(name).docs.startswith("https://")


@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
def test_every_preset_reads_only_the_columns_it_declares(tiny_sets, crm):
    raw = tiny_sets[crm]
    schemas = {crm: crm, "stripe": "stripe", "zendesk": "zendesk", "segment": "segment",
               "nps": "delighted"}
    ran = 0
    for name, schema in schemas.items():
        for table in load_preset(name).tables.values():
            # only the declared columns of each raw table (and the columns options name): the
            # SQL must still run
            named = [o.default for o in table.options.values() if o.kind == "column"]
            frames = {f"{schema}.{t}": raw[f"{schema}.{t}"][
                list(cols) + (named if t == table.main else [])]
                for t, cols in table.reads.items()}
            sql = compose(table, schema=schema)
            spec = {"tables": {table.name: {"sql": sql}}}
            got = load_tables(frames, mapping=mapping_from_dict(spec), tables=[table.name],
                              validate=False)
            assert len(got[table.name]) > 0, (name, table.name)
            ran += 1
    assert ran == {"salesforce": 10, "hubspot": 10}[crm]


def test_a_mapping_extends_and_overrides_a_preset_table():
    table = load_preset("salesforce").table("accounts")
    sql = compose(table, columns={"segment": "segment_c", "csm": "user.email"},
                  schema="crm")
    assert '"account"."segment_c" AS "segment"' in sql
    assert '"user"."email" AS "csm"' in sql and '"user"."name"' not in sql
    assert 'FROM "crm"."account" AS "account"' in sql
    json = compose(load_preset("stripe").table("subscriptions"),
                   columns={"account_id": "customers.metadata.salesforce_account_id"})
    assert ("CAST(\"customers\".\"metadata\" AS JSON) ->> 'salesforce_account_id' AS "
            "\"account_id\"") in json


def test_options_become_literal_lists_and_recodings():
    contracts = load_preset("salesforce").table("contracts")
    sql = compose(contracts, options={"lost_stages": ["Closed Lost", "Closed - Churned"]})
    assert "IN ('Closed Lost', 'Closed - Churned')" in sql
    assert "IN (NULL)" in compose(contracts, options={"expansion_types": []})
    roles = compose(load_preset("salesforce").table("contacts"),
                    options={"roles": {"Champion": "champion"}})
    assert "(VALUES ('Champion', 'champion'))" in roles


@pytest.mark.parametrize(("settings", "message"), [
    ({"columns": {"segment": 'x" FROM secrets --'}}, "is not a column or table name"),
    ({"columns": {"segment": "other_table.segment"}}, "does not read"),
    ({"columns": {"nope": "segment_c"}}, "not columns of the contract table accounts"),
    ({"options": {"lost_stages": ["x"]}}, "unknown ['lost_stages']"),
    ({"schema": "crm.x"}, "is not a column or table name"),
])
def test_a_bad_override_is_refused_with_what_was_given(settings, message):
    with pytest.raises(ChurnmlError, match="mapping tables.accounts") as error:
        mapping_from_dict({"tables": {"accounts": {"preset": "salesforce", **settings}}})
    assert message in str(error.value)


def test_a_quote_in_an_option_value_is_refused():
    spec = {"tables": {"contracts": {"preset": "salesforce",
                                     "options": {"lost_stages": ["x') OR TRUE --"]}}}}
    with pytest.raises(ChurnmlError, match=r"options.lost_stages: .* is refused"):
        mapping_from_dict(spec)


def test_a_preset_table_is_a_checked_single_select():
    mapping = mapping_from_dict({"tables": {"usage": {"preset": "segment", "schema": "segment",
                                                      "timezone": "UTC"}}})
    usage = mapping.tables["usage"]
    assert usage.preset == "segment" and usage.origin[0] == "sql"
    assert usage.sql.startswith("WITH") and "GROUP BY 1, 2, 3, 4" in usage.sql
    with pytest.raises(ChurnmlError, match="give either preset or sql"):
        mapping_from_dict({"tables": {"usage": {"preset": "segment", "sql": "SELECT 1"}}})
    with pytest.raises(ChurnmlError, match="has no table 'usage'"):
        mapping_from_dict({"tables": {"usage": {"preset": "stripe"}}})
    with pytest.raises(ChurnmlError, match="unknown preset 'salesforse'"):
        mapping_from_dict({"tables": {"accounts": {"preset": "salesforse"}}})
    with pytest.raises(ValueError, match="options and schema apply to a preset table only"):
        mapping_from_dict({"tables": {"accounts": {"file": "a.csv", "options": {}}}})


def test_presets_combine_table_by_table_in_one_mapping(tiny_sets):
    raw = tiny_sets["salesforce"]
    spec = {"tables": {
        "accounts": {"preset": "salesforce", "schema": "salesforce"},
        "subscriptions": {"preset": "stripe", "schema": "stripe",
                          "columns": {"account_id": "customers.metadata.salesforce_account_id"}},
        "tickets": {"preset": "zendesk", "schema": "zendesk",
                    "columns": {"account_id": "organization.external_id"}},
        "usage": {"preset": "segment", "schema": "segment",
                  "columns": {"account_id": "groups.salesforce_account_id"}},
    }}
    tables = load_tables(raw, mapping=mapping_from_dict(spec))
    accounts = set(tables["accounts"]["account_id"])
    for name in ("subscriptions", "contracts", "tickets", "usage"):
        assert tables[name]["account_id"].dropna().isin(accounts).all(), name
    assert tables["contracts"].attrs.get("churnml_terms")  # terms cut from Stripe's subscriptions


def test_a_missing_raw_column_names_the_mapping_table(tiny_sets):
    raw = dict(tiny_sets["salesforce"])
    raw["salesforce.account"] = raw["salesforce.account"].drop(columns="website")
    spec = {"tables": {"accounts": {"preset": "salesforce", "schema": "salesforce"}}}
    with pytest.raises(ChurnmlError, match=r"mapping tables.accounts \(preset salesforce\): .*website"):
        load_tables(raw, mapping=mapping_from_dict(spec), validate=False)


def test_preview_shows_the_first_rows_and_the_origin(tiny_sets):
    from churnml.sources.preview import preview_tables

    mapping = mapping_from_dict({"tables": {
        "accounts": {"preset": "salesforce", "schema": "salesforce"},
        "contracts": {"preset": "salesforce", "schema": "salesforce"}}})
    tables = load_tables(tiny_sets["salesforce"], mapping=mapping, validate=False)
    text = preview_tables(tables, mapping, rows=2)
    assert text.startswith("accounts: 12 rows (preset salesforce)")
    assert "contracts:" in text and len(text.split("\n\n")) == 2
    first = tables["accounts"]["account_id"].iloc[0]
    assert first in text and tables["accounts"]["account_id"].iloc[2] not in text
    assert isinstance(tables["accounts"], pd.DataFrame)
