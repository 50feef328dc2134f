"""``make bench``: a reproducible benchmark of the spreadsheet import, run on synthetic data only.

Not a test: pytest does not collect it (no ``test_*`` modules). ``python -m tests.bench --help`` lists
the options.
"""
