"""The board dashboards: server-rendered pages in the GOV.UK Design System.

Views stay thin: they parse the query string (``metrics.forms``), read through ``metrics.dashboards`` and
lay the results out with ``metrics.table_builders``, whose tables the templates render and
``?download=<id>`` returns as CSV. ``common`` holds what every page shares; one module per page family.
"""

from metrics.views.board_pack import board_pack, board_pack_pdf
from metrics.views.changes import changes
from metrics.views.funding import funding
from metrics.views.overview import breakdown, overview
from metrics.views.releases import releases
from metrics.views.scopes import commitment_detail, scope_detail
from metrics.views.search import search
from metrics.views.tasks import tasks

__all__ = [
    "board_pack",
    "board_pack_pdf",
    "breakdown",
    "changes",
    "commitment_detail",
    "funding",
    "overview",
    "releases",
    "scope_detail",
    "search",
    "tasks",
]
