"""Training data for the byte transformer: a folder of files -> tagged byte crops, train/validation.

Every file under the corpus folders is read whole (``README.md`` and ``MANIFEST.tsv`` are metadata
and skipped) and tagged by :func:`~mmcompress.tags.tag_for_name` (text vs each
code language). Each file is cut into pieces of ``PIECE_BYTES``; a piece goes to validation when a
hash of (file path, piece index) says so, about one piece in ``VALIDATION_EVERY``. The split is
therefore fixed by the corpus alone: the same on every machine, run and resume.

A training example is a random crop of ``seq_len`` bytes inside one piece, fed as
``[BOS, b0 .. b(n-2)]`` with targets ``[b0 .. b(n-1)]``: exactly how a coded segment starts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..predictors.transformer import BOS
from ..tags import TAGS, tag_for_name

METADATA_FILES = {"README.md", "MANIFEST.tsv", "SHA256SUMS"}
PIECE_BYTES = 32 * 1024
VALIDATION_EVERY = 50
#: Share of training examples given tag 0 ("binary / unknown") so that tag works too.
UNKNOWN_TAG_SHARE = 0.1


@dataclass
class Pieces:
    """Byte pieces, concatenated: ``data[starts[i] : starts[i] + lengths[i]]`` has tag ``tags[i]``."""

    data: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    tags: np.ndarray

    @property
    def size_bytes(self) -> int:
        return int(self.lengths.sum())


def _goes_to_validation(relative_path: str, piece_index: int) -> bool:
    digest = hashlib.sha256(f"{relative_path}:{piece_index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") % VALIDATION_EVERY == 0


def training_folders(paths: list[Path]) -> list[Path]:
    """The corpus folders, resolved; ValueError (its message for the user) for a path that is not
    a folder or lies in the bench corpus, which is for measuring only."""
    folders = [Path(path).resolve() for path in paths]
    for folder in folders:
        if "bench" in folder.parts:
            raise ValueError(
                f"refusing to train on {folder}: the bench corpus is for measuring only"
            )
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder")
    return folders


def corpus_files(folders: list[Path]) -> list[tuple[Path, str]]:
    """(file, path relative to its corpus folder's parent) for every data file, sorted."""
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name not in METADATA_FILES:
                found.append((path, str(path.relative_to(folder.parent))))
    return found


def _tag_for(relative_path: str) -> int:
    top = relative_path.split("/", 1)[0]
    if top == "text":
        return TAGS["text"]
    return tag_for_name(relative_path, default="binary")


def load_split(folders: list[Path], min_piece: int = 64) -> tuple[Pieces, Pieces]:
    """Read the corpus and split it into (train, validation) pieces."""
    buffers: dict[bool, list[np.ndarray]] = {False: [], True: []}
    meta: dict[bool, list[tuple[int, int]]] = {False: [], True: []}
    for path, relative in corpus_files(folders):
        raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
        tag = _tag_for(relative)
        for index, start in enumerate(range(0, len(raw), PIECE_BYTES)):
            piece = raw[start : start + PIECE_BYTES]
            if len(piece) < min_piece:
                continue
            is_val = _goes_to_validation(relative, index)
            buffers[is_val].append(piece)
            meta[is_val].append((len(piece), tag))
    if not meta[True] and len(meta[False]) > 1:  # a tiny corpus: its last piece validates
        buffers[True].append(buffers[False].pop())
        meta[True].append(meta[False].pop())
    return _pack(buffers[False], meta[False]), _pack(buffers[True], meta[True])


def _pack(pieces: list[np.ndarray], meta: list[tuple[int, int]]) -> Pieces:
    lengths = np.array([m[0] for m in meta], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    tags = np.array([m[1] for m in meta], dtype=np.int64)
    data = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.uint8)
    return Pieces(data, starts, lengths, tags)


def sample_batch(
    pieces: Pieces, batch_size: int, seq_len: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random crops, pieces drawn in proportion to their length: (inputs, targets, tags)."""
    eligible = np.flatnonzero(pieces.lengths >= seq_len)
    weights = pieces.lengths[eligible] / pieces.lengths[eligible].sum()
    chosen = eligible[rng.choice(len(eligible), size=batch_size, p=weights)]
    offsets = pieces.starts[chosen] + rng.integers(0, pieces.lengths[chosen] - seq_len + 1)
    return _crops(pieces, chosen, offsets, seq_len, rng)


def fixed_batches(
    pieces: Pieces, count: int, seq_len: int, batch_size: int
) -> list[tuple[torch.Tensor, ...]]:
    """A deterministic validation set: ``count`` crops spread evenly over the validation pieces."""
    rng = np.random.default_rng(1234)
    eligible = np.flatnonzero(pieces.lengths >= seq_len)
    if len(eligible) == 0:
        raise ValueError(f"no validation piece holds {seq_len} bytes: the corpus is too small")
    chosen = eligible[np.linspace(0, len(eligible) - 1, count).astype(np.int64)]
    offsets = pieces.starts[chosen] + (pieces.lengths[chosen] - seq_len) // 2
    batches: list[tuple[torch.Tensor, ...]] = []
    for lo in range(0, count, batch_size):
        inputs, targets, tags = _crops(
            pieces,
            chosen[lo : lo + batch_size],
            offsets[lo : lo + batch_size],
            seq_len,
            rng,
            unknown_share=0.0,
        )
        batches.append((inputs, targets, tags))
    return batches


def _crops(
    pieces: Pieces,
    chosen: np.ndarray,
    offsets: np.ndarray,
    seq_len: int,
    rng: np.random.Generator,
    unknown_share: float = UNKNOWN_TAG_SHARE,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    index = offsets[:, None] + np.arange(seq_len)[None, :]
    targets = pieces.data[index].astype(np.int64)  # (B, T)
    inputs = np.concatenate(
        [np.full((len(chosen), 1), BOS, dtype=np.int64), targets[:, :-1]], axis=1
    )
    tags = pieces.tags[chosen].copy()
    if unknown_share > 0:
        tags[rng.random(len(tags)) < unknown_share] = TAGS["binary"]
    return torch.from_numpy(inputs), torch.from_numpy(targets), torch.from_numpy(tags)
