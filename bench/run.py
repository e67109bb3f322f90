#!/usr/bin/env python3
"""Benchmark `papers download` against aria2c and curl, all fed by a local nginx.

    python bench/run.py [--rounds 3] [--quick] [--only NAME ...]

Needs nginx (Debian: `apt-get install nginx-light`), aria2c (`apt-get install aria2`)
and curl; the script installs the Debian packages itself when it can (root, apt-get)
and otherwise says what to install. Tools run alternately (A B C A B C ...), each
result is the median of the rounds, and every figure is reported as a ratio to a
peer measured in the same run: these machines are shared and noisy, so absolute
times are not claims. Writes bench/RESULTS.md and bench/workers.png.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, ".work")          # on disk, like a user's output dir
SHM = "/dev/shm/papers-bench"
PAPERS = [sys.executable, "-m", "papers"]
TIME = "/usr/bin/time"
FLOORS = ("pycurl", "pycurl-durable", "urllib3", "http.client", "socket")


def need(tool: str, package: str) -> str:
    path = shutil.which(tool) or (f"/usr/sbin/{tool}" if os.path.exists(f"/usr/sbin/{tool}") else None)
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"bench: installing {package} (apt-get)", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-q", package], check=False,
                       stdout=subprocess.DEVNULL)
        if subprocess.run(["dpkg", "-s", package], capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], stdout=subprocess.DEVNULL, check=False)
            subprocess.run(["apt-get", "install", "-y", "-q", package], stdout=subprocess.DEVNULL, check=False)
        path = shutil.which(tool) or (f"/usr/sbin/{tool}" if os.path.exists(f"/usr/sbin/{tool}") else None)
    if not path:
        sys.exit(f"bench: {tool} not found: install the Debian package {package} "
                 f"(sudo apt-get install {package}) and run again")
    return path


class Nginx:
    """nginx serving `root` on `ports`, `limit_rate` per connection (0 = none)."""

    def __init__(self, nginx: str, root: str, ports: list[int], limit_rate: str = "0",
                 access_log: str | None = None, listen: str = "") -> None:
        self.dir = tempfile.mkdtemp(prefix="papers-nginx-")
        # With `access_log`: each request's end ($msec) and duration, to count what was in flight.
        logging = (f"log_format timing '$msec $request_time';\n    access_log {access_log} timing;"
                   if access_log else "access_log off;")
        servers = "".join(f"""
    server {{
        listen 127.0.0.1:{p}{" " + listen if listen else ""};
        root {root};
        limit_rate {limit_rate};
        location / {{ }}
    }}""" for p in ports)
        conf = f"""
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
    {logging}
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    keepalive_timeout 60;
    default_type application/pdf;
    client_body_temp_path {self.dir};
    proxy_temp_path {self.dir};
    fastcgi_temp_path {self.dir};
    uwsgi_temp_path {self.dir};
    scgi_temp_path {self.dir};
{servers}
}}
"""
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen([nginx, "-c", self.conf, "-p", self.dir, "-e", f"{self.dir}/error.log"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.3)
        if self.proc.poll() is not None:
            sys.exit("bench: nginx failed to start: " + self.proc.stderr.read().decode()[-500:])

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def make_files(root: str, n: int, size: int, prefix: str = "f") -> list[str]:
    os.makedirs(root, exist_ok=True)
    names = []
    block = os.urandom(min(size, 1 << 20))
    for i in range(n):
        name = f"{prefix}{i:05d}.pdf"
        path = os.path.join(root, name)
        if not os.path.exists(path) or os.path.getsize(path) != size:
            head = b"%PDF-1.7\n%" + str(i).encode() + b"\n"
            body = head + (block * (size // len(block) + 1))[: size - len(head)]
            with open(path, "wb") as f:
                f.write(body)
        names.append(name)
    return names


def settle() -> None:
    """Flush the previous run's dirty pages first, so its writeback cannot stall this one."""
    os.sync()


def timed(cmd: list[str], env=None) -> float:
    settle()
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited {p.returncode}: {p.stderr.decode()[-800:]}")
    return elapsed


