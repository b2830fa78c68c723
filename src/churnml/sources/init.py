"""``churnml init``: look at a source and write a commented mapping a human finishes.

The source's tables and columns are matched against every preset (:mod:`.recognise`); each
contract table gets the preset of the system that owns it, with the keys across systems measured
on the data, the values found for each option, and the columns that look like contract columns
(:mod:`.proposal`). Nothing uncertain is written as if it were known: it is a ``TODO`` line, or a
commented block to uncomment. Run ``churnml validate --mapping M --preview`` next.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from churnml.errors import ChurnmlError, UsageError

__all__ = ["InitResult", "init_mapping", "propose_mapping"]


@dataclass(frozen=True)
class InitResult:
    """What ``init`` wrote: the file, its text, the mapped tables and the TODO count."""

    path: Path | None
    text: str
    tables: dict
    todos: int


def init_mapping(source, out=None, *, force: bool = False) -> InitResult:
    """Write the proposed mapping of ``source`` to ``out`` (default ``mapping.yaml`` in the folder).

    Parameters
    ----------
    source : str or Path
        A folder of exports (sub-folders are schemas), a DuckDB file or a database URL.
    out : str or Path, optional
        The mapping file to write; an existing one is kept unless ``force``.
    force : bool
        Replace an existing ``out``.

    Returns
    -------
    InitResult

    Examples
    --------
    >>> result = init_mapping("export/")  # doctest: +SKIP
    >>> result.todos  # doctest: +SKIP
    9
    """
    from churnml.data.atomic import write_text

    url = "://" in str(source)
    path = Path(out) if out is not None else (
        Path("mapping.yaml") if url else Path(source) / "mapping.yaml")
    if path.exists() and not force:
        raise UsageError(f"init: {path} exists; give another --out or --force to replace it")
    result = propose_mapping(source, base=path.resolve().parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, result.text)
    return InitResult(path=path, text=result.text, tables=result.tables, todos=result.todos)


def propose_mapping(source, *, base=None) -> InitResult:
    """The mapping text ``init`` writes for ``source`` (``source:`` relative to ``base``)."""
    from churnml.sources.inventory import open_inventory
    from churnml.sources.proposal import propose
    from churnml.sources.recognise import choose, recognise

    inventory = open_inventory(source)
    try:
        matches = recognise(inventory)
        chosen, alternatives = choose(matches)
        if not chosen:
            raise ChurnmlError(
                f"init: no preset recognised in {inventory.label} "
                f"({len(inventory.tables)} tables: {', '.join(sorted(inventory.tables)[:8])})",
                hint="churnml knows the warehouse schemas of salesforce, hubspot, stripe, zendesk, "
                "segment and a Delighted-like NPS export; map other tables by hand (README)")
        extra = [m for ms in alternatives.values() for m in ms]
        proposals = propose(inventory, chosen, extra=extra)
        lines = [*_header(inventory, chosen, extra, base), "tables:"]
        for name, match in chosen.items():
            lines += _table_block(name, proposals[_id(match)], alternatives.get(name, []))
        for name in ("subscriptions",):
            if name not in chosen and alternatives.get(name):
                lines += _alternative_block(name, proposals[_id(alternatives[name][0])], chosen)
        lines += _leftovers(inventory, matches, chosen, alternatives)
    finally:
        inventory.close()
    text = "\n".join(lines) + "\n"
    return InitResult(path=None, text=text, tables={k: v.preset for k, v in chosen.items()},
                      todos=sum(line.lstrip().startswith("# TODO") for line in lines))


def _id(match) -> tuple:
    return match.table, match.preset, match.schema


def _flow(value) -> str:
    """``value`` as one line of YAML (flow style)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False).strip()
    return text.removesuffix("...").strip()


def _wrap(text: str, indent: str, first: str = "# ") -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=98, initial_indent=indent + first,
                         subsequent_indent=indent + "#   ", break_on_hyphens=False)


def _source_line(inventory, base) -> list[str]:
    label = inventory.label
    if "://" in label:
        import sqlalchemy as sa

        url = sa.engine.make_url(label)
        bare = sa.engine.URL.create(url.drivername, url.username, None, url.host, url.port,
                                    url.database, url.query)
        lines = [f"source: {bare.render_as_string(hide_password=False)}"]
        if url.password:
            lines.insert(0, "# the password is not written here: give it in the environment "
                            "(PGPASSWORD for PostgreSQL)")
        return lines
    folder = Path(label).resolve()
    rel = os.path.relpath(folder, base) if base is not None else str(folder)
    return [f"source: {_flow(rel)}"]


def _header(inventory, chosen, alternatives, base) -> list[str]:
    from churnml import __version__
    from churnml.sources.preset_spec import load_preset

    systems = sorted({(m.preset, m.schema) for m in [*chosen.values(), *alternatives]})
    found = "; ".join(f"{load_preset(p).title} in {s or 'the top folder'}" for p, s in systems)
    lines = [f"# churnml mapping proposed by `churnml init` (churnml {__version__}) for "
             f"{inventory.label}."]
    lines += _wrap(f"Recognised: {found}.", "")
    lines += _wrap("Every table below was recognised exactly: each raw table and column its preset "
                   "reads is there. Lines marked TODO need a human: confirm, fill in or uncomment "
                   "them, then run: churnml validate --mapping <this file> --preview", "")
    return [*lines, *_source_line(inventory, base)]


