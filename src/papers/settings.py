"""Settings: one frozen object, and how a raw value becomes a setting's value.

Where the values come from (files, the environment, flags) is config.py's business.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from papers.discovery.choice import Choice, parse_licences, parse_versions
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
    # arXiv: one request every 3 seconds, one connection at a time; 3.1 s apart here, as a
    # request that starts 3 s after the last can reach arXiv sooner (a kept connection).
    SourceSettings("arxiv", "https://export.arxiv.org/api", 1 / 3.1, 1,
                   pdf_base_url="https://arxiv.org/pdf"),
    # Crossref's public pool allows 1 list call/s (papers batches), concurrency 1; the polite
    # pool (an email) 3/s, concurrency 3. Lower limits it announces are obeyed.
    SourceSettings("crossref", "https://api.crossref.org", 1.0, 1),
    # Europe PMC documents no limit; about 10 req/s is courteous.
    SourceSettings("europepmc", "https://www.ebi.ac.uk/europepmc/webservices/rest", 10.0, 2),
)
SOURCE_NAMES = tuple(s.name for s in DEFAULT_SOURCES)
UNPAYWALL_DAILY_CALLS = 100_000  # the calls a day Unpaywall asks users to stay under
_SOURCE_KEYS = {"base_url", "rate_limit", "api_key", "enabled", "max_connections", "pdf_base_url"}
KEYED_SOURCES = {"openalex", "semantic_scholar"}  # the sources that take an api_key


MAX_WORKERS = 256  # threads; past this a run spends itself on switching between them
_DAY = 86_400.0
DOWNLOAD, CONSOLIDATE, SEARCH, MATCH = ("download",), ("consolidate",), ("search",), ("match",)
BOTH = DOWNLOAD + CONSOLIDATE
ALL = BOTH + SEARCH + MATCH


@dataclass(frozen=True, slots=True)
class Spec:
    """How one setting is given and checked; declared once, on its `Settings` field, and
    read by `coerce`, by the CLI's options (`flags`, for `commands`), by config.py and
    by the test that checks config.example.yaml.

    `kind`: text, path, dir, file (a readable file), int, float, bool, size, email, url,
    template, shard, json (the one choice of --metadata), sources, source_names."""

    kind: str
    help: str
    flags: tuple[str, ...] = ()       # the command-line spellings; () = none
    metavar: str | None = None
    commands: tuple[str, ...] = DOWNLOAD
    nullable: bool = False            # null is a value (off, or "choose for me")
    minimum: float = 0                # numbers: the least value
    maximum: float = math.inf         # numbers: the largest (libcurl's options are C longs, in ms)
    positive: bool = False            # numbers: more than 0
    shown: str | None = None          # the default as --help shows it; None = the value


def setting(default: Any, kind: str, help: str, *flags: str, **spec: Any) -> Any:
    """A `Settings` field: its default and its `Spec`."""
    return field(default=default, metadata={"spec": Spec(kind, help, flags, **spec)})


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a run needs to know, each setting declared once. Defaults are polite
    to real servers."""

    output_dir: str = setting("papers", "dir", "Where PDFs go.", "-o", "--output-dir",
                              metavar="DIR", shown="./papers")
    state: str | None = setting(None, "path", "State file (resume checkpoint).", "--state",
                                metavar="FILE", commands=ALL, nullable=True)
    workers: int = setting(8, "int", "Concurrent workers, at most 256.", "-j", "--workers",
                           metavar="N", commands=BOTH + MATCH, minimum=1, maximum=MAX_WORKERS)
    retry_failed: bool = setting(False, "bool", "Also retry papers that failed permanently "
                                 "before.", "--retry-failed")
    max_retries: int = setting(3, "int", "Retries per URL on transient errors (resets, "
                               "timeouts, 408/429/5xx).", "--max-retries", metavar="N",
                               maximum=1_000)
    timeout: float = setting(30.0, "float", "Limit in seconds for connecting and for each "
                             "read.", "--timeout", metavar="SECONDS", positive=True, maximum=_DAY)
    rate_limit: float = setting(2.0, "float", "Max requests per second per host, spaced "
                                "evenly; 0 = unlimited.", "--rate-limit", metavar="R",
                                maximum=1e6)
    max_per_host: int = setting(2, "int", "Max concurrent connections per host.",
                                "--max-per-host", metavar="N", minimum=1, maximum=10_000)
    max_size: int | None = setting(1_000_000_000, "size", "Largest file to accept, e.g. 200MB; "
                                   "0 = no limit.", "--max-size", metavar="SIZE", shown="1GB")
    json: bool = setting(False, "bool", "Print one JSON object per paper on stdout as it "
                         "finishes.", "--json")
    progress: bool | None = setting(None, "bool", "Show a progress bar on stderr.",
                                    "--progress/--no-progress", commands=ALL, nullable=True,
                                    shown="when stderr is a terminal")
    verbosity: int = setting(0, "int", "-1 errors only (-q), 0 normal, 1 verbose (-v), 2 debug "
                             "(-vv).", commands=BOTH, minimum=-1, maximum=3)
    dry_run: bool = setting(False, "bool", "Show what would be fetched; fetch nothing.",
                            "--dry-run")
    backoff_base: float = setting(1.0, "float", "Seconds; retry n waits between half and all "
                                  "of backoff_base * 2**n.", maximum=_DAY)
    backoff_max: float = setting(60.0, "float", "Cap, in seconds, on the exponential backoff.",
                                 maximum=_DAY)
    retry_after_max: float = setting(120.0, "float", "Cap, in seconds, on a server's "
                                     "Retry-After.", maximum=_DAY)
    user_agent: str | None = setting(None, "text", "The User-Agent; null = papers/VERSION "
                                     "(+homepage). mailto:EMAIL is added.", nullable=True)
    chunk_size: int = setting(256 * 1024, "int", "Bytes read from the network at a time.",
                              minimum=1, maximum=1 << 30)
    min_speed: int | None = setting(1000, "size", "A download slower than this over "
                                    "min_speed_window is aborted; 0 = off.")
    min_speed_window: float = setting(30.0, "float", "Seconds over which min_speed is "
                                      "measured.", maximum=_DAY)
    save_interval: float = setting(1.0, "float", "Seconds between fsyncs of the state "
                                   "journal.", maximum=_DAY)
    email: str | None = setting(None, "email", "Your address, for Unpaywall (required), "
                                "Crossref's polite pool and the User-Agent; never logged.",
                                nullable=True)
    cookies: str | None = setting(None, "file", "Send cookies from a Netscape cookies.txt (a "
                                  "browser export), read only.", "--cookies", metavar="FILE",
                                  nullable=True)
    netrc: bool = setting(True, "bool", "Use ~/.netrc (or $NETRC) credentials for the hosts it "
                          "names.")
    doi_resolver: str | None = setting("https://doi.org", "url", "A paper with a DOI whose "
                                       "candidates all failed tries {doi_resolver}/{doi} last; "
                                       "null = never.", nullable=True)
    naming: str | None = setting(None, "template", "Name files by TEMPLATE, e.g. "
                                 "'{year}/{first_author}_{title:.50}'. Fields: {id} {doi} {arxiv} "
                                 "{title} {first_author} {year} {source}.", "--name",
                                 metavar="TEMPLATE", nullable=True,
                                 shown="the DOI, arXiv ID or title")
    metadata: str | None = setting(None, "json", "Write NAME.json beside each PDF: its merged "
                                   "record and the URL the bytes came from.", "--metadata",
                                   nullable=True)
    versions: tuple[str, ...] | None = setting(
        None, "versions", "Take only candidates of these versions: published, accepted, "
        "submitted, unknown (no source named one).", "--version", metavar="V,V", nullable=True,
        shown="any")
    licenses: tuple[str, ...] | None = setting(
        None, "licenses", "Take only candidates with these licences: cc-by, cc-by-sa, cc0, pd, "
        "..., open (any Creative Commons or public domain), unknown.", "--license",
        metavar="L,L", nullable=True, shown="any")
    identity_check: bool = setting(True, "bool", "Check that each PDF is the paper asked for: "
                                   "its DOI or title in the text of its first two pages. A "
                                   "wrong paper is kept as NAME.pdf.suspect and the next "
                                   "candidate is tried.", "--identity-check/--no-identity-check")
    bibtex: str | None = setting(None, "path", "Write (and on later runs update) a BibTeX "
                                 "library of the downloaded papers; its file fields point at "
                                 "the PDFs, for Zotero and JabRef.", "--bibtex", metavar="FILE",
                                 nullable=True)
    shard: Any = setting(None, "shard", "Take only shard K of N of the input (0 <= K < N); "
                         "auto: from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX. --rate-limit "
                         "and --max-per-host are then the fleet's, split over the N shards.",
                         "--shard", metavar="K/N", nullable=True, commands=DOWNLOAD + SEARCH)
    # "K/N" or "auto" as given; a shard.Shard once resolved
    shards: int | None = setting(None, "int", "With --shard auto in a Kubernetes Indexed Job: "
                                 "the number of shards (or PAPERS_SHARDS).", "--shards",
                                 metavar="N", nullable=True, minimum=1, maximum=1_000_000,
                                 commands=DOWNLOAD + SEARCH)
    match: float = setting(0.85, "min_score", "A reference string or title matches a work only "
                           "with at least this score (0 to 1), and clearly ahead of the next.",
                           "--min-score", metavar="S", commands=MATCH)
    sources: tuple[SourceSettings, ...] = setting(DEFAULT_SOURCES, "sources", "Each source's "
                                                  "endpoint, limits, key and switch.")
    use_sources: tuple[str, ...] = setting(SOURCE_NAMES, "source_names", "Sources to ask, in "
                                           "order.", "--sources", metavar="A,B",
                                           commands=CONSOLIDATE, shown="all six")

    def choice(self) -> Choice:
        """The versions and licences this run takes."""
        return Choice(self.versions, self.licenses)

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


