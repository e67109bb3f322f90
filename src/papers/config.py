"""Where settings come from, in rising precedence: defaults, the user config
(`$XDG_CONFIG_HOME/papers/config.yaml`), `-c FILE` or `$PAPERS_CONFIG`, the
environment (`PAPERS_<KEY>`, e.g. `PAPERS_WORKERS=4`), and flags.

Each layer is a mapping of raw values with a name for its source; a bad value is
reported with that source (`--workers 0: must be at least 1`, `config.yaml:
workers: expected a number, got 'eight'`, `PAPERS_WORKERS: ...`), and every
value remembers where it came from, for `papers config show`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from papers.errors import ConfigError, reading
from papers.settings import (DEFAULT_SOURCES, KEYED_SOURCES, SETTING_NAMES, SettingError, Settings,
                             coerce)

ENV_PREFIX = "PAPERS_"


@dataclass(frozen=True, slots=True)
class Layer:
    """Raw setting values from one source. `kind`: default, file, env or flag;
    `name`: the file's path (or the flags' spellings, by setting)."""

    kind: str
    values: Mapping[str, Any]
    name: str = ""
    spelled: Mapping[str, str] | None = None  # flag: the flag as typed, by setting

    def origin(self, key: str) -> str:
        """Where `key`'s value came from, as `papers config show` prints it."""
        if self.kind == "file":
            return self.name
        if self.kind == "env":
            return env_var(key.split(".")[0])
        if self.kind == "flag":
            return (self.spelled or {}).get(key, "--" + key.replace("_", "-"))
        return "default"

    def where(self, key: str, err: SettingError) -> str:
        """The start of an error message about `key`'s value."""
        if self.kind == "file":
            return f"{self.name}: {err.field}"
        if self.kind == "env":
            var = env_var(key)
            return var if err.field == key else f"{var}: {err.field}"
        return f"{self.origin(key)} {self.values[key]}"


def env_var(key: str) -> str:
    """The environment variable of setting `key`: `rate_limit` -> `PAPERS_RATE_LIMIT`."""
    return ENV_PREFIX + key.upper()


def user_config_path(environ: Mapping[str, str]) -> str:
    """The user's config file, read when it exists."""
    base = environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "papers", "config.yaml")


def file_layer(path: str) -> Layer:
    """The settings of the YAML file at `path`; ConfigError naming it if unusable."""
    import yaml  # only runs when a config exists, keeps start-up fast otherwise

    try:
        with reading(path, ConfigError, "config file "), open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise ConfigError(f"config file {path}:{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping of settings")
    values = {}
    for k, v in data.items():
        key = str(k).replace("-", "_")
        if key not in SETTING_NAMES:
            raise ConfigError(f"config file {path}: unknown setting {k!r}")
        values[key] = v
    return Layer("file", values, path)


def env_layer(environ: Mapping[str, str]) -> Layer:
    """`PAPERS_<KEY>` variables, each value read as a YAML scalar (or list, or mapping)."""
    values = {}
    for key in SETTING_NAMES:
        raw = environ.get(env_var(key))
        if raw is not None and raw != "":
            values[key] = _yaml_value(env_var(key), raw)
    return Layer("env", values)


#: PAPERS_* variables that are not settings, yet are read.
_OTHER_VARS = ("PAPERS_CONFIG",)


def unknown_env_vars(environ: Mapping[str, str]) -> list[str]:
    """A warning for each `PAPERS_*` variable that names no setting (a typo is ignored
    otherwise), with the nearest setting's variable."""
    import difflib

    known = [env_var(k) for k in SETTING_NAMES] + list(_OTHER_VARS)
    said = []
    for var in sorted(v for v in environ if v.startswith(ENV_PREFIX) and v not in known):
        # Compared without the prefix, which every name shares.
        near = difflib.get_close_matches(var[len(ENV_PREFIX):], [k[len(ENV_PREFIX):] for k in known],
                                         n=1, cutoff=0.7)
        said.append(f"{var} is not a papers setting, and is ignored"
                    + (f"; did you mean {ENV_PREFIX}{near[0]}?" if near else ""))
    return said


