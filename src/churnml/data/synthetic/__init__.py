"""Realistic synthetic SaaS customer data: the embedded default for the demo, notebooks and tests."""

from churnml.data.synthetic.generate import make_saas

__all__ = ["make_saas"]
