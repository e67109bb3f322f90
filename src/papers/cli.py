"""The `papers` command line: flags -> Settings -> library call -> exit code."""

from __future__ import annotations

import os
import sys

import click

from papers.errors import ExitStatus, PapersError, StdoutError, UsageError
from papers.inputs.given import Inputs, given_inputs
from papers.output.helptext import (COMMAND_HELP, CONFIG_EXAMPLES, CONFIG_SHOW_EXAMPLES,
                                    CONSOLIDATE_EXAMPLES, DOWNLOAD_EXAMPLES, GRAPH_EXAMPLES,
                                    MAIN_EXAMPLES, MATCH_EXAMPLES, MERGE_STATE_EXAMPLES,
                                    SEARCH_EXAMPLES, STATUS_EXAMPLES, VERIFY_EPILOG, epilog)
from papers.output.stdout import GuardedStdout
from papers.pipeline.signals import leave, quiet_stdout, signals_stop


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog=MAIN_EXAMPLES)
@click.version_option(None, "-V", "--version", package_name="papers-bulk", prog_name="papers")
def cli() -> None:
    """Download academic papers in bulk: exact PDFs, a resumable state file, pipeline output."""


def main(argv: list[str] | None = None) -> int:
    """Run `papers` with `argv` (default: the process's arguments); return the exit status.

    The one place where errors become exit statuses and one-line messages.
    Tests call it in-process, with sys.stdin/stdout/stderr swapped.
    """
    stdout = sys.stdout
    sys.stdout = GuardedStdout(stdout)
    try:
        status = _main(argv)
        sys.stdout.flush()  # what is still buffered: a full disk shows here, if not before
        return status
    except StdoutError as e:
        click.echo(f"papers: cannot write to stdout: {e.strerror}", err=True)
        return ExitStatus.OUTPUT
    except BrokenPipeError:
        quiet_stdout()
        return ExitStatus.PIPE
    finally:
        sys.stdout = stdout


def _main(argv: list[str] | None) -> int:
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        status = cli.main(args=argv, prog_name="papers", standalone_mode=False, obj={"argv": argv})
        return ExitStatus.OK if status is None else status  # a command with nothing to say
    except click.exceptions.Exit as e:  # --help, --version
        return e.exit_code
    except click.ClickException as e:  # bad flags, as click words them
        e.show()
        return ExitStatus.ERROR
    except click.exceptions.Abort:
        return ExitStatus.INTERRUPTED
    except PapersError as e:
        click.echo(f"papers: error: {e}", err=True)
        return e.exit_status


def run() -> None:
    """The console script: `main()`, then leave with its status through `leave`.
    Everything is saved once main() returns; the interpreter's teardown would only
    free a million records one by one ("Exit" in bench/AB.md), and workers
    abandoned mid-read after an interrupt must not hold the exit."""
    leave(main())


class _Completed(click.Path):
    """A path the shell completes (bash, zsh, fish: a file, or with `file_okay=False` a
    folder). papers checks the path itself, with its own messages and exit codes."""

    def convert(self, value, param, ctx):
        return value


_FILE = _Completed(dir_okay=False, allow_dash=True)
_DIR = _Completed(file_okay=False)

# As inputs.FORMATS, spelled out here so that --help does not import the readers.
INPUT_FORMATS = ("text", "json", "jsonl", "bibtex", "ris", "csv", "tsv")


def _input_options(f):
    f = click.option("--encoding", metavar="NAME",
                     help="The input files' (and stdin's) text encoding, e.g. latin-1 or cp1252.  "
                          "[default: UTF-8, or UTF-16 with a byte-order mark]")(f)
    f = click.option("--column", metavar="NAME",
                     help="The CSV/TSV column that holds the papers.  [default: found by its name: "
                          "doi, url, pdf_url, arxiv, pmid, pmcid]")(f)
    f = click.option("--format", "fmt", type=click.Choice(INPUT_FORMATS), metavar="FORMAT",
                     help="Read the input files as " + ", ".join(INPUT_FORMATS) +
                          ".  [default: from the extension, else the content]")(f)
    f = click.option("-i", "--input", "inputs", multiple=True, metavar="FILE", type=_FILE,
                     help="Read papers from FILE ('-' is stdin): text, JSON, JSON Lines, BibTeX, RIS, "
                          "CSV or TSV. Repeatable.")(f)
    return click.argument("papers", nargs=-1, metavar="[PAPER]...")(f)


