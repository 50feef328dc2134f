"""Entry point of ``python -m tests.bench`` (``make bench``)."""

from __future__ import annotations

import os
import sys


def main() -> int:
    """Configure Django for the benchmark, then run it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lsis.settings.test")
    import django

    django.setup()
    from tests.bench.run import run

    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
