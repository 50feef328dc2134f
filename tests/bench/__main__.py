"""Entry point of ``python -m tests.bench`` (``make bench``).

``python -m tests.bench [options]`` runs the spreadsheet import benchmark (with those options), then the
metrics and the dashboards benchmarks with their defaults; ``python -m tests.bench import ...`` only the first,
``python -m tests.bench metrics ...`` only the second; ``python -m tests.bench dashboards ...`` times the board
dashboards' pages, ``python -m tests.bench search ...`` the search page and the API's ``?search=`` (both
also run by default, after the metrics); ``python -m tests.bench api ...`` the partner API (PostgreSQL,
gunicorn and wrk), only when asked for by name.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    """Configure Django for the benchmark, then run the one asked for, or the import, metrics, dashboards, search."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lsis.settings.test")
    import django

    django.setup()
    from tests.bench import metrics
    from tests.bench.run import run

    argv = sys.argv[1:]
    # --- Board dashboards: ``python -m tests.bench dashboards`` (render times and queries of the pages) ---
    if argv[:1] == ["dashboards"]:
        from tests.bench import dashboards

        return dashboards.run(argv[1:])
    # --- Search: ``python -m tests.bench search`` (the search page and the API's ?search=) ---
    if argv[:1] == ["search"]:
        from tests.bench import search

        return search.run(argv[1:])
    # --- partner API (tests/bench/api.py): only when asked for by name ---
    if argv[:1] == ["api"]:
        from tests.bench import api

        return api.run(argv[1:])
    if argv[:1] == ["metrics"]:
        return metrics.run(argv[1:])
    if argv[:1] == ["import"]:
        return run(argv[1:])
    run(argv)
    metrics.run([])
    from tests.bench import dashboards, search

    dashboards.run([])
    return search.run([])


if __name__ == "__main__":
    sys.exit(main())
