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


# -- hostile files (tests/test_hostile.py) ------------------------------------------------
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"


def content_types(main_part: str = "/word/document.xml", main_type: str = DOCX_MAIN) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="{main_part}" ContentType="{main_type}"/></Types>'
    ).encode()


def word_xml(body: str, doctype: str = "") -> bytes:
    """A word/document.xml whose body is `body` (raw WordprocessingML), after `doctype`."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{doctype}'
        f'<w:document xmlns:w="{W_NS}"><w:body>{body}</w:body></w:document>'
    ).encode()


def word_paragraph(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def write_zip(path: Path, parts: dict[str, bytes]) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return path


def write_raw_docx(path: Path, document: bytes, types: bytes | None = None) -> Path:
    """A minimal Word document built by hand, so its XML can be anything."""
    return write_zip(
        path, {"[Content_Types].xml": types or content_types(), "word/document.xml": document}
    )


def write_docx_bomb(path: Path, megabytes: int = 220) -> Path:
    """A Word document whose text part unpacks to `megabytes` MB of one repeated byte
    (about 230 KB on disk)."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", content_types())
        with z.open("word/document.xml", "w") as part:
            part.write(
                word_xml("<w:p><w:r><w:t>")[: -len("</w:t></w:r></w:p></w:body></w:document>")]
            )
            block = b"A" * (1 << 20)
            for _ in range(megabytes):
                part.write(block)
            part.write(b"</w:t></w:r></w:p></w:body></w:document>")
    return path


def write_docx_lying_sizes(path: Path, declared: int = 1000) -> Path:
    """A Word document whose text part says it unpacks to `declared` bytes but is far
    larger: the sizes in its local header and table of contents are rewritten."""
    import struct
    import zipfile

    text = word_xml(word_paragraph("The hidden payload keeps going. " * 60_000))
    write_raw_docx(path, text)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("word/document.xml")
    assert info.file_size > 100 * declared
    struct.pack_into("<L", data, info.header_offset + 22, declared)  # local header
    entry = data.index(b"PK\x01\x02")
    while data[entry + 46 : entry + 46 + len(info.filename)] != info.filename.encode():
        entry = data.index(b"PK\x01\x02", entry + 4)
    struct.pack_into("<L", data, entry + 24, declared)  # table of contents
    path.write_bytes(bytes(data))
    return path


def write_billion_laughs_docx(path: Path) -> Path:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    doctype = f"<!DOCTYPE w:document [{entities}]>"
    return write_raw_docx(path, word_xml(word_paragraph("&lol9;"), doctype))


def write_xxe_docx(path: Path, secret: Path, in_content_types: bool = False) -> Path:
    """A Word document that tries to pull a local file into its text (XXE)."""
    doctype = f'<!DOCTYPE x [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
    if in_content_types:
        types = content_types().replace(b"?><Types", f"?>{doctype}<Types".encode())
        types = types.replace(b"</Types>", b"<Default Extension='x' ContentType='&xxe;'/></Types>")
        return write_raw_docx(path, word_xml(word_paragraph("Harmless text.")), types)
    return write_raw_docx(path, word_xml(word_paragraph("Secret: &xxe;"), doctype))


def write_html_of_empty_tags(path: Path, tags: int) -> Path:
    """Honest but expensive HTML: many elements, no text (slow and big to parse)."""
    path.write_text("<html><body>" + "<i></i>" * tags + "</body></html>", encoding="utf-8")
    return path


def write_docx_of_many_parts(
    path: Path, parts: int, part_bytes: int, word: str = "lorem", words: int = 40
) -> Path:
    """A Word document with `parts` header parts of about `part_bytes` of XML each. Each part
    is under the small-part grace of the ratio rule (1 MB), so only the total is large: 400
    parts of 1 MB is a 1 MB file that unpacks to 400 MB of text (issue 17)."""
    import zipfile

    paragraph = word_paragraph(" ".join([word] * words)).encode()
    head = f'<w:hdr xmlns:w="{W_NS}">'.encode()
    body = head + paragraph * max(1, (part_bytes - len(head) - 8) // len(paragraph)) + b"</w:hdr>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", content_types())
        z.writestr("word/document.xml", word_xml(word_paragraph("The main text.")))
        for i in range(1, parts + 1):
            z.writestr(f"word/header{i}.xml", body)
    return path


def write_one_line_markdown(path: Path, megabytes: float) -> Path:
    """One line without spaces: no sentence or word boundary anywhere to cut chunks at."""
    import hashlib

    block = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(1024))  # 64 KB
    path.write_text(block * max(1, int(megabytes * 16)), encoding="utf-8")
    return path


