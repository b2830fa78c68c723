"""Where tables come from: a folder of files, a DuckDB file, a database URL or a dict of frames.

:class:`Source` gives them one face (names, read, read_path, sql, and a confined DuckDB
connection ``con`` holding a view per file, the frames and any Arrow results) for
:mod:`churnml.data.load` and :mod:`churnml.sources.usage`. Everything is read from inside the
source folder (:mod:`churnml.data.confine`); a database runs its own SQL
(:class:`churnml.sources.database.DatabaseSource`).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from churnml.data.confine import check_select, resolve_inside
from churnml.errors import ChurnmlError

__all__ = ["DUCKDB_SUFFIXES", "FILE_SUFFIXES", "Source", "file_kind"]

FILE_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv"}
DUCKDB_SUFFIXES = (".duckdb", ".db", ".ddb")


# --- sources ------------------------------------------------------------------------------
def file_kind(path, where: str) -> str:
    """``"parquet"``, ``"csv"`` or ``"tsv"`` from the suffix of ``path``; a clear refusal naming
    ``where`` (e.g. ``"mapping tables.accounts.file"``) and the supported suffixes otherwise."""
    path = Path(path)
    kind = FILE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        found = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
        raise ChurnmlError(
            f"{where}: {path.name} has {found}; supported are {', '.join(FILE_SUFFIXES)}",
            hint="export the table as Parquet or CSV, or select it from a DuckDB file with sql:",
        )
    return kind


def _read_file(path: Path, where: str) -> pd.DataFrame:
    kind = file_kind(path, where)
    if kind == "parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, sep="\t" if kind == "tsv" else ",")


class Source:
    """Uniform access to a folder, a DuckDB file, a database URL or a dict of frames.

    Everything is read from inside ``root`` (the folder, or the DuckDB file's folder): files
    that resolve outside it (symbolic links) are refused by name and get no SQL view, and SQL
    runs on a :func:`~churnml.data.confine.confined_connection`. A database URL's tables and SQL
    run in the database (:class:`churnml.sources.database.DatabaseSource`); its connection here
    holds only the Arrow results registered in it.
    """

    def __init__(self, source):
        self._con = None
        self._temp = None
        self.files: dict[str, Path] = {}
        self.frames: dict[str, pd.DataFrame] = {}
        self.arrow: dict[str, object] = {}
        self.db: Path | None = None
        self.root: Path | None = None
        self.database = None
        self.outside: dict[str, Path] = {}
        if isinstance(source, dict):
            self.frames = dict(source)
            self.label = "dict of DataFrames"
            return
        from churnml.sources.urls import is_database_url

        if is_database_url(str(source)):
            from churnml.sources.database import DatabaseSource

            self.database = DatabaseSource(str(source))
            self.label = self.database.label
            return
        path = Path(source)
        self.label = str(path)
        if path.is_dir():
            self.root = path.resolve()
            for f in sorted(path.iterdir()):
                if f.suffix.lower() in FILE_SUFFIXES and not f.name.startswith("."):
                    self.files.setdefault(f.stem, f)
            self.files.update(_schema_files(path))
        elif path.is_file() and path.suffix.lower() in DUCKDB_SUFFIXES:
            self.db = path
            self.root = path.resolve().parent
        elif path.is_file() and path.suffix.lower() in FILE_SUFFIXES:
            raise ValueError(
                f"source {path} is a single file; give the folder holding one file per table"
            )
        elif not path.exists():
            raise FileNotFoundError(f"data source not found: {path}")
        else:
            raise ValueError(
                f"source {path}: expected a folder, a DuckDB file {DUCKDB_SUFFIXES}, a database "
                "URL or a dict"
            )
        self.outside = {
            stem: f for stem, f in self.files.items() if not f.resolve().is_relative_to(self.root)
        }

    def data_bytes(self) -> int:
        """Bytes of the source's data: its files on disk, or the Arrow results it holds."""
        if self.db is not None:
            return self.db.stat().st_size
        sizes = [f.stat().st_size for s, f in self.files.items() if s not in self.outside]
        sizes += [t.nbytes for t in self.arrow.values()]
        return sum(sizes)

    @property
    def con(self):
        if self._con is None:
            import tempfile

            from churnml.data.confine import confined_connection
            from churnml.sources.resources import duckdb_settings

            self._temp = tempfile.TemporaryDirectory(prefix="churnml-duckdb-")
            settings = duckdb_settings(self.data_bytes(), self._temp.name)
            self._con = confined_connection(self.root, database=self.db, settings=settings)
            for stem, f in self.files.items():
                if stem in self.outside:
                    continue
                full = str(f.resolve())
                kind = FILE_SUFFIXES[f.suffix.lower()]
                rel = (
                    self._con.read_parquet(full) if kind == "parquet" else self._con.read_csv(full)
                )
                rel.create_view(stem)
            for name, frame in self.frames.items():
                self._con.register(name, frame)
            for name, table in self.arrow.items():
                self._con.register(name, table)
            _schema_views(self._con, [n for n in [*self.files, *self.frames] if "." in n
                                      and n not in self.outside])
        return self._con

    def names(self) -> list[str]:
        if self.database is not None:
            return self.database.names()
        if self.db is not None:
            return [
                r[0]
                for r in self.con.execute(
                    "SELECT table_name FROM information_schema.tables"
                ).fetchall()
            ]
        return [*self.files, *self.frames]

    def is_text(self, name: str) -> bool:
        f = self.files.get(name)
        return f is not None and FILE_SUFFIXES[f.suffix.lower()] in ("csv", "tsv")

    def read(self, name: str, where: str) -> pd.DataFrame | None:
        if name in self.frames:
            return self.frames[name]
        if name in self.files:
            return _read_file(resolve_inside(self.root, self.files[name].name, where), where)
        if self.database is not None:
            if name not in self.names():
                return None
            return self.database.read(self.database.base("table", name), None, where).to_pandas()
        if self.db is not None and name in self.names():
            with self._refusals(where):
                return self.con.table(name).df()
        return None

    def read_path(self, file: str, where: str) -> pd.DataFrame:
        if self.root is None:
            raise ChurnmlError(
                f"{where}: a {'database' if self.database else 'dict of DataFrames'} has no files",
                hint="name one of its tables with table: instead of file:",
            )
        path = resolve_inside(self.root, file, where)
        if not path.is_file():
            raise ChurnmlError(f"{where}: {file} not found in the source folder {self.root}")
        return _read_file(path, where)

    def sql(self, query: str, where: str) -> pd.DataFrame:
        statement = check_select(query, where)
        if self.database is not None:
            return self.database.read(self.database.base("sql", statement), None, where).to_pandas()
        with self._refusals(where):
            return self.con.execute(statement).df()

    @contextmanager
    def _refusals(self, where: str):
        """DuckDB's refusals and errors as one-line ChurnmlErrors naming ``where``."""
        import duckdb

        try:
            yield
        except duckdb.PermissionException as exc:
            reached = str(exc).splitlines()[0].removeprefix("Permission Error: ")
            raise ChurnmlError(
                f"{where}: refused, the SQL reaches outside the source folder "
                f"{self.root or '(a dict of DataFrames has none)'}: {reached}",
                hint="read the source's files through their views (file stem) or by a path "
                "inside the source folder; extensions and other files are not available",
            ) from None
        except duckdb.Error as exc:
            message = " ".join(str(exc).split("\n\n")[0].split())
            left = (
                f" (left out, outside the folder: {sorted(self.outside)})" if self.outside else ""
            )
            raise ChurnmlError(f"{where}: the SQL failed in DuckDB: {message}{left}") from None

    def close(self):
        if self._con is not None:
            self._con.close()
            self._con = None
        if self._temp is not None:
            self._temp.cleanup()
            self._temp = None
        if self.database is not None:
            self.database.close()




def _schema_files(folder: Path) -> dict[str, Path]:
    """Files of the sub-folders of a source folder as ``schema.table`` (a sub-folder is a schema,
    as each ingestion tool lands its tables in a schema of its own)."""
    found = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(sub.iterdir()):
            if f.suffix.lower() in FILE_SUFFIXES and not f.name.startswith("."):
                found.setdefault(f"{sub.name}.{f.stem}", f)
    return found


def _schema_views(con, names: list[str]) -> None:
    """``"schema"."table"`` views over the views named ``schema.table`` (files of sub-folders,
    dict keys with a dot), so mapping SQL reads them by their qualified names."""
    for name in names:
        schema, table = (_quoted(part) for part in name.split(".", 1))
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.execute(f"CREATE VIEW {schema}.{table} AS SELECT * FROM {_quoted(name)}")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