def _setting_options(command: str):
    """The options of `command` that set a setting, each made from the setting's one
    declaration (`settings.Settings`): its flags, help, default and kind. The option's
    parameter is the setting's name. Then -c, -q and -v."""
    from dataclasses import fields

    from papers.settings import Settings

    def add(f):
        for opt in reversed([
            click.option("-c", "--config", metavar="FILE", type=_FILE,
                         help="YAML config file.  [default: $PAPERS_CONFIG or ~/.config/papers/config.yaml]"),
            click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr."),
            click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv for debugging)."),
        ]):
            f = opt(f)
        for fld in reversed(fields(Settings)):
            spec = fld.metadata["spec"]
            if spec.flags and command in spec.commands:
                f = click.option(*spec.flags, fld.name, **_option_kind(spec, fld.default))(f)
        return f
    return add


_CLICK_TYPES = {"int": int, "float": float, "dir": _DIR, "path": _FILE, "file": _FILE,
                "json": click.Choice(["json"])}


def _option_kind(spec, default) -> dict:
    """click's keywords for a setting's option: its type, and its help with the default."""
    shown = spec.shown
    if shown is None:  # a switch or an unset value goes without; a number shows as set
        shown = "" if default is None or isinstance(default, bool) else (
            f"{default:g}" if isinstance(default, float) else str(default))
    help = spec.help + (f"  [default: {shown}]" if shown else "")
    if spec.kind == "bool":
        flag = {} if "/" in spec.flags[0] else {"is_flag": True}  # --progress/--no-progress
        return {**flag, "default": None, "help": help}
    return {"type": _CLICK_TYPES.get(spec.kind), "metavar": spec.metavar, "help": help}


@cli.command(epilog=epilog("download", DOWNLOAD_EXAMPLES), help=COMMAND_HELP["download"])
@_input_options
@_setting_options("download")
def download(papers, inputs, fmt, column, encoding, config, quiet, verbose, **flags) -> None:
    settings = _settings(config, quiet, verbose, flags)
    return _run_download(settings, given_inputs(papers, inputs, fmt, column, encoding, "download"),
                         sys.stdin)


@cli.command(epilog=epilog("consolidate", CONSOLIDATE_EXAMPLES), help=COMMAND_HELP["consolidate"])
@_input_options
@click.option("-o", "--output", "output_file", metavar="FILE", type=_FILE,
              help="Write one JSON array to FILE (atomically) instead of JSON Lines on stdout.")
@click.option("--refresh", is_flag=True,
              help="Ask the sources again for papers the checkpoint has already (a paper whose "
                   "checkpoint lacks a source this run asks is asked again anyway).")
@_setting_options("consolidate")
def consolidate(papers, inputs, fmt, column, encoding, output_file, refresh, config, quiet, verbose,
                **flags) -> None:
    state = flags.pop("state")  # consolidate's checkpoint, not the download state setting
    settings = _settings(config, quiet, verbose, flags)
    given = given_inputs(papers, inputs, fmt, column, encoding, "consolidate")
    return _run_consolidate(settings, given, sys.stdin, output_file, state, refresh)


def _walk_options(f):
    """The options of the commands that write the works an API walk finds."""
    for opt in reversed([
        click.option("--oa", is_flag=True, help="Only open-access works."),
        click.option("--since", type=int, metavar="YEAR", help="Only works published in YEAR or later."),
        click.option("--until", type=int, metavar="YEAR", help="Only works published in YEAR or before."),
        click.option("--limit", type=int, default=100, metavar="N",
                     help="Write at most N works; above 10,000 asks first.  [default: 100]"),
        click.option("--yes", is_flag=True, help="Do not ask about a --limit above 10,000."),
        click.option("--refresh", is_flag=True, help="Start over, ignoring the checkpoint."),
    ]):
        f = opt(f)
    return _setting_options("search")(f)


def _confirm_limit(limit: int, yes: bool) -> None:
    from papers.discovery.search import CONFIRM_OVER

    if limit > CONFIRM_OVER and not yes:
        if sys.stdin is None or not sys.stdin.isatty():
            raise UsageError(f"--limit {limit:,} is over {CONFIRM_OVER:,}: add --yes to go ahead")
        click.confirm(f"Fetch up to {limit:,} works?", abort=True, err=True)


