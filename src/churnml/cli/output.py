"""What the commands print: lines for people, one JSON document for schedulers."""

from __future__ import annotations

import json

from churnml.console import printable


def say(text: str = "") -> None:
    """Print a line for people (control characters in names and ids escaped)."""
    print(printable(text))


def print_json(payload) -> int:
    """Print ``payload`` as one JSON document for schedulers; returns exit code 0."""
    print(json.dumps(payload, indent=2, default=str, ensure_ascii=False))
    return 0
