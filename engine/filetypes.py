"""Which evidence files (佐证材料) we accept: by extension AND by what the bytes say they are.

Offices attach scans, Word/Excel/WPS documents, OFD (the national e-document format), images, plain
text and zip archives. Nothing a browser would run is accepted — HTML, SVG, scripts, executables —
and a file whose content does not match its extension (an .exe renamed .pdf) is refused. Zip files
(docx, xlsx and ofd are zips too) are checked for zip bombs from their central directory alone,
without extracting anything.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import FileRefused

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Word 97–2003, Excel 97–2003, WPS
ZIP = (b"PK\x03\x04", b"PK\x05\x06")
PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff"
PDF = b"%PDF-"
RTF = b"{\\rtf"  # many ".doc" files saved by office suites are RTF inside

CONTENT_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "ofd": "application/ofd",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "wps": "application/vnd.ms-works",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "txt": "text/plain",
    "zip": "application/zip",
}
ALLOWED_EXTENSIONS = tuple(CONTENT_TYPES)
# Every type a stored file can be served as (text/plain with the charset it was found in).
SERVED_TYPES = frozenset({*CONTENT_TYPES.values(), "text/plain; charset=utf-8", "text/plain; charset=utf-16",
                          "text/plain; charset=gb18030"})

# Zip bomb limits, on the sizes the central directory declares.
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_UNCOMPRESSED = 512 * 1024 * 1024
MAX_ZIP_RATIO = 100  # declared uncompressed total / archive size, once the total exceeds ZIP_RATIO_FLOOR
ZIP_RATIO_FLOOR = 16 * 1024 * 1024

# What browsers take for HTML or script when sniffing (WHATWG MIME sniffing), and friends.
_MARKUP = re.compile(rb"<(!doctype\s+html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|"
                     rb"svg|\?xml|!--|object|embed|meta|link|img|form|input)[\s>/]", re.IGNORECASE)
_EXECUTABLE = (b"MZ", b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
               b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!")
ALLOWED_TEXT_ZH = "PDF、OFD、Word（doc/docx）、Excel（xls/xlsx）、WPS、JPG、PNG、TXT、ZIP"
ALLOWED_TEXT_EN = "PDF, OFD, Word (doc/docx), Excel (xls/xlsx), WPS, JPG, PNG, TXT, ZIP"
MAX_NAME_CHARS = 200


def display_name(raw: str | None) -> str:
    """The name people see: the original's last path part, without control characters, not too
    long (the extension kept). It is never used to build a path; a name that tries to climb out of
    a folder (``../``) is refused all the same — no browser sends one, only someone probing."""
    parts = re.split(r"[\\/]", raw or "")
    if any(part.strip() == ".." for part in parts[:-1]) or (raw or "").strip() == "..":
        shown = "".join(ch for ch in (raw or "") if unicodedata.category(ch)[0] != "C")[:MAX_NAME_CHARS]
        raise FileRefused(f"文件名“{shown}”包含上级目录（..），不允许上传。",
                          f"The file name '{shown}' climbs out of its folder (..); it cannot be uploaded.",
                          {"filename": shown, "reason": "path_traversal", "allowed": list(ALLOWED_EXTENSIONS)})
    name = parts[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    name = re.sub(r"\s+", " ", name)
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem[:MAX_NAME_CHARS - len(ext) - 1]}.{ext}" if dot and len(ext) <= 10 else name[:MAX_NAME_CHARS]
    if not name:
        raise FileRefused("上传的文件没有文件名。", "The uploaded file has no name.", {"reason": "no_name"})
    return name


def extension_of(name: str) -> str:
    """The lower-case extension, checked against the allow-list (before a byte is stored)."""
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    if ext not in CONTENT_TYPES:
        raise _refused(name, "type_not_allowed", f"文件“{name}”的类型不允许上传。",
                       f"The file type of '{name}' is not allowed.")
    return ext


@dataclass(frozen=True)
class Sniffed:
    content_type: str


def check_content(name: str, ext: str, path: Path, size: int) -> Sniffed:
    """Does the stored temporary file really hold what its extension says? Refuse it otherwise."""
    if size == 0:
        raise FileRefused(f"文件“{name}”是空文件。", f"The file '{name}' is empty.",
                          {"filename": name, "reason": "empty"})
    with path.open("rb") as stream:
        head = stream.read(4096)
    if head.startswith(_EXECUTABLE):
        raise _refused(name, "executable", f"文件“{name}”是可执行程序或脚本，不允许上传。",
                       f"The file '{name}' is an executable or a script; these cannot be uploaded.")
    if _looks_like_markup(head):
        raise _refused(name, "markup", f"文件“{name}”包含网页（HTML/SVG/XML）内容，不允许上传。",
                       f"The file '{name}' contains web page (HTML/SVG/XML) content; it cannot be uploaded.")
    if ext == "txt":
        return Sniffed(f"text/plain; charset={_text_encoding(name, path)}")
    if not _magic_matches(ext, head):
        raise _mismatch(name, ext)
    if head.startswith(ZIP):
        _check_zip(name, ext, path, size)
    return Sniffed(CONTENT_TYPES[ext])


def _magic_matches(ext: str, head: bytes) -> bool:
    if ext == "pdf":
        return head.startswith(PDF)
    if ext in ("doc", "xls", "wps"):
        return head.startswith(OLE2) or (ext == "doc" and head.startswith(RTF))
    if ext in ("docx", "xlsx", "ofd", "zip"):
        return head.startswith(ZIP)
    if ext in ("jpg", "jpeg"):
        return head.startswith(JPEG)
    if ext == "png":
        return head.startswith(PNG)
    return False


def _looks_like_markup(head: bytes) -> bool:
    """HTML/SVG/XML at the start, as a browser would sniff it (after a BOM and white space)."""
    for bom in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        if head.startswith(bom):
            head = head[len(bom):]
            if bom != codecs.BOM_UTF8:
                head = head.decode("utf-16-le" if bom == codecs.BOM_UTF16_LE else "utf-16-be", "ignore").encode()
            break
    return bool(_MARKUP.match(head.lstrip()))


def _text_encoding(name: str, path: Path) -> str:
    """Plain text in UTF-8, UTF-16 with a byte-order mark, or GB18030 (what Chinese Windows saves)."""
    with path.open("rb") as stream:
        data = stream.read()
    candidates: tuple[str, ...]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ("utf-16",)
    elif b"\x00" in data:
        raise _refused(name, "not_text", f"文件“{name}”不是纯文本文件。", f"The file '{name}' is not plain text.")
    else:
        candidates = ("utf-8", "gb18030")
    for encoding in candidates:
        try:
            text = data.decode("utf-8-sig" if encoding == "utf-8" else encoding)
        except UnicodeDecodeError:
            continue
        if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f" for ch in text):
            break
        if _MARKUP.match(text.lstrip().encode("utf-8", "ignore")):
            raise _refused(name, "markup", f"文件“{name}”包含网页（HTML/SVG/XML）内容，不允许上传。",
                           f"The file '{name}' contains web page (HTML/SVG/XML) content; it cannot be uploaded.")
        return encoding
    raise _refused(name, "not_text", f"文件“{name}”不是纯文本文件（请使用 UTF-8 或 GB18030 编码）。",
                   f"The file '{name}' is not plain text (use UTF-8 or GB18030).")


def _check_zip(name: str, ext: str, path: Path, size: int) -> None:
    """Read the central directory only: what an extractor would be asked to write, and what the
    archive declares it contains (a Word file must hold word/, an OFD file OFD.xml …)."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _mismatch(name, ext) from None
    total = sum(entry.file_size for entry in entries)
    if (len(entries) > MAX_ZIP_ENTRIES or total > MAX_ZIP_UNCOMPRESSED
            or (total > ZIP_RATIO_FLOOR and total > MAX_ZIP_RATIO * size)):
        raise _refused(name, "zip_bomb",
                       f"压缩文件“{name}”解压后过大（声明 {total} 字节、{len(entries)} 个文件），"
                       "疑似压缩炸弹，不允许上传。",
                       f"The archive '{name}' would expand to too much ({total} bytes in {len(entries)} files); "
                       "it looks like a zip bomb and cannot be uploaded.",
                       {"uncompressed": total, "entries": len(entries)})
    for entry in entries:
        _check_zip_entry(name, ext, entry.filename)
    names = {entry.filename for entry in entries}
    required = {"docx": ("[Content_Types].xml", "word/"), "xlsx": ("[Content_Types].xml", "xl/"),
                "ofd": ("OFD.xml",)}.get(ext, ())
    for needed in required:
        if not any(n == needed or (needed.endswith("/") and n.startswith(needed)) for n in names):
            raise _mismatch(name, ext)


