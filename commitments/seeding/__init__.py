"""Loading the records this app owns from the reference data in fixtures/ (part of ``python manage.py seed``).

The seed is run by ``metrics.seeding.seed_reference_data``, which calls the loaders of each app in order
with one ``context.SeedContext``: here the documents, frameworks and themes (``documents``), the
organisations (``organisations``), the commitments with their organisations and links
(``commitment_records``), the tracker's theme classification (``theme_classification``) and the status
records the documents report (``evidence``); ``programmes.seeding`` loads the programmes and the money.
How a record is written, and when a correction may change it, is in ``history``.
"""
