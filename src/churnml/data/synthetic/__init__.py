"""Realistic synthetic SaaS customer data: the embedded default for the demo, notebooks and tests."""

from churnml.data.synthetic.export import export_subscriptions, make_saas_export
from churnml.data.synthetic.generate import make_saas

__all__ = ["export_subscriptions", "make_saas", "make_saas_export"]
