"""Sharded runs: `--shard K/N` takes the papers whose key hashes to K of N, so N
independent processes (a Slurm job array, a Kubernetes Indexed Job, GNU parallel) split
one input between them without talking to each other. The hash is SHA-256 of the
paper's key: stable across runs, machines and Python versions, and two spellings of
one paper (one key) land in the same shard."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from papers.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard `index` of `count`."""

    index: int
    count: int

    def owns(self, key: str) -> bool:
        """Whether the paper with `key` belongs to this shard."""
        return shard_of(key, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def state_name(self) -> str:
        """The default state file's name: `.papers-state.K-of-N.json`."""
        return f".papers-state.{self.index}-of-{self.count}.json"


def shard_of(key: str, count: int) -> int:
    """The shard (0 to count-1) of a paper key."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % count


def parse_shard(text: str, environ: Mapping[str, str], shards: int | None = None) -> Shard:
    """`K/N`, or `auto`: from Slurm's or Kubernetes' variables. ConfigError if unusable."""
    text = str(text).strip()
    if text == "auto":
        return _auto(environ, shards)
    k, sep, n = text.partition("/")
    if not sep or not k.strip().isdigit() or not n.strip().isdigit():
        raise ConfigError(f"--shard {text}: expected K/N (e.g. 0/4) or auto")
    return _checked(int(k), int(n), f"--shard {text}")


def _checked(k: int, n: int, where: str) -> Shard:
    if n < 1:
        raise ConfigError(f"{where}: the number of shards must be at least 1")
    if not 0 <= k < n:
        raise ConfigError(f"{where}: the shard must be from 0 to {n - 1}")
    return Shard(k, n)


def _auto(environ: Mapping[str, str], shards: int | None) -> Shard:
    task = environ.get("SLURM_ARRAY_TASK_ID")
    if task is not None:
        count, low = environ.get("SLURM_ARRAY_TASK_COUNT"), environ.get("SLURM_ARRAY_TASK_MIN")
        high = environ.get("SLURM_ARRAY_TASK_MAX")
        if not _ints(task) or not (_ints(count) or _ints(low, high)):
            raise ConfigError("--shard auto: SLURM_ARRAY_TASK_ID needs SLURM_ARRAY_TASK_COUNT, or "
                              "SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_MAX, all whole numbers")
        first = int(low) if _ints(low) else 0
        n = int(count) if _ints(count) else int(high) - first + 1  # type: ignore[arg-type]
        if _ints(low, high) and _ints(count) and int(count) != int(high) - first + 1:  # type: ignore[arg-type]
            raise ConfigError(f"--shard auto: SLURM_ARRAY_TASK_COUNT={count} does not match "
                              f"SLURM_ARRAY_TASK_MIN={low} and SLURM_ARRAY_TASK_MAX={high} (use --array=0-N, step 1)")
        return _checked(int(task) - first, n, f"--shard auto (SLURM_ARRAY_TASK_ID={task})")
    index = environ.get("JOB_COMPLETION_INDEX")
    if index is not None:
        n = shards if shards is not None else environ.get("PAPERS_SHARDS")
        if not _ints(index) or n is None or not _ints(str(n)):
            raise ConfigError("--shard auto: JOB_COMPLETION_INDEX needs the number of shards: "
                              "--shards N or PAPERS_SHARDS (the Job's completions)")
        return _checked(int(index), int(n), f"--shard auto (JOB_COMPLETION_INDEX={index})")
    raise ConfigError("--shard auto: no SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX in the "
                      "environment; give --shard K/N")


def _ints(*values: str | None) -> bool:
    return all(v is not None and v.strip().lstrip("-").isdigit() for v in values)
