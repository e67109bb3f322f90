"""Real PDFs with a text layer, written with reportlab, for the identity check.

`article(...)` lays out a paper as publishers do: a running head with the journal
and the DOI, the title in a large font over one or two lines, authors, an abstract,
body text, and references that cite other DOIs on the last page. `cover=` puts a
publisher's cover sheet in front; `scan=True` draws every page as an image only
(no text layer); `image_kb=` adds a noise image per page so that the file has the
size of a real paper (1 to 2 MB for 15 pages at about 100 KB).
"""

from __future__ import annotations

import io
import random
import textwrap

from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

_FONT_FILES = {
    "Serif": "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "Serif-Bold": "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf",
}
_WORDS = ("model data results method analysis network protein cell learning sample "
          "effect study measure signal theory growth response rate structure function "
          "system field value energy process control group time error").split()


def _fonts() -> tuple[str, str]:
    """An embedded TrueType font (as in real papers) when the system has one."""
    try:
        for name, path in _FONT_FILES.items():
            if name not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont(name, path))
        return "Serif", "Serif-Bold"
    except Exception:  # no DejaVu here: the standard Type 1 fonts still give a text layer
        return "Times-Roman", "Times-Bold"


def _prose(rnd: random.Random, words: int) -> str:
    return " ".join(rnd.choice(_WORDS) for _ in range(words)).capitalize() + "."


def _noise(rnd: random.Random, kb: int) -> ImageReader:
    from PIL import Image
    side = max(8, int((kb * 1024 / 3) ** 0.5))
    img = Image.frombytes("RGB", (side, side), rnd.randbytes(side * side * 3))
    return ImageReader(img)


def _lines(c: canvas.Canvas, font: str, size: float, x: float, y: float, text: str,
           width: int = 90) -> float:
    c.setFont(font, size)
    for line in textwrap.wrap(text, width):
        c.drawString(x, y, line)
        y -= size * 1.3
    return y


def _cover(c: canvas.Canvas, fonts: tuple[str, str], text: str) -> None:
    y = _lines(c, fonts[1], 14, 60, 780, "Taylor & Francis Online - Journal information")
    y = _lines(c, fonts[0], 10, 60, y - 20, text)
    _lines(c, fonts[0], 9, 60, y - 30,
           "Full Terms & Conditions of access and use can be found at https://www.example-"
           "publisher.org/terms. Downloaded by the university library on 01 March 2026.")
    c.showPage()


def _scan_page(c: canvas.Canvas, rnd: random.Random) -> None:
    c.drawImage(_noise(rnd, 40), 40, 80, width=515, height=700)
    c.showPage()


def _first_page(c, fonts, rnd, title, doi, authors, journal) -> None:
    regular, bold = fonts
    y = 800
    if journal or doi:
        head = " ".join(p for p in (journal, f"https://doi.org/{doi}" if doi else "") if p)
        y = _lines(c, regular, 8, 60, y, head, 120)
    y = _lines(c, bold, 18, 60, y - 30, title, 48)
    y = _lines(c, regular, 11, 60, y - 8, authors)
    y = _lines(c, bold, 10, 60, y - 16, "Abstract")
    _lines(c, regular, 10, 60, y - 2, _prose(rnd, 160))


def article(title: str, doi: str = "", *, authors: str = "A. Author, B. Writer",
            journal: str = "Journal of Examples 12 (2024) 1-15", pages: int = 2,
            cited: tuple[str, ...] = ("10.1000/cited.one", "10.1000/cited.two"),
            cover: str = "", scan: bool = False, image_kb: int = 0, seed: int = 0,
            meta_title: str = "") -> bytes:
    """The bytes of a PDF paper (see the module docstring)."""
    rnd = random.Random(seed)
    fonts = _fonts()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    if meta_title:
        c.setTitle(meta_title)
    if cover:
        _cover(c, fonts, cover)
    for n in range(pages):
        if scan:
            _scan_page(c, rnd)
            continue
        if n == 0:
            _first_page(c, fonts, rnd, title, doi, authors, journal)
        else:
            y = _lines(c, fonts[0], 10, 60, 800, _prose(rnd, 500))
            if n == pages - 1:
                refs = " ".join(f"[{i + 1}] Other work. https://doi.org/{d}" for i, d in enumerate(cited))
                _lines(c, fonts[0], 9, 60, y - 20, "References " + refs)
        if image_kb:
            c.drawImage(_noise(rnd, image_kb), 60, 60, width=200, height=140)
        c.showPage()
    c.save()
    return buf.getvalue()
