#!/usr/bin/env python3
"""Benchmark finding PDFs: `papers download` of bare DOIs against the bound the APIs set.

    python bench/discovery.py [--rounds 3] [--quick]

The fake scholarly APIs of the tests (tests/support/fakeapis.py) answer on 127.0.0.1 in
their documented formats and refuse what passes their published limits. papers
keeps its own default API rate limits; the files' host is unlimited (every
publisher is one host here). For each size the same PDFs are fetched twice in
the same run, alternately: once by URL, once from bare DOIs that OpenAlex knows.

    bound = (OpenAlex list calls - 1) / its rate limit + the same files by URL

(the first call goes at once, each next one an interval later). Reported: wall
time against the bound, and API calls per paper. Then `consolidate` of 1,000
DOIs with all six sources (calls per paper; rates unlimited, since only calls
are counted), and a keyless OpenAlex run whose list allowance runs out part-way.
Writes bench/DISCOVERY.md.
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

from support.faultserver import FaultServer, make_pdf  # noqa: E402
from support.fakeapis import FakeScholar  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "src"))
from papers.settings import DEFAULT_SOURCES  # noqa: E402
from papers.discovery.sources.openalex import OpenAlex  # noqa: E402

PAPERS = [sys.executable, "-m", "papers"]
OPENALEX_RATE = next(s.rate_limit for s in DEFAULT_SOURCES if s.name == "openalex")


def world(server: FaultServer, n: int, tag: str) -> tuple[FakeScholar, list[str], list[str]]:
    """`n` papers that OpenAlex knows, each with a PDF: (fake, DOIs, PDF URLs)."""
    fake = FakeScholar(server, enforce_limits=True)
    dois, urls = [], []
    for i in range(n):
        url = server.pdf(f"/files/{tag}{i}.pdf", make_pdf(4000, i))
        doi = f"10.5555/{tag}.{i}"
        fake.add(doi=doi, openalex_pdf=url, unpaywall_pdf=url, s2_pdf=url)
        dois.append(doi)
        urls.append(url)
    return fake, dois, urls


def run(cmd: list[str], stdin_text: str, env: dict) -> float:
    t0 = time.monotonic()
    p = subprocess.run(cmd, input=stdin_text, text=True, capture_output=True, env=env)
    took = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd[:4])} failed ({p.returncode}): {p.stderr[-800:]}")
    return took


def download_vs_urls(n: int, rounds: int, work: str, env: dict) -> dict:
    """`download` of n bare DOIs and of the same n files by URL, alternately."""
    with FaultServer() as server:
        fake, dois, urls = world(server, n, f"d{n}_")
        config = os.path.join(work, f"apis{n}.yaml")
        with open(config, "w") as f:
            f.write(fake.config(default_limits=True))
        times: dict[str, list[float]] = {"urls": [], "dois": []}
        calls = []
        for _ in range(rounds):
            for kind, lines in (("urls", urls), ("dois", dois)):
                out = os.path.join(work, "out")
                shutil.rmtree(out, ignore_errors=True)
                fake.calls.clear()
                times[kind].append(run([*PAPERS, "download", "-c", config, "-o", out, "-i", "-",
                                        "--no-progress", "-q"], "\n".join(lines) + "\n", env))
                if kind == "dois":
                    calls.append(sum(fake.calls.values()))
                    refused = sum(fake.refused.values())
    lists = math.ceil(n / OpenAlex.batch_size)
    urls_t, dois_t = statistics.median(times["urls"]), statistics.median(times["dois"])
    bound = (lists - 1) / OPENALEX_RATE + urls_t
    return {"papers": n, "urls_s": urls_t, "dois_s": dois_t, "bound_s": bound,
            "ratio": dois_t / bound, "calls_per_paper": statistics.median(calls) / n,
            "refused": refused, "times": times}


def consolidate_calls(n: int, work: str, env: dict) -> dict:
    """`consolidate` of n DOIs with every source: API calls per paper."""
    with FaultServer() as server:
        fake = FakeScholar(server)
        for i in range(n):
            fake.add(doi=f"10.5555/c.{i}", openalex_pdf=f"https://pub.example/{i}.pdf")
        config = os.path.join(work, "consolidate.yaml")
        with open(config, "w") as f:
            f.write(fake.config())
        dois = "".join(f"10.5555/c.{i}\n" for i in range(n))
        state = os.path.join(work, "c.state.json")
        for p in (state, state + ".journal"):
            if os.path.exists(p):
                os.remove(p)
        took = run([*PAPERS, "consolidate", "-c", config, "-i", "-", "--state", state,
                    "--no-progress", "-q", "-o", os.path.join(work, "c.json")], dois, env)
        per_source = {}
        for (api, form), count in sorted(fake.calls.items()):
            per_source[f"{api} ({form})"] = count
        return {"papers": n, "seconds": took, "calls_per_paper": sum(fake.calls.values()) / n,
                "per_source": per_source}


def keyless(n: int, allowance: int, work: str, env: dict) -> dict:
    """A keyless run with `allowance` OpenAlex list calls left today."""
    with FaultServer() as server:
        fake, dois, _ = world(server, n, "k")
        fake.openalex_list_allowance = allowance
        config = os.path.join(work, "keyless.yaml")
        with open(config, "w") as f:
            f.write(fake.config(default_limits=True))
        out = os.path.join(work, "out-keyless")
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.monotonic()
        p = subprocess.run([*PAPERS, "download", "-c", config, "-o", out, "-i", "-", "--json",
                            "--no-progress"], input="\n".join(dois) + "\n", text=True,
                           capture_output=True, env=env)
        took = time.monotonic() - t0
        done = p.stdout.count('"status": "downloaded"')
        lists, singles = fake.calls["openalex", "list"], fake.calls["openalex", "single"]
        ok_lists = lists - fake.refused["openalex", "list"]
        bound = (ok_lists + singles - 1) / OPENALEX_RATE
        return {"papers": n, "allowance": allowance, "exit": p.returncode, "downloaded": done,
                "list_calls": lists, "refused": fake.refused["openalex", "list"],
                "singletons": singles, "bound_s": bound, "seconds": took,
                "said_once": p.stderr.count("sources.openalex.api_key") == 1}


def memory(n: int, work: str, env: dict) -> dict:
    """Peak RSS of `download` of n bare DOIs that no source knows, through the lookup
    stage (OpenAlex only, rates unlimited, no DOI landing page): the stage's memory."""
    with FaultServer() as server:
        fake = FakeScholar(server)
        config = os.path.join(work, "memory.yaml")
        text = fake.config().replace(f"doi_resolver: {server.url('/doi')}", "doi_resolver: null")
        with open(config, "w") as f:
            f.write(text + "use_sources: [openalex]\n")
        dois = os.path.join(work, f"dois{n}.txt")
        with open(dois, "w") as f:
            f.writelines(f"10.5555/m.{i}\n" for i in range(n))
        out = os.path.join(work, "out-memory")
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", *PAPERS, "download", "-c", config, "-o",
                            out, "-i", dois, "--no-progress", "-q"], capture_output=True,
                           text=True, env=env)
        took = time.monotonic() - t0
        if p.returncode != 1:  # every paper fails: nobody knows it
            sys.exit(f"bench: memory run exited {p.returncode}: {p.stderr[-800:]}")
        rss_kb = int(p.stderr.strip().splitlines()[-1])
        return {"papers": n, "peak_rss_mb": rss_kb / 1024, "seconds": took,
                "calls": sum(fake.calls.values())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1,000 papers only, one round")
    args = ap.parse_args()
    rounds = 1 if args.quick else args.rounds
    work = tempfile.mkdtemp(prefix="papers-discovery-")
    # A home of its own: no config or environment of the user's reaches papers.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERS_")}
    env.update(PYTHONPATH=os.path.join(ROOT, "src"), HOME=work, XDG_CONFIG_HOME=work)
    try:
        sizes = [1000] if args.quick else [1000, 10_000]
        downloads = [download_vs_urls(n, rounds, work, env) for n in sizes]
        for d in downloads:
            print(f"bench: download {d['papers']} DOIs {d['dois_s']:.1f}s, URLs {d['urls_s']:.1f}s, "
                  f"bound {d['bound_s']:.1f}s ({d['ratio']:.2f}x), "
                  f"{d['calls_per_paper']:.3f} calls/paper", file=sys.stderr)
        cons = consolidate_calls(1000, work, env)
        print(f"bench: consolidate 1000: {cons['calls_per_paper']:.3f} calls/paper", file=sys.stderr)
        key = keyless(1000, 5, work, env)
        print(f"bench: keyless: {key}", file=sys.stderr)
        mem = [memory(n, work, env) for n in ([10_000] if args.quick else [10_000, 100_000])]
        print(f"bench: memory: {mem}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write(downloads, cons, key, mem, args)


def write(downloads: list[dict], cons: dict, key: dict, mem: list[dict], args) -> None:
    lines = ["# Discovery benchmark", "",
             f"`python bench/discovery.py --rounds {args.rounds}{' --quick' if args.quick else ''}` "
             f"on {time.strftime('%Y-%m-%d')}, against the fake APIs of tests/support/fakeapis.py, which "
             "refuse what passes the APIs' published limits. papers runs at its default API "
             f"limits (OpenAlex {OPENALEX_RATE:g} requests/s, batches of {OpenAlex.batch_size}).",
             "", "## `papers download` of bare DOIs that OpenAlex knows", "",
             "Bound: (OpenAlex list calls − 1) ÷ its rate limit + the same files by URL, "
             "measured alternately in the same run. Goal: ≤ 1.3 × the bound, ≤ 0.05 calls/paper.",
             "", "| papers | by URL | bare DOIs | bound | DOIs ÷ bound | API calls/paper | refused |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for d in downloads:
        lines.append(f"| {d['papers']:,} | {d['urls_s']:.1f} s | {d['dois_s']:.1f} s | "
                     f"{d['bound_s']:.1f} s | {d['ratio']:.2f} | {d['calls_per_paper']:.3f} | "
                     f"{d['refused']} |")
    lines += ["", "## `papers consolidate` of 1,000 DOIs, all six sources", "",
              f"{cons['calls_per_paper']:.3f} API calls per paper (goal ≤ 1.1: Unpaywall has no "
              "batch form, so one call a paper is its floor). Rates unlimited here: only calls "
              "are counted.", "", "| source (form) | calls |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in cons["per_source"].items()]
    lines += ["", "## A keyless OpenAlex run whose list allowance runs out part-way", "",
              f"{key['papers']:,} DOIs, {key['allowance']} list calls left today. "
              f"Downloaded {key['downloaded']:,} of {key['papers']:,} (exit {key['exit']}); "
              f"{key['list_calls']} list calls ({key['refused']} refused, none retried), "
              f"{key['singletons']} free singletons, in {key['seconds']:.1f} s against an API "
              f"bound of {key['bound_s']:.1f} s (those calls at {OPENALEX_RATE:g}/s). The summary "
              f"named `sources.openalex.api_key` once: {key['said_once']}.", "",
              "## Memory through the lookup stage", "",
              "Bare DOIs that no source knows, asked of OpenAlex alone (rates unlimited, no "
              "DOI landing page), so every paper passes through the stage and fails. Peak RSS "
              "(GNU time) grows with the input as far as the state and the planner's table of "
              "keys do (the `scale` re-runs in RESULTS.md grow alike); the stage itself holds "
              "at most 4,096 papers at a time.", "",
              "| papers | peak RSS | time | API calls |", "|---:|---:|---:|---:|"]
    lines += [f"| {m['papers']:,} | {m['peak_rss_mb']:.0f} MB | {m['seconds']:.1f} s | "
              f"{m['calls']:,} |" for m in mem]
    lines += [""]
    with open(os.path.join(HERE, "DISCOVERY.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
