"""Cheap modality detection from a file name and its first bytes.

Never trusted for correctness: it only picks which serializer and predictor to try. Any input
still round-trips byte-exactly whatever it is detected as.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import PurePath


class Modality(IntEnum):
    """Stored in the archive index as one byte; never renumber."""

    BINARY = 0
    TEXT = 1
    CODE = 2
    IMAGE = 3
    VIDEO = 4
    COMPRESSED = 5


#: Magic numbers of formats whose payload is already entropy-coded.
_COMPRESSED_MAGIC: tuple[bytes, ...] = (
    b"\xff\xd8\xff",  # JPEG
    b"PK\x03\x04",  # ZIP, JAR, wheel, docx...
    b"\x1f\x8b",  # gzip
    b"\xfd7zXZ\x00",  # xz
    b"BZh",  # bzip2
    b"\x28\xb5\x2f\xfd",  # zstd
    b"7z\xbc\xaf\x27\x1c",  # 7z
    b"\x04\x22\x4d\x18",  # lz4
    b"Rar!\x1a\x07",  # rar
    b"\x89MMC\r\n\x1a\n",  # our own archives
    b"OggS",  # ogg
    b"fLaC",  # flac
    b"\x1aE\xdf\xa3",  # Matroska / WebM
    b"ID3",  # mp3
)
_IMAGE_MAGIC: tuple[bytes, ...] = (
    b"\x89PNG\r\n\x1a\n",
    b"BM",
    b"GIF8",
    b"II*\x00",
    b"MM\x00*",
    b"P5",
    b"P6",
)
_VIDEO_MAGIC: tuple[bytes, ...] = (b"YUV4MPEG2",)
#: Names of raster files (a folder holding none needs no pixel codec in its archive header).
IMAGE_SUFFIXES = frozenset(
    (".png", ".bmp", ".dib", ".ppm", ".pgm", ".pbm", ".pnm", ".tga", ".tif", ".tiff", ".gif")
    + (".webp",)
)

#: Names of coded video files that ``--frames`` may decode (raw Y4M is recognised by its magic).
VIDEO_SUFFIXES = frozenset((".y4m", ".mkv", ".avi", ".mp4", ".mov", ".nut", ".webm"))

CODE_LANGUAGES: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".js": "javascript",
    ".mjs": "javascript",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".jsx": "javascript",
    ".sh": "shell",
    ".bash": "shell",
    ".rb": "ruby",
    ".pl": "perl",
    ".lsp": "lisp",
    ".el": "lisp",
    ".lisp": "lisp",
    ".scm": "lisp",
    ".hs": "haskell",
    ".kt": "kotlin",
    ".swift": "swift",
    ".cs": "csharp",
    ".php": "php",
    ".lua": "lua",
    ".sql": "sql",
    ".r": "r",
    ".m": "objc",
    ".p": "pascal",
    ".pas": "pascal",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".html": "html",
    ".htm": "html",
    ".css": "css",
    ".xml": "xml",
    ".mk": "make",
    ".cmake": "cmake",
}
_SHEBANG_LANGUAGES = {
    "python": "python",
    "sh": "shell",
    "bash": "shell",
    "perl": "perl",
    "ruby": "ruby",
    "node": "javascript",
}
_TEXT_SAMPLE_BYTES = 4096


def code_language(name: str, head: bytes) -> str | None:
    """The programming language suggested by the extension or a shebang line, if any."""
    suffix = PurePath(name).suffix.lower()
    if suffix in CODE_LANGUAGES:
        return CODE_LANGUAGES[suffix]
    if PurePath(name).name in ("Makefile", "makefile", "GNUmakefile"):
        return "make"
    if head.startswith(b"#!"):
        first_line = head.split(b"\n", 1)[0].decode("latin-1")
        for word, language in _SHEBANG_LANGUAGES.items():
            if word in first_line:
                return language
    return None


def looks_like_text(head: bytes) -> bool:
    """Mostly printable UTF-8/ASCII, no NUL bytes."""
    sample = head[:_TEXT_SAMPLE_BYTES]
    if not sample or b"\x00" in sample:
        return False
    printable = sum(1 for byte in sample if byte >= 32 or byte in (9, 10, 12, 13))
    return printable >= 0.95 * len(sample)


def detect(name: str, head: bytes) -> Modality:
    """Best guess of what ``head`` (the first few KB of a file called ``name``) is."""
    if any(head.startswith(magic) for magic in _COMPRESSED_MAGIC):
        return Modality.COMPRESSED
    if head[4:8] == b"ftyp" or (head.startswith(b"RIFF") and head[8:12] in (b"WEBP", b"AVI ")):
        return Modality.COMPRESSED
    if any(head.startswith(magic) for magic in _VIDEO_MAGIC):
        return Modality.VIDEO
    if any(head.startswith(magic) for magic in _IMAGE_MAGIC):
        return Modality.IMAGE
    if looks_like_text(head):
        return Modality.CODE if code_language(name, head) else Modality.TEXT
    return Modality.BINARY


def detect_as(claimed: Modality, name: str, head: bytes) -> Modality:
    """The modality a caller claims, unless the bytes are already-compressed data (never modelled)."""
    found = detect(name, head)
    return found if found in (claimed, Modality.COMPRESSED) else claimed
