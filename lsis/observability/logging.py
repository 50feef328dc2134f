"""The logging configuration: structlog for the service's own events, the standard library for the rest.

Every record, whether it comes from a structlog logger (requests, tasks) or from a plain
``logging.getLogger(__name__)``, goes through the same handler and formatter: one JSON object per line
where ``LOG_FORMAT=json`` (production), a readable coloured line where ``LOG_FORMAT=console``. The
settings hold a plain dictionary (``logging_settings``); Django applies it through ``logging_configure``,
named by ``LOGGING_CONFIG``, which also configures structlog.
"""

from __future__ import annotations

import logging
import logging.config
import re
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

LOG_FORMATS = ("json", "console")

# Written into a line only by mistake (an exception's message, a third party's log): never kept.
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_API_TOKEN = re.compile(r"\blsis_[0-9a-fA-F]{16,}")
_AUTHORIZATION = re.compile(r"\b(Token|Bearer|Basic)\s+[^\s,;'\"]+", re.IGNORECASE)


def redact_text(text: str) -> str:
    """``text`` with e-mail addresses, API tokens and credentials after an authorisation scheme replaced."""
    text = _EMAIL.sub("[email]", text)
    text = _API_TOKEN.sub("[token]", text)
    return _AUTHORIZATION.sub(r"\1 [redacted]", text)


def redact_personal_data(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """A structlog processor: every string value of the event with personal data and secrets redacted."""
    for key, value in event_dict.items():
        if isinstance(value, str) and not key.startswith("_"):
            event_dict[key] = redact_text(value)
    return event_dict


def _shared_processors() -> list[Processor]:
    """What every record gets, from structlog or not: the request or task context, logger, level, time."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def formatter(*, log_format: str) -> structlog.stdlib.ProcessorFormatter:
    """The logging formatter for ``log_format`` (``json`` or ``console``); named by ``logging_settings``."""
    renderer: Processor
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
    elif log_format == "console":
        # Colours on a terminal only: a worker's log file or a CI log stays plain text. A plain traceback, as
        # in JSON: a richer one would print the frames' local variables, a request's token among them.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    else:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}.")
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # A traceback becomes one string field (a JSON record stays one line), redacted like the rest.
            structlog.processors.format_exc_info,
            redact_personal_data,
            renderer,
        ],
    )


def logging_settings(*, log_format: str, level: str) -> dict[str, Any]:
    """The ``LOGGING`` setting: every record to standard error, formatted as ``log_format``, from ``level`` up."""
    if log_format not in LOG_FORMATS:
        # Checked here, where the settings are read, so that a typo stops the process at start-up.
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}.")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": "lsis.observability.logging.formatter", "log_format": log_format}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
    }


def logging_configure(config: dict[str, Any]) -> None:
    """Apply the ``LOGGING`` setting and configure structlog to hand its events to it (``LOGGING_CONFIG``).

    structlog's own chain is the same whatever the format, so that loggers it has already cached stay
    right when the configuration is applied again (tests do); the format is the formatter's business.
    """
    logging.config.dictConfig(config)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
