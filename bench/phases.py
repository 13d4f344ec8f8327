"""The phases of one bench run: write the site, serve it, run the crawler, the
baseline and a rebuild as measured child processes, and collect their figures.

Judging the figures against targets is left to report; arguments and printing
to run.
"""

from __future__ import annotations

import compileall
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import nginx
import profile_crawl
import report
import sitegen
from measure import Measurement, run_measured

BENCH_DIR = Path(__file__).resolve().parent
REPOSITORY = BENCH_DIR.parent
CONFIG_PATH = BENCH_DIR / "bench.toml"
START_URL = "https://bench.example/projects/"
START_URLS = 1
# Counts of the crawl summary worth keeping in the results file.
_SUMMARY_COUNTS = (
    "requests", "not_modified", "skipped", "new", "changed", "unchanged", "removed",
    "failed", "listing_pages", "detail_pages", "records",
)  # fmt: skip

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchOptions:
    """What one bench run measures, and where it keeps its files.

    The cold crawl and the baseline run repeat times each, and the run with
    the median wall time stands. A memory_projects of 0 skips the memory check.
    """

    projects: int
    memory_projects: int
    repeat: int
    seed: int
    concurrency: int | None
    is_quick: bool
    should_profile: bool
    should_keep_files: bool
    results_dir: Path


@dataclass(frozen=True)
class Phase:
    """One measured command and the requests nginx logged while it ran."""

    measurement: Measurement
    requests: nginx.RequestCounts
    summary: dict[str, Any]


class Bench:
    """The files and servers of one run; each phase method measures one command."""

    def __init__(
        self,
        options: BenchOptions,
        work_dir: Path,
        nginx_binary: Path,
        progress: Progress,
    ) -> None:
        self.options = options
        self.work_dir = work_dir
        self.nginx_binary = nginx_binary
        self.progress = progress
        self.pipeline = _pipeline_command()

    def generate(self, name: str, projects: int) -> tuple[Path, dict[str, Any]]:
        """Write a site of this many projects; returns its folder and its figures."""
        self.progress(f"writing a site of {projects:,} projects")
        root = self.work_dir / name
        started = time.perf_counter()
        stats = sitegen.write_site(root, projects=projects, seed=self.options.seed)
        seconds = round(time.perf_counter() - started, 2)
        return root, {**asdict(stats), "generate_seconds": seconds}

    def crawl(
        self, server: nginx.Server, database: Path, name: str, *flags: str
    ) -> Phase:
        """`pipeline crawl` against the server, with extra flags such as --full."""
        self.progress(f"{name}: pipeline crawl {' '.join(flags)}".rstrip())
        summary_path = self.work_dir / f"{name}.summary.json"
        arguments = self._crawl_arguments(server, database)
        arguments += [*flags, "--summary-json", str(summary_path)]
        return self._measure(name, [*self.pipeline, *arguments], server, summary_path)

    def baseline(self, server: nginx.Server, name: str) -> Phase:
        """bench/baseline.py against the server, into a database of its own."""
        self.progress(f"{name}: bench/baseline.py")
        summary_path = self.work_dir / f"{name}.summary.json"
        command = [sys.executable, str(BENCH_DIR / "baseline.py")]
        command += ["--start-url", START_URL, "--base-url", server.base_url]
        command += ["--db", str(self.work_dir / f"{name}.db")]
        command += ["--summary-json", str(summary_path)]
        return self._measure(name, command, server, summary_path)

    def rebuild(self, database: Path) -> Measurement:
        """`pipeline rebuild`: every record re-derived from the raw page store."""
        self.progress("rebuild: pipeline rebuild")
        command = [*self.pipeline, "rebuild", "--config", str(CONFIG_PATH)]
        command += ["--db", str(database), "--quiet"]
        return run_measured(command, log_path=self.work_dir / "rebuild.log")

    def profile(self, server: nginx.Server) -> list[Path]:
        """A further cold crawl under cProfile; returns the statistics files."""
        self.progress("profile: a further cold crawl under cProfile")
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        prefix = self.options.results_dir / f"profile-{stamp}"
        prefix.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, str(BENCH_DIR / "profile_crawl.py"), "run"]
        database = self.work_dir / "profile.db"
        command += [str(prefix), *self._crawl_arguments(server, database)]
        run_measured(command, log_path=self.work_dir / "profile.log")
        candidates = [
            profile_crawl.main_stats_path(prefix),
            profile_crawl.process_stats_path(prefix),
            profile_crawl.worker_stats_path(prefix),
        ]
        return [path for path in candidates if path.exists()]

    def _crawl_arguments(self, server: nginx.Server, database: Path) -> list[str]:
        arguments = ["crawl", "--config", str(CONFIG_PATH), "--db", str(database)]
        arguments += ["--base-url", server.base_url, "--min-delay", "0", "--quiet"]
        if self.options.concurrency is not None:
            arguments += ["--concurrency", str(self.options.concurrency)]
        return arguments

    def _measure(
        self, name: str, command: list[str], server: nginx.Server, summary_path: Path
    ) -> Phase:
        mark = nginx.access_log_bytes(server)
        measurement = run_measured(command, log_path=self.work_dir / f"{name}.log")
        requests = nginx.count_requests(server, since_bytes=mark)
        return Phase(measurement, requests, _read_json(summary_path))


