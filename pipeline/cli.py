"""The command line: parse arguments, call one library function, turn errors into
one line and an exit status (see the README's table).
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

from pipeline.config import load_config
from pipeline.errors import ConfigError, PipelineError
from pipeline.logs import setup_logging

logger = logging.getLogger(__name__)

Command = TypeVar("Command", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_UNEXPECTED = 1
# Files SQLite and the run lock keep beside a database.
_DATABASE_FILE_ENDS = ("-wal", "-shm", "-journal", ".lock")


def _logging_options(command: Command) -> Command:
    """--quiet, --verbose and --log-format, shared by every command."""
    command = click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Log lines on stderr as plain text or JSON lines.",
    )(command)
    command = click.option(
        "--verbose",
        "-v",
        is_flag=True,
        help="Log every page and retry; show tracebacks.",
    )(command)
    command = click.option(
        "--quiet", "-q", is_flag=True, help="Only errors on stderr; no summary line."
    )(command)
    return command


def _stop_on_sigterm(signal_number: int, frame: object) -> None:
    # cron and systemd stop a job with SIGTERM; unwinding lets the run record itself.
    raise KeyboardInterrupt


def _ignore_stop_signals() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _report_problem(line: str, *, log_format: str) -> None:
    """One line on stderr: plain, or a JSON log record when logs are JSON lines."""
    if log_format == "json":
        logger.error(line)
    else:
        click.echo(line, err=True)


def _run_reporting_errors(
    action: Callable[[], int], *, verbose: bool, log_format: str
) -> None:
    """Run a command body; our errors become one line and their exit status."""
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        status = action()
    except PipelineError as error:
        _report_problem(f"error: {error}", log_format=log_format)
        sys.exit(error.exit_status)
    except KeyboardInterrupt:
        _report_problem("error: interrupted", log_format=log_format)
        sys.stdout.flush()
        sys.stderr.flush()
        # Worker threads may sit in a network read; the run is recorded, so do
        # not wait for them.
        os._exit(130)
    except Exception as error:
        if verbose:
            logger.exception("Unexpected error")
        hint = "" if verbose else " (run again with --verbose for the traceback)"
        _report_problem(
            f"error: unexpected {type(error).__name__}: {error}{hint}",
            log_format=log_format,
        )
        sys.exit(EXIT_UNEXPECTED)
    finally:
        # The work is done or recorded: a late SIGTERM just ends the process.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.exit(status)


def _setup(
    quiet: bool, verbose: bool, log_format: str, *, default: int = logging.INFO
) -> None:
    level = logging.ERROR if quiet else logging.DEBUG if verbose else default
    setup_logging(level=level, json_lines=log_format == "json")


class _Commands(click.Group):
    """The command group, with click's own errors (a missing option, a value out
    of range) as one line too, exit status 2."""

    def main(  # type: ignore[override]
        self, args: list[str] | None = None, *posargs: Any, **kwargs: Any
    ) -> Any:
        if kwargs.get("standalone_mode", True) is False:
            return super().main(args, *posargs, **kwargs)
        kwargs["standalone_mode"] = False
        try:
            status = super().main(args, *posargs, **kwargs)
        except click.exceptions.NoArgsIsHelpError as error:
            click.echo(error.format_message(), err=True)
            sys.exit(error.exit_code)
        except click.UsageError as error:
            where = f"{error.ctx.command_path}: " if error.ctx else ""
            click.echo(f"error: {where}{error.format_message()} (see --help)", err=True)
            sys.exit(error.exit_code)
        except click.ClickException as error:
            click.echo(f"error: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except click.Abort:
            # Ctrl-C before a command's own handling began: nothing was started.
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        sys.exit(status if isinstance(status, int) else EXIT_OK)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="directory-pipeline")
def main() -> None:
    """Crawl a project directory into one SQLite file, and look after that file."""


_config_option = click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Site config (TOML), e.g. config/parispeaceforum.toml.",
)
_db_option = click.option(
    "--db",
    "database_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="SQLite database file; created if missing.",
)
_existing_db_option = click.option(
    "--db",
    "database_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="SQLite database file written by `pipeline crawl`.",
)
_base_url_option = click.option(
    "--base-url",
    help="Send requests for the site's hosts to this mirror "
    "(e.g. http://127.0.0.1:8000); stored URLs stay on the site's host.",
)


def _finite(
    context: click.Context, parameter: click.Parameter, value: float | None
) -> float | None:
    # FloatRange lets NaN through: every comparison with it is false.
    if value is not None and math.isnan(value):
        raise click.BadParameter("must be a number, got nan")
    return value


def _check_base_url(base_url: str | None) -> None:
    from urllib.parse import urlsplit

    if base_url is None:
        return
    try:
        parts = urlsplit(base_url)
        parts.port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"--base-url must be an absolute http(s) URL, got {base_url!r}"
        )
    if parts.path not in ("", "/") or parts.query:
        raise ConfigError(
            f"--base-url must be an origin such as http://127.0.0.1:8000, "
            f"without a path, got {base_url!r}"
        )


def _check_database_path(database_path: str) -> None:
    if not database_path.strip():
        raise ConfigError("--db must name a database file, got ''")


def _is_same_file(one: Path, other: Path) -> bool:
    """Whether two paths name one file (a hard link is another name of it)."""
    try:
        return one.samefile(other)
    except OSError:
        return False


def _check_output_path(
    path: str | None, *, database_path: str, config_path: str
) -> None:
    """Refuse a summary file that cannot be written, or that would overwrite the
    database or the config, before any work is done."""
    if path is None:
        return
    target = Path(path).resolve()
    database = Path(database_path).resolve()
    taken = {database, Path(config_path).resolve()}
    taken |= {database.with_name(database.name + end) for end in _DATABASE_FILE_ENDS}
    if target in taken or any(_is_same_file(target, file) for file in taken):
        raise ConfigError(
            f"--summary-json {path!r} would overwrite the database or the config; "
            "name another file"
        )
    if not target.parent.is_dir():
        raise ConfigError(
            f"--summary-json: folder {str(Path(path).parent)!r} does not exist"
        )
    is_writable = (
        os.access(target, os.W_OK)
        if target.exists()
        else os.access(target.parent, os.W_OK | os.X_OK)
    )
    if not is_writable:
        raise ConfigError(f"--summary-json: cannot write {path!r}: permission denied")


@main.command()
@_config_option
@_db_option
@_base_url_option
@click.option(
    "--max-pages",
    type=click.IntRange(min=1),
    help="Listing pages per start URL, at most (overrides listing.max_pages).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    help="Requests in flight, at most (overrides politeness.concurrency).",
)
@click.option(
    "--min-delay",
    type=click.FloatRange(min=0, max=3600),
    callback=_finite,
    help="Seconds between requests to one host (overrides "
    "politeness.min_delay_seconds).",
)
@click.option(
    "--processes",
    type=click.IntRange(0, 64),
    help="Worker processes fetching and parsing detail pages; 0 for threads "
    "(overrides fetch.processes).",
)
@click.option(
    "--full",
    is_flag=True,
    help="Run a full sweep: walk every listing page and revalidate every detail page.",
)
@click.option(
    "--summary-json",
    type=click.Path(dir_okay=False),
    help="Also write the run's summary to this file as JSON.",
)
@_logging_options
def crawl(
    config_path: str,
    database_path: str,
    base_url: str | None,
    max_pages: int | None,
    concurrency: int | None,
    min_delay: float | None,
    processes: int | None,
    full: bool,
    summary_json: str | None,
    quiet: bool,
    verbose: bool,
    log_format: str,
) -> None:
    """Crawl the site's listings and detail pages into the database."""
    from pipeline.crawl import CrawlOptions, run_crawl
    from pipeline.progress import progress_display

    def action() -> int:
        _check_base_url(base_url)
        _check_database_path(database_path)
        _check_output_path(
            summary_json, database_path=database_path, config_path=config_path
        )
        config = load_config(config_path)
        options = CrawlOptions(
            base_url=base_url,
            max_pages=max_pages,
            concurrency=concurrency,
            min_delay_seconds=min_delay,
            processes=processes,
            is_full=full,
        )
        with progress_display(enabled=not quiet and sys.stderr.isatty()) as progress:
            summary = run_crawl(
                config, database_path, options=options, progress=progress
            )
        # The run is recorded as it ended; a stop asked for now changes nothing,
        # and the summary and exit status must say what was recorded.
        _ignore_stop_signals()
        if summary_json:
            _write_json(summary_json, summary.as_dict())
        if summary.reason:
            _report_problem(
                f"{summary.status}: {summary.reason}", log_format=log_format
            )
        if not quiet:
            click.echo(summary.line())
        return summary.exit_status

    _setup(
        quiet,
        verbose,
        log_format,
        default=logging.WARNING if sys.stderr.isatty() else logging.INFO,
    )
    _run_reporting_errors(action, verbose=verbose, log_format=log_format)