def _table_block(name, proposal, alternatives) -> list[str]:
    from churnml.sources.preset_spec import load_preset

    match = proposal.match
    table = load_preset(match.preset).table(name)
    raws = ", ".join(match.raw(r) for r in table.reads)
    lines = [f"  # {name}: preset {match.preset} ({raws}), {match.confidence}."]
    if alternatives:
        also = "; ".join(f"{a.preset} ({a.raw(load_preset(a.preset).table(name).main)})"
                         for a in alternatives)
        lines += _wrap(f"Also possible: {also}.", "  ")
    lines += [f"  {name}:", *_body(proposal, table, "    ")]
    return lines


def _body(proposal, table, indent: str) -> list[str]:
    match = proposal.match
    lines = [f"{indent}preset: {match.preset}"]
    if match.schema:
        lines.append(f"{indent}schema: {_flow(match.schema)}")
    lines += _columns(proposal, indent)
    lines += _options(proposal, indent)
    for note in table.notes:
        lines += _wrap(f"note: {note}", indent)
    return lines


def _columns(proposal, indent: str) -> list[str]:
    active, notes = [], []
    for key in proposal.keys:
        others = ", ".join(f"{p}: {s:.0%}" for p, s, _ in key.candidates[1:3])
        measured = (f"{key.share:.0%} of the {key.values:,} rows with "
                    f"{key.path or key.candidates[0][0]} set hold {key.target} ids"
                    if key.candidates else "no values found")
        if key.certain and key.path:
            active.append(f"{indent}  {key.column}: {_flow(key.path)}  # key across systems: "
                          f"{measured}" + (f" ({others})" if others else ""))
        elif not key.certain:
            notes += _wrap(f"TODO key across systems: {key.column} reaches the "
                           f"{key.target}s badly ({measured}"
                           + (f"; {others}" if others else "")
                           + f"): name the column holding the {key.column}", indent + "  ")
    suggested = []
    if proposal.unplaced:
        suggested += _wrap("TODO columns that look like contract columns the preset leaves "
                           "empty; uncomment the ones that are:", indent + "  ")
        for column, raws in proposal.unplaced.items():
            rest = f"  # or: {', '.join(raws[1:])}" if len(raws) > 1 else ""
            suggested.append(f"{indent}  # {column}: {_flow(raws[0])}{rest}")
    if not (active or notes or suggested):
        return []
    return [f"{indent}columns:", *active, *notes, *suggested]


def _options(proposal, indent: str) -> list[str]:
    lines = []
    for report in proposal.options:
        option = report.option
        default = option.default
        comment = option.describe
        if report.todo and report.found and option.kind != "column":
            comment += "; found: " + ", ".join(f"{v} ({n})" for v, n in report.found)
        if report.uncovered:
            kept = "; not recoded, kept as they are: " if option.passthrough else (
                "; not recoded (left empty): ")
            comment += kept + ", ".join(map(str, report.uncovered))
        if option.kind == "column" and report.why:
            comment += f"; {report.why}" + (f" (date columns: {', '.join(report.found)})"
                                            if report.found else "")
        lead = "TODO confirm: " if report.todo else ""
        lines += _wrap(lead + comment, indent + "  ")
        lines.append(f"{indent}  {option.name}: {_flow(default)}")
    return [f"{indent}options:", *lines] if lines else []


def _alternative_block(name, proposal, chosen) -> list[str]:
    from churnml.sources.preset_spec import load_preset

    match = proposal.match
    table = load_preset(match.preset).table(name)
    contracts = chosen["contracts"]
    lines = [f"  # {name}: preset {match.preset} "
             f"({', '.join(match.raw(r) for r in table.reads)}), {match.confidence}."]
    lines += _wrap(f"TODO choose the renewal terms: the contracts above ({contracts.preset}) or "
                   f"these subscriptions ({match.preset}, cut into terms on billing "
                   "anniversaries); churnml uses contracts when both are given. To use the "
                   "subscriptions, remove contracts and uncomment:", "  ")
    body = [f"  {name}:", *_body(proposal, table, "    ")]
    return lines + ["  # " + line[2:] for line in body]


def _leftovers(inventory, matches, chosen, alternatives) -> list[str]:
    from churnml.sources.plain import looks_like

    used = set()
    for match in [*chosen.values(), *(m for ms in alternatives.values() for m in ms)]:
        from churnml.sources.preset_spec import load_preset

        used |= {match.raw(r) for r in load_preset(match.preset).table(match.table).reads}
    lines = []
    for name in ("accounts", "contracts", "usage", "tickets", "nps", "contacts"):
        partial = [m for m in matches if m.table == name and not m.exact and m.found * 2 >= m.needed]
        if name not in chosen and partial:
            best = max(partial, key=lambda m: m.found / m.needed)
            gone = "; ".join(f"{t}: {'the table' if c == ['*'] else ', '.join(c)}"
                             for t, c in best.missing.items())
            lines += _wrap(f"TODO {name}: preset {best.preset} matches only partly in "
                           f"{best.schema or 'the top folder'} (missing {gone}); export what is "
                           f"missing, or map {name} by hand", "  ")
    rest = sorted(set(inventory.tables) - used)
    if rest:
        lines += _wrap(f"Not read by any preset: {', '.join(rest)}.", "  ")
    for raw in rest:
        for contract, columns in looks_like(raw, inventory.tables[raw], chosen):
            lines += _wrap(f"TODO {raw} looks like the contract table {contract}; uncomment if it "
                           "is (check the columns):", "  ")
            lines += [f"  # {contract}:", f"  #   table: {_flow(raw)}"]
            if columns:
                lines.append(f"  #   columns: {_flow(columns)}")
    return lines
