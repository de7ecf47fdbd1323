"""The page_references speed fix changes nothing but the time: same references, same PDF bytes."""

from __future__ import annotations

import pydyf
from weasyprint import HTML

from companion.printing import speed as pdfspeed


def test_same_references_as_pydyf() -> None:
    pdfspeed.install()
    pdf = pydyf.PDF()
    for _ in range(5):
        page = pydyf.Dictionary({"Type": "/Page"})
        pdf.add_page(page)
    assert pdf.page_references == pdfspeed._ORIGINAL.fget(pdf)
    pdf.add_page(pydyf.Dictionary({"Type": "/Page"}))
    assert len(pdf.page_references) == 6
    assert pdf.page_references == pdfspeed._ORIGINAL.fget(pdf)


def test_same_pdf_bytes_with_and_without_the_fix() -> None:
    html = "<html lang=en><title>t</title>" + "".join(f"<h1>Part {n}</h1><p>text</p>" for n in range(30))
    document = HTML(string=html).render(stylesheets=[])
    patched = pydyf.PDF.page_references
    try:
        pydyf.PDF.page_references = pdfspeed._ORIGINAL
        plain = document.write_pdf(pdf_tags=True)
    finally:
        pydyf.PDF.page_references = patched
    pdfspeed.install()
    assert document.write_pdf(pdf_tags=True) == plain
