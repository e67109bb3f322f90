"""What ends each command's --help: its exit codes and examples (plain text, so that
--help imports nothing more)."""

from papers.errors import EXIT_CODES_HELP

#: Each command's own words for exit codes 0 and 1.
_MEANINGS = {
    "consolidate": ("every paper consolidated (with or without a PDF)",
                    "at least one paper failed (junk input, or a source error left it incomplete)"),
    "search": ("every work found was written",
               "the search stopped part-way (an API error): the works found so far are kept"),
    "match": ("every reference matched a work",
              "at least one is ambiguous or matched nothing (or the input had junk)"),
}


def epilog(command: str, examples: str) -> str:
    """The exit codes as `command` uses them, then its examples."""
    text = EXIT_CODES_HELP
    if command in _MEANINGS:
        ok, failed = _MEANINGS[command]
        text = text.replace("every paper downloaded or already there", ok).replace(
            "at least one paper failed (the others are on disk)", failed)
    return text + "\n" + examples

DOWNLOAD_EXAMPLES = """\b
Examples:
  papers download 10.1038/nphys1170 arXiv:1706.03762 -o pdfs
  papers download -i pasted-references.txt -o pdfs   # each line matched to a work first
  papers status --failed -o pdfs | papers download -o pdfs --retry-failed
"""

CONSOLIDATE_EXAMPLES = """\b
Examples:
  papers consolidate 10.1038/nphys1170 PMC3159421 | jq .pdf_urls
  papers consolidate -i dois.txt -o records.json
  papers consolidate -i dois.txt | papers download -o pdfs
"""

SEARCH_EXAMPLES = """\b
Examples:
  papers search "graph neural networks" --since 2020 --oa --limit 500 | papers download -o pdfs
  papers search --filter cites:W2741809807 --filter type:article --count
  papers search --source arxiv "ti:transformer AND cat:cs.LG" --limit 50
"""

GRAPH_EXAMPLES = {
    "references": """\b
Examples:
  papers references 10.1038/nphys1170 | papers download -o cited
  papers references -i seeds.txt --depth 2 --limit 2000 --oa > snowball.jsonl
""",
    "citations": """\b
Examples:
  papers citations arXiv:1706.03762 --since 2023 --limit 500 | papers download -o citing
  papers citations 10.1038/nphys1170 --oa | jq -r .doi
""",
}

MAIN_EXAMPLES = """\b
Examples:
  papers download 10.1038/nphys1170 arXiv:1706.03762 -o pdfs
  papers download -i refs.bib -o pdfs --name '{year}/{first_author}_{title:.50}' --bibtex pdfs/library.bib
  papers status -o pdfs
"""

STATUS_EXAMPLES = """\b
Examples:
  papers status -o pdfs
  papers status --failed -o pdfs | papers download -o pdfs --retry-failed
  papers status --json -o shard0 -o shard1 | jq .by_status
"""

VERIFY_EPILOG = """\b
Exit codes:
  0    every recorded file is there and unchanged
  1    at least one is missing or changed, or (--identity) another paper
       (listed on stdout)
  2    bad usage or state file
\b
Examples:
  papers verify -o pdfs
  papers verify -o pdfs --identity
  papers verify -o pdfs --fix && papers download -i refs.txt -o pdfs
"""

MERGE_STATE_EXAMPLES = """\b
Examples:
  papers merge-state pdfs/.papers-state.json pdfs/.papers-state.*-of-16.json
  papers merge-state all.json shard0/.papers-state.0-of-2.json shard1/.papers-state.1-of-2.json
"""

CONFIG_EXAMPLES = """\b
Examples:
  papers config show
  PAPERS_WORKERS=4 papers config show -c lab.yaml
"""

CONFIG_SHOW_EXAMPLES = """\b
Examples:
  papers config show
  PAPERS_WORKERS=4 papers config show -c lab.yaml
  papers config show | grep rate_limit
"""

MATCH_EXAMPLES = """\b
Examples:
  pbpaste | papers match | jq -r 'select(.match.status == "matched") | .doi'
  papers match -i references.txt | papers download -o pdfs
"""

#: The commands' descriptions in --help (click reads them as it does docstrings).
COMMAND_HELP = {
    "references": "Write records of the works each PAPER cites (OpenAlex and Semantic Scholar, "
                  "merged), for `papers download`.",
    "citations": "Write records of the works that cite each PAPER (OpenAlex and Semantic "
                 "Scholar, merged), for `papers download`.",
    "consolidate": """Enrich PAPERs from scholarly APIs and list every open-access PDF candidate.

    Sources: openalex, unpaywall, semantic_scholar, arxiv, crossref, europepmc.
    Each paper comes out as one JSON record with merged metadata, `pdf_urls`
    (best first: an open version of record, then accepted manuscripts, then
    preprints; repository copies first within a version), `candidates`
    (the same, with the source that named each) and, when none was found,
    `reason`. Feed the output to `papers download`. A re-run skips papers
    already consolidated (state in FILE.papers-state.json, or
    ./.papers-consolidate-state.json, or --state).
    """,
    "search": """Search a scholarly API; write the works it finds as records (JSON Lines, as
    `papers consolidate` writes them) for `papers download`.

    QUERY is free text in the source's own syntax. A re-run of the same search
    writes the works it found again without asking, and goes on from where it
    stopped (the checkpoint: --state, or a .papers-search-*.json in the current
    folder).
    """,
    "match": """Match reference strings and titles (one a line, or BibTeX/RIS/CSV entries without an
    identifier) to works: a record with `match: {score, source, query}` for each one
    matched, `ambiguous` (with its candidates) or `not_found` for the rest.""",
    "download": """Download PAPERs to DIR: PDF URLs, DOIs, arXiv IDs, PMIDs, PMCIDs, paper records.

    Papers given only as identifiers are looked up in the scholarly sources
    (see `papers consolidate`); their PDF candidates are tried best first.
    A reference string or a title is matched to a work first (see `papers
    match`); one that matches none clearly fails as ambiguous or not_found.
    With no PAPER and no -i, papers are read from stdin when it is not a terminal.
    Re-running the same command resumes: finished papers are skipped without a request.
    """,
}
