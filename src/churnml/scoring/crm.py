"""CRM fields: presets mapping scores columns to CRM field names, and the writers.

:func:`to_crm` maps a scores frame onto a preset's fields (``presets.yaml``: generic snake_case,
Salesforce-style ``Churn_Risk_Score__c`` with 255-character text and an external-ID column,
HubSpot-style lowercase properties). :func:`write_crm` writes CSV / Parquet atomically and / or
upserts into a database table keyed by (account_id, as_of); ``dry_run`` only reports what would
change against the last written values.

CSV cells are what a CSM opens in Excel or Google Sheets, where a cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is run as a formula (``=HYPERLINK(...)`` in an account
name). With the preset's ``csv_formula_guard`` (on by default) such text cells get a leading single
quote in CSV output (the OWASP rule); Parquet files and the database keep the true value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from churnml.errors import UsageError
from churnml.scoring import database
from churnml.scoring.atomic import write_frame

PRESETS_FILE = Path(__file__).with_name("presets.yaml")
#: first characters that make a spreadsheet read a CSV cell as a formula (OWASP CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PRESET_DEFAULTS = {"text_limit": None, "csv_formula_guard": True}
TIME_FIELDS = ("scored_at",)  # source columns never compared when deciding a row changed
EXAMPLE_ROWS = 5


def load_presets(path=None) -> dict:
    """Presets from ``path`` (default: the packaged ``presets.yaml``): name -> dict.

    Each preset has ``fields`` (scores column -> CRM field, in output order; must include
    ``account_id`` and ``as_of``), ``text_limit`` (int or None), ``csv_formula_guard`` (bool,
    default true: neutralise formula cells in CSV output) and ``description``.
    """
    import yaml

    path = Path(path) if path is not None else PRESETS_FILE
    presets = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for name, preset in presets.items():
        fields = preset.get("fields") or {}
        missing = [c for c in ("account_id", "as_of") if c not in fields]
        if missing:
            raise ValueError(f"CRM preset {name!r} in {path}: fields lack {missing}")
        names = list(fields.values())
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"CRM preset {name!r} in {path}: field names used twice: {dupes}")
        for key, default in PRESET_DEFAULTS.items():
            preset.setdefault(key, default)
        if not isinstance(preset["csv_formula_guard"], bool):
            raise TypeError(
                f"CRM preset {name!r} in {path}: csv_formula_guard must be true or false, "
                f"got {preset['csv_formula_guard']!r}"
            )
    return presets


def get_preset(preset) -> dict:
    """A preset by name (from the packaged presets) or a preset dict as is."""
    if isinstance(preset, dict):
        return {**PRESET_DEFAULTS, **preset}
    presets = load_presets()
    if preset not in presets:
        raise UsageError(
            f"unknown CRM preset {preset!r}", hint=f"choose one of {', '.join(sorted(presets))}"
        )
    return presets[preset]


def key_fields(preset) -> list[str]:
    """The preset's field names for account_id and as_of (the upsert key)."""
    fields = get_preset(preset)["fields"]
    return [fields["account_id"], fields["as_of"]]


def to_crm(scores: pd.DataFrame, preset="generic") -> pd.DataFrame:
    """Map ``scores`` onto the preset's CRM fields (missing source columns become empty).

    Text fields are cut to the preset's ``text_limit`` characters; rows keep ``scores``' order.

    Examples
    --------
    >>> to_crm(scores, "salesforce").columns[:3].tolist()  # doctest: +SKIP
    ['Account_External_Id__c', 'Churn_Risk_As_Of__c', 'Churn_Risk_Score__c']
    """
    spec = get_preset(preset)
    limit = spec.get("text_limit")
    out = {}
    for source, target in spec["fields"].items():
        if source in scores.columns:
            s = scores[source].reset_index(drop=True)
        else:
            s = pd.Series(pd.NA, index=range(len(scores)), dtype="string")
        if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object:
            s = s.astype("string")
        if pd.api.types.is_string_dtype(s.dtype):
            s = s.astype("string")
            if limit:
                s = s.str.slice(0, int(limit))
        out[target] = s
    return pd.DataFrame(out)


def neutralise_formulas(crm: pd.DataFrame, text_limit=None) -> pd.DataFrame:
    """``crm`` with a single quote before every text cell that a spreadsheet would run as a formula.

    A cell is neutralised when it starts with one of :data:`FORMULA_STARTS`; numbers, dates and
    other text are unchanged. With ``text_limit`` the quoted cells are cut back to that length.

    Examples
    --------
    >>> frame = pd.DataFrame({"name": pd.array(["=HYPERLINK(1)", "Acme", None], dtype="string")})
    >>> neutralise_formulas(frame)["name"].tolist()
    ["'=HYPERLINK(1)", 'Acme', <NA>]
    """
    out = crm.copy()
    for column in out.columns:
        s = out[column]
        if not (pd.api.types.is_string_dtype(s.dtype) or s.dtype == object):
            continue
        text = s.astype("string")
        risky = text.str.startswith(FORMULA_STARTS).fillna(False).to_numpy(dtype=bool)
        if risky.any():
            quoted = "'" + text
            if text_limit:
                quoted = quoted.str.slice(0, int(text_limit))
            out[column] = text.mask(risky, quoted)
    return out


