"""All logging set-up: JSON lines (one object a line, for collectors) or text for a terminal.

The workers call ``configure_logging`` from the app factory; the gunicorn master formats its own
lines (start, worker boots and exits) with ``gunicorn_logconfig`` from ``config/gunicorn.conf.py``,
so in JSON mode every line on stdout is one JSON object.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from app.settings import Settings

LOG_FORMATS = ("json", "text")
TEXT_FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"
# Standard record attributes kept in every JSON line, renamed to the usual collector names;
# anything passed as ``extra=`` becomes a field of its own.
JSON_FIELDS = ("levelname", "name", "process", "message")
JSON_RENAMES = {"levelname": "level", "name": "logger", "process": "pid"}


def check_format(log_format: str) -> str:
    """``log_format`` if it is json or text; a ValueError naming both otherwise."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log_format {log_format!r}; expected one of {', '.join(LOG_FORMATS)}")
    return log_format


def json_formatter() -> logging.Formatter:
    """One JSON object a line: timestamp, level, logger, pid, message, and the record's extras."""
    return JsonFormatter(
        list(JSON_FIELDS), rename_fields=JSON_RENAMES, timestamp=True, json_ensure_ascii=False
    )


def make_formatter(log_format: str) -> logging.Formatter:
    """The formatter for ``log_format`` (json or text)."""
    if check_format(log_format) == "json":
        return json_formatter()
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(settings: Settings) -> None:
    """Send the service's logs to stdout in ``settings.log_format`` at ``settings.log_level``.

    Logging someone else set up (pytest's capture, an embedding program) is left alone.
    """
    formatter = make_formatter(settings.log_format)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(formatter)
        root.addHandler(handler)
    logging.getLogger("app").setLevel(settings.log_level.upper())


def gunicorn_logconfig(log_format: str, level: str, *, access_log: bool) -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: its own loggers in ``log_format`` on stdout, root untouched.

    The root logger gets no handler here, so that ``configure_logging`` in the worker installs
    the service's one; gunicorn's messages propagate no further than their own handler. Any
    ``logconfig_dict`` turns gunicorn's access log on, so without ``access_log`` its logger is
    silenced here (its lines are INFO): the app already logs one line per request.
    """
    formatter = (
        {"()": f"{__name__}.json_formatter"}
        if check_format(log_format) == "json"
        else {"format": TEXT_FORMAT}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "mms", "stream": "ext://sys.stdout"}
    own = {"level": level.upper(), "handlers": ["mms"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": "WARNING", "handlers": []},
        "loggers": {
            "gunicorn.error": own,
            "gunicorn.access": {**own, "level": "INFO" if access_log else "CRITICAL"},
        },
        "handlers": {"mms": handler},
        "formatters": {"mms": formatter},
    }
