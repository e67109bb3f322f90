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

from papers import __version__
from papers.net.hosts import hostname

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


def bypasses_proxy(host: str, no_proxy: str) -> bool:
    """True when NO_PROXY (`*`, or names matching `host` or a parent domain) covers `host`,
    by urllib's reading of it (which requests shares)."""
    from urllib.request import proxy_bypass_environment

    return bool(no_proxy) and proxy_bypass_environment(host, {"no": no_proxy.strip()})


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
        if not proxy or bypasses_proxy(hostname(url), self.no_proxy):
            return None
        return proxy

    def requests_proxies(self, url: str) -> dict[str, str]:
        """`proxies=` for one requests call (requests must not read the environment)."""
        proxy = self.proxy_for(url)
        if proxy is None:
            return {}
        scheme = url.split(":", 1)[0].lower()
        return {scheme: proxy}


def net_config(*, email: str | None = None, agent: str | None = None, netrc: bool = True,
               cookies_file: str | None = None) -> NetConfig:
    """The run's network settings from the environment and the user's settings.

    Proxies are the `*_proxy` variables as urllib (and so requests and curl) read them:
    lower case wins over upper case, an empty value unsets, HTTP_PROXY is ignored
    under CGI."""
    from urllib.request import getproxies_environment

    proxies = getproxies_environment()
    no_proxy = proxies.pop("no", "")
    return NetConfig(user_agent=user_agent(email, agent), ca_bundle=ca_bundle(os.environ),
                     proxies=proxies, no_proxy=no_proxy, netrc=netrc,
                     netrc_file=os.environ.get("NETRC") or None, cookies_file=cookies_file)
