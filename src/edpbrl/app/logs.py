"""The server's logs: JSON lines on stderr, one object per event, session tokens never included.

``edpbrl.access`` writes one line per request (method, path with the session id replaced by its
public hash, status, milliseconds, client address, bytes sent); ``edpbrl.error`` writes unhandled
errors with a scrubbed traceback; uvicorn's own messages (startup, protocol errors) pass through
the same scrubbing formatter.
"""

from __future__ import annotations

import json
import logging
import logging.config
import time

from .middleware import scrub


class JsonLines(logging.Formatter):
    """``{"ts", "level", "logger", ...}``: a JSON message is merged in, any other text goes to
    ``"message"``; everything is scrubbed of session tokens."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        text = record.getMessage()
        try:
            data = json.loads(text) if text.startswith("{") else None
        except ValueError:
            data = None
        if isinstance(data, dict):
            out.update(data)
        else:
            out["message"] = scrub(text)
        if record.exc_info:
            out["traceback"] = scrub(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False)


def configure_logging(level: str = "info") -> None:
    """JSON lines on stderr for edpbrl's and uvicorn's loggers (uvicorn's access log is off)."""
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"json": {"()": JsonLines}},
            "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
            "loggers": {
                "edpbrl": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
                "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
                "uvicorn.error": {"level": "INFO"},
                "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            },
        }
    )
