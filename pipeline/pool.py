"""Worker processes: how they are forked and made to follow their parent, and
the pool that parses detail pages for a rebuild, so that it uses every core
instead of waiting on one interpreter lock.

Workers are forked once, and each keeps the site config it was started with.
The pool notices a worker that dies between two results, and raises
BrokenProcessPool for the pages asked of it.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import Any, Iterable, Iterator

from pipeline.config import SiteConfig
from pipeline.parse import detail_as_dict, parse_detail
from pipeline.store import RawPage

logger = logging.getLogger(__name__)

# prctl(2) option: the signal a process gets when its parent dies.
_PR_SET_PDEATHSIG = 1
HELD_WHILE_FORKING = {signal.SIGINT, signal.SIGTERM}
_worker_config: SiteConfig | None = None


def fork_context() -> BaseContext:
    """Fork where there is fork: workers start at once, sharing what the parent
    set up before them."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


def prepare_worker() -> None:
    """Run first in every worker process."""
    # The parent stops its workers with SIGTERM, and answers Ctrl-C itself.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD_WHILE_FORKING)
    _die_with_parent()


def _start_worker(config: SiteConfig) -> None:
    global _worker_config
    _worker_config = config
    prepare_worker()


def _die_with_parent() -> None:
    """On Linux, end this worker when the crawl that forked it dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        logger.debug("Workers cannot follow their parent's death on this system")


def warm_up() -> None:
    """A first job that only makes a process pool fork its workers."""


def _parse_in_worker(raw: RawPage) -> dict[str, Any]:
    assert _worker_config is not None
    return _parse(_worker_config, raw)


def _parse(config: SiteConfig, raw: RawPage) -> dict[str, Any]:
    # The page travels packed and is unpacked here, off the parent's one core.
    page = parse_detail(
        raw.text, page_url=raw.final_url, detail=config.detail, site=config.site
    )
    return detail_as_dict(page)


def default_processes() -> int:
    """One parsing process per core, none on a single core."""
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    return cores if cores > 1 else 0


class ParsePool:
    """Parses detail pages as JSON-ready dicts, in worker processes when there are any.

    Thread-safe. With processes=0 it parses in the calling thread.
    """

    def __init__(self, config: SiteConfig, *, processes: int) -> None:
        self._config = config
        self._pool: ProcessPoolExecutor | None = None
        if processes > 0:
            self._pool = ProcessPoolExecutor(
                processes,
                mp_context=fork_context(),
                initializer=_start_worker,
                initargs=(config,),
            )
            # The first job forks every worker, now rather than at the first
            # page. A signal while forking would land in the pool's own
            # machinery; held here, it arrives once the pool stands, where it
            # can unwind.
            signal.pthread_sigmask(signal.SIG_BLOCK, HELD_WHILE_FORKING)
            try:
                self._pool.submit(warm_up).result()
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD_WHILE_FORKING)

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            # Jobs not started are dropped; those running take milliseconds.
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def parse_details(self, pages: Iterable[RawPage]) -> Iterator[dict[str, Any]]:
        """Many stored pages' fields, in order. Work starts at once, in the
        background, so the caller may prepare the next pages meanwhile."""
        if self._pool is None:
            return (_parse(self._config, raw) for raw in pages)
        return self._pool.map(_parse_in_worker, pages, chunksize=8)
