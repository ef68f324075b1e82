"""Real files of every supported format, written by the tests (no fixtures in git)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def write_pdf(path: Path, pages: list[str]) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for text in pages:
        y = 800
        for line in text.splitlines() or [""]:
            c.drawString(60, y, line)
            y -= 16
        c.showPage()
    c.save()
    return path


def write_scanned_pdf(path: Path) -> Path:
    """A PDF whose pages are only drawings (like a scan): no extractable text."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    c.rect(50, 50, 400, 600, fill=1)
    c.circle(300, 400, 80)
    c.showPage()
    c.save()
    return path


def write_encrypted_pdf(path: Path, text: str, password: str = "s3cret") -> Path:
    import pypdf

    plain = write_pdf(path.with_name("plain-" + path.name), [text])
    writer = pypdf.PdfWriter(clone_from=str(plain))
    writer.encrypt(user_password=password, owner_password=password + "-owner")
    with path.open("wb") as f:
        writer.write(f)
    plain.unlink()
    return path


def write_corrupt_pdf(path: Path) -> Path:
    path.write_bytes(
        b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nendobj\n" + b"\x00garbage" * 50
    )
    return path


def write_docx(path: Path, paragraphs: list[str]) -> Path:
    import docx

    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    document.save(str(path))
    return path


def write_html(path: Path, title: str, body: str) -> Path:
    path.write_text(
        f"<!doctype html><html><head><title>{title}</title><script>alert('x')</script>"
        f"<style>p{{color:red}}</style></head><body><h1>{title}</h1><p>{body}</p></body></html>",
        encoding="utf-8",
    )
    return path


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run_webapp(*args: str, storage: Path) -> subprocess.CompletedProcess:
    """The CLI as a separate process on `storage`; the model cache comes from the environment."""
    env = {**os.environ, "WEBAPP_STORAGE_DIR": str(storage)}
    return subprocess.run(
        [sys.executable, "-m", "webapp", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
