"""Settings: one frozen object, and how a raw value becomes a setting's value.

Where the values come from (files, the environment, flags) is config.py's business.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from papers.errors import ConfigError

if TYPE_CHECKING:
    from papers.net.netconf import NetConfig

@dataclass(frozen=True, slots=True)
class SourceSettings:
    """Where and how politely to ask one scholarly API."""

    name: str
    base_url: str
    rate_limit: float                 # requests per second, spaced evenly; 0 = unlimited
    max_connections: int = 2          # concurrent requests to this API
    api_key: str | None = None
    enabled: bool = True
    pdf_base_url: str | None = None   # arXiv only: PDFs are {pdf_base_url}/{id}


#: The public endpoints with their published politeness rules.
DEFAULT_SOURCES = (
    # OpenAlex caps every user at 100 req/s; 20 leaves room for five machines of a fleet.
    SourceSettings("openalex", "https://api.openalex.org", 20.0, 4),
    # Unpaywall asks for at most 100,000 calls a day.
    SourceSettings("unpaywall", "https://api.unpaywall.org/v2", 5.0, 2),
    # The shared pool without a key throttles often; a key gets 1 req/s.
    SourceSettings("semantic_scholar", "https://api.semanticscholar.org/graph/v1", 1.0, 1),
    # arXiv: one request every 3 seconds, one connection at a time.
    SourceSettings("arxiv", "https://export.arxiv.org/api", 1 / 3, 1, pdf_base_url="https://arxiv.org/pdf"),
    # Crossref's public pool allows 1 list call/s (papers batches), concurrency 1; the polite
    # pool (an email) 3/s, concurrency 3. Lower limits it announces are obeyed.
    SourceSettings("crossref", "https://api.crossref.org", 1.0, 1),
    # Europe PMC documents no limit; about 10 req/s is courteous.
    SourceSettings("europepmc", "https://www.ebi.ac.uk/europepmc/webservices/rest", 10.0, 2),
)
SOURCE_NAMES = tuple(s.name for s in DEFAULT_SOURCES)
UNPAYWALL_DAILY_CALLS = 100_000  # the calls a day Unpaywall asks users to stay under
_SOURCE_KEYS = {"base_url", "rate_limit", "api_key", "enabled", "max_connections", "pdf_base_url"}
_KEYED_SOURCES = {"openalex", "semantic_scholar"}


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a download run needs to know. Defaults are polite to real servers."""

    output_dir: str = "papers"
    state: str | None = None            # default: <output_dir>/.papers-state.json
    workers: int = 8
    retry_failed: bool = False
    max_retries: int = 3
    timeout: float = 30.0               # seconds, for connect and for each read
    rate_limit: float = 2.0             # requests/s per host; 0 = unlimited
    max_per_host: int = 2               # concurrent connections per host
    max_size: int | None = 1_000_000_000  # bytes; None = no limit
    json: bool = False
    progress: bool | None = None        # None = on when stderr is a terminal
    verbosity: int = 0                  # -1 quiet, 0 normal, 1+ verbose
    dry_run: bool = False
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 120.0
    user_agent: str | None = None       # None: papers/VERSION (+homepage); `mailto:EMAIL` is added
    chunk_size: int = 256 * 1024
    min_speed: int | None = 1000        # bytes/s; slower over min_speed_window aborts (None = off)
    min_speed_window: float = 30.0      # seconds
    save_interval: float = 1.0          # seconds between state checkpoints
    email: str | None = None            # for Unpaywall (required), Crossref's polite pool, the User-Agent
    cookies: str | None = None          # a Netscape cookies.txt to send cookies from (read only)
    netrc: bool = True                  # use ~/.netrc (or $NETRC) credentials for the hosts it names
    doi_resolver: str | None = "https://doi.org"  # the last resort for a paper with a DOI; None = off
    naming: str | None = None           # a --name template for file names; None = the default scheme
    metadata: str | None = None         # "json": write NAME.json beside each PDF; None = no
    bibtex: str | None = None           # a BibTeX library of the downloaded papers, kept up to date
    shard: Any = None                   # "K/N" or "auto" as given; a shard.Shard once resolved
    shards: int | None = None           # with shard: auto and JOB_COMPLETION_INDEX, the number of shards
    sources: tuple[SourceSettings, ...] = DEFAULT_SOURCES
    use_sources: tuple[str, ...] = SOURCE_NAMES  # which sources to ask, in this order

    def source(self, name: str) -> SourceSettings:
        """The settings of source `name`."""
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in logs, state or output."""
        vals = [s.api_key for s in self.sources if s.api_key]
        if self.email:
            vals.append(self.email)
        return tuple(vals)

    def net(self) -> "NetConfig":
        """The network settings both HTTP clients use (see net/netconf.py)."""
        from papers.net.netconf import net_config

        return net_config(email=self.email, agent=self.user_agent, netrc=self.netrc,
                          cookies_file=self.cookies)

    @property
    def state_path(self) -> str:
        """Where the JSON state file lives; each shard has its own."""
        name = self.shard.state_name if self.shard is not None and not isinstance(self.shard, str) \
            else ".papers-state.json"
        return self.state or os.path.join(self.output_dir, name)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$", re.I)
_UNITS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


def parse_size(text: str | int | float | None) -> int | None:
    """Parse a size like `200MB`, `1.5GiB`, `4096`; 0 or None means no limit."""
    if text is None:
        return None
    if isinstance(text, bool):
        raise ConfigError(f"not a size: {text!r}")
    if isinstance(text, float) and not math.isfinite(text):
        raise ConfigError(f"not a size: {text!r} (try 200MB, 1GiB or 0 for no limit)")
    if isinstance(text, (int, float)):
        n = int(text)
    else:
        m = _SIZE.match(str(text))
        if not m:
            raise ConfigError(f"not a size: {text!r} (try 200MB, 1GiB or 0 for no limit)")
        base = 1024 if m.group(3) else 1000
        n = int(float(m.group(1)) * base ** _UNITS[m.group(2).lower()])
    if n < 0:
        raise ConfigError(f"size must not be negative: {text!r}")
    if n >= 1 << 63:  # libcurl takes sizes as signed 64-bit numbers
        raise ConfigError(f"size too large: {text!r}")
    return n or None


class SettingError(ConfigError):
    """A bad value for one setting; `field` names it (dotted inside `sources`), and the
    layer it came from (config.py) adds where it was given."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


