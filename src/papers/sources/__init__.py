"""The scholarly APIs that `papers` asks, each behind the `Source` interface."""

from __future__ import annotations

from papers.sources.base import Candidate, Found, Ids, Source


def build_sources(settings, client) -> list[Source]:
    """The enabled sources in `settings.use_sources` order."""
    from papers.sources.arxiv import Arxiv
    from papers.sources.crossref import Crossref
    from papers.sources.europepmc import EuropePmc
    from papers.sources.openalex import OpenAlex
    from papers.sources.semantic_scholar import SemanticScholar
    from papers.sources.unpaywall import Unpaywall

    classes = {c.name: c for c in (OpenAlex, Unpaywall, SemanticScholar, Arxiv, Crossref, EuropePmc)}
    out = []
    for name in settings.use_sources:
        conf = settings.source(name)
        if conf.enabled:
            out.append(classes[name](conf, client, settings.email))
    return out


__all__ = ["Candidate", "Found", "Ids", "Source", "build_sources"]
