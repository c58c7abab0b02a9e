"""Log lines: one per event, with the id of the request they belong to.

The id comes from :class:`funnelwatch.ops.middleware.RequestIdMiddleware` (the caller's
``X-Request-ID`` when it sends a sane one, else a new one) and is echoed in the response, so
a line in the log can be matched with what a user or a proxy saw. Text lines keep a
traceback on the same line (``\\n`` written as ``⏎``); FUNNELWATCH_LOG_FORMAT=json writes
each event as one JSON object (python-json-logger).
"""

from __future__ import annotations

import contextvars
import logging

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            # Django logs a 4xx/5xx answer with its request once the middleware is done.
            request = getattr(record, "request", None)
            record.request_id = getattr(request, "request_id", None) or request_id.get()
        return True


class OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "").replace("\n", " ⏎ ")


class JsonFormatter(_JsonFormatter):
    """One JSON object a line; the traceback goes in ``exc_info`` as text."""