_KINDS: dict[str, type] = {
    "output_dir": str, "state": str, "user_agent": str, "cookies": str, "bibtex": str,
    "workers": int, "max_retries": int, "max_per_host": int, "chunk_size": int, "verbosity": int,
    "timeout": float, "rate_limit": float, "backoff_base": float, "backoff_max": float,
    "retry_after_max": float, "save_interval": float, "min_speed_window": float,
    "retry_failed": bool, "json": bool, "dry_run": bool, "progress": bool, "netrc": bool,
}
_NULLABLE = {"state", "progress", "user_agent", "cookies", "doi_resolver", "email", "bibtex"}


def _template(value: Any) -> str | None:
    """`naming`: a template, given as text (--name, PAPERS_NAMING) or as `{template: ...}`."""
    from papers.disk.naming import check_template

    if isinstance(value, dict):
        unknown = set(value) - {"template"}
        if unknown:
            raise SettingError(f"naming.{sorted(unknown)[0]}", "unknown setting")
        value = value.get("template")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SettingError("naming", f"expected a template, got {value!r}")
    try:
        return check_template(value)
    except ValueError as e:
        raise SettingError("naming", str(e)) from None


def coerce(name: str, value: Any, sources: tuple[SourceSettings, ...] = DEFAULT_SOURCES) -> Any:
    """The value of setting `name` from a raw `value` (YAML, an environment variable or a
    flag); SettingError if it is not one. `sources` is what a `sources` value amends."""
    if name == "sources":
        return parse_sources(value, sources)
    if name == "use_sources":
        return parse_source_names(value)
    if name in ("max_size", "min_speed"):
        try:
            return parse_size(value)
        except ConfigError as e:
            raise SettingError(name, str(e)) from None
    if value is None and name in _NULLABLE:
        return None
    kind = _KINDS.get(name)
    if name == "email":
        if not isinstance(value, str) or "@" not in value:
            raise SettingError(name, f"expected an email address, got {value!r}")
        return value.strip()
    if name == "naming":
        return _template(value)
    if name == "shard":
        if value is None or (isinstance(value, str) and (value.strip() == "auto" or "/" in value)):
            return value if value is None else value.strip()
        raise SettingError(name, f"expected K/N (e.g. 0/4) or auto, got {value!r}")
    if name == "shards":
        return None if value is None else _bounded("shards", _number(name, value, int), value)
    if name == "metadata":
        if value not in (None, "json"):
            raise SettingError(name, f"expected json (or null), got {value!r}")
        return value
    if name == "doi_resolver":
        if not isinstance(value, str) or not value.lower().startswith(("http://", "https://")):
            raise SettingError(name, f"expected an http(s) URL, got {value!r}")
        return value.rstrip("/")
    if kind is bool:
        if not isinstance(value, bool):
            raise SettingError(name, f"expected true or false, got {value!r}")
        return value
    if kind in (int, float):
        return _bounded(name, _number(name, value, kind, minimum=-1 if name == "verbosity" else 0), value)
    if kind is str:
        if not isinstance(value, str) or not value.strip():
            raise SettingError(name, f"expected text, got {value!r}")
        if name == "cookies":
            return _readable(name, os.path.expanduser(value))
        return os.path.expanduser(value) if name in ("output_dir", "state", "bibtex") else value
    raise SettingError(name, "unknown setting")