def _yaml_value(var: str, raw: str) -> Any:
    if raw.strip().lower() in ("true", "false", "null") or raw.strip()[:1] in "[{" \
            or raw.strip().replace(".", "", 1).isdigit():
        import yaml

        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ConfigError(f"{var}: not a valid value: {raw!r}") from None
    return raw  # text as it is: a path, an address, a size like 200MB


def layers_for(config_file: str | None, environ: Mapping[str, str], flags: Mapping[str, Any],
               spelled: Mapping[str, str] | None = None) -> list[Layer]:
    """The layers of one run, lowest precedence first. `flags`: values given on the
    command line (None: not given)."""
    layers = [Layer("default", {})]
    user = user_config_path(environ)
    if os.path.isfile(user):
        layers.append(file_layer(user))
    explicit = config_file or environ.get("PAPERS_CONFIG")
    if explicit and os.path.abspath(explicit) != os.path.abspath(user):
        layers.append(file_layer(explicit))
    layers.append(env_layer(environ))
    layers.append(Layer("flag", {k: v for k, v in flags.items() if v is not None}, spelled=spelled))
    return layers


def resolve(layers: list[Layer], environ: Mapping[str, str] | None = None) -> tuple[Settings, dict[str, str]]:
    """The Settings the layers make, and where each value came from (by setting, and by
    `sources.NAME.KEY` for what a layer changed inside `sources`)."""
    values: dict[str, Any] = {}
    origins = {key: "default" for key in SETTING_NAMES}
    origins.update({f"sources.{src.name}.{f}": "default" for src in DEFAULT_SOURCES
                    for f in src.__dataclass_fields__ if f != "name"})
    for layer in layers:
        for key, raw in layer.values.items():
            try:
                values[key] = coerce(key, raw, values.get("sources", DEFAULT_SOURCES))
            except SettingError as e:
                raise ConfigError(f"{layer.where(key, e)}: {e.problem}") from None
            origins[key] = layer.origin(key)
            if key == "sources" and isinstance(raw, dict):
                for name, conf in raw.items():
                    for sub in (conf or {}):
                        origins[f"sources.{name}.{sub}"] = layer.origin(key)
    return _sharded(replace(Settings(), **values), environ), origins


def _sharded(settings: Settings, environ: Mapping[str, str] | None) -> Settings:
    """With a shard, the shard itself, and its share of the fleet's per-host and per-API
    budgets: each limit divided evenly by the number of shards (a static split)."""
    if settings.shard is None:
        return settings
    from papers.download.shard import parse_shard

    shard = parse_shard(settings.shard, os.environ if environ is None else environ, settings.shards)
    n = shard.count
    return replace(settings, shard=shard, rate_limit=settings.rate_limit / n,
                   max_per_host=max(1, settings.max_per_host // n),
                   sources=tuple(replace(src, rate_limit=src.rate_limit / n) for src in settings.sources))


def load_settings(config_file: str | None, flags: Mapping[str, Any],
                  environ: Mapping[str, str] | None = None,
                  spelled: Mapping[str, str] | None = None) -> Settings:
    """The Settings of a run: see the module docstring."""
    environ = os.environ if environ is None else environ
    return resolve(layers_for(config_file, environ, flags, spelled), environ)[0]


_SECRET = {"email", "api_key"}


def describe(settings: Settings, origins: Mapping[str, str]) -> list[str]:
    """`papers config show`: one `key: value  (origin)` line per setting, with those
    inside `sources` as `sources.NAME.KEY`; secrets masked."""
    from dataclasses import fields

    lines = [f"{name}: {_shown(name, getattr(settings, name))}  ({origins[name]})"
             for name in SETTING_NAMES if name != "sources"]
    for src in settings.sources:
        for f in fields(src):
            if f.name == "name" or (f.name == "api_key" and src.name not in KEYED_SOURCES) \
                    or (f.name == "pdf_base_url" and src.name != "arxiv"):
                continue
            key = f"sources.{src.name}.{f.name}"
            lines.append(f"{key}: {_shown(f.name, getattr(src, f.name))}  ({origins[key]})")
    return lines



def _shown(name: str, value: Any) -> str:
    if value is None:
        return "null"
    if name in _SECRET:
        return "***"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