def write_pdf_of_many_pages(path: Path, pages: int, word: str = "Hello") -> Path:
    """A PDF of `pages` pages that all show one word (one shared content stream)."""
    text = b"BT /F1 12 Tf 72 720 Td (%s) Tj ET" % word.encode()
    first_page = 5
    kids = b" ".join(b"%d 0 R" % (first_page + i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R "
        b"/Resources << /Font << /F1 4 0 R >> >> >>"
    )
    return write_raw_pdf(path, objects + [page] * pages)


def write_csv_of_rows(path: Path, rows: int) -> Path:
    """A long honest table: `rows` rows of three short columns."""
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("id,city,temperature\n")
        for start in range(0, rows, 100_000):
            f.write(
                "".join(f"{i},Oslo,{i % 40}\n" for i in range(start, min(rows, start + 100_000)))
            )
    return path


def write_nested_html(path: Path, megabytes: float) -> Path:
    """Elements nested inside each other to a depth of millions, a word at the bottom."""
    depth = int(megabytes * 2**20) // len("<div></div>")
    path.write_text("<html><body>" + "<div>" * depth + "deep" + "</div>" * depth, encoding="utf-8")
    return path


def write_pdf_stream_bomb(path: Path, megabytes: int = 300) -> Path:
    """A one-page PDF whose content stream inflates to `megabytes` of text operators."""
    import zlib

    packer = zlib.compressobj(9)
    block = b"BT /F1 12 Tf 72 720 Td (A) Tj ET\n" * 30_000  # ~1 MB
    stream = b"".join(packer.compress(block) for _ in range(megabytes)) + packer.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return write_raw_pdf(path, objects)


def write_looping_pdf(path: Path) -> Path:
    """A PDF made to send a parser round in circles: the page tree lists itself among its
    own pages, a page's contents refer back to the page, and the trailer's /Prev points at
    its own cross-reference table."""
    text = b"BT /F1 12 Tf 72 720 Td (The loop page text.) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R 2 0 R] /Count 1000000 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents [4 0 R 3 0 R] "
        b"/Resources << /Font << /F1 5 0 R >> /XObject << /X 6 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources "
        b"<< /XObject << /X 6 0 R >> >> /Length 8 >>\nstream\n/X Do Q \nendstream",
    ]
    return write_raw_pdf(path, objects, prev_is_self=True)


def write_raw_pdf(path: Path, objects: list[bytes], prev_is_self: bool = False) -> Path:
    """A PDF written byte by byte from its objects (1, 2, ...; 1 is the catalog)."""
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    prev = b" /Prev %d" % xref if prev_is_self else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        prev,
        xref,
    )
    path.write_bytes(bytes(out))
    return path


BEIR_DOCS = {
    "d1": ("Lighthouses", "Skarvik Light is a 42 metre lighthouse on the northern coast."),
    "d2": ("Bread", "Sourdough bread rises slowly because of wild yeast and bacteria."),
    "d3": ("Volcanoes", "Magma that reaches the surface of the earth is called lava."),
    "d4": ("Chess", "A knight moves in an L shape and can jump over other pieces."),
}


def write_beir(folder: Path, docs: dict, queries: dict, qrels: dict) -> Path:
    """A BEIR-format folder: docs {id: (title, text)}, queries {id: text}, qrels {query id:
    relevant doc id} (queries without one are unjudged)."""
    folder.mkdir(parents=True)
    corpus = [{"_id": k, "title": t, "text": x} for k, (t, x) in docs.items()]
    write_jsonl(folder / "corpus.jsonl", corpus)
    write_jsonl(folder / "queries.jsonl", [{"_id": k, "text": q} for k, q in queries.items()])
    (folder / "qrels").mkdir()
    lines = "".join(f"{q}\t{d}\t1\n" for q, d in qrels.items())
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + lines)
    return folder
