"""Where evidence files live: a folder outside the database, each file under its own sha256
(``ab/cd/<sha256>``), so the same content is stored once and a name never becomes a path.

A file is written to a temporary file in the same folder while it is hashed and counted (refused as
soon as it crosses the size limit), checked (engine.filetypes), then renamed into place — an atomic
step, so a reader never sees half a file. Should the database transaction that records it fail, the
stored file stays: harmless, since content-addressed files are only reached through a row.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from . import filetypes
from .errors import NotFound, TooLarge

CHUNK = 64 * 1024
_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}$")


@dataclass(frozen=True)
class StoredFile:
    filename: str  # for display only
    content_type: str
    size: int
    sha256: str
    storage_key: str


def storage_key(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def path_of(directory: Path, key: str) -> Path:
    """The file behind a storage key; keys are ours, but check their shape all the same."""
    if not _KEY.match(key):
        raise NotFound("附件文件不存在。", "The attachment's file does not exist.")
    return directory / key


def store(directory: Path, filename: str | None, stream: BinaryIO, max_bytes: int) -> StoredFile:
    """Check the name, copy the stream in (hashing, counting, stopping past ``max_bytes``), check
    the content, and move it to its content address. Raises TooLarge or FileRefused."""
    name = filetypes.display_name(filename)
    ext = filetypes.extension_of(name)
    incoming = directory / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=incoming, prefix="upload-")
    temp = Path(temp_name)
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(handle, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise too_large(name, max_bytes)
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sniffed = filetypes.check_content(name, ext, temp, size)
        sha256 = digest.hexdigest()
        key = storage_key(sha256)
        target = directory / key
        if target.is_file() and target.stat().st_size == size:
            temp.unlink()  # the same content is already stored
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            temp.chmod(0o640)
            os.replace(temp, target)
        return StoredFile(name, sniffed.content_type, size, sha256, key)
    finally:
        temp.unlink(missing_ok=True)


def too_large(name: str, max_bytes: int) -> TooLarge:
    limit = _human_size(max_bytes)
    return TooLarge(f"文件“{name}”超过上传大小上限（{limit}）。",
                    f"The file '{name}' exceeds the upload limit ({limit}).",
                    {"filename": name, "max_bytes": max_bytes})


def _human_size(size: int) -> str:
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KB"
    return f"{size} B"
