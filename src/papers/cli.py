"""The `papers` command line: flags -> Settings -> library call -> exit code."""

from __future__ import annotations

import os
import signal
import sys

import click

EXIT_OK = 0             # every paper downloaded or already there
EXIT_FAILED = 1         # at least one paper failed
EXIT_USAGE = 2          # bad usage, input, config or state
EXIT_INTERRUPTED = 130  # SIGINT/SIGTERM: state saved, .part files kept
EXIT_PIPE = 141         # stdout was closed by its reader (`| head`): state saved

EXIT_CODES_HELP = """\b
Exit codes:
  0    every paper downloaded or already there
  1    at least one paper failed (the others are on disk)
  2    bad usage, input, config or state file
  130  interrupted (Ctrl-C, SIGTERM): state saved, resume by re-running
  141  stdout closed by its reader (e.g. `| head`): state saved
"""


def _die(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(f"papers: error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="papers-bulk", prog_name="papers")
def main() -> None:
    """Download academic papers in bulk: exact PDFs, a resumable state file, pipeline output."""


@main.command(epilog=EXIT_CODES_HELP)
@click.argument("papers", nargs=-1, metavar="[PAPER]...")
@click.option("-i", "--input", "inputs", multiple=True, metavar="FILE",
              help="Read papers from FILE ('-' is stdin): text, JSON, or JSON Lines. Repeatable.")
@click.option("-o", "--output-dir", metavar="DIR", help="Where PDFs go.  [default: ./papers]")
@click.option("--state", metavar="FILE", help="State file.  [default: DIR/.papers-state.json]")
@click.option("-j", "--workers", type=int, metavar="N", help="Concurrent downloads.  [default: 8]")
@click.option("--retry-failed", is_flag=True, default=None,
              help="Also retry papers that failed permanently before.")
@click.option("--max-retries", type=int, metavar="N", help="Retries per URL on transient errors.  [default: 3]")
@click.option("--timeout", type=float, metavar="SECONDS",
              help="Limit for connecting and for each read.  [default: 30]")
@click.option("--rate-limit", type=float, metavar="R",
              help="Max requests per second per host; 0 = unlimited.  [default: 2]")
@click.option("--max-per-host", type=int, metavar="N",
              help="Max concurrent connections per host.  [default: 2]")
@click.option("--max-size", metavar="SIZE", help="Largest file to accept, e.g. 200MB; 0 = no limit.  [default: 1GB]")
@click.option("--json", "json_output", is_flag=True, default=None,
              help="Print one JSON object per paper on stdout as it finishes.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar on stderr.  [default: when stderr is a terminal]")
@click.option("-c", "--config", metavar="FILE",
              help="YAML config file.  [default: $PAPERS_CONFIG or ~/.config/papers/config.yaml]")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv for debugging).")
@click.option("--dry-run", is_flag=True, default=None, help="Show what would be fetched; fetch nothing.")
def download(papers, inputs, output_dir, state, workers, retry_failed, max_retries, timeout,
             rate_limit, max_per_host, max_size, json_output, progress, config, quiet, verbose,
             dry_run) -> None:
    """Download PAPERs (PDF URLs; DOIs, arXiv IDs and PMIDs once resolvable) to DIR.

    With no PAPER and no -i, papers are read from stdin when it is not a terminal.
    Re-running the same command resumes: finished papers are skipped without a request.
    """
    from papers.settings import DEFAULT_CONFIG_PATHS, ConfigError, build_settings, load_config

    verbosity = -1 if quiet else verbose
    config_path = config or os.environ.get("PAPERS_CONFIG")
    if not config_path:
        config_path = next((p for p in DEFAULT_CONFIG_PATHS if os.path.exists(p)), None)
    try:
        raw = load_config(config_path) if config_path else {}
        settings = build_settings(raw, {
            "output_dir": output_dir, "state": state, "workers": workers,
            "retry_failed": retry_failed, "max_retries": max_retries, "timeout": timeout,
            "rate_limit": rate_limit, "max_per_host": max_per_host, "max_size": max_size,
            "json": json_output, "progress": progress, "dry_run": dry_run,
            "verbosity": verbosity if (quiet or verbose) else None,
        })
    except ConfigError as e:
        _die(str(e))
        return

    stdin = click.get_text_stream("stdin")
    files = list(inputs)
    if not papers and not files:
        if stdin.isatty():
            _die("no papers given: pass PAPER arguments, -i FILE, or pipe a list on stdin "
                 "(see papers download --help)")
        files = ["-"]
    sys.exit(_run(settings, papers, files, stdin))


def _run(settings, papers, files, stdin) -> int:
    import logging
    import threading

    from papers.core import dry_run, run_download
    from papers.inputs import estimate_count, iter_papers
    from papers.reporting import LineReporter, ReporterLogHandler, TqdmReporter
    from papers.state import StateError

    show_bar = settings.progress if settings.progress is not None else sys.stderr.isatty()
    if settings.dry_run or settings.verbosity < 0:
        show_bar = False
    reporter = TqdmReporter(sys.stderr) if show_bar else LineReporter(sys.stderr)
    logger = logging.getLogger("papers")
    logger.handlers[:] = [ReporterLogHandler(reporter)]
    logger.propagate = False
    logger.setLevel({-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(
        min(settings.verbosity, 2), logging.DEBUG))

    stream = iter_papers(papers, files, stdin)
    out = sys.stdout
    if settings.dry_run:
        try:
            summary = dry_run(settings, stream, out=out)
        except StateError as e:
            _die(str(e))
        except BrokenPipeError:
            _quiet_stdout()
            return EXIT_PIPE
        if summary.input_error:
            _die(summary.input_error)
        return EXIT_FAILED if summary.stats.failed else EXIT_OK

    cancel = threading.Event()
    _install_signal_handlers(cancel, reporter)
    try:
        expected = estimate_count(papers, files) if show_bar else None
        summary = run_download(settings, stream, out=out, reporter=reporter, cancel=cancel,
                               expected=expected)
    except StateError as e:
        _die(str(e))
        return EXIT_USAGE
    if summary.output_closed:
        _quiet_stdout()
        os._exit(EXIT_PIPE)
    if not summary.stats.total and summary.input_error is None and settings.verbosity >= 0:
        click.echo("papers: no papers in the input", err=True)
    if not settings.json and settings.verbosity >= 0:
        _print_summary(summary)
    if summary.fatal_error:
        click.echo(f"papers: error: {summary.fatal_error}", err=True)
        _exit_now(EXIT_USAGE)
    if summary.input_error:
        click.echo(f"papers: error: {summary.input_error}", err=True)
        _exit_now(EXIT_USAGE)
    if summary.interrupted:
        click.echo(f"papers: interrupted; state saved in {summary.state_path}: run the same "
                   "command again to resume", err=True)
        # Workers still blocked in a read must not hold the exit: everything is saved.
        _exit_now(EXIT_INTERRUPTED)
    return EXIT_FAILED if summary.stats.failed else EXIT_OK


def _print_summary(summary) -> None:
    s = summary.stats
    parts = [f"{s.downloaded} downloaded", f"{s.skipped} already there"]
    if s.failed:
        parts.append(f"{s.failed} failed")
    click.echo(f"papers: {', '.join(parts)} (of {s.total}); files in {summary.output_dir}", err=True)
    for pid, error in summary.failures:
        click.echo(f"  failed: {pid}: {error}", err=True)
    if s.failed > len(summary.failures):
        click.echo(f"  ... and {s.failed - len(summary.failures)} more; all outcomes are in "
                   f"{summary.state_path}", err=True)


def _install_signal_handlers(cancel, reporter) -> None:
    def handler(signum, frame):
        if cancel.is_set():
            # Second signal: leave at once. The state file is valid at every instant.
            os._exit(EXIT_INTERRUPTED)
        cancel.set()
        reporter.log("papers: stopping (press Ctrl-C again to quit at once)...")

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _quiet_stdout() -> None:
    # The reader is gone: point stdout at /dev/null so the interpreter's final
    # flush does not print a BrokenPipeError traceback.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _exit_now(code: int) -> None:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        _quiet_stdout()
    sys.stderr.flush()
    os._exit(code)