def file_frame(crm: pd.DataFrame, path, spec: dict) -> pd.DataFrame:
    """What goes into the CRM file at ``path``: formula cells neutralised in a CSV (when the
    preset's ``csv_formula_guard`` is on), the true values in Parquet."""
    if Path(path).suffix.lower() == ".csv" and spec.get("csv_formula_guard", True):
        return neutralise_formulas(crm, spec.get("text_limit"))
    return crm


@dataclass
class WriteResult:
    """What :func:`write_crm` wrote (or, in a dry run, would write).

    Attributes
    ----------
    paths : list of Path
        Files written (empty in a dry run).
    inserted, updated, unchanged : int
        Rows new, changed and unchanged against the last written values.
    diff : DataFrame
        Key columns, ``status`` and ``changed`` (the differing fields) per row.
    dry_run : bool
    target : str
        What was compared against (database table or file).
    """

    paths: list = field(default_factory=list)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    diff: pd.DataFrame | None = None
    dry_run: bool = False
    target: str = ""

    def summary(self, examples: int = EXAMPLE_ROWS) -> str:
        """Counts of new / changed / unchanged rows and a few example rows, as text."""
        verb = "would write" if self.dry_run else "wrote"
        lines = [
            (
                f"CRM {verb} {self.target}: {self.inserted} new, {self.updated} changed, "
                f"{self.unchanged} unchanged"
            )
        ]
        if self.diff is not None and examples:
            for status in ("new", "changed"):
                rows = self.diff[self.diff["status"] == status].head(examples)
                if len(rows):
                    lines.append(f"  {status}, e.g.:")
                    lines.extend(
                        "    " + ", ".join(f"{k}={v}" for k, v in r.items() if v not in ("", None))
                        for r in rows.drop(columns="status").astype(str).to_dict("records")
                    )
        return "\n".join(lines)


def _previous_file(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=True)
    return pd.read_parquet(path)


def write_crm(
    scores: pd.DataFrame,
    path=None,
    *,
    preset="generic",
    db=None,
    table: str = "churn_risk",
    dry_run: bool = False,
    writer=None,
) -> WriteResult:
    """Write CRM fields to a file (CSV / Parquet, atomically) and / or upsert them into a database.

    Parameters
    ----------
    scores : DataFrame
        The scores frame (:data:`churnml.scoring.score.SCORE_COLUMNS`).
    path : str or Path, optional
        ``.csv`` or ``.parquet`` output, replaced atomically.
    preset : str or dict
        ``generic``, ``salesforce``, ``hubspot`` or a preset dict.
    db : str or Engine, optional
        Database URL; rows are upserted into ``table`` keyed by the preset's account / as_of
        fields. Unchanged rows (ignoring ``scored_at``) are left as they are.
    table : str
        Database table name.
    dry_run : bool
        Compare against the last written values (the database rows, else the existing file)
        and write nothing.
    writer : callable, optional
        ``writer(frame, path) -> Path`` writes the CRM file; default an atomic replace
        (``run_score`` stages the file with its other outputs instead).

    Returns
    -------
    WriteResult
    """
    if path is None and db is None:
        raise ValueError("write_crm: give a file path, a database URL (db=...), or both")
    spec = get_preset(preset)
    crm = to_crm(scores, spec)
    key = key_fields(spec)
    ignore = [spec["fields"][c] for c in TIME_FIELDS if c in spec["fields"]]
    paths = []
    in_file = None if path is None else file_frame(crm, Path(path), spec)
    if db is not None:
        diff = database.upsert(db, table, crm, key, ignore=ignore, dry_run=dry_run)
        target = f"table {table!r}"
    else:
        path = Path(path)
        diff = database.compare(in_file, _previous_file(path), key, ignore=ignore)
        target = str(path)
    if path is not None and not dry_run:
        paths.append((writer or write_frame)(in_file, Path(path)))
    counts = diff["status"].value_counts()
    return WriteResult(
        paths=paths,
        inserted=int(counts.get("new", 0)),
        updated=int(counts.get("changed", 0)),
        unchanged=int(counts.get("unchanged", 0)),
        diff=diff,
        dry_run=dry_run,
        target=target,
    )
