"""Per-file limits that keep every reader's time and memory bounded on hostile input.

Files come from the internet: a 3-byte MIDI header that claims a million tracks, a delta time
of 2^28 ticks, ``Z99999999`` in ABC, a .lab line ending at 1e300 seconds. Every reader checks
the file's size before parsing and the resulting Score (notes, other events, length, tempo,
tracks) before returning it, so such a file ends in one clear error instead of a hang or an
out-of-memory kill. The defaults are far above real music; change them per process with
environment variables (``COMPOSER_MAX_BYTES=64000000``, read once) or in code with ``override``::

    with limits.override(max_notes=5_000_000):
        score = read("huge.mid")

=================  =========================  ======================================================
limit              default                    what it bounds
=================  =========================  ======================================================
max_bytes          16 MiB (16,777,216)        size of any file a reader opens (and of an .mxl's XML)
max_notes          500,000                    notes in one piece (a MIDI file, one ABC tune, ...)
max_events         100,000                    tempo, meter, key and chord events in one piece
max_tracks         1,024                      tracks (parts, voices, MIDI channels) in one piece
max_quarters       100,000                    length in quarter notes (about 14 h at 120 qpm)
min_qpm / max_qpm  1 / 10,000                 tempo, in quarter notes per minute
max_tokens         2,000,000                  lexical tokens in one ABC tune (bars, notes, decorations, ...)
max_tpq            32,767                     ticks per quarter note (MIDI's 15-bit field)
max_chord_chars    64                         characters in one chord symbol
max_field_chars    4,096                      characters in one header field (ABC K:/M:/Q:/V:, ...)
=================  =========================  ======================================================
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace

from .errors import InputError

__all__ = [
    "LimitError",
    "Limits",
    "check_count",
    "check_data",
    "check_score",
    "check_size",
    "current",
    "override",
    "reload",
]


class LimitError(InputError):
    """A file or piece over one of the configured limits; the message names the limit and how to raise it."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 16 * 2**20
    max_notes: int = 500_000
    max_events: int = 100_000
    max_tracks: int = 1024
    max_quarters: int = 100_000
    min_qpm: float = 1.0
    max_qpm: float = 10_000.0
    max_tokens: int = 2_000_000
    max_tpq: int = 32_767
    max_chord_chars: int = 64
    max_field_chars: int = 4096


DEFAULTS = Limits()
_override: contextvars.ContextVar[Limits | None] = contextvars.ContextVar("composer_limits", default=None)


def _from_env() -> Limits:
    values = {}
    for f in fields(Limits):
        raw = os.environ.get(f"COMPOSER_{f.name.upper()}")
        if raw is None:
            continue
        try:
            value = float(raw) if f.type == "float" else int(raw.replace("_", ""))
        except ValueError:
            raise InputError(f"COMPOSER_{f.name.upper()}={raw!r} is not a number") from None
        if not value > 0:
            raise InputError(f"COMPOSER_{f.name.upper()} must be positive, got {raw}")
        values[f.name] = value
    return replace(DEFAULTS, **values) if values else DEFAULTS


_env_cache: list[Limits] = []


def current() -> Limits:
    """The limits in force: an ``override`` block's, else the environment's, else the defaults.

    The environment is read once per process (readers ask per chord symbol); ``reload`` re-reads it."""
    lim = _override.get()
    if lim is not None:
        return lim
    if not _env_cache:
        _env_cache.append(_from_env())
    return _env_cache[0]


def reload() -> Limits:
    """Re-read the COMPOSER_* environment variables (after changing them in this process)."""
    _env_cache.clear()
    return current()


@contextlib.contextmanager
def override(**changes) -> Iterator[Limits]:
    """Run a block under changed limits (``override(max_notes=10)``); unknown names are a TypeError."""
    token = _override.set(replace(current(), **changes))
    try:
        yield _override.get()  # type: ignore[misc]
    finally:
        _override.reset(token)


def _over(name: str, what: str, value, limit) -> LimitError:
    env = f"COMPOSER_{name.upper()}"
    return LimitError(f"{what} {value:,} is over the limit of {limit:,} ({env} raises it)")


def check_size(path: str | os.PathLike, label: str | None = None, error: type[Exception] | None = None) -> int:
    """Refuse a file larger than ``max_bytes`` before reading it; returns its size.

    A missing or unreadable file raises ``error`` (default InputError), so each reader keeps its
    own error class for "cannot open".
    """
    name = label or os.fspath(path)
    try:
        size = os.stat(path).st_size
    except OSError as e:
        raise (error or InputError)(f"{name}: {e.strerror}") from None
    lim = current().max_bytes
    if size > lim:
        raise _over("max_bytes", f"{name}: file size", size, lim)
    return size


def check_data(data: bytes | str, name: str) -> None:
    """The same size limit for data already in memory (bytes given to a reader)."""
    lim = current().max_bytes
    if len(data) > lim:
        raise _over("max_bytes", f"{name}: size", len(data), lim)


def check_count(n: int, limit_name: str, what: str, name: str) -> None:
    """Raise when a running count (notes read so far, tokens, ...) passes the named limit."""
    lim = getattr(current(), limit_name)
    if n > lim:
        raise _over(limit_name, f"{name}: {what}", n, lim)


def check_score(score, name: str):
    """Check a finished Score against the limits; returns it so readers can ``return check_score(...)``."""
    lim = current()
    if not isinstance(score.tpq, int) or not 0 < score.tpq <= lim.max_tpq:
        raise LimitError(f"{name}: ticks per quarter note {score.tpq} outside 1..{lim.max_tpq:,}")
    if len(score.tracks) > lim.max_tracks:
        raise _over("max_tracks", f"{name}: tracks", len(score.tracks), lim.max_tracks)
    check_count(score.n_notes, "max_notes", "notes", name)
    events = len(score.tempos) + len(score.time_signatures) + len(score.key_signatures) + len(score.chords)
    check_count(events, "max_events", "tempo, meter, key and chord events", name)
    end = max([score.end] + [e.time for e in (*score.tempos, *score.time_signatures, *score.key_signatures)])
    starts = [int(t.notes["start"].min()) for t in score.tracks if len(t.notes)]
    if min(starts, default=0) < 0 or any(c.start < 0 or c.duration < 0 for c in score.chords):
        raise LimitError(f"{name}: an event at a negative time")
    quarters = math.ceil(end / score.tpq)
    if quarters > lim.max_quarters:
        raise _over("max_quarters", f"{name}: length in quarter notes", quarters, lim.max_quarters)
    for t in score.tempos:
        if not (lim.min_qpm <= t.qpm <= lim.max_qpm):  # also catches NaN
            raise LimitError(f"{name}: tempo {t.qpm:g} qpm at tick {t.time} is outside "
                             f"{lim.min_qpm:g}..{lim.max_qpm:g} (COMPOSER_MIN_QPM / COMPOSER_MAX_QPM change it)")
    for ts in score.time_signatures:
        if not (0 < ts.numerator <= 255 and 0 < ts.denominator <= 256):
            raise LimitError(f"{name}: time signature {ts.numerator}/{ts.denominator} at tick {ts.time}")
    return score
