"""Reference strings and titles matched to works, with a stated score: never a guess.

Each candidate a source returns for a query is scored by one rule (the README states
it), on text normalised alike on both sides (LaTeX to text, accents and case dropped,
punctuation to spaces):

    score = 0.70 T + 0.15 Y + 0.15 A + 0.05 V     (at most 1)

- T, the title (rapidfuzz, 0 to 1): the best of how well the title matches one of the
  query's sentences (`ratio`; the query cut at `.`, `;`, `?`, `!` and quotes) and, for
  a title of four words or more, how well it appears anywhere in the query
  (`partial_ratio`: a short title appears inside many reference strings).
- Y, the year: 1 when the query names the candidate's year, 0.5 when it names one a
  year off (a preprint and its version of record), 0 when it names another; a query
  that names no year leaves Y open.
- A, the first author: 1 when the candidate's first author's surname is a word of the
  query, 0 otherwise; a bare title (a query no longer than the title) leaves A open.
- V, the venue: 1 when the candidate's journal or conference appears in the query.
- A part the query leaves open takes T's value: a bare title is judged by its title.

A match is accepted when the best score is at least `min_score` and leads the next
candidate (another work) by `margin`; otherwise the answer is `ambiguous`, with the
candidates, or `not_found`. Errata, corrections, retraction notices, replies, comments
and book reviews never match a query that is not itself one, and a query that is one
matches only those.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

MIN_SCORE = 0.85   # `match.min_score`
MARGIN = 0.05      # the best must lead the next work by this much
WEIGHTS = {"title": 0.70, "year": 0.15, "author": 0.15, "venue": 0.05}
_SHORT_TITLE = 4   # words: a title shorter than this is compared with the query whole

#: Titles of notices about another work (and the types sources give them).
_NOTICE = re.compile(r"^(author correction|correction|corrigendum|erratum|retraction( note)?|"
                     r"retracted|expression of concern|reply|response|comment|book review|"
                     r"review of)\b")
_NOTICE_TYPES = {"erratum", "retraction", "correction", "expression-of-concern", "book-review",
                 "comment", "reply", "peer-review"}
_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")
_SENTENCE = re.compile(r"[.;?!\"“”]+\s*|\s['‘’]|['‘’]\s")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A work a source proposed for a query."""

    doi: str | None
    title: str
    year: int | None = None
    authors: tuple[str, ...] = ()
    venue: str | None = None
    type: str | None = None       # the source's type: article, erratum, retraction, ...
    source: str = ""
    extra: Any = field(default=None, compare=False)  # the source's own answer (a Found)


@dataclass(frozen=True, slots=True)
class Scored:
    """A candidate with its score and the parts it is made of."""

    candidate: Candidate
    score: float
    parts: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        c = self.candidate
        return {"doi": c.doi, "title": c.title, "year": c.year, "score": round(self.score, 3),
                "source": c.source}


@dataclass(frozen=True, slots=True)
class Match:
    """What a query matched: `matched` (with `best`), `ambiguous` or `not_found`, and the
    candidates best first."""

    status: str
    best: Scored | None
    candidates: list[Scored]


