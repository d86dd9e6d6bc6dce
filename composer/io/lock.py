"""An exclusive lock on an output folder, so two compose processes never write into one folder.

``compose tokenize`` (and anything else that fills a folder with many files) takes the lock for
the whole run; a second run into the same folder is refused at once with the other run's pid
rather than interleaving shards and corrupting the manifest. The lock is ``flock`` on
``folder/.lock``: the kernel drops it when the holder exits, even on SIGKILL, so a crashed run
never leaves a stale lock behind (the file stays; only the lock matters).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError

__all__ = ["LOCK_NAME", "exclusive"]

LOCK_NAME = ".lock"

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def _holder(path: Path) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(path.read_text(encoding="ascii").strip() or "x")
        return f" (pid {pid})"
    return ""


@contextlib.contextmanager
def exclusive(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold an exclusive, non-blocking lock on ``folder`` for the ``with`` block.

    Creates the folder if needed. Raises InputError naming the holder's pid when another
    process holds it. Yields the folder as a Path.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create output folder {folder}: {e.strerror}") from None
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise InputError(f"cannot lock {folder}: {e.strerror}") from None
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise InputError(f"{folder} is in use by another compose process{_holder(path)}; "
                                 "wait for it to finish or choose another folder") from None
        else:  # pragma: no cover - Windows: msvcrt locks a byte range
            import msvcrt

            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            except OSError:
                raise InputError(f"{folder} is in use by another compose process{_holder(path)}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield folder
    finally:
        os.close(fd)  # closing the descriptor releases the flock