def fresh(out: str) -> str:
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    return out


def tool_commands(urls: list[str], out: str, workers: int, lists: str) -> dict[str, list[str]]:
    os.makedirs(lists, exist_ok=True)
    url_file = os.path.join(lists, "urls.txt")
    with open(url_file, "w") as f:
        f.write("\n".join(urls) + "\n")
    curl_cfg = os.path.join(lists, "curl.cfg")
    with open(curl_cfg, "w") as f:
        for i, u in enumerate(urls):
            f.write(f'url = "{u}"\noutput = "{out}/c{i:05d}.pdf"\n')
    papers = [*PAPERS, "download", "-i", url_file, "-o", out, "-j", str(workers), "--rate-limit", "0",
              "--max-per-host", str(workers), "--no-progress", "-q"]
    return {
        "papers": papers,
        # The same run held to one CPU: what hand-offs between CPUs cost (shm only).
        "papers@1cpu": ["taskset", "-c", "0", *papers],
        "aria2c": [ARIA2C, "-i", url_file, "-d", out, "-j", str(workers), "-x", "1",
                   "--max-connection-per-server=1", "--file-allocation=none", "--allow-overwrite=true",
                   "--auto-file-renaming=false", "--console-log-level=error", "--summary-interval=0",
                   "--quiet=true"],
        "curl": [CURL, "--parallel", "--parallel-max", str(workers), "--fail", "--silent", "-K", curl_cfg],
        # The floors under papers: bare GET-and-write loops on each HTTP layer (bench/floor.py).
        **{f"floor:{mode}": [sys.executable, os.path.join(HERE, "floor.py"), mode, url_file, out, str(workers)]
           for mode in FLOORS},
    }


@dataclass
class Result:
    name: str
    note: str
    times: dict[str, list[float]] = field(default_factory=dict)

    def median(self, tool: str) -> float:
        return statistics.median(self.times[tool])


def compare(name: str, note: str, urls: list[str], out: str, workers: int, rounds: int,
            tools=("papers", "aria2c", "curl")) -> Result:
    res = Result(name, note)
    cmds = tool_commands(urls, out, workers, os.path.join(WORK, "lists"))
    for r in range(rounds):
        order = tools if r % 2 == 0 else tuple(reversed(tools))  # A B C, then C B A
        for tool in order:
            fresh(out)
            res.times.setdefault(tool, []).append(timed(cmds[tool]))
    print(f"bench: {name}: " + ", ".join(f"{t} {res.median(t):.2f}s" for t in tools), file=sys.stderr)
    return res


