"""Entry point of ``python -m tests.drill`` (``make drill``)."""

from __future__ import annotations

import sys

from tests.drill.run import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
