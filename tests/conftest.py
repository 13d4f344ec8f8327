"""Shared fixtures: fixture sites served on 127.0.0.1, and the CLI run as a real process."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from siteserver import SiteServer, serve  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT_ROOT = Path(__file__).parent.parent
MAIN_CONFIG = PROJECT_ROOT / "config" / "parispeaceforum.toml"
ALT_CONFIG = FIXTURES / "site-alt.toml"


@pytest.fixture
def site_copy(tmp_path: Path) -> Path:
    """A private copy of the main fixture site that a test may edit."""
    target = tmp_path / "site"
    shutil.copytree(FIXTURES / "site", target)
    return target


@pytest.fixture
def site_server(site_copy: Path) -> Iterator[SiteServer]:
    with serve(site_copy) as server:
        yield server


@pytest.fixture
def alt_server() -> Iterator[SiteServer]:
    with serve(FIXTURES / "site-alt") as server:
        yield server


@pytest.fixture
def expected_projects() -> dict[str, dict[str, Any]]:
    rows = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
    return {row["url"]: row for row in rows}


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `python -m pipeline ARGS` as a real process and capture its output."""
    environment = {**os.environ, "PYTHONUTF8": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True, text=True, timeout=timeout, env=environment,
        cwd=PROJECT_ROOT,
    )


def crawl_args(config: Path, database: Path, server: SiteServer, *extra: str) -> list[str]:
    return ["crawl", "--config", str(config), "--db", str(database),
            "--base-url", server.url, "--min-delay", "0", *extra]


def read_rows(database: Path, sql: str, parameters: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with sqlite3.connect(database) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute(sql, parameters)]
