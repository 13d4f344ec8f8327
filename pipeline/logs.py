"""Logging setup for the command line: plain text or JSON lines, on stderr.

Only the CLI calls this; the library modules just log to their own loggers.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter


def setup_logging(*, level: int, json_lines: bool) -> None:
    """Send every pipeline logger's records to stderr at the given level."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={
                    "asctime": "time",
                    "levelname": "level",
                    "name": "logger",
                },
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("pipeline")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # httpx logs every request at INFO; ours already say what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