MAX_WORKERS = 256  # threads; past this a run spends itself on switching between them
_DAY = 86_400.0
#: The largest value each numeric setting takes (libcurl's options are C longs, in ms).
MAXIMA: dict[str, float] = {
    "workers": MAX_WORKERS, "max_per_host": 10_000, "shards": 1_000_000, "max_retries": 1_000,
    "chunk_size": 1 << 30, "verbosity": 3, "timeout": _DAY, "backoff_base": _DAY,
    "backoff_max": _DAY, "retry_after_max": _DAY, "save_interval": _DAY,
    "min_speed_window": _DAY, "rate_limit": 1e6,
}


def _bounded(name: str, v: Any, value: Any) -> Any:
    if name in ("workers", "max_per_host", "chunk_size", "shards") and v < 1:
        raise SettingError(name, f"must be at least 1, got {value!r}")
    if v > MAXIMA.get(name, math.inf):
        raise SettingError(name, f"at most {MAXIMA[name]:g}, got {value!r}")
    if name == "timeout" and v <= 0:
        raise SettingError(name, f"must be more than 0, got {value!r}")
    return v


SETTING_NAMES = tuple(f.name for f in fields(Settings))


def parse_sources(value: Any, base: tuple[SourceSettings, ...] = DEFAULT_SOURCES) -> tuple[SourceSettings, ...]:
    """Apply a config `sources:` mapping ({name: {base_url, rate_limit, ...}}) to `base`."""
    if value is None:
        return base
    if not isinstance(value, dict):
        raise SettingError("sources", "expected a mapping of source names to settings")
    out = {s.name: s for s in base}
    for name, conf in value.items():
        if name not in out:
            raise SettingError("sources", f"unknown source {name!r} (known: {', '.join(SOURCE_NAMES)})")
        if conf is None:
            continue
        if not isinstance(conf, dict):
            raise SettingError(f"sources.{name}", "expected a mapping")
        changes: dict[str, Any] = {}
        for key, v in conf.items():
            where = f"sources.{name}.{key}"
            if key not in _SOURCE_KEYS or (key == "api_key" and name not in _KEYED_SOURCES) \
                    or (key == "pdf_base_url" and name != "arxiv"):
                raise SettingError(where, "unknown setting")
            if key in ("base_url", "pdf_base_url"):
                if not isinstance(v, str) or not v.lower().startswith(("http://", "https://")):
                    raise SettingError(where, f"expected an http(s) URL, got {v!r}")
                v = v.rstrip("/")
            elif key == "api_key":
                if v is not None and (not isinstance(v, str) or not v.strip()):
                    raise SettingError(where, "expected text")
            elif key == "enabled":
                if not isinstance(v, bool):
                    raise SettingError(where, "expected true or false")
            else:
                v = _number(where, v, int if key == "max_connections" else float)
                if key == "max_connections" and v < 1:
                    raise SettingError(where, "must be at least 1")
            changes[key] = v
        out[name] = replace(out[name], **changes)
    return tuple(out[s.name] for s in base)


def parse_source_names(value: Any) -> tuple[str, ...]:
    """`openalex,arxiv` (or a list) -> a tuple of known source names."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise SettingError("use_sources", f"expected a list of source names, got {value!r}")
    names = tuple(str(x).strip() for x in items if str(x).strip())
    unknown = [n for n in names if n not in SOURCE_NAMES]
    if unknown:
        raise SettingError("use_sources", f"unknown source {unknown[0]!r} (known: {', '.join(SOURCE_NAMES)})")
    if not names:
        raise SettingError("use_sources", "no sources selected")
    return names


def _readable(name: str, path: str) -> str:
    """`path` if it is a file that can be read, else a ConfigError naming the setting."""
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise SettingError(name, f"cannot read ({e.strerror})") from None
    if os.path.isdir(path):
        raise SettingError(name, "a directory, not a cookies.txt file")
    return path


def _number(where: str, value: Any, kind: type, minimum: int = 0) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SettingError(where, f"expected a number, got {value!r}")
    try:
        v = kind(value)
    except (ValueError, OverflowError):  # int("x"), int(float("inf"))
        raise SettingError(where, f"expected a number, got {value!r}") from None
    if not math.isfinite(v):  # float("nan"), float("inf"): no limit is ever spelt so
        raise SettingError(where, f"expected a finite number, got {value!r}")
    if v < minimum:
        raise SettingError(where, f"must not be negative, got {value!r}"
                           if minimum == 0 else f"{minimum} is the least, got {value!r}")
    return v
