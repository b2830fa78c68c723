"""Built-in datasets: the synthetic SaaS customer base used by the demo and the tests."""

from churnml.data.synthetic import make_saas

__all__ = ["make_saas"]
