"""Everything that touches SpiffWorkflow lives in this package; importing it applies govflow's fixes."""

from engine.spiff import fixes as _fixes  # noqa: F401
