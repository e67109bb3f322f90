"""The walls that come back instead of a PDF, named from status, headers and page; and the
breaker that stops asking a host that keeps walling papers off."""

import threading

import pytest

from papers.download.blocked import BREAK_AFTER, KINDS, Breaker, advice, classify, reason
from support.walls import (CLOUDFLARE, CLOUDFLARE_NO_SCRIPT, COOKIES, DATADOME, HCAPTCHA, LANDING,
                           LOGIN, ORDINARY_404, PAYWALL, PERIMETERX, PMC_POW, RATE_LIMIT_PAGE,
                           SHIBBOLETH, SHIELDSQUARE)



@pytest.mark.parametrize("status, headers, page, url, kind", [
    (403, {"cf-mitigated": "challenge"}, CLOUDFLARE, "", "cloudflare"),
    (503, {}, CLOUDFLARE, "", "cloudflare"),        # the older challenge, on a 503
    (403, {"cf-mitigated": "challenge"}, b"", "", "cloudflare"),  # the header alone
    (403, {}, CLOUDFLARE_NO_SCRIPT, "", "cloudflare"),            # the title alone
    (200, {}, SHIELDSQUARE, "", "captcha"),
    (403, {}, PERIMETERX, "", "captcha"),
    (403, {"x-datadome": "protected"}, b"", "", "captcha"),
    (403, {}, DATADOME, "", "captcha"),
    (200, {}, HCAPTCHA, "", "captcha"),
    (200, {}, PMC_POW, "https://pmc.ncbi.nlm.nih.gov/articles/PMC1/pdf/x.pdf", "pmc_pow"),
    (429, {"retry-after": "60"}, b"", "", "rate_limit"),
    (200, {}, RATE_LIMIT_PAGE, "", "rate_limit"),
    (200, {}, COOKIES, "", "cookies"),
    (200, {}, LANDING, "https://www.cell.com/action/cookieAbsent", "cookies"),
    (200, {}, LOGIN, "", "login"),
    (200, {}, SHIBBOLETH, "", "login"),
    (401, {"www-authenticate": "Basic"}, b"", "", None),  # HTTP auth: ~/.netrc, not a wall
    (200, {}, LANDING, "https://idp.example.org/login?return=/pdf", "login"),
    (200, {}, PAYWALL, "", "paywall"),
    (403, {}, PAYWALL, "", "paywall"),
    (404, {}, ORDINARY_404, "https://x.org/login", None),  # a 404 with a sign-in box is a 404
    (200, {}, LANDING, "https://x.org/article/1", None),    # a page, not a wall
    (200, {}, LANDING + b"<form><div class='g-recaptcha'></div></form>" + b" " * 20000, "",
     None),                                                # a long page with a contact form
    (404, {}, HCAPTCHA, "", None),                          # a 404 with a captcha form
    (200, {}, LANDING, "https://x.org/files/login.pdf", None),  # a file's name, not a login
    (403, {}, b"Forbidden", "", None),
    (500, {}, b"<html><body>Internal Server Error</body></html>", "", None),
])
def test_walls_are_named_from_status_headers_and_page(status, headers, page, url, kind):
    assert classify(status, headers, page, url) == kind


def test_every_kind_has_a_reason_with_a_fix():
    for kind in KINDS:
        said = reason(kind, "www.example.org")
        assert said.startswith("blocked by ") and " at www.example.org: " in said
    assert reason("cloudflare", "www.example.org") == (
        "blocked by a Cloudflare challenge at www.example.org: your browser's cookies may pass "
        "it (--cookies FILE, from a browser that has opened the site)")
    assert advice("login", "h.org", 7).startswith("7 paper(s) by a login page at h.org: ")


def test_the_breaker_opens_after_enough_walls_from_one_host_and_says_so_once():
    opened = []
    b = Breaker(on_open=lambda host, kind: opened.append((host, kind)))
    for _ in range(BREAK_AFTER - 1):
        b.blocked("https://a.org", "cloudflare")
    assert b.open("https://a.org") is None
    b.blocked("https://a.org", "cloudflare")
    b.blocked("https://b.org", "login")
    assert b.open("https://a.org") == "cloudflare" and b.open("https://b.org") is None
    b.blocked("https://a.org", "cloudflare")
    assert opened == [("https://a.org", "cloudflare")]


def test_the_breaker_counts_from_many_workers():
    b = Breaker(after=400)
    threads = [threading.Thread(target=lambda: [b.blocked("h", "captcha") for _ in range(100)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b.open("h") == "captcha"
