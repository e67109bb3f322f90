"""The identity check: the verdict rule over page texts (a table), and real PDFs read
with PDFium (written with reportlab in tests/support/papers_pdf.py)."""

import pytest
from support.faultserver import make_pdf
from support.papers_pdf import article

from papers.disk.files import SUSPECT, aside_name
from papers.download.identity import MIN_LETTERS, Identity, PdfText, check, judge, title_in

TITLE = "Deep Residual Learning for Image Recognition"
DOI = "10.1109/cvpr.2016.90"
BODY = ("We present a residual learning framework to ease the training of networks that are "
        "substantially deeper than those used previously. " * 3)
OTHER = "Journal of Other Things 3 (2021) https://doi.org/10.9999/other.7\nProtein Folding in the Cold\n"


def page(*lines: str) -> str:
    return "\n".join(lines) + "\n" + BODY


@pytest.mark.parametrize("pages, doi, title, kind", [
    # Our DOI anywhere on the first pages, even broken over a line, even in upper case.
    ((page("https://doi.org/10.1109/CVPR.2016.90", "Some Title"),), DOI, TITLE, "doi"),
    ((page("DOI: 10.1109/cvpr.", "2016.90"),), DOI, None, "doi"),
    ((page("Cover sheet"), page("doi 10.1109/cvpr.2016.90")), DOI, None, "doi"),
    # The title, typeset: over two lines, hyphenated, other case, ligatures, accents.
    ((page("DEEP RESIDUAL LEARNING", "FOR IMAGE RECOGNITION"),), DOI, TITLE, "title"),
    ((page("Deep Residual Learn-", "ing for Image Recognition"),), DOI, TITLE, "title"),
    ((page("Deep Residual Learning for Image Recognition"),), None, TITLE, "title"),
    ((page("Eﬃcient Estimation of Word Representations"),), None,
     "Efficient estimation of word representations", "title"),
    ((page("Über die Théorie der Wärme"),), None, "Uber die theorie der warme", "title"),
    # A preprint of the paper with its own DOI: the title outranks the other DOI.
    ((page("bioRxiv https://doi.org/10.1101/2020.01.01.123456", TITLE),), DOI, TITLE, "title"),
    # A cover sheet advertising another paper, then ours by title.
    ((page("Read also https://doi.org/10.1080/advert.9"), page(TITLE)), DOI, TITLE, "title"),
    # Another paper: a title that is not there, or only a DOI that is not ours.
    ((page(OTHER),), DOI, TITLE, "mismatch"),
    ((page(OTHER),), None, TITLE, "mismatch"),
    ((page(OTHER),), DOI, None, "mismatch"),
    ((page("Deep Learning for Protein Recognition"),), None, TITLE, "mismatch"),
    # Nothing to judge by: no text layer, a text too short, nothing to compare, an
    # unreadable file, a title of symbols only.
    (("",), DOI, TITLE, "unchecked"),
    (("Page 1 of 12",), DOI, TITLE, "unchecked"),
    ((page("No DOI here at all"),), DOI, None, "unchecked"),
    ((page(OTHER),), None, None, "unchecked"),
    (None, DOI, TITLE, "unchecked"),
    ((page(OTHER),), None, "???", "unchecked"),
])
def test_the_verdict(pages, doi, title, kind):
    text = None if pages is None else PdfText(pages)
    assert judge(text, doi, title).kind == kind


def test_a_mismatch_says_what_the_pdf_is():
    v = judge(PdfText((page(OTHER),)), DOI, TITLE)
    assert v == Identity("mismatch", "10.9999/other.7", "Protein Folding in the Cold")
    assert v.describe() == 'the PDF is 10.9999/other.7 "Protein Folding in the Cold"'
    # The document's own title, when it reads as one, is what it says it is.
    v = judge(PdfText((page(OTHER),), title="Protein folding at low temperatures"), DOI, TITLE)
    assert v.title == "Protein folding at low temperatures"
    v = judge(PdfText((page(OTHER),), title="Microsoft Word - draft3.docx"), DOI, TITLE)
    assert v.title == "Protein Folding in the Cold"
    assert Identity("mismatch").describe() == "the PDF is another paper"


def test_the_documents_metadata_is_evidence_too():
    text = PdfText((page("Some running text without the title"),), title=TITLE)
    assert judge(text, None, TITLE).kind == "title"
    assert judge(PdfText((), title=TITLE.upper()), DOI, TITLE).kind == "title"
    assert judge(PdfText((), subject=f"Nature 521, doi:{DOI}"), DOI, None).kind == "doi"
    # Metadata names only what the file is; another title there is no mismatch by itself.
    assert judge(PdfText((), title="Protein Folding in the Cold"), DOI, TITLE).kind == "unchecked"


def test_page_two_is_read_only_when_page_one_does_not_settle_it(tmp_path, monkeypatch):
    from papers.download import identity

    read = []
    real = identity._page_text
    monkeypatch.setattr(identity, "_page_text", lambda doc, i: read.append(i) or real(doc, i))
    assert check(write(tmp_path, "a.pdf", article(TITLE, DOI, pages=3)), DOI, TITLE).kind == "doi"
    assert read == [0]
    read.clear()
    assert check(write(tmp_path, "m.pdf", article(TITLE, "", pages=3, meta_title=TITLE)), DOI,
                 TITLE).kind == "title"
    assert read == []
    cover = article(TITLE, DOI, cover="Advertisement: https://doi.org/10.1080/advert.9")
    assert check(write(tmp_path, "c.pdf", cover), DOI, TITLE).kind == "doi"
    assert read == [0, 1]


