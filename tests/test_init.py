"""``churnml init`` on the vendor folders: it recognises each system in its schema, proposes the
keys across systems it measured, leaves every decision (stages, roles, custom fields, the billing
table) to a TODO, and the mapping it writes validates as it is; then the CLI walk-through:
generate a vendor set, init, validate --preview."""

from __future__ import annotations

import pytest
import yaml

import churnml
from churnml.data.load import load_tables
from churnml.errors import ChurnmlError, UsageError
from churnml.sources.init import init_mapping

WORLD = {"n_accounts": 30, "months": 10, "seed": 4}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Both vendor sets of a small world written as folders (track calls included)."""
    from churnml.data.synthetic.vendors.write import write_vendor_set

    world = churnml.datasets.make_saas(**WORLD)
    out = {}
    for crm in ("salesforce", "hubspot"):
        out[crm] = tmp_path_factory.mktemp(crm)
        write_vendor_set(world, out[crm], crm, seed=4)
    return out


def proposed(folder, tmp_path):
    result = init_mapping(folder, tmp_path / "mapping.yaml")
    return result, result.path.read_text(), yaml.safe_load(result.path.read_text())


@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
def test_init_proposes_a_mapping_that_validates(folders, crm, tmp_path):
    result, text, spec = proposed(folders[crm], tmp_path)
    assert result.tables == {"accounts": crm, "contracts": crm, "contacts": crm,
                             "tickets": "zendesk", "usage": "segment", "nps": "nps"}
    assert spec["source"] == str(folders[crm]) or (tmp_path / spec["source"]).resolve() == \
        folders[crm].resolve()
    tables = load_tables(mapping=result.path)  # validates: raises on a fatal problem
    report = churnml.validate(tables, raise_on_fatal=False)
    assert not (report["severity"] == "fatal").any()
    assert len(tables["contracts"]) > 0 and tables["usage"]["account_id"].isin(
        tables["accounts"]["account_id"]).all()


def test_init_measures_the_keys_across_systems(folders, tmp_path):
    _, text, spec = proposed(folders["salesforce"], tmp_path)
    tables = spec["tables"]
    assert tables["tickets"]["columns"] == {"account_id": "organization.external_id"}
    assert tables["usage"]["columns"] == {"account_id": "groups.salesforce_account_id"}
    assert tables["nps"]["columns"] == {
        "account_id": "survey_responses.person_properties.salesforce_account_id",
        "contact_id": "survey_responses.person_properties.salesforce_contact_id"}
    assert "100% of the 30 rows with organization.external_id set hold account ids" in text
    assert "(organization.id: 0%)" in text


def test_init_leaves_the_decisions_to_a_human(folders, tmp_path):
    result, text, spec = proposed(folders["salesforce"], tmp_path)
    todos = [line.strip() for line in text.splitlines() if line.strip().startswith("# TODO")]
    assert result.todos == len(todos)
    joined = "\n".join(todos)
    for decision in ("stages that mean the renewal was won", "stages that mean a lost renewal",
                     "contact roles", "look like contract columns", "choose the renewal terms",
                     "success_plan_goals looks like the contract table goals"):
        assert decision in joined, decision
    assert "Closed Lost (" in text  # the stages found, with their counts
    # custom fields and the alternative billing table are offered commented, never mapped
    assert "# segment: segment_c" in text and "segment" not in (
        spec["tables"]["accounts"].get("columns") or {})
    assert "subscriptions" not in spec["tables"] and "#   preset: stripe" in text
    assert "goals" not in spec["tables"]


def test_an_uncertain_key_is_a_todo_not_a_guess(folders, tmp_path):
    import shutil

    folder = tmp_path / "export"
    shutil.copytree(folders["salesforce"], folder)
    org = folder / "zendesk" / "organization.parquet"
    frame = __import__("pandas").read_parquet(org)
    frame.loc[frame.index[: len(frame) // 2], "external_id"] = "unknown"  # half reach no account
    frame.to_parquet(org)
    _, text, spec = proposed(folder, tmp_path)
    assert "columns" not in spec["tables"]["tickets"] or not spec["tables"]["tickets"]["columns"]
    assert "# TODO key across systems: account_id reaches the accounts badly" in text


def test_init_keeps_an_existing_mapping_and_names_an_unknown_source(folders, tmp_path):
    path = tmp_path / "mapping.yaml"
    path.write_text("tables: {}\n")
    with pytest.raises(UsageError, match="exists; give another --out or --force"):
        init_mapping(folders["salesforce"], path)
    assert path.read_text() == "tables: {}\n"
    init_mapping(folders["salesforce"], path, force=True)
    assert "preset: salesforce" in path.read_text()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ChurnmlError, match=r"no preset recognised in .* \(1 tables: notes\)"):
        init_mapping(empty, tmp_path / "other.yaml")


def run(capsys, *argv) -> str:
    from churnml.cli import main

    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert code == 0, out.err[-3000:]
    return out.out


def test_the_cli_walk_through(tmp_path, capsys):
    data = tmp_path / "export"
    out = run(capsys, "generate", "--accounts", 25, "--months", 8, "--seed", 2, "--export",
              "hubspot", "--out", data)
    assert "hubspot.deal" in out and "segment.tracks" in out and f"churnml init {data}" in out
    out = run(capsys, "init", data)
    assert f"wrote {data / 'mapping.yaml'}" in out and "TODO lines need a human" in out
    out = run(capsys, "validate", "--mapping", data / "mapping.yaml", "--preview")
    assert out.index("accounts: 25 rows (preset hubspot)") < out.index("0 fatal")
    assert "usage:" in out and "(preset segment)" in out and "Labels:" in out
    from churnml.cli import main

    assert main(["init", str(data)]) == 2  # the mapping exists
    assert "exists" in capsys.readouterr().err


def test_a_database_password_is_never_written():
    from types import SimpleNamespace

    from churnml.sources.init import _source_line

    url = "postgresql+psycopg://analyst:s3cret@db.internal:5432/warehouse"
    import sqlalchemy as sa

    label = sa.engine.make_url(url).render_as_string(hide_password=True)
    lines = _source_line(SimpleNamespace(label=label), None)
    assert lines[-1] == "source: postgresql+psycopg://analyst@db.internal:5432/warehouse"
    assert "s3cret" not in "\n".join(lines) and "PGPASSWORD" in lines[0]


def test_values_a_recode_passes_through_are_reported_kept_not_lost(folders, tmp_path):
    # HubSpot's tickets (no Zendesk beside them): the portal's own categories are not in the
    # recode, and the preset's SQL keeps them, so they are neither "left empty" nor a TODO
    import shutil

    folder = tmp_path / "hubspot"
    shutil.copytree(folders["hubspot"], folder)
    shutil.rmtree(folder / "zendesk")
    result, text, _ = proposed(folder, tmp_path)
    assert result.tables["tickets"] == "hubspot"
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("categories:"))
    comment = " ".join(line.strip("# ").strip() for line in lines[at - 2:at])
    assert "kept as they are: " in comment and "INTEGRATION" in comment and "TODO" not in comment
    assert "left empty" not in comment
    tickets = load_tables(mapping=result.path)["tickets"]
    assert {"bug", "integration"} <= set(tickets["category"].dropna())
