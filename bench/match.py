#!/usr/bin/env python3
"""Benchmark `papers match`, and `papers download` taking the same lines inline: 1,000
reference strings against the fake Crossref and OpenAlex, counting the calls each string
takes.

    python bench/match.py [--strings 1000]

The fake APIs (tests/support/fakeapis.py) hold the works; the references are written in
APA style from them, every fifth one of a work that is not there. Rates are unlimited
here, as only calls are counted; the time the same calls take at papers' default API
limits is the bound a real run is held to (the slower source sets it). Writes
bench/MATCH.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from support.faultserver import FaultServer  # noqa: E402
from support.fakeapis import FakeScholar  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "src"))
from papers.settings import DEFAULT_SOURCES  # noqa: E402

PAPERS = [sys.executable, "-m", "papers"]
RATES = {s.name: s.rate_limit for s in DEFAULT_SOURCES}
TOPICS = ["graph", "protein", "quantum", "neural", "climate", "genome", "market", "vaccine",
          "galaxy", "polymer"]


def references(fake: FakeScholar, n: int) -> list[str]:
    lines = []
    for i in range(n):
        title = f"A study of {TOPICS[i % 10]} {TOPICS[(i // 10) % 10]} systems number {i}"
        author, year = f"Author{i}", 1990 + i % 30
        if i % 5:
            fake.add(doi=f"10.5555/m.{i}", title=title, year=year, authors=(f"Ann {author}",),
                     venue="Journal of Benchmarks")
        lines.append(f"{author}, A. ({year}). {title}. Journal of Benchmarks, {i % 40}, 1-10.")
    return lines


def run(fake: FakeScholar, args: list[str], lines: list[str], env: dict) -> tuple[float, dict, str]:
    """One command over the references: (seconds, the calls it made, its stdout)."""
    fake.calls.clear()
    t0 = time.monotonic()
    p = subprocess.run([*PAPERS, *args], input="\n".join(lines) + "\n", capture_output=True,
                       text=True, env=env)
    return time.monotonic() - t0, dict(fake.calls), p.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--strings", type=int, default=1000)
    args = ap.parse_args()
    n = args.strings
    work = tempfile.mkdtemp(prefix="papers-match-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERS_")}
    env.update(PYTHONPATH=os.path.join(ROOT, "src"), HOME=work, XDG_CONFIG_HOME=work)
    try:
        with FaultServer() as server:
            fake = FakeScholar(server)
            lines = references(fake, n)
            config = os.path.join(work, "c.yaml")
            with open(config, "w") as f:
                f.write(fake.config())
            took, calls, out = run(fake, ["match", "-c", config, "-q", "--state",
                                          os.path.join(work, "s.json")], lines, env)
            inline = run(fake, ["download", "-c", config, "-q", "--json", "-o",
                                os.path.join(work, "pdfs")], lines, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    recs = [json.loads(x) for x in out.splitlines()]
    right = sum(r.get("doi") == f"10.5555/m.{i}" for i, r in enumerate(recs)
                if (r.get("match") or {}).get("status") == "matched")
    matched = sum((r.get("match") or {}).get("status") == "matched" for r in recs)
    present = sum(1 for i in range(n) if i % 5)
    lines_md = ["# Matching benchmark", "",
                f"`python bench/match.py --strings {n}` on {time.strftime('%Y-%m-%d')}: "
                f"{n:,} APA-style references to the fake Crossref and OpenAlex "
                "(tests/support/fakeapis.py), every fifth one of a work that is not there; rates "
                "unlimited, as only calls are counted. `papers match` writes the matched "
                "records; `papers download` takes the same lines inline (its works have no open "
                "PDF: every matched one goes down the whole cascade).", "",
                "| command | calls a string | matching (Crossref + OpenAlex searches) | the "
                "rest (by DOI) | wall time (unlimited) | matching at the default limits | "
                "matched (right) | present |",
                "|---|---:|---:|---:|---:|---:|---:|---:|",
                row("match", n, took, calls, f"{matched} ({right})", present)]
    dl = [json.loads(x) for x in inline[2].splitlines()]
    dl_right = sum(r.get("doi") == f"10.5555/m.{r['id'].split(' number ')[1].split('.')[0]}"
                   for r in dl if (r.get("match") or {}).get("status") == "matched")
    dl_matched = sum((r.get("match") or {}).get("status") == "matched" for r in dl)
    lines_md.append(row("download", n, inline[0], inline[1], f"{dl_matched} ({dl_right})",
                        present))
    print("\n".join(lines_md[-2:]), file=sys.stderr)
    with open(os.path.join(HERE, "MATCH.md"), "w") as f:
        f.write("\n".join(lines_md) + "\n")


def row(command: str, n: int, took: float, calls: dict, matched: str, present: int) -> str:
    searches = sum(k for (api, form), k in calls.items() if form == "search")
    rest = sum(calls.values()) - searches
    bound = max(k / RATES[api] for (api, form), k in calls.items() if form == "search")
    return (f"| `{command}` | {sum(calls.values()) / n:.2f} | {searches / n:.2f} | {rest / n:.3f} | "
            f"{took:.1f} s | {bound:.0f} s (Crossref at {RATES['crossref']:g}/s sets it) | "
            f"{matched} | {present} |")


if __name__ == "__main__":
    main()
