"""The running churnml packed as a wheel, logged with every model.

churnml is not on PyPI, so a registered model names churnml by a wheel stored beside it
(``artifacts/churnml-<version>-py3-none-any.whl`` in the model folder, referenced from its
``requirements.txt``). MLflow's virtualenv and uv environment managers (``mlflow models serve`` /
``predict``) install a model's requirements from inside its folder, so the relative path resolves
and the fresh environment gets exactly the code that trained the model.

:func:`build_wheel` packs the *imported* package (an editable checkout or a normal install alike):
every file under the package folder, symlinked folders followed (the indicator catalog and the
model configs), bytecode and hidden files left out. It needs no build tool and no network, and is
reproducible: the same code gives the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from pathlib import Path

#: Python-only package: one wheel for every platform.
WHEEL_TAG = "py3-none-any"
#: Timestamp of every member (the earliest a zip can store): the bytes depend on the code only.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_WHEEL_FILE = (
    "Wheel-Version: 1.0\nGenerator: churnml.model.wheel\nRoot-Is-Purelib: true\n"
    f"Tag: {WHEEL_TAG}\n"
)
_ENTRY_POINTS = "[console_scripts]\nchurnml = churnml.cli:run\n"


def wheel_name(version: str) -> str:
    """File name of the churnml wheel of ``version`` (``churnml-0.1.0-py3-none-any.whl``)."""
    return f"churnml-{version}-{WHEEL_TAG}.whl"


def package_files(root: Path) -> list[tuple[str, Path]]:
    """``(name in the wheel, file)`` for every file of the package folder ``root``, sorted.

    Symlinked folders are followed; ``__pycache__``, ``*.pyc`` and hidden files are left out.
    """
    root = Path(root)
    out = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
        for name in files:
            if name.startswith(".") or name.endswith((".pyc", ".pyo")):
                continue
            path = Path(folder) / name
            out.append(((Path(root.name) / path.relative_to(root)).as_posix(), path))
    return sorted(out)


def distribution_metadata(version: str) -> tuple[str, str]:
    """``(METADATA, entry_points.txt)`` of the installed churnml distribution of ``version``.

    Without one (churnml imported from a source folder, or installed metadata of another version),
    a minimal METADATA naming only the name and version, and the ``churnml`` command.
    """
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution("churnml")
    except PackageNotFoundError:
        dist = None
    if dist is not None and dist.version == version:
        metadata = dist.read_text("METADATA")
        if metadata:
            return metadata, dist.read_text("entry_points.txt") or _ENTRY_POINTS
    minimal = f"Metadata-Version: 2.1\nName: churnml\nVersion: {version}\n"
    return minimal, _ENTRY_POINTS


def build_wheel(directory) -> Path:
    """Pack the imported churnml into ``directory``; returns the wheel's path.

    Parameters
    ----------
    directory : path
        Existing folder to write ``churnml-<version>-py3-none-any.whl`` into.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     build_wheel(tmp).name.startswith("churnml-")
    True
    """
    import churnml

    version = churnml.__version__
    info = f"churnml-{version}.dist-info"
    metadata, entry_points = distribution_metadata(version)
    members = [(name, path.read_bytes()) for name, path in package_files(_package_root())]
    members += [
        (f"{info}/METADATA", metadata.encode()),
        (f"{info}/WHEEL", _WHEEL_FILE.encode()),
        (f"{info}/entry_points.txt", entry_points.encode()),
        (f"{info}/top_level.txt", b"churnml\n"),
    ]
    members.append((f"{info}/RECORD", _record(members, f"{info}/RECORD")))
    target = Path(directory) / wheel_name(version)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            entry = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    return target


def _package_root() -> Path:
    import churnml

    return Path(churnml.__file__).parent


def _record(members: list[tuple[str, bytes]], record_name: str) -> bytes:
    """The wheel's RECORD: ``name,sha256=<urlsafe base64>,size`` per member, itself unhashed."""
    lines = []
    for name, data in members:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{name},sha256={digest},{len(data)}")
    lines.append(f"{record_name},,")
    return ("\n".join(lines) + "\n").encode()
