"""A mapping table that names a preset, turned into the mapping SQL it stands for.

:func:`churnml.data.mapping.mapping_from_dict` calls :func:`expand` for every table with a
``preset:`` key, so a preset table is an ordinary ``sql:`` table from there on: checked as one
``SELECT`` when the mapping is read and run confined to the source folder.
"""

from __future__ import annotations

from churnml.errors import ChurnmlError

__all__ = ["expand"]

_ORIGINS = ("file", "table", "sql")
#: the settings a preset table turns into its SQL; the others (formats, timezone, ...) are kept
_CONSUMED = ("preset", "options", "columns", "schema")


def expand(name: str, settings: dict) -> dict:
    """Settings of contract table ``name`` with ``preset`` (and ``options``, ``columns``,
    ``schema``) replaced by the composed ``sql``; the other settings are kept.

    Parameters
    ----------
    name : str
        Contract table name.
    settings : dict
        The table's mapping settings, holding ``preset``.

    Returns
    -------
    dict
        ``sql``, ``preset`` and the settings the preset does not consume (``formats``,
        ``timezone`` and any other table setting).

    Examples
    --------
    >>> expand("accounts", {"preset": "stripe"})["sql"].splitlines()[0]
    'SELECT "customers"."id" AS "account_id",'
    """
    from churnml.sources.preset_spec import load_preset
    from churnml.sources.preset_sql import compose

    where = f"mapping tables.{name}"
    given = [k for k in _ORIGINS if settings.get(k) is not None]
    if given:
        raise ChurnmlError(
            f"{where}: give either preset or {given[0]}, not both",
            hint="a preset table is selected by the preset; to write the table yourself, drop "
            "preset: and start from its SQL: churnml.sources.compose(churnml.sources."
            "load_preset(NAME).table(TABLE))",
        )
    if settings.get("options") is not None and not isinstance(settings["options"], dict):
        raise ChurnmlError(f"{where}.options: expected a mapping of option -> value, but got "
                           f"{settings['options']!r}")
    table = load_preset(settings["preset"]).table(name)
    sql = compose(table, options=settings.get("options"), columns=settings.get("columns"),
                  schema=settings.get("schema"), where=where)
    kept = {k: v for k, v in settings.items() if k not in _CONSUMED}
    return {**kept, "sql": sql, "preset": table.preset}
