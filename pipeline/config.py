"""Load and validate a site config (TOML) before anything is fetched.

Site knowledge (start URLs, selectors, allowed hosts, politeness) lives in the
site's file; every default lives here, grouped by the stage that uses it.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from pipeline.errors import ConfigError

_SELECTOR_PROBE = LexborHTMLParser("<html><body></body></html>")


def _check_selector(value: str) -> str:
    try:
        _SELECTOR_PROBE.css(value)
    except SelectolaxError:
        raise ValueError(f"invalid CSS selector {value!r}") from None
    return value


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {value!r}")
    return value


def _check_pattern(value: str) -> str:
    try:
        compiled = re.compile(value)
    except re.error as error:
        raise ValueError(f"invalid regular expression {value!r}: {error}") from None
    if compiled.groups != 1:
        raise ValueError(f"pattern {value!r} must have exactly one group")
    return value


Selector = Annotated[str, AfterValidator(_check_selector)]
Url = Annotated[str, AfterValidator(_check_url)]
Pattern = Annotated[str, AfterValidator(_check_pattern)]


def _check_host(value: str) -> str:
    host = value.lower()
    if not re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", host):
        raise ValueError(f"not a host name such as example.org: {value!r}")
    return host


Host = Annotated[str, AfterValidator(_check_host)]


class _Section(BaseModel):
    # TOML has real types: a string where a number belongs is a mistake to report.
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, allow_inf_nan=False
    )


class SiteSection(_Section):
    name: str
    start_urls: list[Url] = Field(min_length=1)
    allowed_hosts: list[Host] = Field(min_length=1)
    # Query parameter whose value names the theme of a theme listing.
    theme_parameter: str = Field(default="themes", min_length=1)
    # Stripped from <title> when a detail page has neither h1 nor og:title.
    title_suffixes: list[str] = []
    # The scheme and host that links to any allowed host are written with, for
    # a site that answers on several (www. and bare, http and https): one page,
    # one record. None keeps every link as the page gives it.
    canonical_origin: Url | None = None

    @model_validator(mode="after")
    def _start_urls_on_allowed_hosts(self) -> SiteSection:
        for url in self.start_urls:
            host = urlsplit(url).hostname or ""
            if host not in self.allowed_hosts:
                raise ValueError(f"start URL {url!r} is not on an allowed host")
        return self

    @model_validator(mode="after")
    def _canonical_origin_is_an_allowed_origin(self) -> SiteSection:
        if self.canonical_origin is None:
            return self
        parts = urlsplit(self.canonical_origin)
        if (parts.hostname or "") not in self.allowed_hosts:
            raise ValueError(
                f"canonical_origin {self.canonical_origin!r} is not on an allowed host"
            )
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(
                f"canonical_origin must be a scheme and host such as "
                f"https://example.org, got {self.canonical_origin!r}"
            )
        return self

    def canonical_url(self, url: str) -> str:
        """The URL on canonical_origin when it is on an allowed host, else as it is."""
        if self.canonical_origin is None:
            return url
        parts = urlsplit(url)
        if (parts.hostname or "") not in self.allowed_hosts:
            return url
        origin = urlsplit(self.canonical_origin)
        return urlunsplit(
            (origin.scheme, origin.netloc.lower(), parts.path, parts.query, "")
        )


class ListingSection(_Section):
    entry: Selector
    title: Selector
    link: Selector
    summary: Selector
    next_page: Selector | None = None
    # Link text that ends an excerpt and is not part of the summary.
    link_texts: list[str] = ["Continued", "Read more", "Continue reading"]
    # Listing pages followed from one start URL, at most.
    max_pages: int = Field(default=100, ge=1)


class FieldSpec(_Section):
    selector: Selector | None = None
    pattern: Pattern | None = None

    @model_validator(mode="after")
    def _has_a_source(self) -> FieldSpec:
        if self.selector is None and self.pattern is None:
            raise ValueError("a field needs a selector, a pattern, or both")
        return self


class DetailSection(_Section):
    title: Selector = "h1"
    content: Selector
    # Removed from the main content before its text is taken.
    exclude: list[Selector] = ["script", "style", "nav"]
    themes: Selector | None = None
    fields: dict[str, FieldSpec] = {}

    @model_validator(mode="after")
    def _field_names_are_columns(self) -> DetailSection:
        from pipeline.store import RESERVED_COLUMNS

        for name in self.fields:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"field name {name!r} must be lower_snake_case")
            if name in RESERVED_COLUMNS:
                raise ValueError(
                    f"field name {name!r} is a built-in column of projects; "
                    "choose another name"
                )
        return self


def _check_contact(value: str) -> str:
    if not value.strip() or any(ord(character) < 32 for character in value):
        raise ValueError(
            f"contact must be one line, a URL or an e-mail address: {value!r}"
        )
    return value


class FetchSection(_Section):
    # A URL or e-mail address where the site's webmaster can reach us.
    contact: Annotated[str, AfterValidator(_check_contact)]
    timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    max_attempts: int = Field(default=4, ge=1, le=100)
    backoff_initial_seconds: float = Field(default=2.0, ge=0, le=3600)
    backoff_max_seconds: float = Field(default=60.0, ge=0, le=3600)
    # A Retry-After longer than this gives the URL up instead of stalling the run.
    retry_after_cap_seconds: float = Field(default=120.0, ge=0, le=86400)
    # Applies to the decompressed body, so a gzip bomb stops here too.
    max_response_bytes: int = Field(default=5_000_000, ge=1024, le=1_000_000_000)
    max_redirects: int = Field(default=5, ge=0, le=50)
    # The whole run stops fetching after this, so it cannot hold a cron slot.
    run_deadline_seconds: float = Field(default=3600.0, gt=0, le=7 * 86400)
    # After this many URLs in a row given up on transient faults, a host is
    # taken as down for the rest of the run instead of being retried URL by URL.
    host_down_after_failures: int = Field(default=3, ge=1)
    # Worker processes that fetch and parse detail pages, each one request at a
    # time; 0 keeps them in threads of the crawl's own process.
    processes: int = Field(default=0, ge=0, le=64)


class PolitenessSection(_Section):
    # About one request a second on one connection suits a small site.
    min_delay_seconds: float = Field(default=1.0, ge=0, le=3600)
    concurrency: int = Field(default=1, ge=1, le=64)
    obey_robots: bool = True


class IncrementalSection(_Section):
    # A detail page is revalidated once its stored copy is older than this.
    detail_max_age_days: float = Field(default=7.0, ge=0, le=3650)
    # Pagination stops after this many listing pages with nothing new or changed.
    stop_after_unchanged_pages: int = Field(default=2, ge=1)
    # A full sweep runs when the last complete one is older than this.
    full_sweep_every_hours: float = Field(default=24.0, ge=0, le=87600)
    # A project is marked removed after missing this many complete sweeps.
    removal_after_missed_sweeps: int = Field(default=2, ge=1)


class QualitySection(_Section):
    # A listing page bigger than this that yields no entry refuses the run.
    empty_listing_min_bytes: int = Field(default=2048, ge=0)
    # A sweep finding fewer than this share of the recent median is refused.
    min_sweep_ratio: float = Field(default=0.5, ge=0, le=1)
    required_fields: list[str] = ["title", "description"]
    # Share of parsed records allowed to miss a required field.
    max_empty_ratio: float = Field(default=0.2, ge=0, le=1)
    # Largest drop of a required field's fill rate, in percentage points.
    max_fill_drop_points: float = Field(default=20.0, ge=0, le=100)


class StorageSection(_Section):
    # Raw page versions kept per URL by `prune`.
    raw_versions_per_url: int = Field(default=3, ge=1)


class SiteConfig(_Section):
    site: SiteSection
    listing: ListingSection
    detail: DetailSection
    fetch: FetchSection
    politeness: PolitenessSection = PolitenessSection()
    incremental: IncrementalSection = IncrementalSection()
    quality: QualitySection = QualitySection()
    storage: StorageSection = StorageSection()

    @model_validator(mode="after")
    def _required_fields_exist(self) -> SiteConfig:
        from pipeline.store import CONTENT_FIELDS

        for name in self.quality.required_fields:
            if name not in CONTENT_FIELDS and name not in self.detail.fields:
                raise ValueError(
                    f"quality.required_fields names {name!r}, which is neither "
                    "a record field nor a detail.fields entry"
                )
        return self

    @cached_property
    def parser_version(self) -> str:
        """The code's parser version plus a digest of the selectors: stored with
        every record, so that a change of either re-parses stored pages."""
        from pipeline import PARSER_VERSION

        extraction = {
            "listing": self.listing.model_dump(),
            "detail": self.detail.model_dump(),
            "site": [
                self.site.name,
                self.site.theme_parameter,
                self.site.title_suffixes,
                self.site.canonical_origin,
            ],
        }
        text = json.dumps(extraction, sort_keys=True)
        return f"{PARSER_VERSION}+{hashlib.sha256(text.encode()).hexdigest()[:12]}"

    @property
    def user_agent(self) -> str:
        from pipeline import __version__

        return f"directory-pipeline/{__version__} (+{self.fetch.contact})"


def load_config(path: str | Path) -> SiteConfig:
    """Read and validate a site config.

    Raises ConfigError naming the file and the first offending key.
    """
    if not str(path).strip():
        raise ConfigError("--config must name a site config file, got ''")
    path = Path(path)
    raw = _read_toml(path)
    try:
        return SiteConfig.model_validate(raw)
    except ValidationError as error:
        key, message = _first_problem(error)
        raise ConfigError(message, path=str(path), key=key) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError("config file not found", path=str(path)) from None
    except OSError as error:
        raise ConfigError(f"cannot read: {error.strerror}", path=str(path)) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}", path=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError(
            "not valid TOML: the file is not UTF-8", path=str(path)
        ) from None


def _first_problem(error: ValidationError) -> tuple[str, str]:
    # An unknown key first: a typo in a required key also makes it "missing".
    problems = sorted(
        error.errors(), key=lambda found: found["type"] != "extra_forbidden"
    )
    problem = problems[0]
    key = ".".join(str(part) for part in problem["loc"])
    kind = problem["type"]
    if kind == "extra_forbidden":
        return key, "unknown key"
    if kind == "missing":
        return key, "required key is missing"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return key, f"must be a table ([{key}]), got {problem.get('input')!r}"
    message = problem["msg"].removeprefix("Value error, ")
    if kind not in ("value_error", "assertion_error"):
        message = f"{message} (got {problem.get('input')!r})"
    return key, message
