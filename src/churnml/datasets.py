"""Built-in datasets: the synthetic SaaS customer base used by the demo, notebooks and tests."""

from __future__ import annotations

from pathlib import Path

from churnml.data.synthetic import export_subscriptions, make_saas, make_saas_export
from churnml.data.synthetic.vendors import export_vendors

__all__ = ["demo_data", "export_subscriptions", "export_vendors", "make_saas", "make_saas_export"]


def demo_data(path="demo/data", *, n_accounts=2000, months=24, seed=7) -> Path:
    """Folder holding the demo tables as Parquet, generated on first use.

    The defaults are the tables ``make demo`` writes, so a notebook and the demo share them.
    An existing folder (one with ``accounts.parquet``) is used as it is.

    Examples
    --------
    >>> import churnml
    >>> tables = churnml.load_tables(demo_data("demo/data"))  # doctest: +SKIP
    """
    from churnml.data.load import write_tables

    folder = Path(path)
    if not (folder / "accounts.parquet").exists():
        write_tables(make_saas(n_accounts=n_accounts, months=months, seed=seed), folder)
    return folder
