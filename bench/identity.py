#!/usr/bin/env python3
"""What the identity check costs: CPU per paper for typical PDFs (1 to 2 MB, 10 to 20
pages, a text layer in embedded fonts, written by reportlab), against the time papers
takes to download one such file on loopback, and whether it changes how many files are
in flight.

    python bench/identity.py [--files 24] [--rounds 3]

1. The check alone, in this process: `identity.check` (PDFium, as papers uses it), and
   for comparison the first two pages' text with pypdf and with pdfminer.six; a body
   that only starts like a PDF, with and without the `startxref` pre-check.
2. `papers download -j 1` of the files from a local nginx, check on and off in turns
   (A B A B ...): wall time per file, and CPU (user + system) per file.
3. `papers download -j 8 --max-per-host 8`, on and off: the most transfers in flight at
   once (from nginx's log of each request's start and end) and the wall time.

Needs nginx (bench/run.py installs it when it can) and the test extra (reportlab).
Writes bench/IDENTITY.md.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(ROOT, "tests"), os.path.join(ROOT, "src")]

from run import Nginx, need, settle  # noqa: E402
from support.faultserver import make_pdf  # noqa: E402
from support.papers_pdf import article  # noqa: E402

from papers.download import identity  # noqa: E402

PAPERS = [sys.executable, "-m", "papers"]
PORT = 18931
GOAL = 0.15
PACE = "20m"  # nginx limit_rate for the files-in-flight runs: 2 MB in about 0.1 s


def make_papers(root: str, n: int) -> list[dict]:
    """n typical papers on disk: 10 to 20 pages, 1 to 2 MB; their records."""
    os.makedirs(root, exist_ok=True)
    recs = []
    for i in range(n):
        pages = 10 + i % 11
        title = f"A study of residual networks for image recognition number {i}"
        doi = f"10.5555/bench.{i}"
        name = f"p{i:03d}.pdf"
        path = os.path.join(root, name)
        if not os.path.exists(path):
            data = article(title, doi, pages=pages, image_kb=1500 // pages, seed=i)
            with open(path, "wb") as f:
                f.write(data)
        size = os.path.getsize(path)
        assert 1_000_000 <= size <= 2_100_000, (name, size)
        recs.append({"doi": doi, "title": title, "pdf_url": f"http://127.0.0.1:{PORT}/{name}",
                     "path": path, "pages": pages, "size": size})
    return recs


def cpu_ms(fn, items, repeat: int = 3) -> float:
    """Median CPU milliseconds of fn(item) per item."""
    runs = []
    for _ in range(repeat):
        t = time.process_time()
        for it in items:
            fn(it)
        runs.append((time.process_time() - t) / len(items) * 1000)
    return statistics.median(runs)


def check_alone(recs: list[dict], junk: str) -> dict[str, float]:
    import pypdf
    from pdfminer.high_level import extract_text

    logging.disable(logging.CRITICAL)  # pypdf's warnings about reportlab's fonts

    def with_pypdf(r):
        reader = pypdf.PdfReader(r["path"])
        return [reader.pages[i].extract_text() for i in range(2)]

    def with_pdfminer(r):
        with open(r["path"], "rb") as f:
            return extract_text(io.BytesIO(f.read()), maxpages=2)

    def junk_no_precheck(_):
        import pypdfium2
        try:
            pypdfium2.PdfDocument(junk).close()
        except pypdfium2.PdfiumError:
            pass

    verdicts = {identity.check(r["path"], r["doi"], r["title"]).kind for r in recs}
    assert verdicts == {"doi"}, verdicts
    return {"papers (PDFium)": cpu_ms(lambda r: identity.check(r["path"], r["doi"], r["title"]), recs),
            "papers, both pages read (nothing on page 1 settles it)":
                cpu_ms(lambda r: identity.check(r["path"], "10.9/absent", "Unrelated words"), recs),
            "pypdf": cpu_ms(with_pypdf, recs, 1),
            "pdfminer.six": cpu_ms(with_pdfminer, recs, 1),
            "junk body, pre-check": cpu_ms(lambda _: identity.check(junk, "10.1/x", "A title"), recs),
            "junk body, PDFium alone": cpu_ms(junk_no_precheck, recs)}


#: papers with the check replaced by a sleep as long as its median, STAND_IN_MS: what the
#: structure does to the files in flight, without the check's CPU.
STAND_IN = ("import sys, time; import papers.download.identity as i; "
            "i.check = lambda *a: (time.sleep({ms} / 1000), i.Identity('doi'))[1]; "
            "from papers.cli import main; sys.exit(main())")


def download(recs: list[dict], out: str, config: str, workers: int, check: bool | float
             ) -> tuple[float, float]:
    """(wall s, CPU s of the child) of one `papers download` of `recs` into a fresh `out`;
    `check` a number: the check is a sleep of that many ms (STAND_IN)."""
    shutil.rmtree(out, ignore_errors=True)
    listing = out + ".jsonl"
    with open(listing, "w") as f:
        for r in recs:
            f.write(json.dumps({"doi": r["doi"], "title": r["title"], "pdf_url": r["pdf_url"]}) + "\n")
    papers = PAPERS if isinstance(check, bool) else [sys.executable, "-c", STAND_IN.format(ms=check)]
    cmd = [*papers, "download", "-c", config, "-i", listing, "-o", out, "-j", str(workers),
           "--max-per-host", str(workers), "--rate-limit", "0", "-q", "--no-progress",
           *([] if check else ["--no-identity-check"])]
    settle()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"bench: papers exited {p.returncode}: {p.stderr.decode()[-800:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def in_flight(log: str) -> tuple[int, float]:
    """(the most, the mean) requests nginx was serving at once, from `$msec $request_time`."""
    events, busy = [], 0.0
    with open(log) as f:
        for line in f:
            end, took = map(float, line.split())
            events += [(end - took, 1), (end, -1)]
            busy += took
    now = peak = 0
    for _, step in sorted(events, key=lambda e: (e[0], -e[1])):  # a start before an end at a tie
        now += step
        peak = max(peak, now)
    span = events and max(t for t, _ in events) - min(t for t, _ in events)
    return peak, busy / span if span else 0.0


def curl_per_file(recs: list[dict]) -> float:
    """Median seconds curl takes for one of the files over one kept-alive connection."""
    cmd = ["curl", "-s", "-w", "%{time_total}\\n"]
    for r in recs:
        cmd += [r["pdf_url"], "-o", "/dev/null"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return statistics.median(float(x) for x in out.split())


def runs(recs, work, config, log, rounds, workers, modes=(True, False)):
    res = {m: [] for m in modes}
    for _ in range(rounds):
        for check in modes:
            open(log, "w").close()
            wall, cpu = download(recs, os.path.join(work, "out"), config, workers, check)
            res[check].append((wall, cpu, *in_flight(log)))
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="papers-identity-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    files = os.path.join(HERE, ".work", "identity")
    recs = make_papers(files, args.files)
    junk = os.path.join(work, "junk.pdf")
    with open(junk, "wb") as f:
        f.write(make_pdf(1_500_000, 7))
    config = os.path.join(work, "papers.yaml")
    with open(config, "w") as f:
        f.write("doi_resolver: null\nsources:\n" + "".join(
            f"  {s}:\n    enabled: false\n" for s in
            ("openalex", "unpaywall", "semantic_scholar", "arxiv", "crossref", "europepmc")))
    alone = check_alone(recs, junk)
    log = os.path.join(work, "access.log")
    nginx = need("nginx", "nginx-light")
    server = Nginx(nginx, files, [PORT], access_log=log)
    # Paced at PACE per connection, a transfer lasts long enough for nginx's log to show
    # how many were in flight at once.
    paced = Nginx(nginx, files, [PORT + 1], limit_rate=PACE, access_log=log,
                  listen="sndbuf=64k")  # else the kernel's buffer takes the whole file at once
    try:
        curl = curl_per_file(recs)
        one = runs(recs, work, config, log, args.rounds, 1)
        # What a run costs whatever its files (start-up, state): taken off to give the
        # time of one more file.
        short = runs(recs[:2], work, config, log, args.rounds, 1)
        slow = [dict(r, pdf_url=r["pdf_url"].replace(f":{PORT}/", f":{PORT + 1}/")) for r in recs]
        eight = runs(slow, work, config, log, args.rounds, 8,
                     (True, alone["papers (PDFium)"], False))  # the table's column order
    finally:
        server.stop()
        paced.stop()
        shutil.rmtree(work, ignore_errors=True)
    write(recs, alone, curl, one, eight, short, args)


def _median(rows, i):
    return statistics.median(r[i] for r in rows)


def write(recs, alone, curl, one, eight, short, args) -> None:
    n = len(recs)
    wall_off, wall_on = _median(one[False], 0) / n, _median(one[True], 0) / n
    cpu_off, cpu_on = _median(one[False], 1) / n, _median(one[True], 1) / n
    check_ms = alone["papers (PDFium)"]
    marginal = (_median(one[False], 0) - _median(short[False], 0)) / (n - 2)
    ratio = check_ms / 1000 / marginal
    # The check's CPU in a run, per file more: its one-off import taken off with the start-up.
    in_run = ((_median(one[True], 1) - _median(short[True], 1))
              - (_median(one[False], 1) - _median(short[False], 1))) / (n - 2)
    once = (_median(short[True], 1) - _median(short[False], 1)) - 2 * in_run
    sizes = [r["size"] for r in recs]
    lines = [
        "# The identity check: what it costs", "",
        f"`python bench/identity.py --files {n} --rounds {args.rounds}`, "
        f"{time.strftime('%Y-%m-%d')}. {n} PDFs of {min(r['pages'] for r in recs)} to "
        f"{max(r['pages'] for r in recs)} pages, {min(sizes) / 1e6:.2f} to {max(sizes) / 1e6:.2f} MB "
        "(text in embedded TrueType fonts, an image per page), served by nginx on loopback. "
        "Medians; every figure is from this one run.", "",
        "## The check alone (CPU per paper, this process)", "",
        "| reader | ms per paper |", "|---|---:|",
        *[f"| {k} | {v:.2f} |" for k, v in alone.items()], "",
        "## Against one download on loopback (`papers download -j 1`)", "",
        "| | check on | check off |", "|---|---:|---:|",
        f"| wall per file, ms | {wall_on * 1000:.1f} | {wall_off * 1000:.1f} |",
        f"| CPU per file, ms | {cpu_on * 1000:.1f} | {cpu_off * 1000:.1f} |", "",
        f"One more file costs papers {marginal * 1000:.1f} ms with the check off (the run of "
        f"{n} files less a run of 2, over {n - 2}: start-up and state taken off). The check's "
        f"CPU per paper is **{ratio:.1%}** of that (goal under {GOAL:.0%}: "
        f"{'met' if ratio < GOAL else 'NOT met'}). Measured in the runs the same way, the check "
        f"costs {in_run * 1000:.1f} ms of CPU per file more, and {once * 1000:.0f} ms once per run "
        f"(importing PDFium and rapidfuzz). curl alone takes {curl * 1000:.1f} ms for one such file "
        f"over a kept-alive connection (the check is {check_ms / 1000 / curl:.0%} of that).", "",
        f"## Files in flight (`-j 8 --max-per-host 8`, nginx paced at {PACE}B/s a connection)", "",
        f"| | check on | a {check_ms:.1f} ms sleep instead | check off |", "|---|---:|---:|---:|",
        *[f"| {what} | " + " | ".join(fmt.format(_median(eight[m], col)) for m in eight) + " |"
          for what, col, fmt in (("most transfers in flight at once", 2, "{:.0f}"),
                                 ("transfers in flight on average", 3, "{:.2f}"),
                                 (f"wall for {n} files, s", 0, "{:.2f}"))], "",
        "The check runs after the transfer, outside the host's connection slot, and the worker "
        "lends its turn out meanwhile (`HostScheduler.lent`): one more worker thread starts, up "
        "to --workers more, so a worker checking, or waiting for PDFium (one call at a time in "
        "the process: it is not thread-safe), holds no transfer back. The "
        "sleep column is that structure without the check's CPU; what the check column loses "
        f"beyond it is the check's CPU competing with the transfers on this machine's "
        f"{os.cpu_count()} cores.", ""]
    with open(os.path.join(HERE, "IDENTITY.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
