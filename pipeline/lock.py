"""One run at a time per database: an OS file lock beside the database file.

The operating system drops the lock when its process dies, however it dies,
so a lock left by a killed run never blocks the next one.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from pipeline.errors import LockedError


def lock_path_for(database_path: str | Path) -> Path:
    """Where the run lock of a database lives."""
    path = Path(database_path)
    return path.with_name(path.name + ".lock")


@contextmanager
def hold_run_lock(database_path: str | Path) -> Iterator[None]:
    """Hold the database's run lock, or raise LockedError at once if another run has it."""
    path = lock_path_for(database_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise LockedError(
            f"{database_path}: another run holds the database "
            f"(lock {path}); try again when it ends"
        ) from None
    try:
        yield
    finally:
        lock.release()
