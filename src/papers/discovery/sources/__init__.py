"""The scholarly APIs that `papers` asks, each behind the `Source` interface."""

from __future__ import annotations

from papers.discovery.sources.base import Candidate, Found, Ids, Source


def build_sources(settings, client) -> list[Source]:
    """The enabled sources in `settings.use_sources` order."""
    from papers.discovery.sources.arxiv import Arxiv
    from papers.discovery.sources.crossref import Crossref
    from papers.discovery.sources.europepmc import EuropePmc
    from papers.discovery.sources.openalex import OpenAlex
    from papers.discovery.sources.semantic_scholar import SemanticScholar
    from papers.discovery.sources.unpaywall import Unpaywall

    classes = {c.name: c for c in (OpenAlex, Unpaywall, SemanticScholar, Arxiv, Crossref, EuropePmc)}
    out = []
    for name in settings.use_sources:
        conf = settings.source(name)
        if conf.enabled:
            out.append(classes[name](conf, client, settings.email))
    return out


__all__ = ["Candidate", "Found", "Ids", "Source", "build_sources"]
