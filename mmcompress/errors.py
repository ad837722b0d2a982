"""The one error hierarchy of mmcompress: library code raises these, only the CLI prints them.

Every error carries a message meant for a person: one line, no traceback needed to understand it.
"""

from __future__ import annotations


class MmcError(Exception):
    """Base class of every error mmcompress raises on purpose."""

    exit_code = 1


class CorruptArchive(MmcError):
    """The archive is damaged, truncated, or not what its header claims (bad CRC, bad sizes...)."""


class NotAnArchive(CorruptArchive):
    """The input does not start with the mmcompress signature."""


class UnsupportedVersion(CorruptArchive):
    """The archive was written by a newer, incompatible format version or uses reserved flags."""


class UnsupportedFormat(MmcError):
    """The input is of a kind this modality cannot handle (e.g. not an image)."""


class ModelMissing(MmcError):
    """A model named by the archive (by content hash) is not installed here."""


class UnsafePath(MmcError):
    """An archive entry would be written outside the extraction target (.., absolute, link escape)."""


class LimitExceeded(CorruptArchive):
    """A declared size or count is beyond what this implementation accepts (decompression bomb guard)."""


class OutputExists(MmcError):
    """The output path exists and overwriting was not requested (-f)."""


class InputError(MmcError):
    """The input cannot be read (missing, unreadable, wrong type) or changed while being read."""
