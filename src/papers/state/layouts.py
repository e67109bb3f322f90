"""The state file's older layouts (schemas 1 to 3), read through one path into the
records of schema 4."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from papers.state.records import FIELDS

LEGACY_FIELDS = FIELDS  # the order of schema 2 rows and list records in old journals


def upgrade(data: Any) -> dict[str, Any]:
    """Records as JSON objects, keyed by paper, from a parsed state document of any
    schema (1: objects; 2: rows in `fields` order; 3: blocks of columns; 4: objects)."""
    if not isinstance(data, dict) or not isinstance(data.get("papers", data.get("blocks")), (dict, list)):
        raise ValueError('expected {"schema": 4, "papers": {...}}')
    fields = data.get("fields")
    if "blocks" in data:
        if not isinstance(fields, list) or not isinstance(data["blocks"], list):
            raise ValueError('a "blocks" snapshot needs its "fields"')
        return {key: record_of(fields, values) for n, block in enumerate(data["blocks"], 1)
                for key, values in _block_rows(block, len(fields), n)}
    papers = data["papers"]
    if not isinstance(papers, dict):
        raise ValueError('"papers" is not an object')
    return {key: record_of(fields or LEGACY_FIELDS, rec) if isinstance(rec, list) else rec
            for key, rec in papers.items()}


def record_of(fields: Iterable[str], values: Iterable[Any]) -> dict[str, Any]:
    """A record object from an array of values in `fields` order (schemas 2 and 3)."""
    return {f: v for f, v in zip(fields, values) if v is not None}


def _block_rows(block: Any, width: int, n: int) -> Iterator[tuple[str, tuple[Any, ...]]]:
    columns = block.get("columns") if isinstance(block, dict) else None
    keys = block.get("keys") if isinstance(block, dict) else None
    if not isinstance(keys, list) or not isinstance(columns, list) or len(columns) != width \
            or any(not isinstance(c, list) or len(c) != len(keys) for c in columns):
        raise ValueError(f'block {n} is not {{"keys": [...], "columns": [...]}} with one column per field')
    return zip(keys, zip(*columns))