SPECS: dict[str, Spec] = {f.name: f.metadata["spec"] for f in fields(Settings)}
SETTING_NAMES = tuple(SPECS)


def coerce(name: str, value: Any, sources: tuple[SourceSettings, ...] = DEFAULT_SOURCES) -> Any:
    """The value of setting `name` from a raw `value` (YAML, an environment variable or a
    flag), by its Spec; SettingError if it is not one. `sources` is what a `sources`
    value amends."""
    spec = SPECS.get(name)
    if spec is None:
        raise SettingError(name, "unknown setting")
    if spec.kind == "sources":
        return parse_sources(value, sources)
    if value is None and (spec.nullable or spec.kind == "size"):
        return None
    if spec.kind in _PARSERS:
        return _PARSERS[spec.kind](name, value)
    if spec.kind in ("int", "float"):
        v = _number(name, value, int if spec.kind == "int" else float, minimum=min(spec.minimum, 0))
        if v < spec.minimum:
            raise SettingError(name, f"must be at least {spec.minimum:g}, got {value!r}")
        if v > spec.maximum:
            raise SettingError(name, f"at most {spec.maximum:g}, got {value!r}")
        if spec.positive and v <= 0:
            raise SettingError(name, f"must be more than 0, got {value!r}")
        return v
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise SettingError(name, f"expected true or false, got {value!r}")
        return value
    if not isinstance(value, str) or not value.strip():
        raise SettingError(name, f"expected text, got {value!r}")
    if spec.kind == "file":
        return _readable(name, os.path.expanduser(value))
    return os.path.expanduser(value) if spec.kind in ("path", "dir") else value


