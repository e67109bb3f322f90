"""A finished run's closing lines for stderr, and its exit status."""

from __future__ import annotations

from typing import Any

from papers.errors import ExitStatus
from papers.output.display import failure_text
from papers.pipeline.runner import Ending, Summary


def summary_lines(summary: Summary, quiet: bool, *parts: str) -> list[str]:
    """The closing summary: the counts (`parts`, then where the files are), the run's
    notes and each failure; with `quiet`, only the failures (they are errors)."""
    s = summary.stats
    counts = [*parts[:-1]]
    if s.failed:
        counts.append(f"{s.failed} failed")
    lines = []
    if not quiet:
        lines.append(f"papers: {', '.join(counts)} (of {s.total})" +
                     (f"; {parts[-1]}" if parts[-1] else ""))
        lines += [f"  {note}" for note in summary.notes]
    elif s.failed:
        lines.append(f"papers: {s.failed} failed (of {s.total})")
    lines += [f"  blocked: {wall}" for wall in summary.walls]
    lines += [f"  failed: {failure_text(pid, error)}" for pid, error in summary.failures]
    unlisted = s.failed - s.blocked - len(summary.failures)
    if unlisted > 0:
        lines.append(f"  ... and {unlisted} more; all outcomes are in {summary.state_path}")
    return lines


def closing(summary: Summary, settings: Any, quiet_empty: bool = False) -> tuple[int, str | None]:
    """The exit status of a finished run, and its closing line for stderr (or None)."""
    ending, reason, s = summary.ending, summary.reason, summary.stats
    if ending is Ending.OUTPUT_CLOSED:
        return ExitStatus.PIPE, None
    if ending in (Ending.STATE_FAILED, Ending.BAD_INPUT):
        return ExitStatus.ERROR, f"papers: error: {reason}"
    if ending is Ending.STOPPED:
        return ExitStatus.FAILED, (f"papers: stopped: {reason}; finished files are safe, free "
                                   "space or fix permissions and run the same command again "
                                   "to resume")
    if ending is Ending.INTERRUPTED:
        return ExitStatus.INTERRUPTED, (
            f"papers: interrupted with {s.total - s.done:,} of the {s.total:,} papers read so "
            f"far not finished; state saved in {summary.state_path}: run the same command "
            "again to resume")
    empty = (not s.total and settings.verbosity >= 0 and not quiet_empty)
    return (ExitStatus.FAILED if s.failed else ExitStatus.OK,
            "papers: no papers in the input" if empty else None)
