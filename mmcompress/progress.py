"""The one progress helper: a tqdm bar on stderr, or nothing at all.

Library code and the CLI both call :func:`progress`; it draws only when stderr is a terminal and
progress has not been switched off (``-q``, or :func:`set_enabled(False) <set_enabled>`), so
pipes, logs and tests never see bar debris. Whatever it returns has ``update(n)`` and ``close()``
and works as a context manager, so callers never test whether a bar is really shown.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, Protocol

_enabled = True


class Progress(Protocol):
    def update(self, n: float = 1) -> Any: ...

    def close(self) -> None: ...

    def __enter__(self) -> Progress: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any: ...


class _Silent:
    """Stands in for a bar when none is drawn: accepts the same calls and does nothing."""

    def update(self, n: float = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        pass

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def set_enabled(enabled: bool) -> None:
    """Switch progress display on or off for the whole process (the CLI's ``-q`` turns it off)."""
    global _enabled
    _enabled = enabled


def is_enabled() -> bool:
    """Whether a bar would be drawn now: enabled and stderr is a terminal."""
    if not _enabled:
        return False
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def progress(
    total: float | None = None,
    desc: str = "",
    unit: str = "B",
    *,
    disable: bool = False,
    leave: bool = False,
) -> Progress:
    """A progress bar on stderr, or a silent stand-in when it would not be seen.

    ``unit="B"`` scales counts to KiB/MiB; other units count plainly. ``disable=True`` forces the
    silent form (for a caller's own ``progress=False`` switch).
    """
    if disable or not is_enabled():
        return _Silent()
    from tqdm import tqdm  # imported only when a bar is really drawn

    byte_counts = unit == "B"
    return tqdm(  # type: ignore[no-any-return]
        total=total,
        desc=desc or None,
        unit=unit,
        unit_scale=byte_counts,
        unit_divisor=1024 if byte_counts else 1000,
        leave=leave,
        file=sys.stderr,
        dynamic_ncols=True,
    )
