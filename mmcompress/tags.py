"""Conditioning tags: the small id a byte model is told about a block (what kind of bytes it holds).

The byte transformer learns one embedding per tag (0 unknown / binary, 1 natural-language text,
2.. a programming language), so the tag an archive hands it must mean what it meant in training
(:mod:`mmcompress.train.data`: the text corpus is "text", code files are tagged by extension).
:func:`block_tag` is that rule for an archive entry: its name, its detected modality and its first
bytes (a shebang line) give the tag. The tag is stored in each MODEL block's payload
(docs/FORMAT.md), so decoding never recomputes it: a change of rule changes new archives only.

Torch-free on purpose: the archive writer asks for tags whether or not a model will use them.
"""

from __future__ import annotations

from .detect import Modality, code_language

#: Conditioning tags: 0 = unknown / binary, 1 = natural-language text, 2.. = source code languages.
TAGS: dict[str, int] = {
    "binary": 0,
    "text": 1,
    "python": 2,
    "c": 3,
    "cpp": 4,
    "typescript": 5,
    "rust": 6,
    "go": 7,
    "java": 8,
    "ruby": 9,
    "php": 10,
    "shell": 11,
    "kotlin": 12,
    "lua": 13,
    "javascript": 14,
}
#: File extension -> tag name (lower case, without the dot).
EXTENSION_TAGS: dict[str, str] = {
    "py": "python", "pyi": "python",
    "c": "c", "h": "c",
    "cc": "cpp", "cpp": "cpp", "cxx": "cpp", "hpp": "cpp", "hh": "cpp",
    "ts": "typescript", "tsx": "typescript",
    "rs": "rust", "go": "go", "java": "java", "rb": "ruby", "php": "php",
    "sh": "shell", "bash": "shell", "zsh": "shell",
    "kt": "kotlin", "kts": "kotlin", "lua": "lua",
    "js": "javascript", "mjs": "javascript", "jsx": "javascript",
    "txt": "text", "md": "text", "rst": "text", "tex": "text", "html": "text", "json": "text",
}  # fmt: skip


#: Tag names that share another's embedding: the shipped models saw no JavaScript (its tag was
#: never trained), and TypeScript's syntax extends it.
TAG_ALIASES: dict[str, str] = {"javascript": "typescript"}


def _tag(tag_name: str) -> int:
    return TAGS[TAG_ALIASES.get(tag_name, tag_name)]


def tag_for_name(name: str, default: str = "text") -> int:
    """The conditioning tag for a file name, from its extension (``default`` when unknown)."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return _tag(EXTENSION_TAGS.get(suffix, default))


def language_tag(language: str | None) -> int:
    """The tag for a source-code language (:func:`~mmcompress.detect.code_language`'s names);
    languages the models were not trained on get the text tag."""
    return _tag(language if language in TAGS else "text")


def block_tag(name: str, modality: Modality | int, head: bytes = b"") -> int:
    """The tag for the byte blocks of an entry called ``name`` whose first bytes are ``head``:
    text by extension (plain text when unknown), code by its language (extension or shebang),
    anything else binary."""
    if modality == Modality.TEXT:
        return tag_for_name(name, default="text")
    if modality == Modality.CODE:
        return language_tag(code_language(name, head))
    return TAGS["binary"]
