"""HTTP GETs for downloads on urllib3 directly: one connection pool per worker thread.

requests costs about 0.7 ms of CPU per request under 8 threads and urllib3
about 0.44 ms (measured for issue 5), and a download needs none of what
requests adds. What requests gave for free is kept: proxies from the
environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), the CA bundle
from REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE / SSL_CERT_FILE (else certifi),
TLS verification, and redirects, which we follow ourselves: http and https
only, at most `max_redirects` hops, loops detected.
"""

from __future__ import annotations

import functools
import os
import threading
import urllib.request
from typing import Any
from urllib.parse import urljoin, urlsplit

import urllib3

from papers.hosts import host_of

REDIRECTS = (301, 302, 303, 307, 308)


class TransportError(Exception):
    """A request could not be made; `permanent` says whether retrying can help."""

    def __init__(self, message: str, permanent: bool = False, timeout: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.timeout = timeout


def ca_bundle() -> str | None:
    """The CA bundle to verify TLS with, as requests would choose it."""
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(var)
        if value:
            return value
    try:
        import certifi
    except ImportError:
        return None  # the system store
    return certifi.where()


class Transport:
    """Streams GET responses; thread-safe (pools are per thread)."""

    def __init__(self, timeout: float, headers: dict[str, str], max_redirects: int = 10,
                 pool_size: int = 4) -> None:
        self.timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self.headers = headers
        self.max_redirects = max_redirects
        self.pool_size = pool_size
        self.ca = ca_bundle()
        self.proxies = urllib.request.getproxies()  # read once: the environment of this run
        self._local = threading.local()

    def _manager(self, url: str) -> urllib3.PoolManager:
        managers = getattr(self._local, "managers", None)
        if managers is None:
            managers = self._local.managers = {}
        proxy = self._proxy_for(host_of(url))
        mgr = managers.get(proxy)
        if mgr is None:
            kw: dict[str, Any] = {"num_pools": 16, "maxsize": self.pool_size, "cert_reqs": "CERT_REQUIRED"}
            if self.ca:
                kw["ca_certs"] = self.ca
            mgr = urllib3.ProxyManager(proxy, **kw) if proxy else urllib3.PoolManager(**kw)
            managers[proxy] = mgr
        return mgr

    @functools.lru_cache(maxsize=4096)  # noqa: B019 (one Transport per run)
    def _proxy_for(self, host_key: str) -> str | None:
        scheme, _, rest = host_key.partition("://")
        proxy = self.proxies.get(scheme) or self.proxies.get("all")
        if proxy and urllib.request.proxy_bypass(rest.rsplit(":", 1)[0]):
            return None
        return proxy

    def get(self, url: str, headers: dict[str, str] | None = None) -> urllib3.BaseHTTPResponse:
        """GET `url` following redirects; the response body is not read yet (call release_conn)."""
        seen = {url}
        hdrs = {**self.headers, **(headers or {})}
        for _hop in range(self.max_redirects + 1):
            scheme = urlsplit(url).scheme.lower()
            if scheme not in ("http", "https"):
                raise TransportError(f"cannot fetch this URL or its redirect: {scheme or 'no'} scheme in "
                                     f"{url[:100]!r} (only http and https)", permanent=True)
            try:
                resp = self._manager(url).request("GET", url, headers=hdrs, redirect=False, retries=False,
                                                  preload_content=False, decode_content=True,
                                                  timeout=self.timeout)
            except urllib3.exceptions.SSLError as e:
                raise TransportError(f"TLS error: {_short(e)}", permanent=True) from None
            except (urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.ReadTimeoutError):
                raise TransportError("timed out waiting for the server", timeout=True) from None
            except (urllib3.exceptions.LocationValueError, urllib3.exceptions.LocationParseError,
                    ValueError) as e:
                raise TransportError(f"cannot fetch this URL or its redirect: {_short(e)}",
                                     permanent=True) from None
            except (urllib3.exceptions.HTTPError, OSError) as e:
                raise TransportError(f"connection failed: {_short(e)}") from None
            location = resp.headers.get("Location")
            if resp.status not in REDIRECTS or not location:
                return resp
            resp.drain_conn()
            resp.release_conn()
            url = urljoin(url, location)
            if url in seen:
                raise TransportError("too many redirects (a loop)", permanent=True)
            seen.add(url)
            # Range and If-Range belong to the first URL's file only if it is the same file;
            # keep them (servers redirect to mirrors of the same file) but drop on a 303.
            if resp.status == 303:
                hdrs = {k: v for k, v in hdrs.items() if k not in ("Range", "If-Range")}
        raise TransportError(f"too many redirects (more than {self.max_redirects})", permanent=True)


def _short(e: BaseException) -> str:
    """An exception as one short line a person understands (urllib3 nests long reprs)."""
    import re

    text = str(e) or type(e).__name__
    m = re.search(r"Failed to resolve '([^']+)'", text)
    if m:
        return f"cannot resolve host {m.group(1)!r} (no network or no DNS?)"
    for needle, said in (("Connection refused", "connection refused"),
                         ("Connection reset", "connection reset by the server"),
                         ("Network is unreachable", "network is unreachable"),
                         ("timed out", "timed out"),
                         ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed")):
        if needle in text:
            host = re.search(r"host='([^']+)'", text)
            return said + (f" ({host.group(1)})" if host else "")
    text = re.sub(r"<urllib3\.[^>]*>:?\s*", "", text)
    text = re.sub(r"HTTPS?ConnectionPool\([^)]*\):\s*", "", text)
    text = re.sub(r"Max retries exceeded with url: \S+\s*", "", text)
    text = " ".join(text.replace("(Caused by", "").split())
    return text.strip("() ")[:200]
