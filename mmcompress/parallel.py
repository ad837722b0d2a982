"""Coding blocks in worker processes: an ordered map with a bounded window over a process pool.

Packing reads its inputs in one order (the archive's), cuts them into blocks and groups the blocks
into small batches (:data:`BATCH_BYTES`); a pool of worker processes codes the batches, and the
results are consumed strictly in submission order::

    reader (main) ──► batch 0, 1, 2 … ──► workers (encode_stream_block) ──► writer (main), in order

Each block is coded on its own (a predictor session lives for one block), so the bytes written
are the same whichever process coded a block: the archive is identical for any worker count,
including 1, where the batches are coded inline with no pool at all. At most ``window`` batches
are in flight, so memory stays bounded however large the input.

Workers ignore SIGINT: Ctrl-C reaches the main process, which terminates the pool and lets the
atomic writer remove the half-written output. A worker that dies (killed, out of memory) breaks
the pool; the pack fails with an error instead of hanging.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Protocol, TypeVar

from .detect import Modality
from .errors import MmcError
from .levels import LevelRecipe
from .streams import CodecBook, EncodedBlock, encode_stream_block

#: Blocks are sent to workers in batches of about this many raw bytes (small files share one).
BATCH_BYTES = 1 << 20
#: Batches in flight per worker: enough to keep every worker busy while the writer catches up.
BATCHES_PER_WORKER = 2

#: One block to code: its raw bytes, its role (a modality or streams.PIXEL_BLOCK; an int) and its
#: conditioning tag (:mod:`.tags`).
BlockTask = tuple[bytes, int, int]


class Batch(Protocol):
    """Anything that can list the blocks it wants coded, in order."""

    def blocks(self) -> list[BlockTask]: ...


B = TypeVar("B", bound=Batch)


def resolve_workers(threads: int) -> int:
    """``-T`` semantics: 0 means one worker per core; never fewer than 1."""
    if threads <= 0:
        return max(1, os.cpu_count() or 1)
    return threads


def encode_blocks(
    book: CodecBook, recipe: LevelRecipe, blocks: list[BlockTask]
) -> list[EncodedBlock]:
    return [encode_stream_block(raw, book, recipe, role, tag) for raw, role, tag in blocks]


class _OneBlock:
    def __init__(self, raw: bytes, role: int, tag: int) -> None:
        self.raw = raw
        self.role = role
        self.tag = tag

    def blocks(self) -> list[BlockTask]:
        return [(self.raw, self.role, self.tag)]


# --- the worker side ----------------------------------------------------------------------------

_worker_state: tuple[CodecBook, LevelRecipe] | None = None


#: How often a worker checks that its parent is still alive (a SIGKILLed parent cannot stop it).
PARENT_CHECK_SECONDS = 1.0


_INTERRUPTS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def _interrupts_blocked() -> Iterator[None]:
    """Hold Ctrl-C/SIGTERM while workers may be spawned.

    A spawned child inherits the signal mask across exec, so a Ctrl-C that arrives while it is
    still importing stays pending instead of printing a traceback; the parent gets it on exit.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _init_worker(recipe: LevelRecipe, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)  # a pending Ctrl-C is now dropped
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    global _worker_state
    _worker_state = (CodecBook.for_recipe(recipe), recipe)


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:  # checked at once too: the parent may die while we start
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _encode_in_worker(blocks: list[BlockTask]) -> list[EncodedBlock]:
    assert _worker_state is not None, "worker was not initialised"
    book, recipe = _worker_state
    return encode_blocks(book, recipe, blocks)


# --- the parent side ----------------------------------------------------------------------------


class BlockPool:
    """Codes batches of blocks, inline (1 worker) or in a process pool; use as a context manager."""

    def __init__(self, book: CodecBook, recipe: LevelRecipe, workers: int = 1) -> None:
        self.book = book
        self.recipe = recipe
        self.workers = max(1, workers)
        self.window = BATCHES_PER_WORKER * self.workers
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> BlockPool:
        if self.workers > 1:
            # spawn, not fork: the parent may hold threads (progress bars, numba, torch) whose
            # locks a forked child would inherit in a taken state.
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.recipe, os.getpid()),
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        if exc_type is None:
            executor.shutdown(wait=True)
            return
        # Failing or interrupted: do not wait for blocks nobody will write.
        processes = list(getattr(executor, "_processes", {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)

    def map_ordered(self, batches: Iterable[B]) -> Iterator[tuple[B, list[EncodedBlock]]]:
        """Each batch with its coded blocks, in the order given; at most ``window`` in flight."""
        if self._executor is None:
            for batch in batches:
                yield batch, encode_blocks(self.book, self.recipe, batch.blocks())
            return
        pending: deque[tuple[B, Future[list[EncodedBlock]]]] = deque()
        for batch in batches:
            with _interrupts_blocked():  # a worker spawned here starts with them blocked
                future = self._executor.submit(_encode_in_worker, batch.blocks())
            pending.append((batch, future))
            if len(pending) >= self.window:
                yield self._next(pending)
        while pending:
            yield self._next(pending)

    def encode_stream(
        self, raws: Iterable[bytes], modality: Modality, tag: int
    ) -> Iterator[tuple[bytes, EncodedBlock]]:
        """One stream's blocks with their coded forms, in order (a :data:`.streams.BlockEncoder`)."""
        yield from self._encode_tasks((raw, int(modality), tag) for raw in raws)

    def encode_roles(
        self, blocks: Iterable[tuple[bytes, int]]
    ) -> Iterator[tuple[bytes, EncodedBlock]]:
        """Blocks that each carry their role, with their coded forms, in order (a
        :data:`.streams.RoleEncoder`)."""
        yield from self._encode_tasks((raw, role, 0) for raw, role in blocks)

    def _encode_tasks(self, tasks: Iterable[BlockTask]) -> Iterator[tuple[bytes, EncodedBlock]]:
        batches = (_OneBlock(*task) for task in tasks)
        for batch, encoded in self.map_ordered(batches):
            yield batch.raw, encoded[0]

    @staticmethod
    def _next(pending: deque[tuple[B, Future[list[EncodedBlock]]]]) -> tuple[B, list[EncodedBlock]]:
        batch, future = pending.popleft()
        try:
            return batch, future.result()
        except BrokenProcessPool:
            raise MmcError(
                "a worker process died while coding (out of memory or killed?)"
            ) from None
