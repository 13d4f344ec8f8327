"""The fetcher against real faults served on 127.0.0.1 (tests/faultserver.py).

Time is a fake clock that moves only when the fetcher sleeps or a test advances
it, so retry and politeness waits are recorded, not waited.
"""

from __future__ import annotations

import time
import tracemalloc
from typing import Any, Iterator

import pytest

from faultserver import (
    BOMB_BYTES,
    ETAG,
    LAST_MODIFIED_HEADER,
    OVERSIZED_BYTES,
    FaultServer,
    gzip_bomb,
    serve_faults,
)
from pipeline import __version__
from pipeline.charset import DecodedBody
from pipeline.config import SiteConfig
from pipeline.errors import (
    DeadlineExceeded,
    DisallowedByRobots,
    PermanentFetchError,
    SiteUnreachable,
    TransientFetchError,
)
from pipeline.fetch import Fetcher, FetchOptions

SITE = "https://parispeaceforum.org"
CONTACT = "mailto:faults@example.org"
CAP_BYTES = 1_048_576
START_SECONDS = 1000.0


class FakeClock:
    """Monotonic time that moves only when slept on or advanced; records each sleep."""

    def __init__(self) -> None:
        self.now_seconds = START_SECONDS
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now_seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now_seconds += seconds

    def advance(self, seconds: float) -> None:
        self.now_seconds += seconds


@pytest.fixture(scope="session")
def running_server() -> Iterator[FaultServer]:
    with serve_faults() as server:
        yield server


@pytest.fixture
def server(running_server: FaultServer) -> FaultServer:
    running_server.reset()
    return running_server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def site_config(**sections: dict[str, Any]) -> SiteConfig:
    """A valid config for the fault site; each keyword updates one section."""
    raw: dict[str, dict[str, Any]] = {
        "site": {
            "name": "Fault site",
            "start_urls": [f"{SITE}/projects/"],
            "allowed_hosts": ["parispeaceforum.org", "www.parispeaceforum.org"],
        },
        "listing": {
            "entry": "article.project-card",
            "title": ".entry-title",
            "link": "a.more-link",
            "summary": ".entry-summary",
        },
        "detail": {"content": ".entry-content"},
        "fetch": {
            "contact": CONTACT,
            "timeout_seconds": 5,
            "max_attempts": 3,
            "backoff_initial_seconds": 1,
            "backoff_max_seconds": 60,
            "retry_after_cap_seconds": 60,
            "max_response_bytes": CAP_BYTES,
        },
        # Robots are off unless a test is about them, so request logs show one thing.
        "politeness": {"min_delay_seconds": 0, "obey_robots": False},
    }
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return SiteConfig.model_validate(raw)


def open_fetcher(
    server: FaultServer,
    clock: FakeClock,
    *,
    options: FetchOptions | None = None,
    **sections: dict[str, Any],
) -> Fetcher:
    return Fetcher(
        site_config(**sections),
        options=options or FetchOptions(base_url=server.url),
        clock=clock.monotonic,
        sleep=clock.sleep,
    )


# Retries