@lru_cache(maxsize=4096)
def normalise(text: str) -> str:
    """Text as it is compared: LaTeX as text, no accents, lower case, words only."""
    if "\\" in text or "$" in text or "{" in text:
        from pylatexenc.latex2text import LatexNodes2Text

        text = LatexNodes2Text(math_mode="text").latex_to_text(text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("ß", "ss").replace("ø", "o").replace("Ø", "o").replace("ł", "l")
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def surname(author: str) -> str:
    """The normalised surname of `Vaswani, Ashish`, `Ashish Vaswani` or `Vaswani A`."""
    author = author.strip()
    if "," in author:
        name = author.split(",", 1)[0]
    else:
        words = author.split()
        # "Vaswani A" / "Vaswani AN" (Vancouver): initials come last.
        if len(words) > 1 and re.fullmatch(r"[A-Z]{1,3}\.?", words[-1]):
            name = " ".join(words[:-1])
        else:
            name = words[-1] if words else ""
    return normalise(name)


def title_guess(reference: str) -> str:
    """The part of a reference string most likely its title, to search titles with: of
    its sentences, the one with the most lower-case words and the fewest initials and
    numbers (an author list is names and initials; a venue, a year and pages numbers)."""
    def weight(sentence: str) -> float:
        words = sentence.split()
        lower = sum(w[:1].islower() for w in words)
        initials = sum(bool(re.fullmatch(r"[A-Z]{1,3}\.?,?", w)) for w in words)
        numbers = sum(any(ch.isdigit() for ch in w) for w in words)
        return lower + 0.5 * len(words) - 1.5 * initials - numbers
    sentences = [x.strip(" ,") for x in _SENTENCE.split(reference) if len(x.split()) >= 2]
    return max(sentences, key=weight) if sentences else reference.strip()


def is_notice(title: str, kind: str | None) -> bool:
    """Whether a work is a notice about another (an erratum, a retraction, a reply...)."""
    return (kind or "").lower() in _NOTICE_TYPES or bool(_NOTICE.match(normalise(title)))


def score(query: str, cand: Candidate) -> Scored:
    """`cand` scored against `query` by the module's rule."""
    from rapidfuzz import fuzz

    q, t = normalise(query), normalise(cand.title)
    if not t:
        return Scored(cand, 0.0, {})
    sentences = [normalise(x) for x in _SENTENCE.split(query)]
    title = max((fuzz.ratio(t, x) for x in sentences if x), default=0.0)
    if len(t.split()) >= _SHORT_TITLE:
        title = max(title, fuzz.partial_ratio(t, q) if len(q) > len(t) else fuzz.ratio(t, q))
    title /= 100
    named = {int(y) for y in _YEAR.findall(query)}
    year: float | None = None
    if named and cand.year is not None:
        year = 1.0 if cand.year in named else 0.5 if any(abs(cand.year - y) == 1 for y in named) \
            else 0.0
    first = surname(cand.authors[0]) if cand.authors else ""
    bare = len(q) <= len(t) * 1.15
    author = None if bare else 1.0 if first and f" {first} " in f" {q} " else 0.0
    venue_text = normalise(cand.venue or "")
    venue = 1.0 if venue_text and fuzz.partial_ratio(venue_text, q) >= 90 else 0.0
    parts = {"title": title, "year": title if year is None else year,
             "author": title if author is None else author, "venue": venue}
    total = min(1.0, round(sum(WEIGHTS[k] * v for k, v in parts.items()), 6))
    return Scored(cand, total, parts)


def decide(query: str, candidates: list[Candidate], min_score: float = MIN_SCORE,
           margin: float = MARGIN) -> Match:
    """The match of `query` among `candidates`: never a guess."""
    asks_notice = bool(_NOTICE.match(normalise(query)))
    usable = [c for c in candidates if is_notice(c.title, c.type) == asks_notice]
    scored = sorted((score(query, c) for c in usable), key=lambda s: -s.score)
    scored = _one_per_work(scored)
    if not scored:
        return Match("not_found", None, [])
    best = scored[0]
    runner_up = scored[1].score if len(scored) > 1 else 0.0
    if best.score >= min_score and best.score - runner_up >= margin:
        return Match("matched", best, scored)
    if best.score >= min_score - 0.15:  # near enough to show, not enough to take
        return Match("ambiguous", None, scored[:5])
    return Match("not_found", None, scored[:5])


def _one_per_work(scored: list[Scored]) -> list[Scored]:
    """The best-scored candidate of each work (two sources name one DOI)."""
    out, seen = [], set()
    for s in scored:
        key = (s.candidate.doi or "").lower() or normalise(s.candidate.title)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out
