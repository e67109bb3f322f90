import random
from datetime import datetime, timezone

import pytest

from papers.download.body import describe_not_pdf, parse_content_range
from papers.net.retry import TRANSIENT_STATUS, RetryPolicy, parse_retry_after
from papers.errors import ConfigError
from papers.settings import parse_size


@pytest.mark.parametrize("status, transient", [
    (408, True), (429, True), (500, True), (502, True), (503, True), (504, True),
    (400, False), (401, False), (403, False), (404, False), (410, False), (451, False),
    (501, False), (505, False),
])
def test_classification(status, transient):
    assert (status in TRANSIENT_STATUS) is transient


NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("value, expected", [
    ("0", 0.0), ("7", 7.0), (" 120 ", 120.0),
    ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),
    ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),   # in the past: go now
    ("soon", None), ("", None), (None, None), ("-5", None),
])
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


def test_delay_honours_retry_after_with_cap():
    p = RetryPolicy(retry_after_max=10)
    assert p.delay(0, retry_after=3) == 3
    assert p.delay(0, retry_after=3600) == 10


def test_backoff_is_exponential_jittered_and_capped():
    p = RetryPolicy(backoff_base=1, backoff_max=8)
    rng = random.Random(1)
    for attempt, ceiling in [(0, 1), (1, 2), (2, 4), (3, 8), (6, 8)]:
        delays = [p.delay(attempt, rng=rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 10  # really jittered


@pytest.mark.parametrize("value, expected", [
    ("bytes 100-199/1000", (100, 199, 1000)),
    ("bytes 0-0/1", (0, 0, 1)),
    ("bytes 5-9/*", (5, 9, None)),
    ("bytes 9-5/10", None), ("bytes 0-10/10", None), ("items 0-1/2", None), (None, None),
])
def test_parse_content_range(value, expected):
    assert parse_content_range(value) == expected


@pytest.mark.parametrize("head, ctype, fragment", [
    (b"<!DOCTYPE html><html><body>Sign in</body></html>", "text/html",
     "sent an HTML page with no link to a PDF in it, likely a login page"),
    (b"\n\n<html>", "application/pdf", "sent an HTML page (served as application/pdf) with no link"),
    (b"", "application/pdf", "empty body"),
    (b"PK\x03\x04zipdata", "application/zip", "starts with 'PK\\\\x03\\\\x04zipdata'"),
])
def test_describe_not_pdf(head, ctype, fragment):
    assert fragment in describe_not_pdf(head, ctype)


@pytest.mark.parametrize("text, expected", [
    ("200MB", 200_000_000), ("1.5GiB", int(1.5 * 1024 ** 3)), ("4096", 4096), ("10k", 10_000),
    ("0", None), (0, None), (None, None), ("1 kb", 1000),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["big", "-1", "10XB", True])
def test_parse_size_rejects(text):
    with pytest.raises(ConfigError):
        parse_size(text)
