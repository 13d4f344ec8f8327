"""Config validation: every bad file gives one line naming the file and the key,
exit status 2, and no request at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MAIN_CONFIG, run_cli

from pipeline.config import load_config

GOOD = MAIN_CONFIG.read_text(encoding="utf-8")


def test_bundled_config_loads_with_its_politeness_defaults() -> None:
    config = load_config(MAIN_CONFIG)

    assert config.politeness.min_delay_seconds == 1.0
    assert config.politeness.concurrency == 1
    assert config.politeness.obey_robots is True
    assert config.user_agent == "directory-pipeline/0.1.0 (+mailto:dataset-maintainer@example.org)"
    assert sorted(config.detail.fields) == [
        "edition_year", "organization", "project_lead", "region", "scale_up_label"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('entry = "article.project-card"', 'entry = "article[["',
         "listing.entry: invalid CSS selector 'article[['"),
        ("max_pages = 60", "max_pages = 60\nmax_page = 3", "listing.max_page: unknown key"),
        ('content = ".entry-content"\n', "", "detail.content: required key is missing"),
        ('"https://parispeaceforum.org/projects/",', '"ftp://parispeaceforum.org/projects/",',
         "site.start_urls.0: not an absolute http(s) URL: 'ftp://parispeaceforum.org/projects/'"),
        ("concurrency = 1", 'concurrency = "many"',
         "politeness.concurrency: Input should be a valid integer (got 'many')"),
        ("concurrency = 1", 'concurrency = "1"',
         "politeness.concurrency: Input should be a valid integer (got '1')"),
        ("[detail.fields.organization]", "[detail.fields.title]",
         "detail: field name 'title' is a built-in column of projects; choose another name"),
        ('entry = "article.project-card"', 'entyr = "article.project-card"',
         "listing.entyr: unknown key"),
        ('contact = "mailto:dataset-maintainer@example.org"', 'contact = "a\\nb"',
         "fetch.contact: contact must be one line, a URL or an e-mail address: 'a\\nb'"),
        ('allowed_hosts = ["parispeaceforum.org", "www.parispeaceforum.org"]',
         'allowed_hosts = ["example.org"]',
         "site: start URL 'https://parispeaceforum.org/projects/' is not on an allowed host"),
        ('canonical_origin = "https://parispeaceforum.org"',
         'canonical_origin = "https://example.org"',
         "site: canonical_origin 'https://example.org' is not on an allowed host"),
        ('canonical_origin = "https://parispeaceforum.org"',
         'canonical_origin = "https://parispeaceforum.org/projects/"',
         "site: canonical_origin must be a scheme and host such as https://example.org, "
         "got 'https://parispeaceforum.org/projects/'"),
        ('pattern = "Project led by\\\\s*:\\\\s*(.+)"', 'pattern = "Project led by"',
         "detail.fields.project_lead.pattern: pattern 'Project led by' must have exactly "
         "one group"),
    ],
)
def test_bad_config_is_one_line_with_file_and_key(
    tmp_path: Path, site_server, old: str, new: str, message: str  # type: ignore[no-untyped-def]
) -> None:
    assert old in GOOD
    config = tmp_path / "site.toml"
    config.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    database = tmp_path / "db.sqlite"

    result = run_cli("crawl", "--config", str(config), "--db", str(database),
                     "--base-url", site_server.url)

    assert (result.returncode, result.stderr, result.stdout) == (2, f"error: {config}: {message}\n", "")
    assert site_server.requests.paths() == []
    assert not database.exists()


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("x = [", encoding="utf-8")

    result = run_cli("crawl", "--config", str(config), "--db", str(tmp_path / "db.sqlite"))

    assert (result.returncode, result.stderr) == (
        2, f"error: {config}: not valid TOML: Invalid value (at end of document)\n")


def test_config_that_is_not_utf8(tmp_path: Path) -> None:
    config = tmp_path / "latin1.toml"
    config.write_bytes("name = 'Forum de la paix é'".encode("latin-1"))

    result = run_cli("crawl", "--config", str(config), "--db", str(tmp_path / "db.sqlite"))

    assert (result.returncode, result.stderr) == (
        2, f"error: {config}: not valid TOML: the file is not UTF-8\n")


def test_missing_config_file(tmp_path: Path) -> None:
    result = run_cli("crawl", "--config", str(tmp_path / "none.toml"), "--db", "x.db")

    assert (result.returncode, result.stderr) == (
        2, f"error: {tmp_path / 'none.toml'}: config file not found\n")


def test_bad_base_url_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("crawl", "--config", str(MAIN_CONFIG), "--db", str(tmp_path / "db.sqlite"),
                     "--base-url", "localhost:8000")

    assert (result.returncode, result.stderr) == (
        2, "error: --base-url must be an absolute http(s) URL, got 'localhost:8000'\n")


def test_unknown_option_is_a_usage_error() -> None:
    result = run_cli("crawl", "--config", str(MAIN_CONFIG), "--db", "x.db", "--fast")

    assert (result.returncode, result.stderr) == (
        2, "error: pipeline crawl: No such option '--fast'. (see --help)\n")


@pytest.mark.parametrize("option, value, message", [
    ("--min-delay", "nan", "Invalid value for '--min-delay': must be a number, got nan"),
    ("--processes", "-1", "Invalid value for '--processes': -1 is not in the range 0<=x<=64."),
])
def test_bad_option_value_is_one_line_and_status_2(tmp_path: Path, option: str, value: str, message: str) -> None:
    result = run_cli("crawl", "--config", str(MAIN_CONFIG), "--db", str(tmp_path / "x.db"), option, value)

    assert (result.returncode, result.stderr) == (2, f"error: pipeline crawl: {message} (see --help)\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--db", ""], "error: --db must name a database file, got ''"),
        (["--base-url", "http://[::1"], "error: --base-url must be an absolute http(s) URL, got 'http://[::1'"),
        (["--base-url", "http://127.0.0.1:99999"],
         "error: --base-url must be an absolute http(s) URL, got 'http://127.0.0.1:99999'"),
        (["--base-url", "http://127.0.0.1:8000/sub"],
         "error: --base-url must be an origin such as http://127.0.0.1:8000, without a path, "
         "got 'http://127.0.0.1:8000/sub'"),
        (["--summary-json", "/nonexistent-folder/x.json"],
         "error: --summary-json: folder '/nonexistent-folder' does not exist"),
    ],
)
def test_bad_crawl_flags_are_one_line_usage_errors(tmp_path: Path, extra: list[str], message: str) -> None:
    arguments = ["crawl", "--config", str(MAIN_CONFIG), "--db", str(tmp_path / "db.sqlite"), *extra]

    result = run_cli(*arguments)

    assert (result.returncode, result.stderr) == (2, message + "\n")
    assert list(tmp_path.iterdir()) == []


def test_lock_file_that_cannot_be_created_is_not_a_busy_database(tmp_path: Path) -> None:
    result = run_cli("crawl", "--config", str(MAIN_CONFIG), "--db", "/proc/x.db")

    assert (result.returncode, result.stderr) == (
        1, "error: cannot create the lock file /proc/x.db.lock: No such file or directory; "
           "the lock file and the database's folder must be writable\n")


def test_absurd_max_age_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("check", "--db", str(tmp_path / "db.sqlite"), "--max-age", "99999999999d")

    assert (result.returncode, result.stderr) == (
        2, "error: --max-age must look like 90m, 26h or 2d, got '99999999999d'\n")


@pytest.mark.parametrize("end", ["", "-wal", ".lock"])
def test_summary_json_never_overwrites_the_database(tmp_path: Path, end: str) -> None:
    database = tmp_path / "projects.db"
    database.write_bytes(b"kept as it is")

    result = run_cli("crawl", "--config", str(MAIN_CONFIG), "--db", str(database),
                     "--summary-json", f"{database}{end}")

    assert (result.returncode, result.stderr) == (
        2, f"error: --summary-json '{database}{end}' would overwrite the database or the "
           "config; name another file\n")
    assert database.read_bytes() == b"kept as it is"


def test_summary_json_never_overwrites_the_database_through_a_hard_link(tmp_path: Path) -> None:
    database = tmp_path / "projects.db"
    database.write_bytes(b"kept as it is")
    other_name = tmp_path / "summary.json"
    other_name.hardlink_to(database)

    result = run_cli("crawl", "--config", str(MAIN_CONFIG), "--db", str(database),
                     "--summary-json", str(other_name))

    assert (result.returncode, database.read_bytes()) == (2, b"kept as it is")
