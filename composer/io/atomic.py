"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Used for MIDI output and checkpoints, where a crash or Ctrl-C mid-write must not leave a
truncated file that a later run would try (and fail) to load.
"""

from __future__ import annotations

import contextlib
import os
import secrets

from ..errors import InputError

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder, fsync and ``os.replace``.

    The temp file lives next to the target because ``os.replace`` is only atomic within one
    file system. It is removed on any failure (including KeyboardInterrupt). Raises
    InputError if the folder does not exist; other OS failures propagate as OSError.
    """
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise InputError(f"cannot write {path}: folder {folder} does not exist")
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
    # O_EXCL: never clobber a stranger's file; mode 0o666 lets the umask decide, as open() does.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    """Persist the rename itself (POSIX); best effort, since not every OS/file system allows it."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
