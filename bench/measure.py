"""Run one command as a child process and measure it: wall time, CPU time, peak RSS.

os.wait4 reports the resources of exactly that child (RUSAGE_CHILDREN would
mix in every child reaped before it). What the numbers mean is left to run.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

# ru_maxrss is in kilobytes on Linux.
_RSS_UNIT_BYTES = 1024


class CommandFailed(RuntimeError):
    """Raised by run_measured when the command exits with a non-zero status."""

    def __init__(self, command: list[str], exit_status: int, log_path: Path) -> None:
        super().__init__(
            f"{command[0]} exited with status {exit_status}; see {log_path}"
        )
        self.command = command
        self.exit_status = exit_status
        self.log_path = log_path


@dataclass(frozen=True)
class Measurement:
    """How long a command took, the CPU it used and its peak resident memory."""

    wall_seconds: float
    user_seconds: float
    system_seconds: float
    peak_rss_bytes: int

    @property
    def cpu_seconds(self) -> float:
        return self.user_seconds + self.system_seconds


def run_measured(command: list[str], *, log_path: Path) -> Measurement:
    """Run command to its end with stdout and stderr to log_path, and measure it.

    Raises CommandFailed when it exits with a non-zero status.
    """
    with log_path.open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        _, wait_status, usage = os.wait4(process.pid, 0)
        wall_seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(wait_status)
    if process.returncode != 0:
        raise CommandFailed(command, process.returncode, log_path)
    return Measurement(
        wall_seconds=wall_seconds,
        user_seconds=usage.ru_utime,
        system_seconds=usage.ru_stime,
        peak_rss_bytes=usage.ru_maxrss * _RSS_UNIT_BYTES,
    )
