"""A local "publisher" site: how publishers and repositories really serve PDFs.

Built on FaultServer's fallback hook, it answers by path with the behaviours of
`shared/reference/publisher-web.md`: a cookie check that redirects back, a cookie
set on one host of a chain and needed on the next, the four kinds of landing page
(absolute and relative links), a User-Agent filter, raw UTF-8 in `Location`, Basic
auth, a signed query string, a members area behind a session cookie, and a DOI
resolver. Hosts `*.pub.localhost` reach it too: libcurl resolves `*.localhost`
to the loopback address itself.
"""

from __future__ import annotations

import base64
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

from support.faultserver import FaultServer, Reply, make_pdf

SIGNED_QUERY = "X-Amz-Signature=a%2Bb%2Fc%3D&X-Amz-Expires=300&response-content-type=application%2Fpdf"
SESSION = "s3ss10n-v4lue-never-printed"


def _html(body: str) -> Reply:
    return Reply(body=f"<!DOCTYPE html><html><head>{body}</head><body>An article</body></html>".encode(),
                 content_type="text/html; charset=utf-8")


class Publisher:
    """Wraps a FaultServer; `pdfs[name]` is the body served at `/files/NAME`."""

    def __init__(self, srv: FaultServer) -> None:
        self.srv = srv
        self.pdfs: dict[str, bytes] = {}
        srv.fallback = self._answer

    def pdf(self, name: str, seed: int = 0, size: int = 12_000) -> bytes:
        self.pdfs[name] = make_pdf(size, seed)
        return self.pdfs[name]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return self.srv.url(path, host=host)

    # -- answering ---------------------------------------------------------------
    def _answer(self, h) -> Reply | None:
        parts = urlsplit(h.path)
        path, query = parts.path, parts.query
        cookies = SimpleCookie(h.headers.get("Cookie") or "")
        for prefix, handler in self._routes():
            if path.startswith(prefix):
                return handler(h, path[len(prefix):], query, cookies)
        return None

    def _routes(self):
        return (("/files/", self._file), ("/cc/", self._cookie_check), ("/xhost/", self._cross_host),
                ("/landing/", self._landing), ("/ua/", self._ua_filter), ("/utf8/", self._utf8),
                ("/auth/", self._basic_auth), ("/signed/", self._signed), ("/members/", self._members),
                ("/doi/", self._doi))

    def _file(self, h, name, query, cookies) -> Reply | None:
        from urllib.parse import unquote

        body = self.pdfs.get(unquote(name))
        return Reply(body=body) if body is not None else None

    def _cookie_check(self, h, rest, query, cookies) -> Reply:
        # Springer/T&F/NEJM style: no cookie -> a check page sets one and redirects back.
        if rest.startswith("check"):
            back = parse_qs(query).get("back", ["/"])[0]
            return Reply(status=302, location=back, headers={"Set-Cookie": "idp_check=1; Path=/"})
        if "idp_check" not in cookies:
            return Reply(status=302, location=f"/cc/check?back=/cc/{rest}", body=b"")
        return self._file(h, rest, query, cookies)

    def _cross_host(self, h, rest, query, cookies) -> Reply:
        # www.pub.localhost sets a domain cookie, pdf.pub.localhost needs it.
        if rest.startswith("start/"):
            target = self.url(f"/xhost/{rest[6:]}", host="pdf.pub.localhost")
            return Reply(status=302, location=target,
                         headers={"Set-Cookie": "pubsess=ok; Domain=pub.localhost; Path=/"})
        if cookies.get("pubsess") is None or cookies["pubsess"].value != "ok":
            return Reply(status=403, body=b"<html>no session</html>", content_type="text/html")
        return self._file(h, rest, query, cookies)

    def _landing(self, h, rest, query, cookies) -> Reply:
        # /landing/<kind>/<abs|rel>/<name>: a page pointing at /files/<name>.
        kind, how, name = rest.split("/", 2)
        link = self.url(f"/files/{name}") if how == "abs" else f"../../../files/{name}"
        return _html({
            "meta": f'<meta name="citation_title" content="T"><meta name="citation_pdf_url" content="{link}">',
            "link": f'<link rel="alternate" type="application/pdf" href="{link}">',
            "refresh": f'<meta http-equiv="refresh" content="0; url={link}">',
            "iframe": f'</head><body><iframe src="{link}" width="100%"></iframe>',
            "embed": f'</head><body><embed src="{link}" type="application/pdf">',
            "object": f'</head><body><object data="{link}" type="application/pdf"></object>',
            "chain": f'<meta name="citation_pdf_url" content="/landing/meta/{how}/{name}">',
            "login": '<title>Sign in</title></head><body><form action="/login"><input name="user">',
        }[kind])

    def _ua_filter(self, h, rest, query, cookies) -> Reply:
        # Sites that block anonymous robots want a contact address in the User-Agent.
        if "mailto:" not in (h.headers.get("User-Agent") or ""):
            return Reply(status=403, body=b"<html>Forbidden: say who you are</html>", content_type="text/html")
        return self._file(h, rest, query, cookies)

    def _utf8(self, h, rest, query, cookies) -> Reply:
        # Location with raw UTF-8 bytes, as some servers send it (not percent-encoded).
        raw = f"/files/{rest}-\u00fcber.pdf".encode().decode("latin-1")
        return Reply(status=302, location=raw)

    def _basic_auth(self, h, rest, query, cookies) -> Reply:
        want = "Basic " + base64.b64encode(b"reader:pa55word").decode()
        if h.headers.get("Authorization") != want:
            return Reply(status=401, body=b"<html>login</html>", content_type="text/html",
                         headers={"WWW-Authenticate": 'Basic realm="library"'})
        return self._file(h, rest, query, cookies)

    def _signed(self, h, rest, query, cookies) -> Reply:
        if query != SIGNED_QUERY:  # byte for byte, as a CDN checks its signature
            return Reply(status=403, body=b"<Error>SignatureDoesNotMatch</Error>", content_type="application/xml")
        return self._file(h, rest, query, cookies)

    def _members(self, h, rest, query, cookies) -> Reply:
        if cookies.get("session") is None or cookies["session"].value != SESSION:
            return Reply(status=302, location="/landing/login/abs/none")
        return self._file(h, rest, query, cookies)

    def _doi(self, h, rest, query, cookies) -> Reply:
        # doi.org: the DOI redirects to the publisher's landing page.
        return Reply(status=302, location=self.url(f"/landing/meta/rel/doi-{rest.replace('/', '_')}.pdf"))