@cli.command(epilog=epilog("search", SEARCH_EXAMPLES), help=COMMAND_HELP["search"])
@click.argument("query", nargs=-1, metavar="[QUERY]...")
@click.option("--source", type=click.Choice(["openalex", "europepmc", "arxiv"]), default="openalex",
              help="Whose search to use.  [default: openalex]")
@click.option("--filter", "filters", multiple=True, metavar="KEY:VALUE",
              help="An OpenAlex filter, e.g. publication_year:2020-2024, type:article, "
                   "cites:W123. Repeatable.")
@click.option("--count", is_flag=True,
              help="Say how many works match, and the calls (and OpenAlex credits) fetching them "
                   "would take; fetch nothing.")
@_walk_options
def search(query, source, filters, oa, since, until, limit, yes, count, refresh, config, quiet,
           verbose, **flags) -> None:
    from papers.discovery.search import estimate, search_query

    q = search_query(" ".join(query), filters, source, oa, since, until, limit)
    state = flags.pop("state")
    settings = _settings(config, quiet, verbose, flags)
    if count:
        return _estimated(lambda cancel: estimate(settings, q, source, limit, cancel))
    _confirm_limit(limit, yes)
    return _run_search(settings, q, source, limit, state, refresh)


def _graph_command(relation: str, about: str):
    @cli.command(relation, epilog=epilog("search", GRAPH_EXAMPLES[relation]), help=about)
    @_input_options
    @click.option("--depth", type=click.IntRange(1, 2), default=1,
                  help="2: follow the works found once more (at most --limit works in all).  "
                       "[default: 1]")
    @click.option("--count", is_flag=True,
                  help=f"Say how many works OpenAlex counts ({relation}) and the calls (and "
                       "credits) fetching them would take; fetch none of them.")
    @_walk_options
    def command(papers, inputs, fmt, column, encoding, depth, count, oa, since, until, limit,
                yes, refresh, config, quiet, verbose, **flags) -> int:
        from papers.discovery.search import search_query

        q = search_query("", (), "openalex", oa, since, until, limit, needs_terms=False)
        given = given_inputs(papers, inputs, fmt, column, encoding, relation)
        state = flags.pop("state")
        settings = _settings(config, quiet, verbose, flags)
        if count:
            from papers.discovery.graph import estimate_graph

            return _estimated(lambda cancel: estimate_graph(
                settings, relation, given.iter(sys.stdin), depth=depth, limit=limit, cancel=cancel))
        _confirm_limit(limit, yes)
        return _run_graph(settings, relation, given, q, depth, limit, state, refresh)
    return command


@cli.command(epilog=epilog("match", MATCH_EXAMPLES), help=COMMAND_HELP["match"])
@_input_options
@click.option("--refresh", is_flag=True, help="Start over, ignoring the checkpoint.")
@_setting_options("match")
def match(papers, inputs, fmt, column, encoding, refresh, config, quiet, verbose, **flags) -> int:
    from papers.discovery.reference import run_match

    given, state = given_inputs(papers, inputs, fmt, column, encoding, "match"), flags.pop("state")
    settings = _settings(config, quiet, verbose, flags)
    return _run_walk(run_match, settings, given.iter(sys.stdin), state_path=state,
                     refresh=refresh, min_score=settings.match)


_graph_command("references", COMMAND_HELP["references"])
_graph_command("citations", COMMAND_HELP["citations"])


def _estimated(make) -> int:
    """A --count: the estimate as JSON on stdout, in a sentence on stderr."""
    import json

    from papers.output.display import Reporter

    with signals_stop(Reporter()) as cancel:  # Ctrl-C: Cancelled, exit 130 (main)
        est = make(cancel)
    click.echo(json.dumps(est.as_dict()))
    click.echo(f"papers: {est.sentence()}", err=True)
    return ExitStatus.OK


def _state_options(f):
    f = click.option("--state", "states", multiple=True, metavar="FILE", type=_FILE,
                     help="A state file. Repeatable: several are read as one.")(f)
    return click.option("-o", "--output-dir", "output_dirs", multiple=True, metavar="DIR", type=_DIR,
                        help="An output directory: every state file in it. Repeatable.  "
                             "[default: ./papers]")(f)


def _state_paths(output_dirs, states):
    from papers.state.inspect import state_files

    return state_files(output_dirs or (() if states else ("papers",)), states)


