"""`make bench`: write a synthetic site, serve it with nginx, and measure the
crawler against it: cold crawl, no-change crawl, full sweep, rebuild, a fixed
baseline scraper, and peak memory at two site sizes.

Prints a table with a pass/fail column for each target and saves the run as
JSON under bench/results/. Nothing here is a unit test; `make test` never runs
it.

    python bench/run.py [--projects 2000] [--memory-projects 20000] [--repeat 3]
        [--quick] [--profile] [--keep] [--strict]
    python bench/run.py --compare OLD.json NEW.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import nginx
import profile_crawl
import report
from measure import CommandFailed
from phases import BENCH_DIR, BenchOptions, run_bench

DEFAULT_PROJECTS = 2000
DEFAULT_MEMORY_PROJECTS = 20000
QUICK_PROJECTS = 120
QUICK_MEMORY_PROJECTS = 360
# Cold crawls and baseline runs per bench run; the median stands.
DEFAULT_REPEAT = 3
QUICK_REPEAT = 1
PROFILE_TOP_FUNCTIONS = 15
EXIT_OK = 0
EXIT_BENCH_FAILED = 1
EXIT_USAGE = 2
# Only with --strict: a missed target is otherwise reported, not an error.
EXIT_TARGET_MISSED = 3


def main(arguments: list[str]) -> int:
    parsed = _build_parser().parse_args(arguments)
    if parsed.compare:
        print(report.render_comparison(*parsed.compare))
        return EXIT_OK
    options = _options_from(parsed)
    if min(options.projects, options.repeat) < 1 or options.memory_projects < 0:
        print(
            "error: --projects and --repeat must be 1 or more, "
            "--memory-projects 0 or more",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        results = run_bench(options, progress=_say)
    except (nginx.NginxError, CommandFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BENCH_FAILED
    return _print_results(results, options, is_strict=parsed.strict)


def _print_results(
    results: dict[str, Any], options: BenchOptions, *, is_strict: bool
) -> int:
    metrics = [report.Metric(**metric) for metric in results["metrics"]]
    print(report.render_table(metrics))
    print(f"\nresults saved to {report.save_results(results, options.results_dir)}")
    for stats_path in results["site"]["profile_files"]:
        top = profile_crawl.render_top(Path(stats_path), limit=PROFILE_TOP_FUNCTIONS)
        print(f"\n== {stats_path}\n{top}")
    has_missed = any(metric.passed is False for metric in metrics)
    return EXIT_TARGET_MISSED if is_strict and has_missed else EXIT_OK


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--projects",
        type=int,
        help=f"Site size (default {DEFAULT_PROJECTS}; {QUICK_PROJECTS} with --quick).",
    )
    parser.add_argument(
        "--memory-projects",
        type=int,
        help=f"Site size of the memory check (default {DEFAULT_MEMORY_PROJECTS}; "
        f"{QUICK_MEMORY_PROJECTS} with --quick; 0 skips it).",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        help=f"Cold crawls and baseline runs, median kept (default {DEFAULT_REPEAT}; "
        f"{QUICK_REPEAT} with --quick).",
    )
    parser.add_argument(
        "--quick", action="store_true", help="Small sites, one run each: a smoke run."
    )
    parser.add_argument("--seed", type=int, default=1, help="Seed of the site.")
    parser.add_argument(
        "--concurrency", type=int, help="Override politeness.concurrency of bench.toml."
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="Also profile a cold crawl, save the statistics and print the top.",
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep the sites, databases and logs."
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help=f"Exit with status {EXIT_TARGET_MISSED} when a target is missed.",
    )
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("OLD", "NEW"),
        help="Print two saved runs side by side, and run nothing.",
    )
    return parser


def _options_from(parsed: argparse.Namespace) -> BenchOptions:
    """Flags over the defaults; --quick only changes the defaults."""
    projects = QUICK_PROJECTS if parsed.quick else DEFAULT_PROJECTS
    memory_projects = QUICK_MEMORY_PROJECTS if parsed.quick else DEFAULT_MEMORY_PROJECTS
    if parsed.projects is not None:
        projects = parsed.projects
    if parsed.memory_projects is not None:
        memory_projects = parsed.memory_projects
    repeat = QUICK_REPEAT if parsed.quick else DEFAULT_REPEAT
    if parsed.repeat is not None:
        repeat = parsed.repeat
    return BenchOptions(
        projects=projects,
        memory_projects=memory_projects,
        repeat=repeat,
        seed=parsed.seed,
        concurrency=parsed.concurrency,
        is_quick=parsed.quick,
        should_profile=parsed.profile,
        should_keep_files=parsed.keep,
        results_dir=parsed.results_dir,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