def run_bench(options: BenchOptions, *, progress: Progress) -> dict[str, Any]:
    """Every phase of one run, in order; returns the results to print and save.

    progress is called with one line as each phase starts. Raises NginxError
    when nginx cannot be had or started, CommandFailed when a phase fails.
    """
    started_at = time.time()
    # An installed package starts from bytecode; where PYTHONDONTWRITEBYTECODE
    # is set, every crawl would compile the pipeline's sources again.
    compileall.compile_dir(BENCH_DIR.parent / "pipeline", quiet=1)
    nginx_binary = nginx.find_nginx(may_install=True)
    with _work_dir(keep=options.should_keep_files, progress=progress) as work_dir:
        bench = Bench(options, work_dir, nginx_binary, progress)
        phases, site = _main_site_phases(bench)
        if options.memory_projects:
            phases["memory_crawl"] = _memory_phase(bench)
    metrics = report.build_metrics(
        phases, start_urls=START_URLS, judges_speed=not options.is_quick
    )
    return {
        "schema": report.RESULTS_SCHEMA,
        "started_at_epoch": started_at,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_at)),
        "environment": _environment(nginx_binary),
        "options": {**asdict(options), "results_dir": str(options.results_dir)},
        "site": site,
        "phases": phases,
        "metrics": report.metrics_as_json(metrics),
    }


def _main_site_phases(bench: Bench) -> tuple[dict[str, Any], dict[str, Any]]:
    """Cold, no-change and full crawls, the baseline and a rebuild, on one site."""
    site_root, site = bench.generate("site", bench.options.projects)
    nginx_dir = bench.work_dir / "nginx"
    with nginx.serve_site(bench.nginx_binary, site_root, nginx_dir) as server:
        colds, baselines = _cold_and_baseline_runs(bench, server)
        # The later phases go on from the first cold crawl's database.
        database = bench.work_dir / "cold_crawl_1.db"
        rows_written = _count_rows(database)
        no_change = bench.crawl(server, database, "no_change_crawl")
        full_sweep = bench.crawl(server, database, "full_sweep", "--full")
        profile_files = bench.profile(server) if bench.options.should_profile else []
    rebuild = bench.rebuild(database)
    phases = {
        "cold_crawl": {
            "projects": bench.options.projects,
            **_median_figures(colds),
            "rows_written": rows_written,
        },
        "no_change_crawl": _crawl_figures(no_change),
        "full_sweep": _crawl_figures(full_sweep),
        "baseline": _median_figures(baselines),
        "rebuild": _rebuild_figures(rebuild, database),
    }
    site["profile_files"] = [str(path) for path in profile_files]
    return phases, site


def _cold_and_baseline_runs(
    bench: Bench, server: nginx.Server
) -> tuple[list[Phase], list[Phase]]:
    """Cold crawls and baseline runs, taken in turns so that drift hits both."""
    colds, baselines = [], []
    for number in range(1, bench.options.repeat + 1):
        name = f"cold_crawl_{number}"
        colds.append(bench.crawl(server, bench.work_dir / f"{name}.db", name))
        baselines.append(bench.baseline(server, f"baseline_{number}"))
    return colds, baselines


