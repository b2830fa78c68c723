"""``build_features``: every indicator of the catalog for every spine row, in set-based SQL.

The spine (account × as_of) goes in; DuckDB computes each table's indicators in one grouped pass
(``shapes.grouped_query``) plus a few ranking/per-week queries; ratios and changes between
indicators are vectorised column arithmetic. Nothing loops over accounts or dates.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import warnings

import numpy as np
import pandas as pd

from churnml.features import entry_checks, shapes, sources, usage_grains
from churnml.features.catalog import load_catalog
from churnml.sources.lazy import is_lazy

log = logging.getLogger(__name__)
SPINE_COLUMNS = ("account_id", "as_of")
CATEGORICAL = ("segment", "touch_model", "lifecycle_stage")
SHORT = 90


def feature_columns(frame: pd.DataFrame, catalog=None) -> list[str]:
    """Indicator ids present in ``frame`` (the model's X), in catalog order."""
    catalog = catalog or load_catalog()
    return [i for i in catalog.ids if i in frame.columns]


def plan(catalog, tables: dict, missing: dict) -> tuple[list, list, list, dict]:
    """Split the catalog into grouped SQL passes, single queries and derived columns; find skips.

    An indicator is skipped when the tables lack a column it reads
    (:func:`churnml.features.requirements.skipped_indicators`) or its source could not be
    registered (``missing``: source -> reason).
    """
    from churnml.features.requirements import skipped_indicators

    found = skipped_indicators(catalog, tables, missing)
    skipped = dict(zip(found["indicator"], found["reason"]))
    groups: dict[tuple, list] = {}
    singles, derived = [], []
    for ind in catalog:
        if ind.id in skipped:
            continue
        if ind.table == "usage":  # read the coarsest pre-aggregated grain that holds its columns
            ind = dataclasses.replace(ind, table=usage_grains.block_grain(ind) or sources.grain(ind))
        if ind.shape in shapes.AGGREGATE_SHAPES | shapes.KEYED_SHAPES:
            days = shapes.lookback(ind)
            # windows up to SHORT days share one pass; longer look-backs get their own
            bucket = None if days is None or ind.shape in shapes.STATE_TIME else (
                max(SHORT, days))
            if bucket is not None and ind.table in usage_grains.USAGE_DIMS:
                bucket = "day grain"  # usage's day grains join the spine once, for every window
            time = None if ind.shape in shapes.STATE_TIME else shapes.time_of(ind)
            keyed = shapes.key_of(ind) if ind.shape in shapes.KEYED_SHAPES else None
            key = (ind.family, ind.table, time, bucket, keyed)
            groups.setdefault(key, []).append(ind)
        elif ind.shape in shapes.QUERY_SHAPES:
            singles.append(ind)
        elif ind.shape in shapes.DERIVED_SHAPES:
            derived.append(ind)
        else:
            raise ValueError(f"indicator {ind.id}: unknown shape {ind.shape!r}")
    return groups, singles, derived, skipped


def queries(catalog, tables: dict, missing: dict):
    """(family, ids, Sql) for every query the catalog needs — also used to check portability."""
    groups, singles, _, _ = plan(catalog, tables, missing)
    out = []
    for (family, table, time, days, keyed), inds in groups.items():
        # state shapes (open tickets, active contacts) look at all history before as_of
        time = time or shapes.STATE_TIME[inds[0].shape]
        lookback = max((shapes.lookback(i) or 0) for i in inds) if days is not None else None
        if table in usage_grains.BLOCK_KEY:  # active-day bitmasks per block
            sql = shapes.block_query(inds, table, keyed, lookback, usage_grains.BLOCK_DAYS)
        elif keyed:
            sql = shapes.keyed_query(inds, table, keyed, time, lookback)
        else:
            sql = shapes.grouped_query(inds, table, time, lookback)
        out.append((family, [i.id for i in inds], sql))
    for ind in singles:
        out.append((ind.family, [ind.id], shapes.query(ind)))
    return out


def build_features(tables: dict, spine: pd.DataFrame, catalog=None, *, progress: bool = False,
                   engine: str = "duckdb", spark=None, buckets: int | None = None):
    """Point-in-time indicators for every (account, as_of) row of ``spine``.

    Parameters
    ----------
    tables : dict of DataFrame, or str / Path
        The contract tables (only accounts and contracts or subscriptions are required; a family
        whose table is absent, or an indicator whose column is, is skipped and the reason kept in
        ``attrs["skipped"]``), or a folder of Parquet /
        CSV files, a DuckDB database file or a database URL, read with
        :func:`churnml.data.load.open_tables` (usage stays in DuckDB).
    spine : DataFrame
        Output of :func:`churnml.make_spine` (at least account_id and as_of; dates at midnight).
    catalog : Catalog, optional
        Defaults to the catalog in the top-level ``features/`` folder.
    progress : bool
        Show a progress bar per indicator family.
    engine : {"duckdb", "spark"}
        ``"spark"`` runs this same engine per bucket of accounts on Spark
        (:func:`churnml.spark.build_features`; ``tables`` as Spark DataFrames, paths or
        :class:`churnml.spark.SparkTables`) and collects the result: the same frame, the same
        values.
    spark, buckets
        The Spark session and the number of account buckets (``engine="spark"`` only).

    Returns
    -------
    DataFrame
        The spine's columns followed by one float32 column per indicator (categories for
        segment, touch_model and lifecycle_stage), in the spine's row order. Counts are 0 for an
        account with no rows; latest values, means, ratios and days-since are NULL.

    Examples
    --------
    >>> import churnml
    >>> tables = churnml.datasets.make_saas(n_accounts=50, months=8, seed=1)
    >>> spine = churnml.make_spine(tables, as_of="2025-01-01")
    >>> features = churnml.build_features(tables, spine)
    >>> int(features["active_users_30d"].ge(0).all())
    1
    """
    import duckdb

    if engine == "spark":
        from churnml.spark.features import build_features as on_spark
        from churnml.spark.features import to_pandas

        return to_pandas(on_spark(tables, spine, catalog, spark=spark, buckets=buckets))
    if engine != "duckdb" or hasattr(tables, "spark"):
        from churnml.errors import UsageError

        raise UsageError(f"engine must be 'duckdb' or 'spark', but got engine={engine!r}"
                         if engine != "duckdb" else "these tables live on Spark "
                         "(churnml.spark.SparkTables): pass engine='spark'")
    missing_cols = [c for c in SPINE_COLUMNS if c not in spine.columns]
    if missing_cols:
        raise ValueError(f"spine is missing column(s) {missing_cols}; build it with churnml.make_spine")
    catalog = catalog or load_catalog()
    entry_checks.check_catalog(catalog)  # before any table is read
    if isinstance(tables, (str, os.PathLike)):  # usage read in place, closed once built
        from churnml.data.load import open_tables

        opened = open_tables(tables, validate=False)
        try:
            return build_features(opened, spine, catalog, progress=progress)
        finally:
            if is_lazy(opened.get("usage")):
                opened["usage"].close()
    tables = _with_matched_contacts(tables)
    from churnml.data.subscriptions import with_renewal_terms

    tables = with_renewal_terms(tables)  # the same terms as load_tables and make_spine
    usage = tables.get("usage")
    if is_lazy(usage):  # read in place, on the source's own (confined) connection
        return _on_source(usage.con, tables, spine, catalog, progress)
    from churnml.sources.resources import duckdb_settings

    size = 0 if usage is None else int(usage.memory_usage(index=False, deep=False).sum())
    with tempfile.TemporaryDirectory(prefix="churnml-duckdb-") as spill:
        con = duckdb.connect(config=duckdb_settings(size, spill))
        try:
            con.execute("SET enable_progress_bar = false")
            con.execute("SET preserve_insertion_order = false")  # results carry _row; saves memory
            frame = _build(con, tables, spine, catalog, progress)
        finally:
            con.close()
    return frame


def _on_source(con, tables, spine, catalog, progress):
    """Build on a lazy table's connection, dropping every temporary relation made for it."""
    listing = ("SELECT table_name FROM duckdb_tables() WHERE temporary UNION ALL "
               "SELECT view_name FROM duckdb_views() WHERE temporary")
    before = {r[0] for r in con.execute(listing).fetchall()}
    try:
        return _build(con, tables, spine, catalog, progress)
    finally:
        for (name,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall():
            if name not in before:
                con.execute(f"DROP TABLE IF EXISTS {shapes.q(name)}")
        for (name,) in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE temporary").fetchall():
            if name not in before:
                con.execute(f"DROP VIEW IF EXISTS {shapes.q(name)}")


def _with_matched_contacts(tables: dict) -> dict:
    """Contacts known only by email get their account from the email domain, as
    :func:`churnml.data.load.load_tables` does, so a dict of frames (``make_saas``, a notebook's
    own frames) builds the same champion indicators as the same data read from files."""
    contacts, accounts = tables.get("contacts"), tables.get("accounts")
    if contacts is None or accounts is None or "email" not in contacts:
        return tables
    matched = "churnml_contact_match" in contacts.attrs  # load_tables matched them already
    if matched or ("account_id" in contacts and contacts["account_id"].notna().all()):
        return tables
    from churnml.data.contacts import match_contacts

    return {**tables, "contacts": match_contacts(contacts, accounts)}


def _build(con, tables, spine, catalog, progress):
    missing = sources.register(con, tables, spine.reset_index(drop=True), grains=_grains(catalog))
    entry_checks.warn_unknown_events(con, catalog)
    _, _, derived, skipped = plan(catalog, tables, missing)
    work = queries(catalog, tables, missing)
    values: dict[str, np.ndarray] = {}
    n = len(spine)
    families = list(dict.fromkeys(f for f, _, _ in work))
    bar = _progress(families, progress)
    for family in bar:
        if hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(family)
        for _, ids, sql in (w for w in work if w[0] == family):
            result = con.execute(sql.text, list(sql.params)).df()
            rows = result["_row"].to_numpy()
            for ind_id in ids:
                out = np.full(n, np.nan)
                out[rows] = result[ind_id].to_numpy(dtype="float64", na_value=np.nan)
                shape = catalog[ind_id].shape
                if shape in shapes.ZERO_WHEN_EMPTY:
                    out = np.where(np.isnan(out), 0.0, out)
                elif shape in shapes.ONE_WHEN_EMPTY:
                    out = np.where(np.isnan(out), 1.0, out)
                values[ind_id] = out
    frame = spine.reset_index(drop=True).copy()
    for ind_id, out in values.items():
        if ind_id not in frame.columns:
            frame[ind_id] = out.astype("float32")
    _derive(frame, catalog, derived, tables)
    # a spine column that is also a skipped indicator (seats without contracts.seats) is left out
    ordered = [c for c in spine.columns if c not in skipped]
    ordered += [i for i in catalog.ids if i in frame and i not in spine.columns]
    frame = frame[ordered]
    for col in CATEGORICAL:
        if col in frame:
            frame[col] = frame[col].astype("category")
    _log_skips(catalog, tables, missing)
    frame.attrs["skipped"] = skipped
    return frame


def _log_skips(catalog, tables: dict, missing: dict) -> None:
    """One warning per cause, naming every indicator it skips (each indicator once)."""
    from churnml.features.requirements import describe_skips, skipped_indicators

    for line in describe_skips(skipped_indicators(catalog, tables, missing)):
        log.warning("%s", line)


def _grains(catalog) -> dict[str, int | None]:
    """The usage relations the catalog reads (``champion_users``: the champions' user-days),
    each with the longest look-back of its readers (None: all history), and
    :data:`~churnml.features.usage_grains.ROWS` when an indicator counts usage rows."""
    out: dict[str, int | None] = {}
    for ind in catalog:
        if ind.table == "usage":
            relation = usage_grains.block_grain(ind) or sources.grain(ind)
        elif ind.table == "champion_usage":
            relation = "champion_users"
        else:
            continue
        if ind.shape in usage_grains.ROW_SHAPES:
            out[usage_grains.ROWS] = None
        days = shapes.lookback(ind) if ind.shape in shapes.SQL_SHAPES else 0
        if relation in out and (out[relation] is None or days is None):
            out[relation] = None
        else:
            out[relation] = None if days is None else max(days, out.get(relation) or 0)
    return out


def _derive(frame: pd.DataFrame, catalog, derived, tables) -> None:
    """Vectorised indicators computed from other columns (catalog order respects dependencies)."""
    for ind in derived:
        of = ind.params.get("of", [])
        if ind.shape == "spine":
            if ind.id not in frame:
                warnings.warn(f"indicator {ind.id}: the spine has no {ind.id} column", stacklevel=3)
            continue
        if ind.shape == "account_attribute":
            accounts = tables["accounts"]
            col = ind.params["column"]
            lookup = pd.Series(accounts[col].astype("string").to_numpy(),
                               index=accounts["account_id"].astype(str))
            frame[ind.id] = frame["account_id"].astype(str).map(lookup)
            continue
        if ind.shape == "lifecycle":
            tenure = frame.get("tenure_days", pd.Series(np.nan, index=frame.index))
            days = frame.get("days_to_renewal", pd.Series(np.nan, index=frame.index))
            frame[ind.id] = np.select(
                [tenure < 90, days <= 90, tenure < 365, tenure >= 365],
                ["onboarding", "renewal_window", "adoption", "mature"], None)
            continue
        a = frame[of[0]].astype("float64")
        b = frame[of[1]].astype("float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            if ind.shape == "change":
                out = np.where(b > 0, a / b - 1.0, np.nan)
            elif ind.shape == "ratio":
                out = np.where(b > 0, a / b, np.nan)
            else:
                out = a - b
        frame[ind.id] = np.asarray(out, dtype="float32")


def _progress(items, requested):
    from churnml.progress import bar, enabled

    if not enabled(requested):
        return items
    return bar(items, desc="indicator families", unit="family")


#: the usage relations (grains and the champions' usage) an indicator may read
_USAGE_READERS = {"usage", "champion_usage"}


def usage_since(catalog, as_of, *, months_before: int = 0):
    """The earliest usage time any indicator of ``catalog`` reads for snapshots at ``as_of`` and
    up to ``months_before`` months earlier: ``as_of`` minus the longest usage look-back. None
    when an indicator reads all usage history (nothing can be left at the source).

    Examples
    --------
    >>> from churnml.features.catalog import load_catalog
    >>> usage_since(load_catalog(), "2026-07-01")
    Timestamp('2025-07-01 00:00:00')
    """
    catalog = catalog or load_catalog()
    days = [shapes.lookback(i) for i in catalog
            if i.table in _USAGE_READERS and i.shape in shapes.SQL_SHAPES]
    if not days:
        return None
    if any(d is None for d in days):
        return None
    first = pd.Timestamp(as_of).normalize() - pd.DateOffset(months=months_before)
    return first - pd.Timedelta(days=max(days))