def _size(name: str, value: Any) -> int | None:
    try:
        return parse_size(value)
    except ConfigError as e:
        raise SettingError(name, str(e)) from None


def _email(name: str, value: Any) -> str:
    if not isinstance(value, str) or "@" not in value:
        raise SettingError(name, f"expected an email address, got {value!r}")
    return value.strip()


def _url(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.lower().startswith(("http://", "https://")):
        raise SettingError(name, f"expected an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _shard(name: str, value: Any) -> str:
    if isinstance(value, str) and (value.strip() == "auto" or "/" in value):
        return value.strip()
    raise SettingError(name, f"expected K/N (e.g. 0/4) or auto, got {value!r}")


def _json_choice(name: str, value: Any) -> str:
    if value != "json":
        raise SettingError(name, f"expected json (or null), got {value!r}")
    return value


def _min_score(name: str, value: Any) -> float:
    """`match`: a score, given as a number (--min-score, PAPERS_MATCH) or `{min_score: ...}`."""
    if isinstance(value, dict):
        unknown = set(value) - {"min_score"}
        if unknown:
            raise SettingError(f"match.{sorted(unknown)[0]}", "unknown setting")
        value, name = value.get("min_score"), "match.min_score"
    v = _number(name, value, float)
    if not 0 < v <= 1:
        raise SettingError(name, f"a score from 0 to 1, got {value!r}")
    return v


_PARSERS = {"size": _size, "min_score": _min_score, "email": _email, "url": _url, "shard": _shard, "json": _json_choice,
            "template": lambda name, value: _template(value),
            "source_names": lambda name, value: parse_source_names(value),
            "versions": lambda name, value: _choices(name, value, parse_versions),
            "licenses": lambda name, value: _choices(name, value, parse_licences)}


def _choices(name: str, value: Any, parse: Any) -> tuple[str, ...]:
    if not isinstance(value, (str, list, tuple)):
        raise SettingError(name, f"expected a comma-separated list, got {value!r}")
    try:
        return parse(value if isinstance(value, str) else [str(v) for v in value])
    except ValueError as e:
        raise SettingError(name, str(e)) from None


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
            if key not in _SOURCE_KEYS or (key == "api_key" and name not in KEYED_SOURCES) \
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