def test_the_letters_threshold_is_what_the_rule_says():
    just = PdfText(("x" * MIN_LETTERS,))
    assert judge(just, None, TITLE).kind == "mismatch"
    assert judge(PdfText(("x" * (MIN_LETTERS - 1),)), None, TITLE).kind == "unchecked"


@pytest.mark.parametrize("title, text, found", [
    (TITLE, "deep residual learning for image recognition", True),
    (TITLE, "deep residual learning for image recogniton", True),     # a typo in the PDF
    (TITLE, "deep residual networks for image recognition", False),
    ("Attention Is All You Need", "attention is all you need", True),
    ("Attention Is All You Need", "attention is not what you need", False),
])
def test_title_in(title, text, found):
    assert title_in(title, BODY + text + BODY) is found


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_real_pdfs_by_doi_by_title_and_another(tmp_path):
    ours = write(tmp_path, "ours.pdf", article(TITLE, DOI, pages=3))
    assert check(ours, DOI, TITLE).kind == "doi"
    untitled = write(tmp_path, "nodoi.pdf", article(TITLE, "", pages=3))
    assert check(untitled, DOI, TITLE).kind == "title"
    other = write(tmp_path, "other.pdf", article("Protein Folding in the Cold", "10.9999/other.7"))
    v = check(other, DOI, TITLE)
    assert v.kind == "mismatch" and v.doi == "10.9999/other.7"
    assert v.title == "Protein Folding in the Cold"


def test_real_pdfs_a_scan_a_cover_sheet_and_a_long_title(tmp_path):
    scan = write(tmp_path, "scan.pdf", article(TITLE, DOI, scan=True))
    import pypdfium2

    doc = pypdfium2.PdfDocument(scan)
    assert len(doc) == 2 and not doc[0].get_textpage().get_text_bounded().strip()
    doc.close()
    assert check(scan, DOI, TITLE).kind == "unchecked"
    cover = write(tmp_path, "cover.pdf", article(
        TITLE, "", cover="Advertisement: read also https://doi.org/10.1080/advert.9 in our journal"))
    assert check(cover, DOI, TITLE).kind == "title"
    long = ("A very long title about residual networks that the typesetter breaks over two or "
            "three lines of the first page")
    assert check(write(tmp_path, "long.pdf", article(long, "")), None, long).kind == "title"


def test_what_pdfium_cannot_open_is_unchecked(tmp_path):
    junk = write(tmp_path, "junk.pdf", make_pdf(50_000, 1))
    assert check(junk, DOI, TITLE).kind == "unchecked"
    half = article(TITLE, DOI)
    cut = write(tmp_path, "cut.pdf", half[: len(half) // 3])
    assert check(cut, DOI, TITLE).kind in ("unchecked", "doi")  # PDFium may repair a cut file
    assert check(str(tmp_path / "absent.pdf"), DOI, TITLE).kind == "unchecked"


def test_aside_names_never_replace_another_file(tmp_path):
    final = str(tmp_path / "x.pdf")
    assert aside_name(final, SUSPECT, 3, "a" * 64) == final + ".suspect"
    (tmp_path / "x.pdf.suspect").write_bytes(b"abc")
    import hashlib

    same = hashlib.sha256(b"abc").hexdigest()
    assert aside_name(final, SUSPECT, 3, same) == final + ".suspect"         # the same bytes
    assert aside_name(final, SUSPECT, 3, "b" * 64) == final + ".suspect.2"   # other bytes
    assert aside_name(final, SUSPECT, 4, same) == final + ".suspect.2"


def test_the_scheduler_gives_n_jobs_at_once_lends_a_turn_and_a_stop_ends_the_wait():
    import threading
    import time

    from papers.download.scheduler import CHECKING_WORKERS, HostScheduler, checking_workers
    from papers.errors import Cancelled
    from papers.net.hosts import HostLimiter

    assert checking_workers(8, True) == 8 and checking_workers(8, False) == 0
    assert checking_workers(256, True) == CHECKING_WORKERS
    cancel = threading.Event()
    sched = HostScheduler(HostLimiter(100, 0, cancel), 100, cancel, workers=2)
    for i in range(8):
        sched.put(None, i)
    sched.close()
    most, now, lock = [0], [0], threading.Lock()

    def loop():
        while sched.get() is not None:
            with lock:
                now[0] += 1
                most[0] = max(most[0], now[0])
            time.sleep(0.02)
            with lock:
                now[0] -= 1
            sched.finished()

    threads = [threading.Thread(target=loop) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 2
    sched = HostScheduler(HostLimiter(100, 0, cancel := threading.Event()), 100, cancel, workers=1)
    for i in range(2):
        sched.put(None, i)
    assert sched.get() is not None
    with pytest.raises(Cancelled):
        with sched.lent():  # lent out while its PDF is read: another job may be given meanwhile
            assert sched.get() is not None
            cancel.set()  # that one still at work: this one waits to come back until the stop
            t0 = time.monotonic()
    assert time.monotonic() - t0 < 1


@pytest.mark.parametrize("first_page, shown", [
    (OTHER, "Protein Folding in the Cold"),
    ("Journal of X 2021\nDeep Residual Learning\nfor Image Recognition\nK. He, X. Zhang",
     "Deep Residual Learning for Image Recognition"),
    ("A title set over\nthree lines of the\nfirst page\nA. Author", "A title set over three "
     "lines of the first page"),
    ("Short\n12 (2020) 1-9", None),
])
def test_what_the_pdf_seems_to_be(first_page, shown):
    from papers.download.identity import shown_title

    assert shown_title(PdfText((first_page,))) == shown
