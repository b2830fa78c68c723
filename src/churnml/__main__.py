"""``python -m churnml``: the same command as ``churnml``."""

from churnml.cli import run

run()
