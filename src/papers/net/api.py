"""HTTP for scholarly APIs: per-API politeness, retries, no secrets in messages."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import requests

from papers.errors import ApiError, QuotaExhausted
from papers.net.hosts import HostLimiter
from papers.net.netconf import NetConfig
from papers.net.retry import TRANSIENT_STATUS, RetryManager, RetryPolicy, parse_retry_after
from papers.redact import redact
from papers.settings import SourceSettings

log = logging.getLogger("papers")


class _VerifiedProxyAdapter(requests.adapters.HTTPAdapter):
    """Verifies an https:// proxy's own certificate against the run's CA bundle.

    requests verifies the origin, but for an http:// URL through an https://
    proxy it leaves the TLS session to the proxy unverified; libcurl verifies both.
    """

    def __init__(self, ca_bundle: str | None) -> None:
        self.ca_bundle = ca_bundle
        super().__init__()

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        if proxy.lower().startswith("https://") and "proxy_ssl_context" not in proxy_kwargs:
            import ssl

            proxy_kwargs["proxy_ssl_context"] = ssl.create_default_context(cafile=self.ca_bundle)
        return super().proxy_manager_for(proxy, **proxy_kwargs)


class ApiResponse:
    """What an API answered: status, headers, body."""

    __slots__ = ("status", "headers", "content")

    def __init__(self, status: int, headers: Any, content: bytes) -> None:
        self.status = status
        self.headers = headers
        self.content = content

    def json(self) -> Any:
        import json

        try:
            return json.loads(self.content)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(f"answer is not JSON (HTTP {self.status})") from None


@dataclass(frozen=True, slots=True)
class _Transient:
    """A try that failed for a passing reason; the server may have said when to return."""

    reason: str
    retry_after: float | None = None


class ApiClient:
    """Requests to the scholarly APIs, shared by all workers (sessions are per thread)."""

    def __init__(self, limiter: HostLimiter, cancel: threading.Event, policy: RetryPolicy,
                 timeout: float, net: NetConfig, secrets: tuple[str, ...] = ()) -> None:
        self.limiter = limiter
        self.cancel = cancel
        self.policy = policy
        self.timeout = timeout
        self.net = net
        self.secrets = secrets
        self._local = threading.local()
        self._configured: set[str] = set()
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            # Proxies, the CA bundle and the User-Agent come from the run's NetConfig, the
            # same that libcurl gets; requests must not read the environment on its own.
            s.trust_env = False
            s.verify = self.net.ca_bundle or True
            s.headers["User-Agent"] = self.net.user_agent
            adapter = _VerifiedProxyAdapter(self.net.ca_bundle)
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            self._local.session = s
        return s

    def _key(self, source: SourceSettings) -> str:
        key = "api:" + source.name
        with self._lock:
            if key not in self._configured:
                self.limiter.configure(key, source.max_connections, source.rate_limit)
                self._configured.add(key)
        return key

    def request(self, source: SourceSettings, url: str, *, method: str = "GET",
                params: dict[str, Any] | None = None, json_body: Any = None,
                headers: dict[str, str] | None = None,
                not_found: tuple[int, ...] = (404,)) -> ApiResponse | None:
        """Ask `source`; None when it says the thing is not there (404 by default).

        429/5xx and connection errors are retried with backoff (Retry-After
        honoured, also as a pause for the whole API); other errors raise ApiError.
        """
        key = self._key(source)
        tries = RetryManager(self.policy, self.cancel, source.name,
                             pause=lambda delay: self.limiter.pause(key, delay))
        failed = _Transient("not asked")
        for _ in tries:
            got = self._try(key, source, url, method, params, json_body, headers, not_found)
            if not isinstance(got, _Transient):
                return got
            failed = got
            tries.again(failed.reason, failed.retry_after)  # False: the loop ends
        raise ApiError(redact(tries.spent(failed.reason), self.secrets))

    def _try(self, key: str, source: SourceSettings, url: str, method: str,
             params: dict[str, Any] | None, json_body: Any, headers: dict[str, str] | None,
             not_found: tuple[int, ...]) -> "ApiResponse | None | _Transient":
        """One request: the answer, None for "not there", or a passing failure to retry.
        ApiError for an answer that asking again will not change."""
        try:
            with self.limiter.slot(key):
                resp = self._session().request(method, url, params=params, json=json_body,
                                               headers=headers, timeout=(self.timeout, self.timeout),
                                               proxies=self.net.requests_proxies(url))
                content = resp.content
        except requests.exceptions.Timeout:
            return _Transient(f"timed out after {self.timeout:g}s")
        except requests.exceptions.RequestException as e:
            reason, unreachable = _explain_request_error(e)
            if unreachable:  # no DNS: asking again in this run cannot help
                raise ApiError(redact(reason, self.secrets)) from None
            return _Transient(reason)
        status = resp.status_code
        if status in not_found:
            return None
        self._heed(key, source, resp.headers)
        if 200 <= status < 300:
            return ApiResponse(status, resp.headers, content)
        reason = f"HTTP {status} {resp.reason or ''}".rstrip()
        detail = _error_detail(content)
        if status not in TRANSIENT_STATUS:
            raise ApiError(redact(reason + (f": {detail}" if detail else ""), self.secrets))
        wait = allowance_wait(status, resp.headers)
        if wait is not None and wait > self.policy.retry_after_max:
            raise QuotaExhausted(redact(f"{reason}: {detail or 'allowance used up'}", self.secrets))
        return _Transient(reason, wait if wait is not None
                          else parse_retry_after(resp.headers.get("Retry-After")))

    def _heed(self, key: str, source: SourceSettings, headers: Any) -> None:
        """Stay under the limits the API announces in its headers."""
        rate, connections = announced_limits(headers)
        if (rate or connections) and self.limiter.tighten(key, connections, rate):
            log.info("%s announces %s: keeping under it", source.name,
                     ", ".join(x for x in (rate and f"{rate:g} requests/s",
                                           connections and f"{connections} connection(s)") if x))


def announced_limits(headers: Any) -> tuple[float | None, int | None]:
    """(requests/s, connections) an API announces: Crossref's `x-rate-limit-limit` per
    `x-rate-limit-interval` and `x-concurrency-limit`. None where it says nothing."""
    rate = connections = None
    limit, interval = headers.get("x-rate-limit-limit"), headers.get("x-rate-limit-interval")
    try:
        if limit and interval:
            seconds = float(interval.strip().rstrip("s") or 1)
            if float(limit) > 0 and seconds > 0:
                rate = float(limit) / seconds
    except ValueError:
        pass
    try:
        conc = int(headers.get("x-concurrency-limit") or 0)
        connections = conc if conc > 0 else None
    except ValueError:
        pass
    return rate, connections


def allowance_wait(status: int, headers: Any) -> float | None:
    """Seconds until an allowance renews, for a 429 that says it is used up
    (`X-RateLimit-Remaining: 0`, with `X-RateLimit-Reset` in seconds); None otherwise."""
    if status != 429 or (headers.get("X-RateLimit-Remaining") or "").strip() != "0":
        return None
    try:
        reset = float(headers.get("X-RateLimit-Reset") or "")
    except ValueError:
        return float("inf")
    import time

    # Some APIs give a UNIX time, others seconds from now.
    return max(0.0, reset - time.time()) if reset > 1e9 else max(0.0, reset)


def _error_detail(content: bytes) -> str:
    """A short, safe hint from an error body (JSON `message`/`error`), if any."""
    import json

    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(data, dict):
        for k in ("message", "error", "errMsg", "detail"):
            v = data.get(k)
            if isinstance(v, str) and v:
                return " ".join(v.split())[:160]
    return ""


def _explain_request_error(e: BaseException) -> tuple[str, bool]:
    """A requests error as one line a person understands, and whether the host is unreachable
    for the rest of the run (a name that does not resolve)."""
    import re

    text = str(e) or type(e).__name__
    m = re.search(r"Failed to resolve '([^']+)'|Name or service not known|nodename nor servname", text)
    if m:
        host = m.group(1) or _host_in(text)
        return f"cannot resolve host {host} (no network or no DNS?)", True
    for needle, said in (("Connection refused", "connection refused"),
                         ("Connection reset", "connection reset by the server"),
                         ("Network is unreachable", "network is unreachable"),
                         ("ProxyError", "the proxy refused or failed the connection"),
                         ("CERTIFICATE_VERIFY_FAILED", "TLS error: the certificate is not trusted")):
        if needle in text:
            host = _host_in(text)
            return f"connection failed: {said}" + (f" ({host})" if host else ""), False
    text = re.sub(r"<urllib3\.[^>]*>:?\s*", "", text)
    text = re.sub(r"HTTPS?ConnectionPool\([^)]*\):\s*", "", text)
    text = re.sub(r"Max retries exceeded with url: \S+\s*", "", text)
    text = " ".join(text.replace("(Caused by", "").split())
    return "connection failed: " + text.strip("() ")[:200], False


def _host_in(text: str) -> str:
    import re

    m = re.search(r"host='([^']+)'", text)
    return m.group(1) if m else ""
