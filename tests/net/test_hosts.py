"""The per-host limiter and scheduler, driven directly with a fake clock where it matters."""

import threading
import time

import pytest

from conftest import pdfs_in
from support.faultserver import FaultServer, make_pdf
from papers.errors import Cancelled
from papers.net.hosts import HostLimiter, host_of
from papers.download.scheduler import HostScheduler


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_host_of():
    assert host_of("https://Example.org/a") == "https://example.org:443"
    assert host_of("http://example.org:8080/a") == "http://example.org:8080"


def test_rate_is_a_spacing_not_a_burst():
    clock = Clock()
    lim = HostLimiter(max_per_host=10, rate_limit=4, cancel=threading.Event(), clock=clock)
    with lim.cond:
        assert lim.try_acquire("h") == 0.0
        assert lim.try_acquire("h") == 0.25  # the next start is a quarter second away
        clock.t += 0.25
        assert lim.try_acquire("h") == 0.0


def test_connection_cap_and_release():
    lim = HostLimiter(max_per_host=2, rate_limit=0, cancel=threading.Event())
    with lim.cond:
        assert lim.try_acquire("h") == 0.0
        assert lim.try_acquire("h") == 0.0
        assert lim.try_acquire("h") == float("inf")
        assert lim.try_acquire("other") == 0.0
    lim.release("h")
    with lim.cond:
        assert lim.try_acquire("h") == 0.0


def test_pause_holds_one_host_only():
    clock = Clock()
    lim = HostLimiter(max_per_host=5, rate_limit=0, cancel=threading.Event(), clock=clock)
    lim.pause("h", 30)
    with lim.cond:
        assert lim.try_acquire("h") == 30
        assert lim.try_acquire("g") == 0.0


def test_circuit_breaker_backs_off_a_failing_host():
    clock = Clock()
    lim = HostLimiter(max_per_host=5, rate_limit=0, cancel=threading.Event(), clock=clock)
    for _ in range(4):
        lim.report("h", ok=False)
    with lim.cond:
        assert lim.try_acquire("h") == 0.0
    lim.release("h")
    lim.report("h", ok=False)
    with lim.cond:
        assert lim.try_acquire("h") == 2.0
    lim.report("h", ok=False)
    with lim.cond:
        assert lim.try_acquire("h") == 4.0
    lim.report("h", ok=True)
    lim.report("h", ok=False)
    clock.t += 10
    with lim.cond:
        assert lim.try_acquire("h") == 0.0  # a success reset the count


def test_scheduler_round_robins_hosts_sorted_input():
    cancel = threading.Event()
    lim = HostLimiter(max_per_host=1, rate_limit=0, cancel=cancel)
    sched = HostScheduler(lim, capacity=100, cancel=cancel)
    for host in "ABC":
        for i in range(3):
            sched.put(host, f"{host}{i}")
    got = [sched.get() for _ in range(3)]
    assert [item for _, item in got] == ["A0", "B0", "C0"]
    # Every host is busy now: the next get waits for a release.
    result = []
    t = threading.Thread(target=lambda: result.append(sched.get()))
    t.start()
    time.sleep(0.3)
    assert not result
    lim.release("B")
    t.join(2)
    assert result[0][1] == "B1"
    sched.close()


def test_scheduler_items_without_host_are_always_ready_and_close_ends_workers():
    cancel = threading.Event()
    lim = HostLimiter(max_per_host=1, rate_limit=0, cancel=cancel)
    sched = HostScheduler(lim, capacity=10, cancel=cancel)
    sched.put(None, "lookup")
    res, item = sched.get()
    assert item == "lookup" and res.taken
    sched.close()
    assert sched.get() is None


def test_scheduler_capacity_bounds_read_ahead():
    cancel = threading.Event()
    lim = HostLimiter(max_per_host=1, rate_limit=0, cancel=cancel)
    sched = HostScheduler(lim, capacity=2, cancel=cancel)
    assert sched.put("A", 1) and sched.put("A", 2)
    cancel.set()
    assert sched.put("A", 3) is False  # would block; the run is stopping


def test_many_hosts_sorted_input_runs_in_parallel_within_limits(papers, tmp_path):
    servers = [FaultServer().__enter__() for _ in range(4)]
    try:
        urls = []
        for k, srv in enumerate(servers):  # input sorted by host
            urls += [srv.pdf(f"/h{i}.pdf", make_pdf(2000, k * 100 + i)) for i in range(10)]
        t0 = time.monotonic()
        r = papers("download", "-o", str(tmp_path / "o"), "--json", "--rate-limit", "10",
                   "--max-per-host", "2", "-j", "8", *urls)
        elapsed = time.monotonic() - t0
        assert r.code == 0, r.stderr
        assert len(pdfs_in(tmp_path / "o")) == 40
        for srv in servers:
            starts = sorted(x.at for x in srv.requests)
            gaps = [b - a for a, b in zip(starts, starts[1:])]
            assert min(gaps) >= 0.09  # never faster than 10/s per host
            assert starts[-1] - starts[0] >= 0.85
        # All hosts overlap: ~1 s of spacing each, not 4 s one after the other.
        first = min(min(x.at for x in s.requests) for s in servers)
        last = max(max(x.at for x in s.requests) for s in servers)
        assert last - first < 2.5, (last - first, elapsed)
    finally:
        for srv in servers:
            srv.__exit__(None, None, None)


def test_a_late_start_still_spaces_the_next_one():
    # A's turn is at t0 but its request only starts 40 ms later; B's turn is at t0 + 50 ms.
    # The server must still see the two starts 50 ms apart, not 10.
    lim = HostLimiter(2, 20, threading.Event())  # 20/s: 50 ms between starts
    with lim.cond:
        assert lim.try_acquire("h") == 0.0
    time.sleep(0.04)
    starts = []
    with lim.slot("h", held=True):
        starts.append(time.monotonic())
    while True:
        with lim.cond:
            wait = lim.try_acquire("h")
        if wait == 0.0:
            break
        time.sleep(wait)
    with lim.slot("h", held=True):
        starts.append(time.monotonic())
    assert starts[1] - starts[0] >= 0.05 - 0.002


def test_a_pause_holds_a_request_whose_turn_came_before_it():
    lim = HostLimiter(2, 0, threading.Event())
    with lim.cond:
        assert lim.try_acquire("h") == 0.0  # handed out, not started yet
    lim.pause("h", 0.15)                     # then a 429 with Retry-After from another request
    t0 = time.monotonic()
    with lim.slot("h", held=True):
        assert time.monotonic() - t0 >= 0.14


def test_cancel_while_waiting_to_start_gives_the_slot_back():
    cancel = threading.Event()
    lim = HostLimiter(1, 0, cancel)
    lim.pause("h", 5)
    with lim.cond:
        lim._slots["h"].active = 1  # a reservation handed out
    threading.Timer(0.05, cancel.set).start()
    with pytest.raises(Cancelled):
        with lim.slot("h", held=True):
            pass
    assert lim._slots["h"].active == 0
