"""Network settings read in one place and handed to both HTTP clients.

libcurl fetches the files and requests asks the scholarly APIs. Both must
agree on the proxy for each URL (`*_proxy` / `NO_PROXY`, SOCKS and https://
proxies included), the CA bundle and the User-Agent, so neither reads the
environment itself: `net_config` reads it once and both are configured from
the frozen `NetConfig` it returns.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from papers import __version__

PRODUCT = f"papers/{__version__}"
HOMEPAGE = "https://pypi.org/project/papers-bulk/"
#: Landing pages are HTML, so HTML is accepted too, but a PDF is preferred.
ACCEPT = "application/pdf, text/html;q=0.9, */*;q=0.8"


def user_agent(email: str | None = None, base: str | None = None) -> str:
    """`papers/VERSION (+homepage; mailto:EMAIL)`: who we are and how to reach the user.

    Publishers and Crossref ask for a contact address; `base` replaces the
    product part (a `user_agent` setting), the mailto is still added.
    """
    head = base or f"{PRODUCT} (bulk paper downloader; +{HOMEPAGE})"
    return f"{head} mailto:{email}" if email else head


def env_proxies(environ: Mapping[str, str]) -> dict[str, str]:
    """Proxies from `*_proxy` variables, as curl, urllib and requests read them: lower
    case wins over upper case, an empty value unsets, HTTP_PROXY is ignored under CGI."""
    proxies: dict[str, str] = {}
    for name, value in environ.items():
        if value and name.lower().endswith("_proxy") and not name.islower():
            proxies[name.lower()[:-6]] = value
    if "REQUEST_METHOD" in environ:
        proxies.pop("http", None)  # CVE-2016-1000110: a client can set HTTP_PROXY via a header
    for name, value in environ.items():
        if name.endswith("_proxy") and name.islower():
            if value:
                proxies[name[:-6]] = value
            else:
                proxies.pop(name[:-6], None)
    return proxies


def bypasses_proxy(host: str, no_proxy: str) -> bool:
    """True when NO_PROXY (`*`, or names matching `host` or a parent domain) covers `host`."""
    if not no_proxy:
        return False
    if no_proxy.strip() == "*":
        return True
    host = host.lower().strip("[]")
    for name in no_proxy.split(","):
        name = name.strip().lstrip(".").lower().strip("[]")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def ca_bundle(environ: Mapping[str, str]) -> str | None:
    """The CA bundle to verify TLS with, as requests would choose it (None: the system's)."""
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        value = environ.get(var)
        if value:
            return value
    try:
        import certifi
    except ImportError:
        return None
    return certifi.where()


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


@dataclass(frozen=True, slots=True)
class NetConfig:
    """What both HTTP clients need to agree on, read once per run."""

    user_agent: str = user_agent()
    ca_bundle: str | None = None
    proxies: Mapping[str, str] = field(default_factory=dict)  # scheme (or "all") -> proxy URL
    no_proxy: str = ""
    netrc: bool = True                 # ~/.netrc (or $NETRC) for the hosts it names
    netrc_file: str | None = None      # $NETRC; None: the client's default (~/.netrc)
    cookies_file: str | None = None    # a Netscape cookies.txt, read only

    def proxy_for(self, url: str) -> str | None:
        """The proxy URL to reach `url` through, or None for a direct connection."""
        scheme = url.split(":", 1)[0].lower()
        proxy = self.proxies.get(scheme) or self.proxies.get("all")
        if not proxy or bypasses_proxy(_host_of(url), self.no_proxy):
            return None
        return proxy

    def requests_proxies(self, url: str) -> dict[str, str]:
        """`proxies=` for one requests call (requests must not read the environment)."""
        proxy = self.proxy_for(url)
        if proxy is None:
            return {}
        scheme = url.split(":", 1)[0].lower()
        return {scheme: proxy}


def net_config(environ: Mapping[str, str] | None = None, *, email: str | None = None,
               agent: str | None = None, netrc: bool = True,
               cookies_file: str | None = None) -> NetConfig:
    """The run's network settings from the environment and the user's settings."""
    env: Mapping[str, Any] = os.environ if environ is None else environ
    proxies = env_proxies(env)
    no_proxy = proxies.pop("no", "")
    return NetConfig(user_agent=user_agent(email, agent), ca_bundle=ca_bundle(env),
                     proxies=proxies, no_proxy=no_proxy, netrc=netrc,
                     netrc_file=env.get("NETRC") or None, cookies_file=cookies_file)
