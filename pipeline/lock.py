"""One run at a time per database: an OS file lock beside the database file.

The operating system drops the lock when its process dies, however it dies,
so a lock left by a killed run never blocks the next one.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from pipeline.errors import LockedError, StorageError


def lock_path_for(database_path: str | Path) -> Path:
    """Where the run lock of a database lives: beside the file itself, so that a
    symbolic link or another spelling of its path finds the same lock."""
    path = Path(database_path).resolve()
    return path.with_name(path.name + ".lock")


def _check_lock_file(path: Path) -> None:
    """Tell "cannot create the lock file" apart from "another run holds it"."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o644))
    except OSError as error:
        what = "open" if path.exists() else "create"
        raise StorageError(
            f"cannot {what} the lock file {path}: {error.strerror}; "
            f"the lock file and the database's folder must be writable"
        ) from None


@contextmanager
def hold_run_lock(database_path: str | Path) -> Iterator[None]:
    """Hold the database's run lock, or raise LockedError at once if another run has it."""
    path = lock_path_for(database_path)
    _check_lock_file(path)
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
