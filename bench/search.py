#!/usr/bin/env python3
"""Benchmark `papers search`: 10,000 records from the fake OpenAlex against the bound its
rate limit and page size set.

    python bench/search.py [--rounds 3] [--works 10000]

The fake APIs of the tests (tests/support/fakeapis.py) answer on 127.0.0.1 in OpenAlex's
documented format (cursor paging, `meta.count`) and refuse what passes its published
limit. papers keeps its default OpenAlex limit. With N works and pages of P:

    bound = max((ceil(N / P) - 1) / rate limit, the same pages by a bare client)

(the first page goes at once, each next one an interval later; a cursor is known only
once the page before has come, so no client can page faster than the server answers:
the bare client, requests in a loop with no limiter, measured alternately in the same
run, is that floor). Reported: the median wall time against the bound, calls,
refusals. Writes bench/SEARCH.md.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
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
from papers.discovery.sources.openalex import OpenAlex  # noqa: E402
from papers.settings import DEFAULT_SOURCES  # noqa: E402

PAPERS = [sys.executable, "-m", "papers"]
RATE = next(s.rate_limit for s in DEFAULT_SOURCES if s.name == "openalex")


def one_run(fake: FakeScholar, n: int, work: str, env: dict, config: str) -> float:
    state = os.path.join(work, f"s{time.monotonic_ns()}.json")
    t0 = time.monotonic()
    p = subprocess.run([*PAPERS, "search", "-c", config, "graph", "--limit", str(n), "--state",
                        state, "-q"], capture_output=True, text=True, env=env)
    took = time.monotonic() - t0
    if p.returncode != 0 or len(p.stdout.splitlines()) != n:
        sys.exit(f"bench: search failed ({p.returncode}): {p.stderr[-800:]}")
    return took


def bare(fake: FakeScholar, n: int) -> float:
    """The same pages by requests in a loop: no limiter, no records, no output."""
    import requests

    session, cursor, got = requests.Session(), "*", 0
    session.trust_env = False
    t0 = time.monotonic()
    while cursor and got < n:
        data = session.get(fake.base("openalex") + "/works", params={
            "search": "graph", "per_page": OpenAlex.page_size, "cursor": cursor}).json()
        got += len(data["results"])
        cursor = data["meta"]["next_cursor"]
    return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--works", type=int, default=10_000)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="papers-search-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERS_")}
    env.update(PYTHONPATH=os.path.join(ROOT, "src"), HOME=work, XDG_CONFIG_HOME=work)
    try:
        with FaultServer() as server:
            fake = FakeScholar(server, enforce_limits=True)
            for i in range(args.works):
                fake.add(doi=f"10.5555/s.{i}", title=f"Graph methods {i}")
            config = os.path.join(work, "c.yaml")
            with open(config, "w") as f:
                f.write(fake.config(default_limits=True))
            times, floors = [], []
            for _ in range(args.rounds):
                times.append(one_run(fake, args.works, work, env, config))
                time.sleep(1.0)  # the fake's window of the last second empties
                floors.append(bare(fake, args.works))
                time.sleep(1.0)
            calls = fake.calls["openalex", "search"] // 2
            refused = sum(fake.refused.values())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pages = math.ceil(args.works / OpenAlex.page_size)
    floor = statistics.median(floors)
    bound = max((pages - 1) / RATE, floor)
    median = statistics.median(times)
    print(f"bench: search {args.works} works: {median:.2f}s, bound {bound:.2f}s "
          f"({median / bound:.2f}x), {calls / args.rounds:.0f} calls a run, {refused} refused",
          file=sys.stderr)
    lines = ["# Search benchmark", "",
             f"`python bench/search.py --rounds {args.rounds} --works {args.works}` on "
             f"{time.strftime('%Y-%m-%d')}, against the fake OpenAlex of tests/support/fakeapis.py, "
             "which refuses what passes its published limit. papers runs at its default OpenAlex "
             f"limit ({RATE:g} requests/s), pages of {OpenAlex.page_size}.", "",
             f"Bound: the larger of (pages − 1) ÷ the rate limit = ({pages} − 1) ÷ {RATE:g} = "
             f"{(pages - 1) / RATE:.2f} s and the same pages by a bare requests loop, measured "
             f"alternately (median {floor:.2f} s): a cursor comes only with the page before. "
             "Goal: ≤ 1.3 × the bound.", "",
             "| works | papers search | rounds | bare loop | bound | ÷ bound | calls a run | refused |",
             "|---:|---:|---|---:|---:|---:|---:|---:|",
             f"| {args.works:,} | {median:.2f} s | {', '.join(f'{t:.2f}' for t in times)} | "
             f"{floor:.2f} s | {bound:.2f} s | {median / bound:.2f} | {calls / args.rounds:.0f} | "
             f"{refused} |", ""]
    with open(os.path.join(HERE, "SEARCH.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
