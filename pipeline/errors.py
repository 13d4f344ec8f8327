"""The exceptions the pipeline raises, and the exit status each one maps to.

PipelineError                 1  root; anything unexpected
├── ConfigError               2  bad config file or command-line value
├── FetchError                3  a URL we gave up on (recorded, run goes on)
│   ├── TransientFetchError      worth retrying: timeouts, resets, 5xx, 429
│   └── PermanentFetchError      not worth retrying: 4xx, refused by policy
│       ├── DisallowedByRobots   robots.txt forbids the URL (skipped, not failed)
│       ├── SiteUnreachable      robots.txt cannot be read: nothing on the host is fetched
│       └── DeadlineExceeded     the run's wall-clock deadline has passed
├── ParseError                1  a page the parser cannot read at all
├── StorageError              1  the database cannot be read or written
├── QualityGateError          4  a run refused before publishing
└── LockedError               5  another run holds the database
"""

from __future__ import annotations

from typing import Any


class PipelineError(Exception):
    """Root of every error the pipeline raises on purpose."""

    exit_status = 1


class ConfigError(PipelineError):
    """Raised by config loading and by the CLI when a file, key or flag is wrong."""

    exit_status = 2

    def __init__(self, message: str, *, path: str = "", key: str = "") -> None:
        self.path = path
        self.key = key
        where = ": ".join(part for part in (path, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class FetchError(PipelineError):
    """Raised by the fetcher for a URL it could not get."""

    exit_status = 3

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int | None = None,
        attempts: int = 1,
    ) -> None:
        self.url = url
        self.status = status
        self.attempts = attempts
        self.reason = message
        super().__init__(f"{url}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Worker processes send these back to the crawl; the default pickling of
        # exceptions would call __init__ without its keyword arguments.
        return (
            _restore_fetch_error,
            (type(self), self.reason, self.url, self.status, self.attempts),
            self.__dict__,
        )

    @property
    def is_gone(self) -> bool:
        """A 404 or 410: the page no longer exists, which is an answer, not a fault."""
        return self.status in (404, 410)


def _restore_fetch_error(
    kind: type[FetchError], reason: str, url: str, status: int | None, attempts: int
) -> FetchError:
    return kind(reason, url=url, status=status, attempts=attempts)


class TransientFetchError(FetchError):
    """A failure that may pass: timeout, reset connection, short body, 5xx, 408, 429."""

    retry_after_seconds: float | None = None


class PermanentFetchError(FetchError):
    """A failure a retry cannot fix: a 4xx, an off-host redirect, a size cap."""


class DisallowedByRobots(PermanentFetchError):
    """Raised by the fetcher before requesting a URL that robots.txt forbids."""


class SiteUnreachable(PermanentFetchError):
    """Raised by the fetcher for every URL of a host whose robots.txt cannot be read."""


class DeadlineExceeded(PermanentFetchError):
    """Raised by the fetcher once the run's wall-clock deadline has passed."""


class ParseError(PipelineError):
    """Raised by the parser when a page cannot be read as HTML at all."""


class StorageError(PipelineError):
    """Raised by the store when the database cannot be opened, read or written."""

    def __init__(self, message: str, *, path: str = "") -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class QualityGateError(PipelineError):
    """Raised by the crawl when a run fails a quality check; nothing is published.

    counts holds what the check measured (records parsed, fill rates), for
    the refused run's record.
    """

    exit_status = 4

    def __init__(self, message: str, *, counts: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.counts = counts or {}


class LockedError(PipelineError):
    """Raised by the run lock when another live process holds the database."""

    exit_status = 5


def interruption_reason(error: BaseException) -> str:
    """Why a run stopped before its end, as runs.reason records it: a signal
    (Ctrl-C and SIGTERM arrive as KeyboardInterrupt), or the error itself."""
    if isinstance(error, KeyboardInterrupt):
        return "stopped by a signal"
    message = " ".join(str(error).split())[:300]
    name = type(error).__name__
    return (
        f"stopped by an error: {name}: {message}"
        if message
        else f"stopped by an error: {name}"
    )
