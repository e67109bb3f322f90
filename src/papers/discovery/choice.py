"""The versions and licences a user may take (`--version`, `--license`): which candidates
pass, and why none did. Pure.

A candidate's version is what the sources say (`publishedVersion`, `acceptedVersion`,
`submittedVersion`), `unknown` when none says; its licence is normalised to a short key
(`cc-by`, `cc-by-nc-sa`, `cc0`, `pd`, or the source's own word, lower-cased), `unknown`
when none says. `open` stands for any Creative Commons or public-domain licence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VERSIONS = {"published": "publishedVersion", "accepted": "acceptedVersion",
            "submitted": "submittedVersion", "unknown": "unknown"}
OPEN = "open"
UNKNOWN = "unknown"
_CC = re.compile(r"\b(?:cc[\s_-]*|creativecommons\.org/licenses/)"
                 r"((?:by|nc|sa|nd)(?:[\s_/-]+(?:by|nc|sa|nd))*)", re.IGNORECASE)
_PD = re.compile(r"\b(cc0|publicdomain/zero|publicdomain/mark|public[\s_-]*domain|pd)\b",
                 re.IGNORECASE)


def licence_key(text: str | None) -> str:
    """`CC BY-NC 4.0`, `cc-by-nc`, `https://creativecommons.org/licenses/by-nc/4.0/` ->
    `cc-by-nc`; CC0 -> `cc0`; public domain -> `pd`; None -> `unknown`; anything else
    lower-cased as it is (`publisher-specific-oa`)."""
    if not text or not text.strip():
        return UNKNOWN
    pd = _PD.search(text)
    if pd:
        word = pd.group(1).lower()
        return "cc0" if word.startswith(("cc0", "publicdomain/zero")) else "pd"
    cc = _CC.search(text)
    if cc:
        parts = re.split(r"[\s_/-]+", cc.group(1).lower())
        return "cc-" + "-".join(p for p in parts if p)
    return text.strip().lower()


def is_open(key: str) -> bool:
    """A Creative Commons or public-domain licence."""
    return key.startswith("cc-") or key in ("cc0", "pd")


def version_key(version: str | None) -> str:
    """`publishedVersion` -> `published`; None -> `unknown`."""
    for short, long in VERSIONS.items():
        if version == long:
            return short
    return UNKNOWN


@dataclass(frozen=True, slots=True)
class Choice:
    """The versions (short keys) and licences (keys, or `open`) a run takes; None: any."""

    versions: tuple[str, ...] | None = None
    licences: tuple[str, ...] | None = None

    @property
    def active(self) -> bool:
        return self.versions is not None or self.licences is not None

    def keeps(self, version: str | None, licence: str | None) -> bool:
        """Whether a candidate of this version and licence may be taken."""
        if self.versions is not None and version_key(version) not in self.versions:
            return False
        if self.licences is None:
            return True
        key = licence_key(licence)
        return key in self.licences or (OPEN in self.licences and is_open(key))

    def why_none(self, seen: list[tuple[str | None, str | None]]) -> str:
        """Why no candidate was left: `no candidate with licence cc-by (found: cc-by-nc,
        unknown)`; `seen` is (version, licence) of each candidate passed over."""
        wants = []
        if self.versions is not None:
            wants.append(f"version {','.join(self.versions)}")
        if self.licences is not None:
            wants.append(f"licence {','.join(self.licences)}")
        found = sorted({f"{version_key(v)} {licence_key(lic)}" if self.versions is not None
                        and self.licences is not None else
                        (version_key(v) if self.licences is None else licence_key(lic))
                        for v, lic in seen})
        return (f"no candidate with {' and '.join(wants)} "
                f"(found: {', '.join(found) if found else 'no candidate'})")


def parse_versions(value: str | list[str]) -> tuple[str, ...]:
    """`published,accepted` -> ('published', 'accepted'); ValueError naming a bad one."""
    items = [v.strip().lower() for v in (value.split(",") if isinstance(value, str) else value)]
    bad = [v for v in items if v and v not in VERSIONS]
    if bad or not any(items):
        raise ValueError(f"unknown version {bad[0]!r}" if bad else "no version given")
    return tuple(dict.fromkeys(v for v in items if v))


def parse_licences(value: str | list[str]) -> tuple[str, ...]:
    """`cc-by,CC0,open` -> ('cc-by', 'cc0', 'open'); ValueError if empty."""
    items = [v.strip() for v in (value.split(",") if isinstance(value, str) else value)]
    keys = [OPEN if v.lower() == OPEN else licence_key(v) for v in items if v]
    if not keys:
        raise ValueError("no licence given")
    return tuple(dict.fromkeys(keys))