def _median_figures(runs: list[Phase]) -> dict[str, Any]:
    """The figures of the run with the median wall time, and every run's time."""
    ordered = sorted(runs, key=lambda run: run.measurement.wall_seconds)
    figures = _crawl_figures(ordered[len(ordered) // 2])
    figures["runs_wall_seconds"] = [
        round(run.measurement.wall_seconds, 3) for run in runs
    ]
    return figures


def _memory_phase(bench: Bench) -> dict[str, Any]:
    """A cold crawl of the larger site, for its peak memory."""
    projects = bench.options.memory_projects
    site_root, _ = bench.generate("site-memory", projects)
    database = bench.work_dir / "memory.db"
    nginx_dir = bench.work_dir / "nginx-memory"
    try:
        with nginx.serve_site(bench.nginx_binary, site_root, nginx_dir) as server:
            cold = bench.crawl(server, database, "memory_crawl")
        figures = {"projects": projects, **_crawl_figures(cold)}
        figures["rows_written"] = _count_rows(database)
    finally:
        # The large site and its database are the bulk of the disk a run uses.
        shutil.rmtree(site_root, ignore_errors=True)
        for path in database.parent.glob(database.name + "*"):
            path.unlink()
    return figures


def _crawl_figures(phase: Phase) -> dict[str, Any]:
    """What a crawl phase measured: time, CPU, memory, and requests by status."""
    measured = phase.measurement
    requests = phase.requests
    bodies = requests.statuses.get(200, 0)
    counts = phase.summary.get("counts", phase.summary)
    return {
        "wall_seconds": round(measured.wall_seconds, 3),
        "user_seconds": round(measured.user_seconds, 3),
        "system_seconds": round(measured.system_seconds, 3),
        "peak_rss_bytes": measured.peak_rss_bytes,
        "requests": requests.requests,
        "page_requests": requests.page_requests,
        "page_bodies": bodies - min(bodies, requests.robots_requests),
        "not_modified": requests.statuses.get(304, 0),
        "statuses": {str(status): n for status, n in sorted(requests.statuses.items())},
        "body_bytes": requests.body_bytes,
        "pages_per_second": round(requests.requests / measured.wall_seconds, 1),
        "cpu_ms_per_page": round(
            measured.cpu_seconds * 1000 / max(requests.requests, 1), 2
        ),
        "summary_counts": {
            name: counts[name] for name in _SUMMARY_COUNTS if name in counts
        },
    }


def _rebuild_figures(measured: Measurement, database: Path) -> dict[str, Any]:
    """A rebuild's pages are the newest stored body of each listing and detail URL."""
    pages = _count_stored_pages(database)
    return {
        "wall_seconds": round(measured.wall_seconds, 3),
        "cpu_seconds": round(measured.cpu_seconds, 3),
        "peak_rss_bytes": measured.peak_rss_bytes,
        "pages": pages,
        "records": _count_rows(database),
        "pages_per_second": round(pages / measured.wall_seconds, 1),
    }


def _count_rows(database: Path) -> int:
    """Records in the crawler's projects table."""
    with _read_only(database) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM projects").fetchone()[0])


def _count_stored_pages(database: Path) -> int:
    with _read_only(database) as connection:
        row = connection.execute(
            "SELECT COUNT(DISTINCT url) FROM raw_pages"
            " WHERE kind IN ('listing', 'detail')"
        ).fetchone()
    return int(row[0])


@contextmanager
def _read_only(database: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        yield connection
    finally:
        connection.close()


@contextmanager
def _work_dir(*, keep: bool, progress: Progress) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    # nginx workers drop root for an unprivileged user, who must read the site.
    path.chmod(0o755)
    try:
        yield path
    finally:
        if keep:
            progress(f"kept the generated sites, databases and logs in {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def _pipeline_command() -> list[str]:
    script = Path(sys.executable).with_name("pipeline")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "pipeline"]


def _read_json(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


def _environment(nginx_binary: Path) -> dict[str, Any]:
    git = ["git", "-C", str(REPOSITORY)]
    nginx_version = _command_output([str(nginx_binary), "-v"])
    local_changes = _command_output([*git, "status", "--porcelain", "--", "pipeline"])
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nginx": nginx_version.removeprefix("nginx version: "),
        "git_commit": _command_output([*git, "rev-parse", "HEAD"]),
        # Uncommitted changes to the crawler make a run hard to compare with others.
        "pipeline_has_local_changes": local_changes not in ("", "unknown"),
    }


def _command_output(command: list[str]) -> str:
    """What a short command printed, or "unknown" when it could not run."""
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    if completed.returncode != 0:
        return "unknown"
    return (completed.stdout or completed.stderr).strip()
