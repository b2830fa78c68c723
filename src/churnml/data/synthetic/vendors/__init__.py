"""The synthetic world as the raw tables of standard CRM, billing, support, analytics and survey
systems (vendor sets), in a folder or a PostgreSQL database."""

from churnml.data.synthetic.vendors.ids import vendor_ids
from churnml.data.synthetic.vendors.sets import VENDOR_SETS, export_vendors

__all__ = ["VENDOR_SETS", "export_vendors", "vendor_ids"]
