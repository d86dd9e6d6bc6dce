"""Reading a text-based music file (ABC, lead sheets, .lab, iReal exports) with one clear error.

Files from the internet come in every encoding: UTF-8 (with or without a BOM), UTF-16 from
Windows editors, latin-1 from old tune sites. A BOM decides; otherwise UTF-8, then UTF-16
when the bytes look like it (NUL in every other byte), then latin-1, which decodes anything.
Binary junk (NUL bytes left after decoding) is refused rather than parsed as music.
"""

from __future__ import annotations

import codecs
import os

from .. import limits
from ..errors import InputError

__all__ = ["decode_text", "read_text"]

_BOMS = [(codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")]


def decode_text(data: bytes, name: str, fallback: str = "latin-1") -> str:
    """Bytes of a text file -> str (see the module docstring); InputError for binary data."""
    text = None
    for bom, enc in _BOMS:
        if data.startswith(bom):
            text = data[len(bom):].decode(enc, "replace")
            break
    if text is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            sample = data[:4096]
            if len(sample) >= 4 and sample[1::2].count(0) > len(sample) // 4:
                text = data.decode("utf-16-le", "replace")
            elif len(sample) >= 4 and sample[0::2].count(0) > len(sample) // 4:
                text = data.decode("utf-16-be", "replace")
            else:
                text = data.decode(fallback, "replace")
    if "\x00" in text:
        raise InputError(f"{name}: binary data (NUL bytes), not a text file")
    return text


def read_text(path: str | os.PathLike) -> tuple[str, str]:
    """(text, name) of a text file, within the size limit, decoded as ``decode_text`` says."""
    name = os.fspath(path)
    limits.check_size(name)
    try:
        with open(name, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InputError(f"{name}: {e.strerror}") from None
    return decode_text(data, name), name
