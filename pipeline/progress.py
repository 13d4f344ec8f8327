"""A live progress line on a terminal; nothing at all elsewhere (logs say it there)."""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


@contextmanager
def progress_display(*, enabled: bool) -> Iterator[Callable[[str, str], None] | None]:
    """Yield a callback(kind, url) that counts pages on a live line, or None."""
    if not enabled:
        yield None
        return

    seen: Counter[str] = Counter()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as display:
        task = display.add_task("starting")

        def report(kind: str, url: str) -> None:
            seen[kind] += 1
            display.update(
                task,
                description=(
                    f"{seen['listing']} listing pages, {seen['detail']} detail pages: {url}"
                ),
            )

        yield report