def test_two_server_errors_then_success_take_three_requests_and_two_waits(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        page = fetcher.fetch(f"{SITE}/status/500-500-200/")

    assert server.requests.paths() == ["/status/500-500-200/"] * 3
    assert (page.status, page.attempts, page.body) == (200, 3, b"<p>HTTP 200</p>")
    assert len(clock.sleeps) == 2
    assert fetcher.stats.retries == 2


def test_backoff_doubles_from_backoff_initial_seconds_plus_jitter(
    server: FaultServer, clock: FakeClock
) -> None:
    fetch = {"max_attempts": 4, "backoff_initial_seconds": 0.25}
    with open_fetcher(server, clock, fetch=fetch) as fetcher:
        fetcher.fetch(f"{SITE}/status/500-500-500-200/")

    first, second, third = clock.sleeps
    assert 0.25 <= first <= 0.5
    assert 0.5 <= second <= 0.75
    assert 1.0 <= third <= 1.25


def test_backoff_is_capped_by_backoff_max_seconds(
    server: FaultServer, clock: FakeClock
) -> None:
    fetch = {
        "max_attempts": 4,
        "backoff_initial_seconds": 1,
        "backoff_max_seconds": 1.5,
    }
    with open_fetcher(server, clock, fetch=fetch) as fetcher:
        fetcher.fetch(f"{SITE}/status/500-500-500-200/")

    assert 1.0 <= clock.sleeps[0] <= 1.5
    assert clock.sleeps[1:] == [1.5, 1.5]


def test_server_error_on_every_attempt_gives_up_after_max_attempts(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        with pytest.raises(TransientFetchError) as caught:
            fetcher.fetch(f"{SITE}/status/503/")

    error = caught.value
    assert (error.url, error.status, error.attempts) == (f"{SITE}/status/503/", 503, 3)
    assert error.reason == "HTTP 503"
    assert server.requests.paths() == ["/status/503/"] * 3
    assert fetcher.stats.gave_up == 1


def test_retry_after_in_seconds_is_the_wait(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        page = fetcher.fetch(f"{SITE}/retry-after/1/")

    assert clock.sleeps == [1.0]
    assert (page.status, page.attempts) == (200, 2)
    assert server.requests.paths() == ["/retry-after/1/"] * 2


def test_retry_after_as_an_http_date_waits_until_that_date(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        page = fetcher.fetch(f"{SITE}/retry-after-date/30/")

    # An HTTP date has whole seconds and is read against the wall clock.
    [wait] = clock.sleeps
    assert 28.0 < wait <= 30.0
    assert (page.status, page.attempts) == (200, 2)


def test_retry_after_over_the_cap_gives_up_at_once(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        with pytest.raises(PermanentFetchError) as caught:
            fetcher.fetch(f"{SITE}/retry-after/3600/")

    error = caught.value
    assert (error.status, error.attempts) == (429, 1)
    assert error.reason == (
        "HTTP 429 with Retry-After 3600 s, over the cap of 60 s "
        "(fetch.retry_after_cap_seconds)"
    )
    assert server.requests.paths() == ["/retry-after/3600/"]
    assert clock.sleeps == []


def test_response_slower_than_the_timeout_is_retried_then_given_up(
    server: FaultServer, clock: FakeClock
) -> None:
    fetch = {"timeout_seconds": 0.2, "max_attempts": 2}
    with open_fetcher(server, clock, fetch=fetch) as fetcher:
        with pytest.raises(TransientFetchError) as caught:
            fetcher.fetch(f"{SITE}/slow/2/")

    error = caught.value
    assert (error.status, error.attempts) == (None, 2)
    assert error.reason == "timed out (ReadTimeout)"
    assert server.requests.paths() == ["/slow/2/"] * 2


def test_body_trickling_past_four_timeouts_is_cut_off(server: FaultServer) -> None:
    # Each byte comes well within the read timeout; only the total gives it away,
    # so this test needs the real clock.
    config = site_config(fetch={"timeout_seconds": 0.2, "max_attempts": 1})
    options = FetchOptions(base_url=server.url)
    started = time.monotonic()
    with Fetcher(config, options=options) as fetcher:
        with pytest.raises(TransientFetchError) as caught:
            fetcher.fetch(f"{SITE}/trickle/100/")

    assert caught.value.reason == "response took longer than 4 x fetch.timeout_seconds"
    assert time.monotonic() - started < 2.0
    assert server.requests.paths() == ["/trickle/100/"]


def test_reset_connection_is_retried_then_given_up(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        with pytest.raises(TransientFetchError) as caught:
            fetcher.fetch(f"{SITE}/reset/")

    error = caught.value
    assert (error.status, error.attempts) == (None, 3)
    assert error.reason == "connection broken: [Errno 104] Connection reset by peer"
    assert server.requests.paths() == ["/reset/"] * 3


def test_body_shorter_than_its_content_length_is_retried_then_given_up(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        with pytest.raises(TransientFetchError) as caught:
            fetcher.fetch(f"{SITE}/truncated/")

    error = caught.value
    assert (error.status, error.attempts) == (None, 3)
    assert error.reason == (
        "connection broken: peer closed connection without sending complete "
        "message body (received 10 bytes, expected 100)"
    )
    assert server.requests.paths() == ["/truncated/"] * 3


# Statuses that are not retried


@pytest.mark.parametrize("status", [404, 410])
def test_gone_page_fails_permanently_after_one_attempt(
    server: FaultServer, clock: FakeClock, status: int
) -> None:
    with open_fetcher(server, clock) as fetcher:
        with pytest.raises(PermanentFetchError) as caught:
            fetcher.fetch(f"{SITE}/status/{status}/")

    error = caught.value
    assert (error.status, error.attempts, error.is_gone) == (status, 1, True)
    assert error.reason == f"gone (HTTP {status})"
    assert server.requests.paths() == [f"/status/{status}/"]
    assert clock.sleeps == []


def test_forbidden_page_is_not_retried(server: FaultServer, clock: FakeClock) -> None:
    with open_fetcher(server, clock) as fetcher:
        with pytest.raises(PermanentFetchError) as caught:
            fetcher.fetch(f"{SITE}/status/403/")

    error = caught.value
    assert (error.status, error.attempts, error.is_gone) == (403, 1, False)
    assert error.reason == "HTTP 403"
    assert server.requests.paths() == ["/status/403/"]
    assert clock.sleeps == []


# Redirects


def test_redirect_loop_is_refused(server: FaultServer, clock: FakeClock) -> None:
    with open_fetcher(server, clock) as fetcher:
        with pytest.raises(PermanentFetchError) as caught:
            fetcher.fetch(f"{SITE}/redirect-loop/a/")

    error = caught.value
    assert error.reason == f"redirect loop through {SITE}/redirect-loop/a/"
    assert (error.url, error.attempts) == (f"{SITE}/redirect-loop/a/", 1)
    assert server.requests.paths() == ["/redirect-loop/a/", "/redirect-loop/b/"]


def test_more_redirects_than_max_redirects_are_refused(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock, fetch={"max_redirects": 2}) as fetcher:
        with pytest.raises(PermanentFetchError) as caught:
            fetcher.fetch(f"{SITE}/redirect-chain/5/")

    assert caught.value.reason == "more than 2 redirects (fetch.max_redirects)"
    assert server.requests.paths() == [
        "/redirect-chain/5/",
        "/redirect-chain/4/",
        "/redirect-chain/3/",
    ]


def test_redirects_up_to_max_redirects_are_followed(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock, fetch={"max_redirects": 2}) as fetcher:
        page = fetcher.fetch(f"{SITE}/redirect-chain/2/")

    assert (page.url, page.final_url) == (
        f"{SITE}/redirect-chain/2/",
        f"{SITE}/redirect-chain/0/",
    )
    assert page.body == b"<p>end of the chain</p>"


def test_off_host_redirect_is_refused_and_its_target_never_requested(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        with pytest.raises(PermanentFetchError) as caught:
            fetcher.fetch(f"{SITE}/redirect-off-host/")

    error = caught.value
    assert error.reason == (
        f"redirect to {server.off_host_url}/off-host-target/ refused: "
        "host 'localhost' is not in site.allowed_hosts"
    )
    assert (error.url, error.attempts) == (f"{SITE}/redirect-off-host/", 1)
    assert server.requests.paths() == ["/redirect-off-host/"]


def test_off_host_redirect_after_a_retry_counts_both_attempts(
    server: FaultServer, clock: FakeClock
) -> None:
    url = f"{SITE}/status/503-302/?to={server.off_host_url}/off-host-target/"
    with open_fetcher(server, clock) as fetcher:
        with pytest.raises(PermanentFetchError) as caught:
            fetcher.fetch(url)

    assert caught.value.attempts == 2
    assert server.requests.paths() == ["/status/503-302/"] * 2


def test_off_host_link_is_refused_without_any_request(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        with pytest.raises(PermanentFetchError) as caught:
            fetcher.fetch("https://elsewhere.example/projects/x/")

    error = caught.value
    assert error.reason == (
        "link to https://elsewhere.example/projects/x/ refused: "
        "host 'elsewhere.example' is not in site.allowed_hosts"
    )
    assert (error.status, error.attempts) == (None, 0)
    assert server.requests.paths() == []


# Size caps


def test_gzipped_body_is_decompressed(server: FaultServer, clock: FakeClock) -> None:
    with open_fetcher(server, clock) as fetcher:
        page = fetcher.fetch(f"{SITE}/gzip/")

    assert page.body == b"<p>unzipped</p>"
    assert server.requests[0].headers["Accept-Encoding"] == "gzip, deflate"


def test_gzip_bomb_is_stopped_at_the_cap_without_inflating_it(
    server: FaultServer, clock: FakeClock
) -> None:
    gzip_bomb()  # built before measuring, so only the fetcher's memory counts
    tracemalloc.start()
    try:
        with open_fetcher(server, clock) as fetcher:
            with pytest.raises(PermanentFetchError) as caught:
                fetcher.fetch(f"{SITE}/gzip-bomb/")
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert caught.value.reason == (
        f"body is over the cap of {CAP_BYTES} bytes once decompressed "
        "(fetch.max_response_bytes)"
    )
    assert caught.value.attempts == 1
    assert peak_bytes < BOMB_BYTES // 10
    assert server.requests.paths() == ["/gzip-bomb/"]


def test_content_length_over_the_cap_is_refused_before_reading(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        with pytest.raises(PermanentFetchError) as caught:
            fetcher.fetch(f"{SITE}/oversized/")

    error = caught.value
    assert error.reason == (
        f"response of {OVERSIZED_BYTES} bytes is over the cap of {CAP_BYTES} "
        "(fetch.max_response_bytes)"
    )
    assert (error.status, error.attempts) == (200, 1)
    assert server.requests.paths() == ["/oversized/"]


def test_body_without_a_length_is_cut_off_at_the_cap(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        with pytest.raises(PermanentFetchError) as caught:
            fetcher.fetch(f"{SITE}/unsized/")

    assert caught.value.reason == (
        f"body is over the cap of {CAP_BYTES} bytes once decompressed "
        "(fetch.max_response_bytes)"
    )
    assert server.requests.paths() == ["/unsized/"]


# Charsets


def test_bom_outweighs_a_contrary_charset_in_the_header(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        page = fetcher.fetch(f"{SITE}/charset/bom-contrary-header/")

    assert page.content_type == "text/html; charset=iso-8859-1"
    assert page.decoded == DecodedBody("<p>café — naïve</p>", "utf-8", "bom", 0)


def test_charset_declared_only_in_meta_is_used(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        page = fetcher.fetch(f"{SITE}/charset/meta-only/")

    assert page.decoded == DecodedBody(
        '<html><head><meta charset="windows-1252"></head>'
        "<body><p>café “quoted”</p></body></html>",
        "windows-1252",
        "meta",
        0,
    )


def test_undecodable_bytes_are_replaced_and_counted(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        page = fetcher.fetch(f"{SITE}/charset/undecodable/")

    assert page.decoded == DecodedBody(
        "<p>ok \ufffd bad \ufffd end</p>", "utf-8", "http-header", 2
    )
    assert fetcher.stats.replaced_pages == 1


# Conditional requests


def test_etag_is_sent_as_if_none_match_and_a_304_comes_back_empty(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        page = fetcher.fetch(f"{SITE}/not-modified/", etag=ETAG)

    assert server.requests[0].headers["If-None-Match"] == ETAG
    assert (page.status, page.body, page.decoded, page.etag) == (304, b"", None, ETAG)
    assert fetcher.stats.not_modified == 1


def test_last_modified_is_sent_as_if_modified_since(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        page = fetcher.fetch(
            f"{SITE}/not-modified/", last_modified=LAST_MODIFIED_HEADER
        )

    assert server.requests[0].headers["If-Modified-Since"] == LAST_MODIFIED_HEADER
    assert (page.status, page.body) == (304, b"")
    assert fetcher.stats.not_modified == 1


def test_fetch_without_validators_sends_no_conditional_headers(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        page = fetcher.fetch(f"{SITE}/not-modified/")

    headers = server.requests[0].headers
    assert ("If-None-Match" in headers, "If-Modified-Since" in headers) == (
        False,
        False,
    )
    assert (page.status, page.etag, page.last_modified) == (
        200,
        ETAG,
        LAST_MODIFIED_HEADER,
    )
    assert fetcher.stats.not_modified == 0


# robots.txt


def test_robots_disallow_refuses_the_url_without_requesting_it(
    server: FaultServer, clock: FakeClock
) -> None:
    server.add_page(
        "/robots.txt",
        b"User-agent: *\nDisallow: /page/private/\n",
        content_type="text/plain",
    )
    with open_fetcher(server, clock, politeness={"obey_robots": True}) as fetcher:
        with pytest.raises(DisallowedByRobots) as caught:
            fetcher.fetch(f"{SITE}/page/private/")

    assert (caught.value.reason, caught.value.attempts) == (
        "disallowed by robots.txt",
        0,
    )
    assert server.requests.paths() == ["/robots.txt"]


def test_robots_txt_is_read_once_per_host(
    server: FaultServer, clock: FakeClock
) -> None:
    server.add_page(
        "/robots.txt",
        b"User-agent: *\nDisallow: /page/private/\n",
        content_type="text/plain",
    )
    with open_fetcher(server, clock, politeness={"obey_robots": True}) as fetcher:
        fetcher.fetch(f"{SITE}/page/a/")
        fetcher.fetch(f"{SITE}/page/b/")

    assert server.requests.paths() == ["/robots.txt", "/page/a/", "/page/b/"]


def test_missing_robots_txt_allows_everything(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock, politeness={"obey_robots": True}) as fetcher:
        page = fetcher.fetch(f"{SITE}/page/open/")

    assert page.status == 200
    assert server.requests.paths() == ["/robots.txt", "/page/open/"]


def test_unreachable_robots_txt_allows_nothing(
    server: FaultServer, clock: FakeClock
) -> None:
    server.add_page("/robots.txt", b"down", content_type="text/plain", status=503)
    with open_fetcher(server, clock, politeness={"obey_robots": True}) as fetcher:
        with pytest.raises(PermanentFetchError) as caught:
            fetcher.fetch(f"{SITE}/page/open/")
        with pytest.raises(PermanentFetchError):
            fetcher.fetch(f"{SITE}/page/other/")

    assert caught.value.reason == (
        "robots.txt unreachable (HTTP 503); nothing on this host is fetched")
    assert server.requests.paths() == ["/robots.txt"] * 3


def test_crawl_delay_spaces_requests_after_robots_txt(
    server: FaultServer, clock: FakeClock
) -> None:
    server.add_page(
        "/robots.txt", b"User-agent: *\nCrawl-delay: 5\n", content_type="text/plain"
    )
    with open_fetcher(server, clock, politeness={"obey_robots": True}) as fetcher:
        fetcher.fetch(f"{SITE}/page/a/")
        fetcher.fetch(f"{SITE}/page/b/")

    assert clock.sleeps == [5.0, 5.0]
    assert server.requests.paths() == ["/robots.txt", "/page/a/", "/page/b/"]


def test_crawl_delay_below_min_delay_leaves_the_min_delay(
    server: FaultServer, clock: FakeClock
) -> None:
    server.add_page(
        "/robots.txt", b"User-agent: *\nCrawl-delay: 1\n", content_type="text/plain"
    )
    politeness = {"obey_robots": True, "min_delay_seconds": 3}
    with open_fetcher(server, clock, politeness=politeness) as fetcher:
        fetcher.fetch(f"{SITE}/page/a/")
        fetcher.fetch(f"{SITE}/page/b/")

    assert clock.sleeps == [3.0, 3.0]


# Politeness


def test_min_delay_spaces_requests_to_one_host(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock, politeness={"min_delay_seconds": 2}) as fetcher:
        for name in ("a", "b", "c"):
            fetcher.fetch(f"{SITE}/page/{name}/")

    assert clock.sleeps == [2.0, 2.0]


def test_min_delay_is_counted_per_host(server: FaultServer, clock: FakeClock) -> None:
    with open_fetcher(server, clock, politeness={"min_delay_seconds": 2}) as fetcher:
        fetcher.fetch(f"{SITE}/page/a/")
        fetcher.fetch("https://www.parispeaceforum.org/page/b/")

    assert clock.sleeps == []
    assert server.requests.paths() == ["/page/a/", "/page/b/"]


def test_min_delay_option_overrides_the_config(
    server: FaultServer, clock: FakeClock
) -> None:
    options = FetchOptions(base_url=server.url, min_delay_seconds=0.5)
    politeness = {"min_delay_seconds": 2}
    with open_fetcher(server, clock, options=options, politeness=politeness) as fetcher:
        fetcher.fetch(f"{SITE}/page/a/")
        fetcher.fetch(f"{SITE}/page/b/")

    assert clock.sleeps == [0.5]


def test_min_delay_spaces_requests_as_the_server_sees_them(server: FaultServer) -> None:
    config = site_config(politeness={"min_delay_seconds": 0.1})
    with Fetcher(config, options=FetchOptions(base_url=server.url)) as fetcher:
        # The first request also opens the connection, which would blur its gap.
        for name in ("warm-up", "a", "b", "c"):
            fetcher.fetch(f"{SITE}/page/{name}/")

    arrivals = [request.received_at for request in server.requests.snapshot()[1:]]
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]
    assert len(gaps) == 2
    # Arrivals carry scheduling jitter; without the delay the gaps are about 1 ms.
    assert min(gaps) > 0.05


# Run deadline


def test_passed_deadline_raises_without_a_request(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock, fetch={"run_deadline_seconds": 10}) as fetcher:
        fetcher.fetch(f"{SITE}/page/a/")
        clock.advance(10)
        with pytest.raises(DeadlineExceeded) as caught:
            fetcher.fetch(f"{SITE}/page/b/")

    assert caught.value.reason == "run deadline passed (fetch.run_deadline_seconds)"
    assert caught.value.attempts == 1
    assert server.requests.paths() == ["/page/a/"]


def test_deadline_passing_during_a_retry_wait_stops_the_retries(
    server: FaultServer, clock: FakeClock
) -> None:
    fetch = {"run_deadline_seconds": 1, "backoff_initial_seconds": 1}
    with open_fetcher(server, clock, fetch=fetch) as fetcher:
        with pytest.raises(DeadlineExceeded) as caught:
            fetcher.fetch(f"{SITE}/status/503/")

    assert caught.value.attempts == 2
    assert server.requests.paths() == ["/status/503/"]


def test_deadline_passed_before_robots_txt_is_a_deadline_not_a_disallow(
    server: FaultServer, clock: FakeClock
) -> None:
    fetch = {"run_deadline_seconds": 10}
    politeness = {"obey_robots": True}
    with open_fetcher(server, clock, fetch=fetch, politeness=politeness) as fetcher:
        clock.advance(10)
        with pytest.raises(DeadlineExceeded):
            fetcher.fetch(f"{SITE}/page/a/")

    assert server.requests.paths() == []


# Identity and environment


def test_user_agent_carries_the_contact(server: FaultServer, clock: FakeClock) -> None:
    with open_fetcher(server, clock) as fetcher:
        fetcher.fetch(f"{SITE}/page/a/")

    user_agent = server.requests[0].headers["User-Agent"]
    assert user_agent == f"directory-pipeline/{__version__} (+{CONTACT})"


def test_proxy_from_the_environment_is_used(
    server: FaultServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    with open_fetcher(server, clock, options=FetchOptions()) as fetcher:
        page = fetcher.fetch("http://parispeaceforum.org/page/proxied/")

    # A proxy is sent the whole URL as the request target.
    assert server.requests[0].target == "http://parispeaceforum.org/page/proxied/"
    assert page.body == b"<p>proxied</p>"


def test_host_that_fails_url_after_url_is_skipped_for_the_rest_of_the_run(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        for name in ("a", "b", "c"):
            with pytest.raises(TransientFetchError):
                fetcher.fetch(f"{SITE}/status/503/?{name}")
        with pytest.raises(SiteUnreachable) as caught:
            fetcher.fetch(f"{SITE}/page/after/")

    assert len(server.requests.paths()) == 9
    assert "/page/after/" not in server.requests.paths()
    assert caught.value.reason == (
        "host stopped answering (HTTP 503); the rest of it is skipped this run")
    assert caught.value.attempts == 0


def test_a_page_that_answers_resets_the_count_of_failures(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock) as fetcher:
        for name in ("a", "b"):
            with pytest.raises(TransientFetchError):
                fetcher.fetch(f"{SITE}/status/503/?{name}")
        fetcher.fetch(f"{SITE}/page/fine/")
        with pytest.raises(TransientFetchError):
            fetcher.fetch(f"{SITE}/status/503/?c")
        page = fetcher.fetch(f"{SITE}/page/still-fetched/")

    assert page.status == 200


# Faults a per-read timeout or a plain body read would miss


def test_headers_trickling_past_four_timeouts_are_cut_off(server: FaultServer) -> None:
    # One header line every 50 ms never trips the read timeout; the real clock
    # is needed to see the whole response run long.
    config = site_config(fetch={"timeout_seconds": 0.2, "max_attempts": 1})
    started = time.monotonic()
    with Fetcher(config, options=FetchOptions(base_url=server.url)) as fetcher:
        with pytest.raises(TransientFetchError) as caught:
            fetcher.fetch(f"{SITE}/trickle-headers/")

    assert caught.value.reason == "response took longer than 4 x fetch.timeout_seconds"
    assert time.monotonic() - started < 2.0
    assert server.requests.paths() == ["/trickle-headers/"]


def test_headers_trickling_past_the_run_deadline_stop_the_run(server: FaultServer) -> None:
    config = site_config(fetch={"timeout_seconds": 30, "run_deadline_seconds": 0.5})
    started = time.monotonic()
    with Fetcher(config, options=FetchOptions(base_url=server.url)) as fetcher:
        with pytest.raises(DeadlineExceeded) as caught:
            fetcher.fetch(f"{SITE}/trickle-headers/")

    assert caught.value.attempts == 1
    assert time.monotonic() - started < 2.0


def test_gzip_body_cut_short_without_a_length_is_retried_then_given_up(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock, fetch={"max_attempts": 2}) as fetcher:
        with pytest.raises(TransientFetchError) as caught:
            fetcher.fetch(f"{SITE}/gzip-cut/")

    assert (caught.value.reason, caught.value.attempts) == (
        "compressed body ends before its end marker (cut off)", 2)
    assert server.requests.paths() == ["/gzip-cut/"] * 2


def test_empty_html_body_is_retried_then_given_up(
    server: FaultServer, clock: FakeClock
) -> None:
    with open_fetcher(server, clock, fetch={"max_attempts": 2}) as fetcher:
        with pytest.raises(TransientFetchError) as caught:
            fetcher.fetch(f"{SITE}/empty/")

    assert (caught.value.reason, caught.value.status, caught.value.attempts) == (
        "empty body (HTTP 200)", 200, 2)
    assert server.requests.paths() == ["/empty/"] * 2


def test_etag_outside_ascii_is_not_sent_back(server: FaultServer, clock: FakeClock) -> None:
    with open_fetcher(server, clock) as fetcher:
        first = fetcher.fetch(f"{SITE}/latin1-etag/")
        second = fetcher.fetch(f"{SITE}/latin1-etag/", etag=first.etag)

    assert (first.etag, second.status, second.body) == ('"v\u00e9"', 200, b"<p>current</p>")
    assert "If-None-Match" not in server.requests[1].headers


def test_crawl_delay_past_the_deadline_stops_without_waiting_for_it(
    server: FaultServer, clock: FakeClock
) -> None:
    server.add_page(
        "/robots.txt", b"User-agent: *\nCrawl-delay: 1e308\n", content_type="text/plain"
    )
    politeness = {"obey_robots": True}
    with open_fetcher(server, clock, politeness=politeness,
                      fetch={"run_deadline_seconds": 40}) as fetcher:
        with pytest.raises(DeadlineExceeded):
            fetcher.fetch(f"{SITE}/page/a/")

    assert clock.sleeps == []
    assert server.requests.paths() == ["/robots.txt"]


def test_retry_after_within_the_cap_never_waits_past_the_deadline(
    server: FaultServer, clock: FakeClock
) -> None:
    fetch = {"retry_after_cap_seconds": 120, "run_deadline_seconds": 30}
    with open_fetcher(server, clock, fetch=fetch) as fetcher:
        with pytest.raises(DeadlineExceeded):
            fetcher.fetch(f"{SITE}/retry-after/110/")

    assert clock.sleeps == [30.0]
    assert server.requests.paths() == ["/retry-after/110/"]


@pytest.mark.parametrize("location", ["https://parispeaceforum.org:70000/x/", "http://[oops/"])
def test_redirect_to_an_unparseable_url_is_refused(
    server: FaultServer, clock: FakeClock, location: str
) -> None:
    with open_fetcher(server, clock) as fetcher:
        with pytest.raises(PermanentFetchError) as caught:
            fetcher.fetch(f"{SITE}/status/302/?to={location}")

    assert caught.value.reason == f"redirect to an unusable URL {location!r}"
    assert len(server.requests) == 1