@cli.command(epilog=STATUS_EXAMPLES)
@_state_options
@click.option("--json", "json_output", is_flag=True, help="One JSON object on stdout.")
@click.option("--failed", "which", flag_value="failed", help="Only the ids of failed papers, one per line.")
@click.option("--downloaded", "which", flag_value="downloaded",
              help="Only the ids of downloaded papers, one per line.")
@click.option("--blocked", "which", flag_value="blocked",
              help="The papers blocked by a wall (a challenge, a login, a paywall), by host.")
def status(output_dirs, states, json_output, which) -> int:
    """What the state says: counts by status, bytes on disk, failures grouped by reason
    with a few examples each, and when the last run started and ended. Several state
    files (shards) are read as one."""
    from papers.state.inspect import status_lines

    for line in status_lines(_state_paths(output_dirs, states), json_output, which):
        click.echo(line)
    return ExitStatus.OK


@cli.command(epilog=VERIFY_EPILOG)
@_state_options
@click.option("--fix", is_flag=True,
              help="Mark missing or changed files so that the next download fetches them again "
                   "(a changed file is kept as NAME.bad, another paper as NAME.pdf.suspect).")
@click.option("--identity", is_flag=True,
              help="Also check that each file is its paper: the DOI or title in its text.")
def verify(output_dirs, states, fix, identity) -> int:
    """Check every downloaded file the state records: that it exists, its size, its
    SHA-256 and its %PDF- header. Lists each one that is missing or changed."""
    import time

    from papers.state.inspect import verify_paths

    found, said = verify_paths(_state_paths(output_dirs, states), fix, time.time(), identity)
    for line in found:
        click.echo(line)
    for line in said:
        click.echo(f"papers: {line}", err=True)
    return ExitStatus.FAILED if found else ExitStatus.OK


@cli.command("merge-state", epilog=MERGE_STATE_EXAMPLES)
@click.argument("out", metavar="OUT.json")
@click.argument("states", nargs=-1, required=True, metavar="STATE...")
def merge_state(out, states) -> int:
    """Write one state file from many (the shards of a run): an unsharded run over the
    merged state resumes exactly where the shards stopped. Papers that two states
    recorded as downloaded to different files are refused, and nothing is written."""
    from papers.state.inspect import merge_states, state_files

    n = merge_states(os.path.abspath(out), state_files([], states))
    click.echo(f"papers: {n:,} papers from {len(states)} state files in {os.path.abspath(out)}", err=True)
    return ExitStatus.OK


@cli.group("config", epilog=CONFIG_EXAMPLES)
def config_group() -> None:
    """Look at the configuration."""


@config_group.command("show", epilog=CONFIG_SHOW_EXAMPLES)
@click.option("-c", "--config", metavar="FILE", type=_FILE,
              help="YAML config file.  [default: $PAPERS_CONFIG or ~/.config/papers/config.yaml]")
def config_show(config) -> None:
    """Print every setting's effective value and where it came from: the default, a
    config file, a PAPERS_<KEY> environment variable. Secrets are masked."""
    from papers.config import describe, layers_for, resolve

    settings, origins = resolve(layers_for(config, os.environ, {}))
    _warn_unknown_vars()
    for line in describe(settings, origins):
        click.echo(line)


def _warn_unknown_vars() -> None:
    """A warning on stderr for each PAPERS_* variable that names no setting."""
    from papers.config import unknown_env_vars

    for warning in unknown_env_vars(os.environ):
        click.echo(f"papers: warning: {warning}", err=True)


def _settings(config, quiet, verbose, overrides):
    """The run's Settings from every layer (config.py), flags as they were typed."""
    from papers.config import load_settings

    flags = {**overrides, "verbosity": (-1 if quiet else verbose) if (quiet or verbose) else None}
    settings = load_settings(config, flags, spelled=_spelled(click.get_current_context()))
    if settings.verbosity >= 0:
        _warn_unknown_vars()
    return settings


def _spelled(ctx) -> dict[str, str]:
    """For each option given, the flag as the user typed it (`-j` or `--workers`)."""
    argv = (ctx.find_root().obj or {}).get("argv") or sys.argv[1:]
    out = {}
    for param in ctx.command.params:
        for opt in getattr(param, "opts", ()):
            if any(t == opt or t.startswith(opt + "=") or (len(opt) == 2 and t.startswith(opt))
                   for t in argv):
                out[_SETTING_OF.get(param.name, param.name)] = opt
                break
    return out


# Options that set a setting of another name (every other option is named after its setting).
_SETTING_OF = {"quiet": "verbosity", "verbose": "verbosity"}


