"""What `--metadata json` writes beside a PDF (the file itself is written by
`disk.files.write_metadata`)."""

from __future__ import annotations

import os
from typing import Any

from papers.model import Outcome, Paper
from papers.redact import redacted
from papers.state.records import iso


def metadata_record(paper: Paper, outcome: Outcome) -> dict[str, Any]:
    """The paper's merged record, and where and when its bytes came from. Secrets in
    URLs are masked."""
    rec: dict[str, Any] = {"id": redacted(paper.id), "doi": paper.doi, "arxiv": paper.arxiv,
                           "pmid": paper.pmid, "pmcid": paper.pmcid, "title": paper.title,
                           "authors": list(paper.authors), "year": paper.year}
    rec.update({k: v for k, v in paper.extra.items() if k not in rec and not k.startswith("_")})
    rec.update({"file": os.path.basename(outcome.path or ""), "bytes": outcome.bytes,
                "sha256": outcome.sha256, "url": redacted(outcome.url),
                "pdf_url": redacted(outcome.pdf_url), "landing_page": redacted(outcome.landing_page),
                "version": outcome.version, "license": outcome.license,
                "identity": outcome.identity, "downloaded": iso(outcome.finished)})
    return {k: v for k, v in rec.items() if v not in (None, [], "")}