def _write_json(path: str, data: dict[str, Any]) -> None:
    try:
        Path(path).write_text(
            json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    except OSError as error:
        raise PipelineError(
            f"{path}: cannot write the summary: {error.strerror}"
        ) from None


@main.command()
@_existing_db_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@_logging_options
def show(
    database_path: str, as_json: bool, quiet: bool, verbose: bool, log_format: str
) -> None:
    """Print what the database holds: projects, themes, recent runs and failures."""
    from pipeline.report import describe_database, render_description

    def action() -> int:
        description = describe_database(database_path)
        click.echo(
            json.dumps(description, indent=2, ensure_ascii=False)
            if as_json
            else render_description(description)
        )
        return EXIT_OK

    _setup(quiet, verbose, log_format, default=logging.WARNING)
    _run_reporting_errors(action, verbose=verbose, log_format=log_format)


@main.command()
@_config_option
@_existing_db_option
@click.option(
    "--dry-run", is_flag=True, help="Report the changes without writing them."
)
@_logging_options
def rebuild(
    config_path: str,
    database_path: str,
    dry_run: bool,
    quiet: bool,
    verbose: bool,
    log_format: str,
) -> None:
    """Re-derive every record from the stored raw pages, with no network."""
    from pipeline.rebuild import run_rebuild

    def action() -> int:
        config = load_config(config_path)
        report = run_rebuild(config, database_path, dry_run=dry_run)
        if not quiet:
            click.echo(report.render())
        if report.refusal:
            _report_problem(f"refused: {report.refusal}", log_format=log_format)
        return report.exit_status

    _setup(quiet, verbose, log_format, default=logging.WARNING)
    _run_reporting_errors(action, verbose=verbose, log_format=log_format)


@main.command()
@_config_option
@_base_url_option
@click.option(
    "--offline", is_flag=True, help="Read the pages from the raw store, not the site."
)
@click.option(
    "--db",
    "database_path",
    type=click.Path(dir_okay=False),
    help="Database whose raw store --offline reads.",
)
@_logging_options
def probe(
    config_path: str,
    base_url: str | None,
    offline: bool,
    database_path: str | None,
    quiet: bool,
    verbose: bool,
    log_format: str,
) -> None:
    """Show what every selector matches on the first and last listing page and a detail page."""
    from pipeline.probe import run_probe

    def action() -> int:
        _check_base_url(base_url)
        config = load_config(config_path)
        if offline and not database_path:
            raise ConfigError(
                "--offline needs --db, the database whose raw pages to read"
            )
        report = run_probe(
            config, base_url=base_url, database_path=database_path if offline else None
        )
        if report.pages:
            click.echo(report.render())
        for problem in report.problems:
            _report_problem(f"error: {problem}", log_format=log_format)
        return report.exit_status

    _setup(quiet, verbose, log_format, default=logging.WARNING)
    _run_reporting_errors(action, verbose=verbose, log_format=log_format)


@main.command()
@_existing_db_option
@click.option(
    "--max-age",
    default="26h",
    show_default=True,
    help="Oldest acceptable last published run, e.g. 90m, 26h, 2d.",
)
@_logging_options
def check(
    database_path: str, max_age: str, quiet: bool, verbose: bool, log_format: str
) -> None:
    """Exit 6 with one line if the data is stale or the last run failed, else 0."""
    from pipeline.report import check_freshness, parse_age

    def action() -> int:
        verdict = check_freshness(database_path, max_age=parse_age(max_age))
        if verdict.problem:
            _report_problem(verdict.line, log_format=log_format)
        elif not quiet:
            click.echo(verdict.line)
        return verdict.exit_status

    _setup(quiet, verbose, log_format, default=logging.WARNING)
    _run_reporting_errors(action, verbose=verbose, log_format=log_format)


@main.command()
@_config_option
@_existing_db_option
@_logging_options
def prune(
    config_path: str, database_path: str, quiet: bool, verbose: bool, log_format: str
) -> None:
    """Keep storage.raw_versions_per_url versions of each raw page, then vacuum."""
    from pipeline.report import run_prune

    def action() -> int:
        config = load_config(config_path)
        deleted = run_prune(
            database_path, keep_versions=config.storage.raw_versions_per_url
        )
        if not quiet:
            click.echo(
                f"pruned {deleted} old raw page versions; kept "
                f"{config.storage.raw_versions_per_url} per URL"
            )
        return EXIT_OK

    _setup(quiet, verbose, log_format, default=logging.WARNING)
    _run_reporting_errors(action, verbose=verbose, log_format=log_format)
