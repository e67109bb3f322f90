"""The sources a run asks, built from its settings."""

from __future__ import annotations

from papers.discovery.sources.arxiv import Arxiv
from papers.discovery.sources.base import Source
from papers.discovery.sources.crossref import Crossref
from papers.discovery.sources.europepmc import EuropePmc
from papers.discovery.sources.openalex import OpenAlex
from papers.discovery.sources.semantic_scholar import SemanticScholar
from papers.discovery.sources.unpaywall import Unpaywall

CLASSES = {c.name: c for c in (OpenAlex, Unpaywall, SemanticScholar, Arxiv, Crossref, EuropePmc)}


def build_sources(settings, client) -> list[Source]:
    """The enabled sources in `settings.use_sources` order."""
    out = []
    for name in settings.use_sources:
        conf = settings.source(name)
        if conf.enabled:
            out.append(CLASSES[name](conf, client, settings.email))
    return out