# What a plain .zip of evidence may hold: the evidence types themselves, but no archive inside an archive
# (a nested zip is how the classic zip bombs hide their size from a one-level check).
_ZIP_ENTRY_TYPES = frozenset(ALLOWED_EXTENSIONS) - {"zip"}


def _check_zip_entry(name: str, ext: str, entry: str) -> None:
    """An entry an extractor would write outside its folder (zip slip), or, in a plain .zip, a file
    of a type we would refuse on its own (a program, a web page, another archive)."""
    parts = entry.replace("\\", "/").split("/")
    if entry.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", entry) or ".." in parts:
        raise _refused(name, "zip_unsafe_path", f"压缩文件“{name}”中的“{entry}”会解压到目录之外，不允许上传。",
                       f"The archive '{name}' holds '{entry}', which would be extracted outside its folder; "
                       "it cannot be uploaded.")
    if ext != "zip" or entry.endswith("/"):
        return
    inner = entry.rpartition("/")[2]
    inner_ext = inner.rpartition(".")[2].lower() if "." in inner else ""
    if inner_ext not in _ZIP_ENTRY_TYPES:
        raise _refused(name, "zip_entry_not_allowed",
                       f"压缩文件“{name}”中的“{entry}”类型不允许上传（压缩包内不能再有压缩包）。",
                       f"The archive '{name}' holds '{entry}', a type that cannot be uploaded "
                       "(nor an archive inside an archive).")


def _mismatch(name: str, ext: str) -> FileRefused:
    return _refused(name, "content_mismatch", f"文件“{name}”的内容与扩展名 .{ext} 不符。",
                    f"The content of '{name}' does not match its extension .{ext}.")


def _refused(name: str, reason: str, zh: str, en: str, extra: dict[str, int] | None = None) -> FileRefused:
    return FileRefused(f"{zh}允许的类型：{ALLOWED_TEXT_ZH}。", f"{en} Allowed types: {ALLOWED_TEXT_EN}.",
                       {"filename": name, "reason": reason, "allowed": list(ALLOWED_EXTENSIONS), **(extra or {})})
