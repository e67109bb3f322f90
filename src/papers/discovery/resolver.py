"""Find PDF candidates for papers by asking the scholarly sources, and merge what they say.

`Resolver.resolve` is used by `papers consolidate` and, inline, by `papers
download` for papers given only as identifiers. Ranking and merging are pure.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from papers.discovery.sources.base import Candidate, Found, Ids, Source
from papers.errors import ApiError
from papers.model import Paper
from papers.net.hosts import hostname
from papers.redact import redact

log = logging.getLogger("papers")

#: Ties within a rank class go to the source that is most often right about PDFs.
SOURCE_PREFERENCE = {name: i for i, name in enumerate(
    ("input", "arxiv", "europepmc", "unpaywall", "openalex", "semantic_scholar", "crossref"))}
#: Whose metadata wins when sources disagree (the input's own always wins).
METADATA_PREFERENCE = ("crossref", "openalex", "semantic_scholar", "europepmc", "arxiv", "unpaywall")
_PMC_HOSTS = ("europepmc.org", "pmc.ncbi.nlm.nih.gov")
_ARXIV_PDF = re.compile(r"^https?://(?:www\.|export\.)?arxiv\.org/(?:pdf|abs)/(.+?)(?:v\d+)?(?:\.pdf)?/?$", re.I)


#: What a reader wants first: the version of record when it is open, then the author's
#: accepted manuscript, then a copy of unknown version, then the submitted preprint.
VERSION_RANK = {"publishedVersion": 0, "acceptedVersion": 1, None: 2, "submittedVersion": 3}


def version_class(c: Candidate) -> int:
    """A candidate's place by version. A published version counts as open when a licence
    comes with it; Crossref's links (mostly text-mining or subscription) come last."""
    if c.source == "crossref":
        return 4
    if c.version == "publishedVersion" and not c.license:
        return VERSION_RANK[None]
    return VERSION_RANK.get(c.version, VERSION_RANK[None])


def host_class(c: Candidate) -> int:
    """Among copies of one version: repositories (arXiv, PMC, others) before publishers."""
    host = hostname(c.url)
    path = urlsplit(c.url).path.lower()
    if c.source == "arxiv" or host.endswith("arxiv.org"):
        return 1
    if host.endswith(_PMC_HOSTS) or (host.endswith("ncbi.nlm.nih.gov") and "/pmc/" in path):
        return 2
    if c.host_type == "repository":
        return 3
    return 4


def rank(c: Candidate) -> tuple[int, int, int, int]:
    """Sort key of a candidate: the input's own first (the user knows best), then by
    version, then repository copies before publisher links, then by source."""
    if c.source == "input":
        return 0, 0, 0, 0
    return 1, version_class(c), host_class(c), SOURCE_PREFERENCE.get(c.source, 9)


def url_identity(url: str) -> str:
    """Two URLs with one identity serve the same file (scheme, host case, arXiv versions)."""
    m = _ARXIV_PDF.match(url.strip())
    if m:
        return "arxiv:" + m.group(1).lower()
    parts = urlsplit(url.strip())
    return (parts.netloc.lower() + parts.path + ("?" + parts.query if parts.query else ""))


def order_candidates(cands: list[Candidate]) -> list[Candidate]:
    """Best first, one per identity."""
    out, seen = [], set()
    for c in sorted(cands, key=rank):
        ident = url_identity(c.url)
        if ident not in seen:
            seen.add(ident)
            out.append(c)
    return out


def _given(url: str, paper: Paper) -> Candidate:
    """One of the input's own URLs, with the version and licence its record's `candidates`
    name for it (a consolidated record says them)."""
    for c in paper.extra.get("candidates") or ():
        if isinstance(c, dict) and c.get("url") == url:
            version, licence = c.get("version"), c.get("license")
            return Candidate(url, "input", version=version if isinstance(version, str) else None,
                             license=licence if isinstance(licence, str) else None)
    return Candidate(url, "input")


def merge(paper: Paper, ids: Ids, found: dict[str, Found], status: dict[str, str],
          extra_candidates: list[Candidate] = ()) -> dict[str, Any]:
    """One consolidated record from the input paper and what each source said."""
    ordered = [found[s] for s in METADATA_PREFERENCE if s in found]

    def first(attr: str) -> Any:
        for f in ordered:
            v = getattr(f, attr)
            if v:
                return v
        return None

    cands = [_given(u, paper) for u in paper.urls]
    cands += list(extra_candidates)
    for f in found.values():
        cands.extend(f.candidates)
    best = order_candidates(cands)
    oa_from = [found[s] for s in ("unpaywall", "openalex", "semantic_scholar", "europepmc", "arxiv") if s in found]
    is_oa = next((f.is_oa for f in oa_from if f.is_oa is not None), None)
    oa_status = next((f.oa_status for f in oa_from if f.oa_status), None)
    licence = next((c.license for c in best if c.license), None) or first("license")
    errors = {s: v for s, v in status.items() if v.startswith("error")}
    asked = [s for s, v in status.items() if v in ("found", "not found") or v.startswith("error")]
    if paper.problem:
        state, reason = "failed", paper.problem
    elif best:
        state, reason = "found", None
    elif errors:
        state = "failed"
        reason = "no PDF found yet; " + "; ".join(f"{s} {v}" for s, v in errors.items())
    else:
        skipped = [f"{s} {v}" for s, v in status.items() if v.startswith("skipped")]
        reason = f"no open-access PDF found (asked: {', '.join(asked) or 'no source could be asked'})"
        if skipped:
            reason += "; " + "; ".join(skipped)
        state = "not_found"
    record: dict[str, Any] = {
        "id": paper.id,
        "status": state,
        "doi": ids.doi, "arxiv": ids.arxiv, "pmid": ids.pmid, "pmcid": ids.pmcid,
        "title": paper.title or first("title"),
        "authors": list(paper.authors or first("authors") or ()),
        "year": paper.year or first("year"),
        "is_oa": is_oa,
        "oa_status": oa_status,
        "license": licence,
        "pdf_urls": [c.url for c in best],
        "candidates": [c.as_dict() for c in best],
        "sources": dict(status),
        "reason": reason,
        "complete": not errors,
    }
    for k, v in paper.extra.items():
        record.setdefault(k, v)
    return record


