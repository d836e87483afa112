"""Small real files of every kind an evidence upload may (or must not) be, built in memory."""

from __future__ import annotations

import io
import zipfile

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32) + b"\xff\xd9"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
EXE = b"MZ\x90\x00\x03" + bytes(59) + b"PE\x00\x00" + bytes(64)
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


DOCX = zip_of({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
XLSX = zip_of({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
OFD = zip_of({"OFD.xml": b"<ofd:OFD/>", "Doc_0/Document.xml": b"<ofd:Document/>"})
ZIP = zip_of({"整改台账.txt": "整改台账".encode()})


def zip_bomb(megabytes: int = 40) -> bytes:
    """A small archive declaring ``megabytes`` of zeros (about 1000:1)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("zeros.bin", "w") as entry:
        block = bytes(1024 * 1024)
        for _ in range(megabytes):
            entry.write(block)
    return buffer.getvalue()


ALLOWED: list[tuple[str, bytes, str]] = [  # filename, content, the type it is served as
    ("整改报告.pdf", PDF, "application/pdf"),
    ("电子公文.ofd", OFD, "application/ofd"),
    ("会议纪要.doc", OLE2, "application/msword"),
    ("旧版纪要.doc", b"{\\rtf1\\ansi minutes}", "application/msword"),
    ("整改方案.docx", DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("台账.xls", OLE2, "application/vnd.ms-excel"),
    ("台账.xlsx", XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("通知.wps", OLE2, "application/vnd.ms-works"),
    ("现场照片.jpg", JPEG, "image/jpeg"),
    ("现场照片.JPEG", JPEG, "image/jpeg"),
    ("截图.png", PNG, "image/png"),
    ("说明.txt", "整改情况说明：已完成。\n".encode(), "text/plain; charset=utf-8"),
    ("说明-gbk.txt", "整改情况说明：已完成。\n".encode("gb18030"), "text/plain; charset=gb18030"),
    ("材料.zip", ZIP, "application/zip"),
]

REFUSED: list[tuple[str, bytes, str]] = [  # filename, content, the reason given
    ("page.html", HTML, "type_not_allowed"),
    ("page.htm", HTML, "type_not_allowed"),
    ("logo.svg", SVG, "type_not_allowed"),
    ("run.exe", EXE, "type_not_allowed"),
    ("run.js", b"alert(1)", "type_not_allowed"),
    ("no-extension", PDF, "type_not_allowed"),
    ("invoice.pdf", EXE, "executable"),
    ("notes.txt", b"#!/bin/sh\nrm -rf /\n", "executable"),
    ("notes.txt", HTML, "markup"),
    ("picture.png", SVG, "markup"),
    ("report.pdf", "\ufeff<html><body>x</body></html>".encode(), "markup"),
    ("report.pdf", PNG, "content_mismatch"),
    ("report.docx", ZIP, "content_mismatch"),
    ("report.docx", PDF, "content_mismatch"),
    ("doc.ofd", DOCX, "content_mismatch"),
    ("broken.zip", b"PK\x03\x04garbage", "content_mismatch"),
    ("binary.txt", b"abc\x00\x01\x02", "not_text"),
    ("empty.pdf", b"", "empty"),
]