def timed_rss(cmd: list[str], ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Wall time and peak RSS (MB) of a command that exits with a status in `ok`.

    The peak is GNU time's (`%M`), not this process's wait4: a child started from a
    bench that holds a big state in memory counts that memory in its ru_maxrss (the
    address space it had before exec)."""
    settle()
    t0 = time.perf_counter()
    p = subprocess.run([TIME, "-f", "papers-bench-peak-rss-kb %M", *cmd], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    err = p.stderr.decode(errors="replace")
    if p.returncode not in ok:
        raise RuntimeError(f"{cmd[:3]} failed: {err[-800:]}")
    peak = [line for line in err.splitlines() if line.startswith("papers-bench-peak-rss-kb ")]
    return elapsed, int(peak[-1].split()[1]) / 1024


def scale_rerun(n: int, rounds: int) -> dict[str, float]:
    """Re-run over a finished n-paper state: median wall time of `rounds` runs, per-paper
    cost, highest peak RSS."""
    sys.path.insert(0, os.path.join(ROOT, "src"))
    from papers.state.snapshot import SCHEMA

    d = os.path.join(WORK, f"scale-{n}")
    lst = d + ".list"
    if not os.path.exists(os.path.join(d, ".papers-state.json")):
        # In a process of its own: a child forked from a bench holding a million records
        # would count them in its peak RSS (ru_maxrss includes what it shared before exec).
        subprocess.run([sys.executable, os.path.abspath(__file__), "--build-scale", str(n)],
                       check=True)
    cmd = [*PAPERS, "download", "-i", lst, "-o", d, "-q", "--no-progress"]
    with open(os.path.join(d, ".papers-state.json"), "rb") as f:
        if json.loads(f.readline().rstrip() + b"}}").get("schema") != SCHEMA:
            print("bench: converting the state to the current layout (untimed run) ...", file=sys.stderr)
            timed_rss(cmd)
    runs = [timed_rss(cmd) for _ in range(rounds)]
    t, rss = statistics.median(r[0] for r in runs), max(r[1] for r in runs)
    res = {"seconds": t, "us_per_paper": t / n * 1e6, "peak_rss_mb": rss, "all_seconds": [r[0] for r in runs]}
    print(f"bench: scale {n}: {t:.2f}s ({res['us_per_paper']:.0f} us/paper), peak RSS {rss:.0f} MB",
          file=sys.stderr)
    return res


def build_scale(n: int) -> None:
    """A finished n-paper run in WORK/scale-N: the files, the state, the input list."""
    sys.path.insert(0, os.path.join(ROOT, "src"))
    from papers.inputs.records import paper_from_text
    from papers.disk.naming import path_for
    from papers.state.records import PaperRecord
    from papers.state.store import StateStore

    d = os.path.join(WORK, f"scale-{n}")
    print(f"bench: building a finished {n}-paper run in {d} ...", file=sys.stderr)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    real = os.path.realpath(d)
    st = StateStore(os.path.join(d, ".papers-state.json"), PaperRecord)
    with open(d + ".list", "w") as f:
        for i in range(n):
            url = f"http://127.0.0.1:9/papers/{i}.pdf"
            f.write(url + "\n")
            p = paper_from_text(url)
            path = path_for(p, real, resolved=True)
            with open(path, "wb") as g:
                g.write(b"%PDF-1.4\n")
            st.put(p.key, PaperRecord(id=url, status="downloaded", path=path, bytes=9,
                                      sha256="0" * 64, url=url, attempts=1,
                                      first_seen="2026-11-28T00:00:00Z",
                                      updated="2026-11-28T00:00:00Z",
                                      finished="2026-11-28T00:00:00Z"))
    st.compact()


def scale_resume(n: int, rounds: int, crossing: bool = False) -> dict[str, float]:
    """A resume after kill -9 late in an n-paper run: the finished n-paper state (from
    `scale_rerun`) plus the longest journal it keeps before folding it into the snapshot
    (`StateStore.compact_due`). `crossing`: the resume records one outcome more (one
    paper's file was deleted), which makes the journal due, so the run also rewrites the
    snapshot: the worst case. Median wall time and highest peak RSS of the run."""
    sys.path.insert(0, os.path.join(ROOT, "src"))
    from papers.state.records import PaperRecord
    from papers.state.store import StateStore

    d = os.path.join(WORK, f"scale-{n}")
    state = os.path.join(d, ".papers-state.json")
    st = StateStore(state, PaperRecord)
    st.load()
    longest = st.journal_limit - 1
    lines = [json.dumps({"k": k, "r": r.to_json()}, separators=(",", ":"))
             for k, r in list(st.records.items())[-longest:]]
    del st
    victim = json.loads(lines[0])["r"]["path"]
    runs = []
    for _ in range(rounds):
        with open(state + ".journal", "w") as f:  # papers recorded again since the snapshot
            f.write("\n".join(lines) + "\n")
        if crossing:
            os.unlink(victim)  # fetched again (from a dead port: it fails, and is recorded)
        runs.append(timed_rss([*PAPERS, "download", "-i", d + ".list", "-o", d, "-q", "--no-progress",
                               "--max-retries", "0"], ok=(1,) if crossing else (0,)))
        if crossing:
            with open(victim, "wb") as f:
                f.write(b"%PDF-1.4\n")
            _restore_record(state, lines[0])
    if os.path.exists(state + ".journal"):
        os.unlink(state + ".journal")
    t, rss = statistics.median(r[0] for r in runs), max(r[1] for r in runs)
    print(f"bench: resume {n} + {len(lines)}-line journal: {t:.2f}s, peak RSS {rss:.0f} MB", file=sys.stderr)
    return {"seconds": t, "journal_lines": len(lines), "peak_rss_mb": rss, "all_seconds": [r[0] for r in runs]}


def shards_vs_one(url_list: str, bound: float, rounds: int) -> dict[str, Any]:
    """The hosts workload as 4 local shards at once against 1 process, both with the same
    fleet budget (--rate-limit 10 --max-per-host 8 per host), so the same polite bound."""
    flags = ["-i", url_list, "--rate-limit", "10", "--max-per-host", "8", "--no-progress", "-q"]
    one, four = [], []
    for _ in range(rounds):
        out = fresh(os.path.join(WORK, "out"))
        one.append(timed([*PAPERS, "download", "-o", out, "-j", "16", *flags]))
        out = fresh(os.path.join(WORK, "out"))
        four.append(timed_together([[*PAPERS, "download", "-o", out, "-j", "4", "--shard", f"{k}/4", *flags]
                                    for k in range(4)]))
    res = {"one": statistics.median(one), "four": statistics.median(four), "bound": bound,
           "bound_four": _sharded_bound(url_list, 4, 10.0), "all_one": one, "all_four": four}
    print(f"bench: shards: 1 process {res['one']:.2f}s (bound {bound:.1f}s), 4 shards {res['four']:.2f}s "
          f"(bound {res['bound_four']:.1f}s)", file=sys.stderr)
    return res


def _sharded_bound(url_list: str, n: int, fleet_rate: float) -> float:
    """The polite minimum of n shards splitting `fleet_rate` per host: the shard with the
    most files of one host needs (files - 1) of its 1/(fleet_rate/n) intervals."""
    sys.path.insert(0, os.path.join(ROOT, "src"))
    from collections import Counter

    from papers.net.hosts import host_of
    from papers.inputs.records import paper_from_text
    from papers.download.shard import shard_of

    with open(url_list) as f:
        urls = f.read().split()
    per = Counter((shard_of(paper_from_text(u).key, n), host_of(u)) for u in urls)
    return (max(per.values()) - 1) / (fleet_rate / n)


def timed_together(cmds: list[list[str]]) -> float:
    """Wall time of commands started at once, until the last one ends (each must exit 0)."""
    settle()
    t0 = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in cmds]
    for p in procs:
        if p.wait() != 0:
            raise RuntimeError(f"a shard failed: {p.stderr.read().decode()[-800:]}")
    return time.perf_counter() - t0


def _restore_record(state: str, line: str) -> None:
    """Put back the record that a crossing resume replaced (the victim downloaded)."""
    from papers.state.records import PaperRecord
    from papers.state.store import StateStore

    st = StateStore.open(state, PaperRecord)
    entry = json.loads(line)
    st.put(entry["k"], PaperRecord(**entry["r"]))
    st.compact()
    st.close()


def startup(rounds: int) -> dict[str, float]:
    def med(cmd):
        xs = [timed(cmd) for _ in range(max(rounds, 5))]
        return statistics.median(xs)
    base = med([sys.executable, "-c", "pass"])
    return {"python -c pass": base, "papers --help": med([*PAPERS, "--help"]),
            "papers download --help": med([*PAPERS, "download", "--help"]),
            **first_request(max(rounds, 7))}


def first_request(rounds: int) -> dict[str, float]:
    """Median seconds from exec to the first TCP connection, for papers and aria2c:
    what start-up costs a download (the `typical` workload's whole gap)."""
    import socket
    import threading

    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    body = b"%PDF-1.4\n" + b"x" * 1000
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
    accepted: list[float] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            accepted.append(time.perf_counter())
            with conn:
                conn.recv(65536)
                conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    out = os.path.join(WORK, "first")
    url = f"http://127.0.0.1:{port}/first.pdf"
    cmds = {"papers": [*PAPERS, "download", url, "-o", out, "-q", "--no-progress", "--rate-limit", "0"],
            "aria2c": [ARIA2C, url, "-d", out, "--allow-overwrite=true", "--quiet=true"]}
    res: dict[str, list[float]] = {t: [] for t in cmds}
    try:
        for _ in range(rounds):
            for tool, cmd in cmds.items():
                fresh(out)
                accepted.clear()
                settle()
                t0 = time.perf_counter()
                subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
                res[tool].append(accepted[0] - t0)
    finally:
        srv.close()
    return {f"first request: {t}": statistics.median(v) for t, v in res.items()}


def chart(sweep: dict[str, dict[int, float]], path: str) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: matplotlib not installed (pip install -e '.[bench]'): no chart", file=sys.stderr)
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    for tool, pts in sweep.items():
        xs = sorted(pts)
        ax.plot(xs, [pts[x] for x in xs], marker="o", label=tool)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("workers (concurrent downloads)")
    ax.set_ylabel("files per second")
    ax.set_title("1500 x 8 KB from local nginx, written to disk")
    ax.legend()
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def main() -> None:
    global ARIA2C, CURL, TIME
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="smaller workloads, for trying the script")
    ap.add_argument("--only", nargs="*", default=None,
                    help="typical small shm sweep hosts bigfile scale startup discovery")
    ap.add_argument("--big", action="store_true", help="also the 1M-paper scale run (minutes, ~4 GB disk)")
    ap.add_argument("--build-scale", type=int, help=argparse.SUPPRESS)  # scale_rerun's child
    args = ap.parse_args()
    if args.build_scale:
        build_scale(args.build_scale)
        return
    nginx = need("nginx", "nginx-light")
    ARIA2C = need("aria2c", "aria2")
    CURL = need("curl", "curl")
    need("taskset", "util-linux")  # papers@1cpu
    TIME = need("/usr/bin/time", "time")  # peak RSS of a command alone
    os.makedirs(WORK, exist_ok=True)
    # Byte-compile papers as `pip install` does: with PYTHONDONTWRITEBYTECODE set (as on
    # these machines) an editable checkout would otherwise compile every module per run.
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(ROOT, "src", "papers")], check=True)
    q = args.quick
    want = lambda n: args.only is None or n in args.only  # noqa: E731
    results: list[Result] = []
    extra: dict[str, object] = {}
    base_port = 18480

    if want("typical"):
        names = make_files(os.path.join(WORK, "srv-typical"), 16 if q else 64, 1_500_000)
        ng = Nginx(nginx, os.path.join(WORK, "srv-typical"), [base_port], "1m")
        try:
            urls = [f"http://127.0.0.1:{base_port}/{n}" for n in names]
            results.append(compare("typical", f"{len(urls)} x 1.5 MB, limit_rate 1m, 16 workers, to disk",
                                   urls, os.path.join(WORK, "out"), 16, args.rounds))
        finally:
            ng.stop()

    small_root = os.path.join(WORK, "srv-small")
    names = make_files(small_root, 300 if q else 1500, 8192)
    urls = [f"http://127.0.0.1:{base_port + 1}/{n}" for n in names]
    ng = Nginx(nginx, small_root, [base_port + 1])
    try:
        if want("small"):
            results.append(compare("small", f"{len(urls)} x 8 KB, 8 workers, unthrottled, to disk",
                                   urls, os.path.join(WORK, "out"), 8, args.rounds))
        if want("shm"):
            results.append(compare("shm", f"{len(urls)} x 8 KB, 8 workers, to /dev/shm (CPU cost)",
                                   urls, SHM, 8, args.rounds,
                                   tools=("papers", "aria2c", "curl", "papers@1cpu",
                                          *(f"floor:{m}" for m in FLOORS))))
            shutil.rmtree(SHM, ignore_errors=True)
        if want("sweep"):
            sweep: dict[str, dict[int, float]] = {}
            for w in (1, 2, 4, 8, 16):
                r = compare(f"sweep-{w}", "", urls, os.path.join(WORK, "out"), w, args.rounds)
                for tool in r.times:
                    sweep.setdefault(tool, {})[w] = len(urls) / r.median(tool)
            extra["sweep"] = sweep
            extra["chart"] = chart(sweep, os.path.join(HERE, "workers.png"))
    finally:
        ng.stop()

    if want("hosts"):
        ports = [base_port + 10 + i for i in range(8)]
        root = os.path.join(WORK, "srv-hosts")
        names = make_files(root, 40, 20_000, prefix="h")
        ng = Nginx(nginx, root, ports)
        try:
            urls = [f"http://127.0.0.1:{p}/{n}" for p in ports for n in names]  # sorted by host
            lists = os.path.join(WORK, "lists")
            os.makedirs(lists, exist_ok=True)
            with open(os.path.join(lists, "hosts.txt"), "w") as f:
                f.write("\n".join(urls) + "\n")
            cmd = [*PAPERS, "download", "-i", os.path.join(lists, "hosts.txt"), "-o", os.path.join(WORK, "out"),
                   "--rate-limit", "10", "--max-per-host", "2", "-j", "16", "--no-progress", "-q"]
            times = []
            for _ in range(args.rounds):
                fresh(os.path.join(WORK, "out"))
                times.append(timed(cmd))
            # The polite minimum: each host's first request at once, its 40th 39 intervals later.
            bound = (len(names) - 1) / 10
            extra["hosts"] = {"median": statistics.median(times), "bound": bound, "times": times}
            print(f"bench: hosts: {statistics.median(times):.2f}s, bound {bound:.1f}s", file=sys.stderr)
            extra["shards"] = shards_vs_one(os.path.join(lists, "hosts.txt"), bound, args.rounds)
        finally:
            ng.stop()

    if want("bigfile"):
        root = os.path.join(SHM, "srv-big")
        os.makedirs(root, exist_ok=True)
        big = os.path.join(root, "big.pdf")
        size = (256 << 20) if q else (2 << 30)
        with open(big, "wb") as f:  # sparse: a PDF header, then zeros
            f.write(b"%PDF-1.7\n")
            f.truncate(size)
        ng = Nginx(nginx, root, [base_port + 30])
        try:
            out = fresh(os.path.join(SHM, "out-big"))
            t, rss = timed_rss([*PAPERS, "download", f"http://127.0.0.1:{base_port + 30}/big.pdf", "-o", out,
                                "--rate-limit", "0", "--max-size", "0", "--no-progress", "-q"])
            extra["bigfile"] = {"bytes": size, "seconds": t, "peak_rss_mb": rss}
            print(f"bench: bigfile: {size >> 20} MB in {t:.1f}s, peak RSS {rss:.0f} MB", file=sys.stderr)
        finally:
            ng.stop()
            shutil.rmtree(SHM, ignore_errors=True)

    if want("scale"):
        extra["scale"] = {}
        for n in ([10_000] if q else [10_000, 100_000] + ([1_000_000] if args.big else [])):
            extra["scale"][n] = scale_rerun(n, args.rounds)
        if args.big:
            extra["resume"] = {1_000_000: scale_resume(1_000_000, args.rounds)}
            extra["resume_crossing"] = {1_000_000: scale_resume(1_000_000, args.rounds, crossing=True)}

    if want("startup"):
        extra["startup"] = startup(args.rounds)

    if want("discovery"):  # finding PDFs, against the APIs' bound: its own script and page
        subprocess.run([sys.executable, os.path.join(HERE, "discovery.py"), "--rounds",
                        str(args.rounds), *(["--quick"] if q else [])], check=True)
        extra["discovery"] = "bench/DISCOVERY.md"

    write_results(results, extra, args)


