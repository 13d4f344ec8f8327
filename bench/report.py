"""Turn a bench run's figures into metric rows with targets, print them as a
table, save them as JSON, and compare two saved runs.

Running the phases is left to phases; this module only judges and formats.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

RESULTS_SCHEMA = 1

# The targets of the brief; each is judged by one metric below.
MIN_BASELINE_RATIO = 8.0
MAX_NO_CHANGE_REQUESTS_PER_START_URL = 2
MAX_FULL_SWEEP_BODIES = 0
MAX_RSS_RATIO = 1.3
MIN_REBUILD_PAGES_PER_SECOND = 1000.0


@dataclass(frozen=True)
class Metric:
    """One row of the table: a measured value and, for a target, its verdict."""

    key: str
    phase: str
    label: str
    value: float | int | None
    unit: str = ""
    target: str = ""
    passed: bool | None = None


@dataclass
class _Rows:
    """The metrics of one phase, keyed under one prefix."""

    key_prefix: str
    phase: str
    metrics: list[Metric] = field(default_factory=list)

    def add(
        self,
        name: str,
        label: str,
        value: float | int | None,
        unit: str = "",
        *,
        target: str = "",
        passed: bool | None = None,
    ) -> None:
        key = f"{self.key_prefix}.{name}"
        self.metrics.append(Metric(key, self.phase, label, value, unit, target, passed))


# Shown instead of a verdict where a smoke run's small site says nothing.
_NOT_JUDGED = "(full run only)"


def build_metrics(
    phases: dict[str, Any], *, start_urls: int, judges_speed: bool = True
) -> list[Metric]:
    """Every metric of a run, in table order, from the phases' figures.

    Without judges_speed (a --quick run, whose start-up outweighs its few
    pages), the throughput targets are shown but not judged.
    """
    metrics = _cold_metrics(phases["cold_crawl"])
    metrics += _baseline_metrics(
        phases["baseline"], phases["cold_crawl"], judges_speed=judges_speed
    )
    metrics += _no_change_metrics(phases["no_change_crawl"], start_urls)
    metrics += _full_sweep_metrics(phases["full_sweep"])
    metrics += _rebuild_metrics(phases["rebuild"], judges_speed=judges_speed)
    if "memory_crawl" in phases:
        metrics += _memory_metrics(phases["memory_crawl"], phases["cold_crawl"])
    return metrics


def _cold_metrics(cold: dict[str, Any]) -> list[Metric]:
    rows = _Rows("cold_crawl", f"cold crawl ({cold['projects']:,}{_runs(cold)})")
    rows.add("pages_per_second", "pages/s", cold["pages_per_second"])
    rows.add("cpu_ms_per_page", "CPU per page", cold["cpu_ms_per_page"], "ms")
    rows.add("peak_rss_mb", "peak RSS", _megabytes(cold["peak_rss_bytes"]), "MB")
    rows.add("wall_seconds", "wall time", cold["wall_seconds"], "s")
    rows.add(
        "rows_written",
        "records written",
        cold["rows_written"],
        target=f"= {cold['projects']:,}",
        passed=cold["rows_written"] == cold["projects"],
    )
    return rows.metrics


def _baseline_metrics(
    baseline: dict[str, Any], cold: dict[str, Any], *, judges_speed: bool
) -> list[Metric]:
    rows = _Rows("baseline", f"baseline (bs4, 1 at a time{_runs(baseline)})")
    rows.add("pages_per_second", "pages/s", baseline["pages_per_second"])
    rows.add("cpu_ms_per_page", "CPU per page", baseline["cpu_ms_per_page"], "ms")
    ratio = cold["pages_per_second"] / baseline["pages_per_second"]
    ratio_rows = _Rows("cold_crawl", "cold crawl / baseline")
    ratio_rows.add(
        "baseline_ratio",
        "pages/s ratio",
        ratio,
        "x",
        target=f">= {MIN_BASELINE_RATIO:g}x" if judges_speed else _NOT_JUDGED,
        passed=ratio >= MIN_BASELINE_RATIO if judges_speed else None,
    )
    return rows.metrics + ratio_rows.metrics


def _no_change_metrics(run: dict[str, Any], start_urls: int) -> list[Metric]:
    allowed = MAX_NO_CHANGE_REQUESTS_PER_START_URL * start_urls
    rows = _Rows("no_change", "no-change crawl")
    rows.add(
        "page_requests",
        "requests (robots.txt aside)",
        run["page_requests"],
        target=f"<= {allowed}",
        passed=run["page_requests"] <= allowed,
    )
    rows.add("bodies", "bodies downloaded (200)", run["page_bodies"])
    rows.add("not_modified", "not modified (304)", run["not_modified"])
    rows.add("wall_seconds", "wall time", run["wall_seconds"], "s")
    return rows.metrics


def _full_sweep_metrics(run: dict[str, Any]) -> list[Metric]:
    rows = _Rows("full_sweep", "full sweep (--full)")
    rows.add("page_requests", "requests (robots.txt aside)", run["page_requests"])
    rows.add(
        "bodies",
        "bodies downloaded (200)",
        run["page_bodies"],
        target=f"= {MAX_FULL_SWEEP_BODIES} (all 304)",
        passed=run["page_bodies"] <= MAX_FULL_SWEEP_BODIES,
    )
    rows.add("not_modified", "not modified (304)", run["not_modified"])
    rows.add("wall_seconds", "wall time", run["wall_seconds"], "s")
    rows.add("pages_per_second", "requests/s", run["pages_per_second"])
    return rows.metrics


def _rebuild_metrics(rebuild: dict[str, Any], *, judges_speed: bool) -> list[Metric]:
    rate = rebuild["pages_per_second"]
    rows = _Rows("rebuild", "rebuild (raw store)")
    rows.add(
        "pages_per_second",
        "pages/s",
        rate,
        target=f">= {MIN_REBUILD_PAGES_PER_SECOND:,.0f}"
        if judges_speed
        else _NOT_JUDGED,
        passed=rate >= MIN_REBUILD_PAGES_PER_SECOND if judges_speed else None,
    )
    rows.add("wall_seconds", "wall time", rebuild["wall_seconds"], "s")
    return rows.metrics


def _memory_metrics(memory: dict[str, Any], cold: dict[str, Any]) -> list[Metric]:
    rows = _Rows("memory_crawl", f"cold crawl ({memory['projects']:,})")
    rows.add("peak_rss_mb", "peak RSS", _megabytes(memory["peak_rss_bytes"]), "MB")
    rows.add("pages_per_second", "pages/s", memory["pages_per_second"])
    ratio = memory["peak_rss_bytes"] / cold["peak_rss_bytes"]
    ratio_rows = _Rows("memory_crawl", "memory check")
    ratio_rows.add(
        "rss_ratio",
        f"RSS({memory['projects']:,}) / RSS({cold['projects']:,})",
        ratio,
        "x",
        target=f"<= {MAX_RSS_RATIO:g}",
        passed=ratio <= MAX_RSS_RATIO,
    )
    return rows.metrics + ratio_rows.metrics


def _runs(figures: dict[str, Any]) -> str:
    """ ", median of 3" when a phase ran more than once, else nothing."""
    runs = len(figures.get("runs_wall_seconds", ()))
    return f", median of {runs}" if runs > 1 else ""


def _megabytes(size_bytes: int) -> float:
    return size_bytes / 1_000_000


def metrics_as_json(metrics: list[Metric]) -> list[dict[str, Any]]:
    """Metrics as plain dicts, for the results file."""
    return [asdict(metric) for metric in metrics]


def render_table(metrics: list[Metric]) -> str:
    """The metrics as a plain-text table, one row each, with a pass/fail column."""
    header = ("phase", "metric", "value", "target", "result")
    rows = [header]
    for metric in metrics:
        value = _format_value(metric.value, metric.unit)
        verdict = {True: "pass", False: "FAIL", None: ""}[metric.passed]
        rows.append((metric.phase, metric.label, value, metric.target, verdict))
    return _render_rows(rows, right_aligned={2})


def _render_rows(rows: Sequence[tuple[str, ...]], *, right_aligned: set[int]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if column in right_aligned else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _format_value(value: float | int | None, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        text = f"{value:,}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    else:
        text = f"{value:.2f}"
    return f"{text}x" if unit == "x" else f"{text} {unit}".rstrip()


def save_results(results: dict[str, Any], results_dir: Path) -> Path:
    """Write the run as JSON under results_dir, named by its start time.

    Returns the file's path.
    """
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(results["started_at_epoch"]))
    path = results_dir / f"bench-{stamp}.json"
    text = json.dumps(results, indent=2, sort_keys=True) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def render_comparison(old_path: Path, new_path: Path) -> str:
    """Two saved runs side by side, metric by metric, with the relative change."""
    old = {metric["key"]: metric for metric in _load_metrics(old_path)}
    rows = [("metric", old_path.name, new_path.name, "change")]
    for metric in _load_metrics(new_path):
        before = old.get(metric["key"], {}).get("value")
        after = metric["value"]
        rows.append(
            (
                f"{metric['phase']}: {metric['label']}",
                _format_value(before, metric["unit"]),
                _format_value(after, metric["unit"]),
                _change(before, after),
            )
        )
    return _render_rows(rows, right_aligned={1, 2, 3})


def _load_metrics(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        results: dict[str, Any] = json.load(handle)
    return list(results["metrics"])


def _change(before: float | None, after: float | None) -> str:
    if before is None or after is None or before == 0:
        return ""
    return f"{(after - before) / before:+.1%}"
