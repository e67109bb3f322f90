"""papers: download academic papers in bulk."""

__version__ = "0.1.0"