def _run_download(settings, inputs: Inputs, stdin) -> int:
    from papers.download.run import dry_run, run_download
    from papers.output.display import display_for
    from papers.pipeline.runner import Ending

    if settings.bibtex and any(f != "-" and os.path.realpath(f) == os.path.realpath(settings.bibtex)
                               for f in inputs.files):
        raise UsageError(f"--bibtex {settings.bibtex} is also an input (-i): papers never rewrites "
                         "its inputs; give the library another file name")
    reporter, show_bar = display_for(settings, bar_allowed=not settings.dry_run)
    stream = inputs.iter(stdin)
    if settings.dry_run:
        return _finish(dry_run(settings, stream, out=sys.stdout), settings, quiet_empty=True)
    with signals_stop(reporter) as cancel:
        expected = inputs.estimate() if show_bar else None
        summary = run_download(settings, stream, out=sys.stdout, reporter=reporter, cancel=cancel,
                               expected=expected)
    s = summary.stats
    if not (summary.ending is Ending.BAD_INPUT and not s.total):
        same = f" ({s.duplicates} the same file as another paper's)" if s.duplicates else ""
        _print_summary(summary, settings.verbosity < 0, f"{s.downloaded} downloaded{same}",
                       f"{s.skipped} already there",
                       f"files in {summary.output_dir}" if s.downloaded or s.skipped else "")
    return _finish(summary, settings)


def _run_consolidate(settings, inputs: Inputs, stdin, output_file, state, refresh=False) -> int:
    from papers.discovery.consolidate import run_consolidate
    from papers.output.display import display_for

    reporter, show_bar = display_for(settings, bytes=False)
    with signals_stop(reporter) as cancel:
        expected = inputs.estimate()
        summary = run_consolidate(settings, inputs.iter(stdin), out=sys.stdout,
                                  output_file=os.path.abspath(output_file) if output_file else None,
                                  state_path=state, reporter=reporter, cancel=cancel,
                                  expected=expected, refresh=refresh)
    s = summary.stats
    where = f"written to {summary.output_dir}" if output_file else "on stdout"
    _print_summary(summary, settings.verbosity < 0, f"{s.found} with PDF candidates",
                   f"{s.not_found} without", f"{s.skipped} from the checkpoint", where)
    return _finish(summary, settings)


def _run_search(settings, q, source, limit, state, refresh) -> int:
    from papers.discovery.search import run_search

    return _run_walk(run_search, settings, q, source=source, limit=limit, state_path=state,
                     refresh=refresh)


def _run_graph(settings, relation, inputs: Inputs, q, depth, limit, state, refresh) -> int:
    from papers.discovery.graph import run_graph

    return _run_walk(run_graph, settings, relation, inputs.iter(sys.stdin), query=q, depth=depth,
                     limit=limit, state_path=state, refresh=refresh)


def _run_walk(run, settings, *args, **kw) -> int:
    """A search, references or citations: records on stdout, the summary on stderr."""
    from papers.output.display import display_for
    from papers.pipeline.runner import Ending

    reporter, _ = display_for(settings, bytes=False)
    with signals_stop(reporter) as cancel:
        summary = run(settings, *args, out=sys.stdout, reporter=reporter, cancel=cancel, **kw)
    s = summary.stats
    _print_summary(summary, settings.verbosity < 0, f"{s.found} with PDF candidates",
                   f"{s.not_found} without", f"{s.skipped} from the checkpoint", "on stdout")
    if summary.ending in (Ending.STOPPED, Ending.INTERRUPTED):
        why = f"stopped: {summary.reason}" if summary.reason else "interrupted"
        click.echo(f"papers: {why}; the {s.total:,} records written so far are checkpointed in "
                   f"{summary.state_path}: run the same command again to go on", err=True)
        return ExitStatus.FAILED if summary.reason else ExitStatus.INTERRUPTED
    return _finish(summary, settings)


def _finish(summary, settings, quiet_empty: bool = False) -> int:
    """The exit status of a finished run, with its closing line on stderr."""
    from papers.output.summary import closing

    code, line = closing(summary, settings, quiet_empty)
    if code == ExitStatus.PIPE:
        quiet_stdout()
    elif line:
        click.echo(line, err=True)
    return code


def _print_summary(summary, quiet, *parts) -> None:
    from papers.output.summary import summary_lines

    for line in summary_lines(summary, quiet, *parts):
        click.echo(line, err=True)