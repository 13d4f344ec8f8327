"""Detail pages fetched and parsed in worker processes (--processes): the same
records, the same politeness, and nothing left behind when the crawl dies; and
the rebuild's parsing pool, which fails rather than waits when a worker dies."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from conftest import MAIN_CONFIG, PROJECT_ROOT, crawl_args, read_rows, run_cli
from test_crawl import _as_expected, _records

from pipeline import store
from pipeline.config import load_config
from pipeline.pool import ParsePool

WORKERS = ("--processes", "2", "--concurrency", "2")


def test_worker_processes_give_the_same_records_and_counts(tmp_path: Path, site_server, expected_projects) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "workers.db"

    result = run_cli(*crawl_args(MAIN_CONFIG, database, site_server, *WORKERS))

    assert result.returncode == 0, result.stderr
    records = {url: _as_expected(row) for url, row in _records(database).items()}
    wanted = {url: {name: row[name] for name in _as_expected(row)} for url, row in expected_projects.items()}
    assert records == wanted
    # Requests made in the workers are counted in the run's summary too.
    paths = site_server.requests.paths()
    assert len(paths) == 34
    assert result.stdout.startswith("run 1 succeeded (full sweep): 34 requests, 0 not modified")
    # Every page but robots.txt goes to the raw store.
    assert read_rows(database, "SELECT COUNT(*) AS n FROM raw_pages") == [{"n": 33}]


def test_worker_processes_revalidate_with_the_stored_validators(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "workers.db"
    first = run_cli(*crawl_args(MAIN_CONFIG, database, site_server, *WORKERS))
    site_server.requests.clear()

    second = run_cli(*crawl_args(MAIN_CONFIG, database, site_server, *WORKERS, "--full"))

    assert (first.returncode, second.returncode) == (0, 0), second.stderr
    requests = site_server.requests.snapshot()
    assert len(requests) == 34
    assert [r.path for r in requests if "If-None-Match" not in r.headers] == ["/robots.txt"]
    assert "34 requests, 33 not modified" in second.stdout
    assert "projects 0 new, 0 changed, 27 unchanged, 0 removed" in second.stdout


def test_worker_processes_share_the_host_delay(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    arguments = crawl_args(MAIN_CONFIG, tmp_path / "db.sqlite", site_server, *WORKERS)
    arguments[arguments.index("--min-delay") + 1] = "0.05"

    result = run_cli(*arguments)

    assert result.returncode == 0, result.stderr
    arrivals = sorted(r.arrived_at for r in site_server.requests.snapshot())
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]
    assert len(arrivals) == 34
    # Without the shared delay two workers and the listing walk overlap (gaps of
    # about 1 ms); arrivals carry some scheduling jitter.
    assert min(gaps) > 0.03


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [int(child) for task in tasks.iterdir()
            for child in (task / "children").read_text().split()]


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status


def test_killed_crawl_takes_its_workers_and_its_lock_with_it(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "db.sqlite"
    site_server.delays["/projects/digimente/"] = 30
    crawler = subprocess.Popen(
        [sys.executable, "-m", "pipeline", *crawl_args(MAIN_CONFIG, database, site_server, *WORKERS)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while "/projects/digimente/" not in site_server.requests.paths():
        assert time.monotonic() < deadline, "no request for the slow page"
        time.sleep(0.01)
    workers = _children(crawler.pid)

    crawler.send_signal(signal.SIGKILL)
    crawler.communicate()
    site_server.delays.clear()

    assert len(workers) == 2
    deadline = time.monotonic() + 5
    while not all(_gone(pid) for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived its crawl"
        time.sleep(0.01)
    result = run_cli(*crawl_args(MAIN_CONFIG, database, site_server, *WORKERS))
    assert result.returncode == 0, result.stderr
    assert read_rows(database, "SELECT id, status FROM runs ORDER BY id") == [
        {"id": 1, "status": "interrupted"}, {"id": 2, "status": "succeeded"}]
    assert read_rows(database, "SELECT COUNT(*) AS n FROM current_projects") == [{"n": 27}]


def test_processes_option_must_be_a_small_number(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(*crawl_args(MAIN_CONFIG, tmp_path / "db.sqlite", site_server, "--processes", "-1"))

    assert result.returncode == 2
    assert "--processes" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["site"]
    assert site_server.requests.paths() == []


def test_parsing_pool_whose_worker_dies_raises_instead_of_hanging(tmp_path: Path, site_server) -> None:  # type: ignore[no-untyped-def]
    database_path = tmp_path / "workers.db"
    assert run_cli(*crawl_args(MAIN_CONFIG, database_path, site_server)).returncode == 0
    database = store.open_database_for_reading(database_path)
    pages = list(store.iter_latest_raw_pages(database, kind="detail"))
    database.close()
    outcome: list[object] = []

    with ParsePool(load_config(MAIN_CONFIG), processes=2) as pool:
        titles = [detail["title"] for detail in pool.parse_details(pages)]
        victim = multiprocessing.active_children()[0]
        os.kill(victim.pid or 0, signal.SIGKILL)
        victim.join(timeout=10)

        def parse_again() -> None:
            try:
                outcome.append(list(pool.parse_details(pages)))
            except BrokenProcessPool as error:
                outcome.append(error)

        parsing = threading.Thread(target=parse_again, daemon=True)
        parsing.start()
        parsing.join(timeout=30)

    assert len(titles) == 27
    assert not parsing.is_alive()
    assert [type(result) for result in outcome] == [BrokenProcessPool]
