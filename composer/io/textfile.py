"""Reading a text-based music file (lead sheets, .lab, iReal exports) with one clear error."""

from __future__ import annotations

import os

from ..errors import InputError

__all__ = ["read_text"]


def read_text(path: str | os.PathLike) -> tuple[str, str]:
    """(text, name) of a file read as UTF-8; undecodable bytes become U+FFFD rather than a crash."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8", errors="replace") as f:
            return f.read(), name
    except OSError as e:
        raise InputError(f"{name}: {e.strerror}") from None
