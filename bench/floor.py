#!/usr/bin/env python3
"""The floor under `papers` on the small-file workloads: the least a CPython downloader can do.

    python bench/floor.py MODE URL_FILE OUT_DIR WORKERS

MODE `pycurl`: WORKERS threads, one reused pycurl handle each (papers' HTTP client),
GET each URL and write the body to OUT_DIR; no validation, no .part, no fsync, no
state, no retries. MODE `urllib3` and `http.client`: the same on those libraries.
MODE `socket`: raw keep-alive sockets with a hand-parsed Content-Length (no HTTP
library at all). Whatever papers costs above `pycurl` is its own overhead; what
`socket` costs above aria2c is the price of CPython threads.

MODE `pycurl-durable`: `pycurl` plus the least of what papers promises for each
file: the response head kept (libcurl's header callback, a bare `list.append`, as
papers has it), the body written to a `.part` opened O_EXCL, fsynced, and renamed.
No sniffing, hashing, state or messages: what papers costs above it is its own work.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from urllib.parse import urlsplit


def run_pycurl(urls: list[str], out: str, workers: int) -> None:
    import pycurl

    def work(chunk: list[tuple[int, str]]) -> None:
        c = pycurl.Curl()
        for i, url in chunk:
            with open(os.path.join(out, f"{i}.pdf"), "wb") as f:
                c.setopt(pycurl.URL, url)
                c.setopt(pycurl.WRITEFUNCTION, f.write)
                c.perform()
        c.close()

    _threads(urls, workers, work)


def run_pycurl_durable(urls: list[str], out: str, workers: int) -> None:
    import pycurl

    def work(chunk: list[tuple[int, str]]) -> None:
        c = pycurl.Curl()
        for i, url in chunk:
            lines: list[bytes] = []
            final = os.path.join(out, f"{i}.pdf")
            fd = os.open(final + ".part", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "wb", buffering=0) as f:
                c.setopt(pycurl.URL, url)
                c.setopt(pycurl.HEADERFUNCTION, lines.append)
                c.setopt(pycurl.WRITEFUNCTION, f.write)
                c.perform()
                os.fsync(f.fileno())
            os.replace(final + ".part", final)
        c.close()

    _threads(urls, workers, work)


def run_urllib3(urls: list[str], out: str, workers: int) -> None:
    import urllib3

    def work(chunk: list[tuple[int, str]]) -> None:
        pool = urllib3.PoolManager(maxsize=1)
        for i, url in chunk:
            r = pool.request("GET", url, preload_content=False)
            _save(os.path.join(out, f"{i}.pdf"), r.read1)
            r.release_conn()

    _threads(urls, workers, work)


def run_httpclient(urls: list[str], out: str, workers: int) -> None:
    import http.client

    def work(chunk: list[tuple[int, str]]) -> None:
        conn = None
        for i, url in chunk:
            u = urlsplit(url)
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port or 80)
            conn.request("GET", u.path)
            _save(os.path.join(out, f"{i}.pdf"), conn.getresponse().read)

    _threads(urls, workers, work)


def run_socket(urls: list[str], out: str, workers: int) -> None:
    def work(chunk: list[tuple[int, str]]) -> None:
        sock = None
        for i, url in chunk:
            u = urlsplit(url)
            if sock is None:
                sock = socket.create_connection((u.hostname, u.port or 80))
            sock.sendall(f"GET {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\n\r\n".encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += sock.recv(1 << 16)
            head, _, body = buf.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            with open(os.path.join(out, f"{i}.pdf"), "wb") as f:
                f.write(body)
                left = length - len(body)
                while left > 0:
                    data = sock.recv(min(left, 1 << 16))
                    f.write(data)
                    left -= len(data)

    _threads(urls, workers, work)


def _save(path: str, read) -> None:
    """Write what `read(n)` returns to `path` until it returns b""."""
    with open(path, "wb") as f:
        while data := read(1 << 16):
            f.write(data)


def _threads(urls: list[str], workers: int, work) -> None:
    items = list(enumerate(urls))
    errors: list[BaseException] = []

    def guarded(chunk: list[tuple[int, str]]) -> None:
        try:
            work(chunk)
        except BaseException as e:  # a floor that fails must not look fast
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(items[k::workers],)) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit(f"floor: {errors[0]!r}")
    if len(os.listdir(sys.argv[3])) < len(urls):
        sys.exit("floor: files missing")


def main() -> None:
    mode, url_file, out, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open(url_file) as f:
        urls = [line.strip() for line in f if line.strip()]
    os.makedirs(out, exist_ok=True)
    {"pycurl": run_pycurl, "pycurl-durable": run_pycurl_durable, "urllib3": run_urllib3, "http.client": run_httpclient,
     "socket": run_socket}[mode](urls, out, workers)


if __name__ == "__main__":
    main()
