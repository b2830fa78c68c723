"""The ``churnml`` command (:func:`run`, :func:`main` without the exit): a thin shell over the
public API.

``arguments`` checks arguments while parsing; ``data_commands``, ``model_commands`` and
``scoring_commands`` hold the sub-commands; ``main`` builds the parser and turns every error into
one or two lines.
"""

from churnml.cli.main import build_parser, main, run

__all__ = ["build_parser", "main", "run"]
