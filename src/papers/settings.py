"""Settings: one frozen object built from defaults, the YAML config and flags."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from typing import Any

from papers import __version__

DEFAULT_CONFIG_PATHS = (
    os.path.join(os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"),
                 "papers", "config.yaml"),
)


class ConfigError(Exception):
    """A bad setting; the message names it."""


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
    user_agent: str = f"papers/{__version__} (bulk paper downloader; +https://pypi.org/project/papers-bulk/)"
    chunk_size: int = 256 * 1024
    save_interval: float = 1.0          # seconds between state checkpoints

    @property
    def state_path(self) -> str:
        """Where the JSON state file lives."""
        return self.state or os.path.join(self.output_dir, ".papers-state.json")


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$", re.I)
_UNITS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


def parse_size(text: str | int | float | None) -> int | None:
    """Parse a size like `200MB`, `1.5GiB`, `4096`; 0 or None means no limit."""
    if text is None:
        return None
    if isinstance(text, bool):
        raise ConfigError(f"not a size: {text!r}")
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
    return n or None


def _coerce(name: str, value: Any) -> Any:
    kind = {
        "output_dir": str, "state": str, "user_agent": str,
        "workers": int, "max_retries": int, "max_per_host": int, "chunk_size": int, "verbosity": int,
        "timeout": float, "rate_limit": float, "backoff_base": float, "backoff_max": float,
        "retry_after_max": float, "save_interval": float,
        "retry_failed": bool, "json": bool, "dry_run": bool, "progress": bool,
    }.get(name)
    if name == "max_size":
        return parse_size(value)
    if value is None and name in ("state", "progress"):
        return None
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name}: expected true or false, got {value!r}")
        return value
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"{name}: expected a number, got {value!r}")
        try:
            v = kind(value)
        except ValueError:
            raise ConfigError(f"{name}: expected a number, got {value!r}") from None
        if v < 0:
            raise ConfigError(f"{name}: must not be negative, got {value!r}")
        if name in ("workers", "max_per_host", "chunk_size") and v < 1:
            raise ConfigError(f"{name}: must be at least 1, got {value!r}")
        if name == "timeout" and v <= 0:
            raise ConfigError(f"{name}: must be more than 0, got {value!r}")
        return v
    if kind is str:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{name}: expected text, got {value!r}")
        return os.path.expanduser(value) if name in ("output_dir", "state") else value
    raise ConfigError(f"unknown setting {name!r}")


SETTING_NAMES = tuple(f.name for f in fields(Settings))
# Config keys that belong to the consolidate layer; accepted so one config serves both.
_OTHER_SECTIONS = ("email", "sources")


def load_config(path: str) -> dict[str, Any]:
    """Read a YAML config file into a dict of raw settings (validated by `build_settings`)."""
    import yaml  # only runs when a config exists, keeps start-up fast otherwise

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: no such file") from None
    except OSError as e:
        raise ConfigError(f"config file {path}: cannot read ({e.strerror})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise ConfigError(f"config file {path}:{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping of settings")
    out = {}
    for k, v in data.items():
        key = str(k).replace("-", "_")
        if key in _OTHER_SECTIONS:
            continue
        if key not in SETTING_NAMES:
            raise ConfigError(f"config file {path}: unknown setting {k!r}")
        out[key] = v
    return out


def build_settings(config: dict[str, Any], overrides: dict[str, Any]) -> Settings:
    """Defaults, then config values, then flags given on the command line (None = not given)."""
    values: dict[str, Any] = {}
    for source in (config, {k: v for k, v in overrides.items() if v is not None}):
        for k, v in source.items():
            values[k] = _coerce(k, v)
    return replace(Settings(), **values)
