"""Run one `pipeline` command in this process under cProfile, every thread and
worker process included, and save the statistics; or print the top functions
of a saved profile.

cProfile alone sees only the main thread, where the crawl walks listings and
stores pages. Detail pages are fetched and parsed in worker processes (or
threads, with fetch.processes = 0): each gets a profiler of its own, and the
profiles of the workers are merged, processes apart from threads.

    python bench/profile_crawl.py run PREFIX crawl --config ... --db ...
    python bench/profile_crawl.py top STATS_FILE [--limit 15]
"""

from __future__ import annotations

import cProfile
import io
import multiprocessing.util
import os
import pstats
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from pipeline.cli import main as pipeline_main


def profile_command(stats_prefix: Path, arguments: list[str]) -> int:
    """Run `pipeline ARGUMENTS` with every thread profiled; returns its exit status.

    Saves the main thread's statistics and the worker threads' merged ones
    apart: a worker's waits would drown the main thread's work in one table.
    """
    thread_profiles: list[cProfile.Profile] = []

    def profile_new_thread(frame: FrameType, event: str, argument: Any) -> None:
        profile = cProfile.Profile()
        thread_profiles.append(profile)
        profile.enable()

    main_profile = cProfile.Profile()
    threading.setprofile(profile_new_thread)
    # Run in each forked worker once multiprocessing has set it up (it clears
    # the finalizers a plain fork hook would register).
    child_setup = _ChildProfiling(stats_prefix)
    multiprocessing.util.register_after_fork(child_setup, _ChildProfiling.start)
    main_profile.enable()
    try:
        pipeline_main.main(arguments, prog_name="pipeline", standalone_mode=False)
        status = 0
    except SystemExit as exit_request:
        status = exit_request.code if isinstance(exit_request.code, int) else 1
    finally:
        main_profile.disable()
        threading.setprofile(None)

    pstats.Stats(main_profile).dump_stats(main_stats_path(stats_prefix))
    if thread_profiles:
        workers = pstats.Stats(thread_profiles[0])
        for profile in thread_profiles[1:]:
            workers.add(profile)
        workers.dump_stats(worker_stats_path(stats_prefix))
    _merge_process_profiles(stats_prefix)
    return status


class _ChildProfiling:
    def __init__(self, stats_prefix: Path) -> None:
        self.stats_prefix = stats_prefix

    def start(self) -> None:
        """In a forked worker: drop the profiler the fork copied from the
        parent's thread, and profile this process alone until it exits."""
        sys.setprofile(None)
        threading.setprofile(None)
        profile = cProfile.Profile()
        path = _child_stats_path(self.stats_prefix, os.getpid())
        # Pool workers leave through multiprocessing's exit, which runs
        # finalizers but no atexit handler.
        multiprocessing.util.Finalize(
            None, lambda: _save(profile, path), exitpriority=100
        )
        profile.enable()


def _save(profile: cProfile.Profile, path: Path) -> None:
    profile.disable()
    profile.dump_stats(str(path))


def _merge_process_profiles(stats_prefix: Path) -> None:
    paths = sorted(stats_prefix.parent.glob(_child_stats_path(stats_prefix, "*").name))
    if not paths:
        return
    pstats.Stats(*[str(path) for path in paths]).dump_stats(
        process_stats_path(stats_prefix)
    )
    for path in paths:
        path.unlink()


def _child_stats_path(stats_prefix: Path, pid: int | str) -> Path:
    return stats_prefix.with_name(f"{stats_prefix.name}.process-{pid}.pstats")


def main_stats_path(stats_prefix: Path) -> Path:
    """Where the main thread's statistics go: listings, storage, publishing."""
    return stats_prefix.with_name(stats_prefix.name + ".main.pstats")


def worker_stats_path(stats_prefix: Path) -> Path:
    """Where the other threads' merged statistics go: detail fetch and parse in
    threads, or the process pool's own bookkeeping."""
    return stats_prefix.with_name(stats_prefix.name + ".threads.pstats")


def process_stats_path(stats_prefix: Path) -> Path:
    """Where the worker processes' merged statistics go: detail fetch and parse."""
    return stats_prefix.with_name(stats_prefix.name + ".processes.pstats")


def render_top(stats_path: Path, *, limit: int) -> str:
    """The top functions of a saved profile, by own time and by cumulative time."""
    sections = []
    for order in ("tottime", "cumulative"):
        buffer = io.StringIO()
        stats = pstats.Stats(str(stats_path), stream=buffer)
        stats.strip_dirs().sort_stats(order).print_stats(limit)
        sections.append(
            f"Top {limit} by {order}:\n{_without_preamble(buffer.getvalue())}"
        )
    return "\n".join(sections)


def _without_preamble(text: str) -> str:
    """pstats output from its column header on; the lines above name the file."""
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if line.lstrip().startswith("ncalls"):
            return "\n".join(lines[number - 2 :] if number >= 2 else lines[number:])
    return text


def main(arguments: list[str]) -> int:
    if len(arguments) >= 3 and arguments[0] == "run":
        return profile_command(Path(arguments[1]), arguments[2:])
    if len(arguments) >= 2 and arguments[0] == "top":
        limit = int(arguments[3]) if arguments[2:3] == ["--limit"] else 15
        print(render_top(Path(arguments[1]), limit=limit))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
