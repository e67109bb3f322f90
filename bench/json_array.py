"""A/B: the elements of a big JSON array input, read by papers' streaming reader
(`inputs.readers._ArrayReader`: json's raw_decode per element, with each element's line)
and by ijson (`ijson.items(f, "item")`, its C backend: no positions).

    python bench/json_array.py [N]

Prints the median of 3 rounds each, interleaved; the figures go in bench/AB.md."""

import io
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from papers.inputs.readers import _ArrayReader  # noqa: E402


def make(n: int, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("[\n")
        f.write(",\n".join(json.dumps({"doi": f"10.1000/x{i}", "title": f"A paper about {i} things",
                                       "year": 2000 + i % 25, "authors": ["Doe, J.", "Roe, R."]})
                           for i in range(n)))
        f.write("\n]\n")


def ours(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        return sum(1 for _ in _ArrayReader(f, path).items())


def with_ijson(path: str) -> int:
    import ijson

    with open(path, "rb") as f:
        return sum(1 for _ in ijson.items(f, "item"))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "papers.json")
        make(n, path)
        times: dict[str, list[float]] = {"papers _ArrayReader": [], "ijson (yajl2_c)": []}
        for _ in range(3):
            for name, fn in (("papers _ArrayReader", ours), ("ijson (yajl2_c)", with_ijson)):
                t0 = time.perf_counter()
                assert fn(path) == n
                times[name].append(time.perf_counter() - t0)
    out = io.StringIO()
    for name, ts in times.items():
        print(f"{name}: {n:,} elements, median {statistics.median(ts):.3f} s "
              f"({min(ts):.3f} to {max(ts):.3f})", file=out)
    print(out.getvalue(), end="")


if __name__ == "__main__":
    main()
