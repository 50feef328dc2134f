"""What the service tells its operators: structured logs of requests and tasks, and errors sent to Sentry.

``logging`` builds the logging configuration (JSON lines in production, readable lines elsewhere),
``requests`` logs each request under its request id, ``tasks`` logs each Celery task under the request
id that enqueued it, and ``sentry`` reports errors without personal data. docs/logging.md describes it.
"""
