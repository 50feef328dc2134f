"""The data stamp, as the commitments app's callers have long imported it: it lives in ``lsis.core.changes``.

Kept so that code importing ``commitments.changes`` goes on working while it moves to the new home;
new code imports ``lsis.core.changes``.
"""

from lsis.core.changes import Stamp, data_changed, data_stamp, request_data_stamp

__all__ = ["Stamp", "data_changed", "data_stamp", "request_data_stamp"]
