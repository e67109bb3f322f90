"""Where settings come from: the precedence of the layers, and errors that name their source."""

import os

import pytest

from papers.config import layers_for, resolve
from papers.errors import ConfigError


def setup(tmp_path, user=None, file=None):
    """A user config under XDG_CONFIG_HOME and a -c file, as given (None: absent)."""
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    if user is not None:
        (tmp_path / "xdg" / "papers").mkdir(parents=True)
        (tmp_path / "xdg" / "papers" / "config.yaml").write_text(user)
    path = None
    if file is not None:
        path = str(tmp_path / "lab.yaml")
        (tmp_path / "lab.yaml").write_text(file)
    return environ, path


USER, FILE = "user", "file"


@pytest.mark.parametrize("user, file, via, env, flag, value, origin", [
    (None, None, None, None, None, 8, "default"),
    ("workers: 3", None, None, None, None, 3, USER),
    ("workers: 3", "workers: 4", "-c", None, None, 4, FILE),
    ("workers: 3", "workers: 4", "PAPERS_CONFIG", None, None, 4, FILE),
    ("workers: 3", "timeout: 9", "-c", None, None, 3, USER),           # the file says nothing of it
    ("workers: 3", "workers: 4", "-c", "5", None, 5, "PAPERS_WORKERS"),
    (None, None, None, "5", None, 5, "PAPERS_WORKERS"),
    ("workers: 3", "workers: 4", "-c", "5", 6, 6, "--workers"),
    (None, None, None, None, 6, 6, "--workers"),
], ids=["default", "user config", "-c over user", "$PAPERS_CONFIG over user", "user fills in",
        "env over files", "env alone", "flag over all", "flag alone"])
def test_precedence(tmp_path, user, file, via, env, flag, value, origin):
    environ, path = setup(tmp_path, user, file)
    if via == "PAPERS_CONFIG":
        environ["PAPERS_CONFIG"], path = path, None
    if env is not None:
        environ["PAPERS_WORKERS"] = env
    settings, origins = resolve(layers_for(path, environ, {"workers": flag}))
    assert settings.workers == value
    expected = {USER: str(tmp_path / "xdg" / "papers" / "config.yaml"),
                FILE: str(tmp_path / "lab.yaml")}.get(origin, origin)
    assert origins["workers"] == expected


def test_every_setting_has_its_environment_variable(tmp_path):
    environ, _ = setup(tmp_path)
    environ.update({"PAPERS_OUTPUT_DIR": "/data/pdfs", "PAPERS_EMAIL": "me@lab.org",
                    "PAPERS_RATE_LIMIT": "0.5", "PAPERS_MAX_SIZE": "200MB", "PAPERS_JSON": "true",
                    "PAPERS_USE_SOURCES": "arxiv,crossref", "PAPERS_DOI_RESOLVER": "null",
                    "PAPERS_SOURCES": "{openalex: {rate_limit: 3}}"})
    s, origins = resolve(layers_for(None, environ, {}))
    assert (s.output_dir, s.email, s.rate_limit, s.max_size, s.json) == \
        ("/data/pdfs", "me@lab.org", 0.5, 200_000_000, True)
    assert s.use_sources == ("arxiv", "crossref") and s.doi_resolver is None
    assert s.source("openalex").rate_limit == 3 and s.source("openalex").max_connections == 4
    assert origins["sources.openalex.rate_limit"] == "PAPERS_SOURCES"
    assert origins["sources.openalex.max_connections"] == "default"


def test_sources_from_two_files_are_merged_key_by_key(tmp_path):
    environ, path = setup(tmp_path, user="sources: {openalex: {api_key: K1, rate_limit: 3}}",
                          file="sources: {openalex: {rate_limit: 7}}")
    s, origins = resolve(layers_for(path, environ, {}))
    assert s.source("openalex").api_key == "K1" and s.source("openalex").rate_limit == 7
    assert origins["sources.openalex.rate_limit"] == path


@pytest.mark.parametrize("user, file, env, flag, message", [
    (None, "workers: eight", {}, {}, "{file}: workers: expected a number, got 'eight'"),
    ("workers: 0", None, {}, {}, "{user}: workers: must be at least 1, got 0"),
    (None, None, {"PAPERS_WORKERS": "eight"}, {}, "PAPERS_WORKERS: expected a number, got 'eight'"),
    (None, None, {"PAPERS_SOURCES": "{openalex: {rate_limit: x}}"}, {},
     "PAPERS_SOURCES: sources.openalex.rate_limit: expected a number, got 'x'"),
    (None, "sources: {arxiv: {api_key: k}}", {}, {}, "{file}: sources.arxiv.api_key: unknown setting"),
    (None, None, {}, {"workers": 0}, "--workers 0: must be at least 1"),
    (None, None, {}, {"max_size": "huge"}, "--max-size huge: not a size"),
    (None, None, {"PAPERS_EMAIL": "nobody"}, {}, "PAPERS_EMAIL: expected an email address"),
], ids=["file", "user file", "env", "env, nested", "file, nested", "flag", "flag, size", "env, email"])
def test_a_bad_value_names_its_source(tmp_path, user, file, env, flag, message):
    environ, path = setup(tmp_path, user, file)
    environ.update(env)
    with pytest.raises(ConfigError) as e:
        resolve(layers_for(path, environ, flag))
    expected = message.format(file=path, user=os.path.join(tmp_path, "xdg", "papers", "config.yaml"))
    assert str(e.value).startswith(expected), str(e.value)


def test_config_show_names_each_origin_and_masks_secrets(papers, env, tmp_path):
    c = tmp_path / "lab.yaml"
    c.write_text("rate_limit: 1\nsources:\n  openalex:\n    api_key: SECRETKEY\n")
    env["PAPERS_WORKERS"] = "5"
    env["PAPERS_EMAIL"] = "me@lab.org"
    r = papers("config", "show", "-c", str(c))
    assert r.code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "workers: 5  (PAPERS_WORKERS)" in lines
    assert f"rate_limit: 1  ({c})" in lines
    assert "timeout: 30  (default)" in lines
    assert "email: ***  (PAPERS_EMAIL)" in lines
    assert f"sources.openalex.api_key: ***  ({c})" in lines
    assert "SECRETKEY" not in r.stdout and "me@lab.org" not in r.stdout
