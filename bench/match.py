#!/usr/bin/env python3
"""Benchmark `papers match`: 1,000 reference strings against the fake Crossref and
OpenAlex, counting the calls each string takes.

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--strings", type=int, default=1000)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="papers-match-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERS_")}
    env.update(PYTHONPATH=os.path.join(ROOT, "src"), HOME=work, XDG_CONFIG_HOME=work)
    try:
        with FaultServer() as server:
            fake = FakeScholar(server)
            lines = references(fake, args.strings)
            config = os.path.join(work, "c.yaml")
            with open(config, "w") as f:
                f.write(fake.config())
            t0 = time.monotonic()
            p = subprocess.run([*PAPERS, "match", "-c", config, "-q", "--state",
                                os.path.join(work, "s.json")], input="\n".join(lines) + "\n",
                               capture_output=True, text=True, env=env)
            took = time.monotonic() - t0
            calls = dict(fake.calls)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    recs = [json.loads(x) for x in p.stdout.splitlines()]
    matched = [r for r in recs if (r.get("match") or {}).get("status") == "matched"]
    right = sum(r["doi"] == f"10.5555/m.{i}" for i, r in enumerate(recs)
                if (r.get("match") or {}).get("status") == "matched")
    present = sum(1 for i in range(args.strings) if i % 5)
    per = {api: n / args.strings for (api, _), n in calls.items()}
    bound = max(n / RATES[api] for (api, _), n in calls.items())
    print(f"bench: match {args.strings}: {sum(calls.values()) / args.strings:.2f} calls/string "
          f"({per}), {took:.1f}s unlimited, bound at default limits {bound:.0f}s; matched "
          f"{len(matched)} ({right} right) of {present} present", file=sys.stderr)
    lines = ["# Matching benchmark", "",
             f"`python bench/match.py --strings {args.strings}` on {time.strftime('%Y-%m-%d')}: "
             f"{args.strings:,} APA-style references to the fake Crossref and OpenAlex "
             "(tests/support/fakeapis.py), every fifth one of a work that is not there; rates "
             "unlimited, as only calls are counted.", "",
             "| strings | calls a string | Crossref | OpenAlex | wall time (unlimited) | "
             "at the default limits | matched (right) | present |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|",
             f"| {args.strings:,} | {sum(calls.values()) / args.strings:.2f} | "
             f"{per.get('crossref', 0):.2f} | {per.get('openalex', 0):.2f} | {took:.1f} s | "
             f"{bound:.0f} s (Crossref at {RATES['crossref']:g}/s sets it) | "
             f"{len(matched)} ({right}) | {present} |", ""]
    with open(os.path.join(HERE, "MATCH.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