class Resolver:
    """Asks the sources about papers, in batches, and merges the answers."""

    def __init__(self, sources: list[Source], secrets: tuple[str, ...] = ()) -> None:
        self.sources = sources
        self.secrets = secrets
        self.arxiv = next((s for s in sources if s.name == "arxiv"), None)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sources]

    def resolve(self, papers: list[Paper]) -> list[dict[str, Any]]:
        """Consolidated records for `papers`, in order. Raises Cancelled when stopping."""
        out: list[dict[str, Any] | None] = [None] * len(papers)
        for i, rec in self.resolve_iter(papers):
            out[i] = rec
        return out  # type: ignore[return-value]

    def resolve_iter(self, papers: list[Paper]) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield (index, record) for each paper as soon as it is complete.

        Sources with batch endpoints are asked for the whole list first, one
        request per batch; then each paper in turn goes to the one-at-a-time
        sources and, with identifiers it learned, to anyone not yet asked (a
        DOI from arXiv or Europe PMC opens Unpaywall and Crossref). So a stop
        loses at most the paper in progress.
        """
        ids = [Ids(p.doi, p.arxiv, p.pmid, p.pmcid) for p in papers]
        found: list[dict[str, Found]] = [{} for _ in papers]
        status: list[dict[str, str]] = [{} for _ in papers]
        live = [i for i, p in enumerate(papers) if p.problem is None]
        for src in self.sources:
            if src.batch_size > 1:
                self._ask(src, live, ids, found, status)
        for i, paper in enumerate(papers):
            if paper.problem is None:
                for _round in range(2):
                    before = ids[i].as_tuple()
                    for src in self.sources:
                        self._ask(src, [i], ids, found, status)
                    if ids[i].as_tuple() == before:
                        break
            yield i, self._record(paper, ids[i], found[i], status[i])

    def _ask(self, src: Source, todo: list[int], ids: list[Ids], found: list[dict[str, Found]],
             status: list[dict[str, str]]) -> None:
        todo = [i for i in todo if src.name not in status[i] and src.query(ids[i])]
        if not todo:
            return
        why = src.unavailable()
        if why:
            for i in todo:
                status[i][src.name] = why
            return
        for start in range(0, len(todo), src.batch_size):
            chunk = todo[start:start + src.batch_size]
            try:
                answers = src.lookup([ids[i] for i in chunk])
            except ApiError as e:
                msg = redact(str(e), self.secrets)
                log.info("%s failed for %d paper(s): %s", src.name, len(chunk), msg)
                for i in chunk:
                    status[i][src.name] = f"error: {msg}"
                continue
            for i, f in zip(chunk, answers):
                status[i][src.name] = "found" if f else "not found"
                if f:
                    found[i][src.name] = f
                    ids[i].learn(f)

    def _record(self, paper: Paper, ids: Ids, found: dict[str, Found], status: dict[str, str]) -> dict[str, Any]:
        extra = []
        # An arXiv PDF URL can be built without asking; only arXiv's own
        # "no such paper" stops it.
        if self.arxiv and ids.arxiv and status.get("arxiv") != "not found" \
                and "arxiv" not in found and paper.problem is None:
            extra.append(Candidate(self.arxiv.pdf_url(ids.arxiv), "arxiv",
                                   host_type="repository", version="submittedVersion"))
        # Report sources in the configured order, not in the order they were asked.
        ordered = {n: status[n] for n in self.names if n in status}
        return merge(paper, ids, found, ordered, extra)


def paper_with_candidates(paper: Paper, record: dict[str, Any]) -> Paper:
    """The paper with the record's identifiers, metadata and PDF candidates filled in."""
    from dataclasses import replace

    return replace(paper, urls=tuple(record["pdf_urls"]), title=paper.title or record.get("title"),
                   authors=paper.authors or tuple(record.get("authors") or ()),
                   year=paper.year or record.get("year"),
                   doi=record.get("doi"), arxiv=record.get("arxiv"), pmid=record.get("pmid"),
                   pmcid=record.get("pmcid"))