def write_results(results: list[Result], extra: dict, args) -> None:
    # Issue 9's targets (downloads on libcurl); shm also has one against the bare pycurl floor.
    targets = {"typical": ("aria2c", 1.02), "small": ("aria2c", 0.5), "shm": ("aria2c", 3.0)}
    lines = ["# Benchmark results", "",
             f"`python bench/run.py --rounds {args.rounds}{' --quick' if args.quick else ''}` on "
             f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs. Median of {args.rounds} alternating "
             "rounds; ratios are papers' wall time over the peer's in the same run (lower is better).", "",
             "| workload | papers / aria2c | papers / curl | target | met |", "|---|---|---|---|---|"]
    for r in results:
        pa = r.median("papers") / r.median("aria2c")
        pc = r.median("papers") / r.median("curl")
        peer, goal = targets.get(r.name, ("aria2c", None))
        met = "yes" if goal and pa <= goal else ("no" if goal else "")
        lines.append(f"| {r.name}: {r.note} | {pa:.3f} | {pc:.2f} | "
                     f"{'≤ ' + format(goal, 'g') + ' × ' + peer if goal else ''} | {met} |")
        if "floor:pycurl" in r.times:
            pf = r.median("papers") / r.median("floor:pycurl")
            lines.append(f"| {r.name}: papers / the bare pycurl floor (bench/floor.py) | {pf:.3f} × the floor | | "
                         f"≤ 1.3 × floor | {'yes' if pf <= 1.3 else 'no'} |")
        if "floor:pycurl-durable" in r.times:
            durable = r.median("floor:pycurl-durable")
            lines.append(f"| {r.name}: papers / the durable pycurl floor (the head kept, .part, fsync, rename) | "
                         f"{r.median('papers') / durable:.3f} × (that floor alone is "
                         f"{durable / r.median('floor:pycurl'):.2f} × the bare one) | | | |")
    if "hosts" in extra:
        h = extra["hosts"]
        ratio = h["median"] / h["bound"]
        lines.append(f"| hosts: 8 hosts × 40 files sorted by host, --rate-limit 10 --max-per-host 2 -j 16 | "
                     f"{ratio:.3f} × the polite bound ({h['bound']:.1f} s) | | ≤ 1.05 × bound, never below | "
                     f"{'yes' if 1.0 <= ratio <= 1.05 else 'no'} |")
    if "shards" in extra:
        sh = extra["shards"]
        r4 = sh["four"] / sh["bound_four"]
        lines.append(f"| shards: the hosts workload as 4 local shards vs 1 process, --rate-limit 10 "
                     f"--max-per-host 8 for the fleet | 4 shards {sh['four']:.2f} s = {r4:.3f} × their polite "
                     f"bound ({sh['bound_four']:.1f} s); 1 process {sh['one']:.2f} s = "
                     f"{sh['one'] / sh['bound']:.3f} × its bound ({sh['bound']:.1f} s) | | "
                     f"≤ 1.05 × bound, never below | {'yes' if 1.0 <= r4 <= 1.05 else 'no'} |")
    if "startup" in extra:
        s = extra["startup"]
        base = s["python -c pass"]
        for k in ("papers --help", "papers download --help"):
            lines.append(f"| start-up: `{k}` | {s[k] / base:.2f} × `python -c pass` ({s[k] * 1000:.0f} ms) | | "
                         f"≤ 150 ms | {'yes' if s[k] <= 0.150 else 'no'} |")
        if "first request: papers" in s:
            fp, fa = s["first request: papers"], s["first request: aria2c"]
            lines.append(f"| start-up: exec to first request | papers {fp * 1000:.0f} ms, aria2c {fa * 1000:.0f} ms | | | |")
    if "bigfile" in extra:
        b = extra["bigfile"]
        lines.append(f"| a {b['bytes'] >> 20} MB file | peak RSS {b['peak_rss_mb']:.0f} MB | | < 100 MB | "
                     f"{'yes' if b['peak_rss_mb'] < 100 else 'no'} |")
    if "scale" in extra:
        sc = extra["scale"]
        ns = sorted(sc)
        for n in ns:
            lines.append(f"| re-run over a finished {n:,}-paper state | {sc[n]['seconds']:.1f} s, "
                         f"{sc[n]['us_per_paper']:.0f} µs/paper, peak RSS {sc[n]['peak_rss_mb']:.0f} MB | | "
                         f"{'≤ 10 s, ≤ 1 GB at 1M' if n == 1_000_000 else 'flat µs/paper'} | "
                         f"{('yes' if sc[n]['seconds'] <= 10 and sc[n]['peak_rss_mb'] <= 1024 else 'no') if n == 1_000_000 else ''} |")
        if len(ns) > 1:
            growth = sc[ns[-1]]["us_per_paper"] / sc[ns[0]]["us_per_paper"]
            lines.append(f"| cost per paper, {ns[-1]:,} vs {ns[0]:,} | {growth:.2f} × | | flat (≈ 1) | "
                         f"{'yes' if growth <= 1.3 else 'no'} |")
    for kind, what in (("resume", ""), ("resume_crossing", ", one outcome more: the snapshot rewritten")):
        for n, rs in extra.get(kind, {}).items():
            ok = rs["seconds"] <= 10 and rs["peak_rss_mb"] <= 1024
            lines.append(f"| resume after kill -9: {n:,}-paper state + {rs['journal_lines']:,}-line journal"
                         f"{what} | {rs['seconds']:.1f} s, peak RSS {rs['peak_rss_mb']:.0f} MB | | "
                         f"≤ 10 s, ≤ 1 GB | {'yes' if ok else 'no'} |")
    typical = next((r for r in results if r.name == "typical"), None)
    if typical is not None and "first request: papers" in extra.get("startup", {}):
        s = extra["startup"]
        gap = s["first request: papers"] - s["first request: aria2c"]
        lines += ["", f"Start-up: papers sends its first request {gap * 1000:.0f} ms after aria2c does "
                  "(the interpreter, click and the standard modules a run needs); on `typical` that "
                  f"alone is {gap / typical.median('aria2c') * 100:.1f} % of aria2c's wall time.", ""]
    floor_lines: list[str] = []
    for r in results:
        floors = [t for t in r.times if t.startswith("floor:")]
        if floors:
            a = r.median("aria2c")
            floor_lines += ["", f"The floors under papers on `{r.name}` (bench/floor.py: the same URLs on "
                            "8 threads, a bare GET-and-write loop per HTTP layer, no checks, no state; "
                            "`pycurl-durable` adds the response head and the .part, fsync and rename; "
                            "`papers@1cpu` is papers under `taskset -c 0`), same run:", "", "| tool | seconds | × aria2c |", "|---|---|---|"]
            for t in ("papers", "aria2c", "curl", *[t for t in r.times if t == "papers@1cpu"], *floors):
                floor_lines.append(f"| {t} | {r.median(t):.3f} | {r.median(t) / a:.2f} |")
            floor_lines.append("")
    lines += floor_lines
    if "sweep" in extra:
        lines += ["", "Files per second against workers (1500 × 8 KB, to disk):", "",
                  "| workers | " + " | ".join(extra["sweep"]) + " |",
                  "|---|" + "---|" * len(extra["sweep"])]
        for w in sorted(next(iter(extra["sweep"].values()))):
            lines.append(f"| {w} | " + " | ".join(f"{extra['sweep'][t][w]:.0f}" for t in extra["sweep"]) + " |")
        if extra.get("chart"):
            lines += ["", "![files/s against workers](workers.png)"]
    if "discovery" in extra:
        lines += ["", "Finding PDFs (bare DOIs against the APIs' bound, consolidate's calls per "
                  "paper, a keyless OpenAlex run): [DISCOVERY.md](DISCOVERY.md), written by "
                  "bench/discovery.py in this run."]
    with open(os.path.join(HERE, "AB.md"), encoding="utf-8") as f:  # kept by hand, copied in
        lines += ["", f.read().replace("# A/B measurements", "## A/B measurements", 1)
                  .replace("\n## ", "\n### ")]
    lines += ["", "Raw times (seconds):", "", "```",
              json.dumps({r.name: r.times for r in results} | {k: v for k, v in extra.items()
                                                                if k in ("hosts", "startup", "bigfile", "scale",
                                                                         "resume", "resume_crossing", "shards")},
                         indent=1),
              "```", ""]
    with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
