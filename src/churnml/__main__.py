"""``python -m churnml``: the same command as ``churnml``."""

import sys

from churnml.cli import main

sys.exit(main())
