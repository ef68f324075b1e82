"""PDF files, read with pypdf: one text unit per page, with its number and printed label.
Password-protected, damaged, self-referencing and over-compressed PDFs are refused."""

from __future__ import annotations

from pathlib import Path

from webapp.errors import CorruptFile, EncryptedFile, TooMuchText
from webapp.knowledge.formats.units import Extracted, TextBudget


def parse_pdf(path: Path, budget: TextBudget) -> Extracted:
    import pypdf

    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and reader.decrypt("") == 0:
            raise EncryptedFile(
                "The PDF is password-protected; remove the password and upload it again."
            )
        pages = len(reader.pages)
    except EncryptedFile:
        raise
    except Exception as exc:  # pypdf raises many types on damaged files
        loops = "cyclic" in str(exc).lower() or "circular" in str(exc).lower()
        raise CorruptFile(
            "The PDF is damaged: its pages refer to themselves in a loop, so it could not be read."
            if loops
            else "The PDF is damaged and could not be read."
        ) from exc
    try:
        labels = list(reader.page_labels)
    except Exception:
        labels = []
    units = []
    try:
        for i, page in enumerate(reader.pages):
            label = labels[i] if i < len(labels) else str(i + 1)
            text = budget.take(page.extract_text() or "")
            units.append((text, {"page": i + 1, "page_label": str(label)}))
    except pypdf.errors.LimitReachedError as exc:
        raise CorruptFile(
            f"Page {len(units) + 1} of the PDF unpacks to far more text than a real page "
            "holds, so it was not read: the file may be built to overload the server."
        ) from exc
    except TooMuchText:
        raise
    except Exception as exc:
        raise CorruptFile("The PDF is damaged and its text could not be read.") from exc
    return Extracted("pdf", units, pages)
