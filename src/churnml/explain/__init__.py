"""Explanations: exact TreeSHAP contributions, plain-language reasons, risk by area (family sums)
with the sentences that carry it, plays with owners, persona health, what changed since the
last score.

``churnml.explain`` is both this sub-package and the public verb: calling the package,
``churnml.explain(model, features)``, is :func:`churnml.explain.contributions.explain`.
"""

import sys
import types

from churnml.explain.areas import family_first
from churnml.explain.backends import available_backends, contributions
from churnml.explain.changes import what_changed
from churnml.explain.contributions import Explanation, explain, explain_all, family_contributions
from churnml.explain.personas import persona_health
from churnml.explain.plays import Plays, load_plays

__all__ = [
    "Explanation",
    "Plays",
    "available_backends",
    "contributions",
    "explain",
    "explain_all",
    "family_contributions",
    "family_first",
    "load_plays",
    "persona_health",
    "what_changed",
]


class _CallableModule(types.ModuleType):
    """Lets ``churnml.explain(...)`` call :func:`explain` although the name is also this package."""

    def __call__(self, *args, **kwargs):
        return explain(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
