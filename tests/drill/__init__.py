"""``make drill``: a fault drill of the production topology on loopback, printing figures.

Not a test: pytest does not collect it (no ``test_*`` modules). ``python -m tests.drill --help`` lists
the options; ``tests/drill/run.py`` says what it does.
"""
