"""ABC 2.1 reader: tune text -> Score, fast enough to load a 10,000-tune folk corpus in seconds.

This module splits files into tunes and reads headers; abc_body.py walks each body with one
compiled regex and a tight loop, appending to plain lists; NumPy note arrays are built once per
voice at the end. Ticks are at ``ABC_TPQ`` (10080) per quarter, where every ABC length and tuplet
is exact. Repeats are not expanded: notes are laid out as written, and bar lines, repeat marks
and variant endings go to ``meta['bars']`` as ``(tick, kind)`` for the writer and tokenizers.

Semantics follow the ABC 2.1 standard: accidentals last to the end of the bar in every octave
(``%%propagate-accidentals`` may say ``octave`` or ``not``), a tied note keeps its pitch over the
bar line, a chord lasts as long as its first note, grace notes take no time, ``>``/``<``/``>>``
share time between two neighbours, ``(p:q:r`` squeezes r notes, V: voices become tracks.

``Score.meta`` keeps what the IR has no field for: ``x``, ``title``, ``composer``, ``rhythm``,
``origin``, ``mode`` (the ABC mode name, since KeySignature holds only major/minor; ``modes``
when the key changes), ``unit`` (L:), ``bars``, ``parts`` (tick, P: label), ``lyrics`` (w:),
``words`` (W:), ``directives`` (%%), ``fields`` (other header fields by letter), ``line`` and
``source`` (where the tune starts), ``ignored`` (stray symbols skipped, such as e-mail
line-wrap debris) and ``inexact`` (lengths rounded because ``tpq`` could not hold them).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np

from .. import limits
from ..errors import InputError
from ..score import NOTE_DTYPE, ChordSymbol, KeySignature, Score, Tempo, TimeSignature, Track, sort_notes
from .abc_body import (
    FIELD_LINE_RE,
    BodyError,
    Header,
    TuneContext,
    Voice,
    cached_key,
    cached_meter,
    cached_unit,
    directive,
    read_body,
    voice_decl,
)
from .abc_common import ABC_TPQ, MODES, AbcError, default_unit, octave_shift, parse_tempo
from .abc_write import score_to_abc, write_abc
from .textfile import decode_text

__all__ = ["ABC_TPQ", "AbcError", "parse_tune", "read_abc", "score_to_abc", "split_tunes", "write_abc"]

log = logging.getLogger(__name__)


_BLANK_RE = re.compile(r"\n[ \t]*(?:\n|$)")
_X_RE = re.compile(r"^X:", re.MULTILINE)
_K_LINE_RE = re.compile(r"^K:", re.MULTILINE)
_FIELD_NAMES = {"C": "composer", "R": "rhythm", "O": "origin"}


def split_tunes(text: str) -> tuple[str, list[tuple[int, str]]]:
    """File text -> (file header, [(line number of X:, tune text)]).

    A tune runs from its X: line to the first empty line (ABC 2.1 section 2.2); text without
    any X: is one tune (a fragment), so ``parse_tune("K:G\\nGABc")`` works.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    starts = [m.start() for m in _X_RE.finditer(text)]
    if not starts:
        return "", [(1, text)] if text.strip() else []
    tunes, line, prev = [], 1, 0
    for a, b in zip(starts, starts[1:] + [len(text)]):
        line += text.count("\n", prev, a)
        prev = a
        m = _BLANK_RE.search(text, a, b)
        tunes.append((line, text[a:m.start() if m else b]))
    return text[: starts[0]], tunes


def _header_fields(text: str) -> list[tuple[str, str]]:
    """The fields and %% directives of a file header, applied to every tune after it."""
    out = []
    for line in text.split("\n"):
        if line.startswith("%%"):
            out.append(("I", line[2:]))
        elif FIELD_LINE_RE.match(line) and line[0] not in "XTw":
            out.append((line[0], line[2:]))
    return out


def _tune_id(meta: dict) -> str:
    return f"X:{meta.get('x', '?')} {meta.get('title', '')!r}"


def parse_tune(text: str, *, tpq: int = ABC_TPQ) -> Score:
    """One ABC tune (X: ... K: header and body) -> Score. Raises AbcError naming tune/line/column."""
    header, tunes = split_tunes(text)
    if not tunes:
        raise AbcError("no ABC tune in the text")
    return _parse(tunes[0][1], tpq, _header_fields(header), tunes[0][0], None)


def _header_field(letter: str, value: str, hdr: Header, meta: dict, fields: dict) -> None:
    """Apply one tune-header (or file-header) field."""
    if len(value) > limits.current().max_field_chars:
        raise ValueError(f"{letter}: field of {len(value):,} characters is over the limit of "
                         f"{limits.current().max_field_chars:,} (COMPOSER_MAX_FIELD_CHARS raises it)")
    if letter == "X":
        meta["x"] = int(value) if value.isdigit() else value
    elif letter == "T" and "title" not in meta:
        meta["title"] = value
    elif letter == "M":
        hdr.meter = cached_meter(value)
    elif letter == "L":
        hdr.unit = cached_unit(value)
        if hdr.unit is None:
            raise ValueError(f"bad unit note length L:{value}")
    elif letter == "Q":
        hdr.tempo_text = value
    elif letter == "K":
        key = cached_key(value)
        if key is not None:
            hdr.key = key
        shift = octave_shift(value)
        if shift is not None:
            hdr.shift = shift
    elif letter == "V":
        vid, name = voice_decl(value)
        hdr.voices.setdefault(vid, name)
        shift = octave_shift(value)
        if shift is not None:
            hdr.voice_shift[vid] = shift
    elif letter == "I":
        directive(value, hdr, None)
    elif letter in "wW":
        meta.setdefault("lyrics" if letter == "w" else "words", []).append(value)
    else:
        fields.setdefault(letter, []).append(value)


def _parse(text: str, tpq: int, file_fields: list, line0: int, source: str | None) -> Score:
    hdr, meta, fields = Header(), {}, {}
    where = f"{source}: " if source else ""
    for letter, value in file_fields:
        if letter == "I":
            directive(value, hdr, None)
        else:
            try:
                _header_field(letter, value.split("%", 1)[0].strip(), hdr, meta, fields)
            except ValueError as e:
                raise AbcError(f"{where}file header: {e}") from None
    lines = text.split("\n")
    has_k = _K_LINE_RE.search(text) is not None
    last, offset, body_line = "", 0, len(lines)
    for i, line in enumerate(lines):
        if line.startswith("%"):
            if line.startswith("%%"):
                directive(line[2:], hdr, None)
        elif FIELD_LINE_RE.match(line):
            letter, value = line[0], line[2:].split("%", 1)[0].strip()
            if letter == "+":
                if last in fields:
                    fields[last][-1] += " " + value
            else:
                try:
                    _header_field(letter, value, hdr, meta, fields)
                except ValueError as e:
                    raise AbcError(f"{where}tune {_tune_id(meta)}, line {line0 + i}, column 1: {e}") from None
                last = letter
            if letter == "K":
                body_line = i + 1
                offset += len(line) + 1
                break
        elif line.strip() and not has_k:
            body_line = i
            break
        offset += len(line) + 1
    if hdr.unit is None:
        hdr.unit = default_unit(hdr.meter)
    if hdr.tempo_text is not None:
        hdr.tempo = parse_tempo(hdr.tempo_text, hdr.unit)
    meta.setdefault("title", "")
    tune = _tune_id(meta)
    # Up to the last non-blank: read_body's every match attempt then succeeds, so a long blank
    # tail is not rescanned from each of its positions.
    body = text[offset:].rstrip() if body_line < len(lines) else ""
    ctx, voices = TuneContext(), {}
    vid = next(iter(hdr.voices), "")
    v = voices[vid] = Voice(vid, hdr.voices.get(vid, "melody"), hdr, tpq)
    pos = 0
    try:
        while pos is not None:
            pos = read_body(body, pos, v, hdr, ctx)
            if pos is not None:
                vid, name = voice_decl(ctx.switch or "")
                if vid not in voices:
                    voices[vid] = Voice(vid, hdr.voices.get(vid, name), hdr, tpq)
                v = voices[vid]
                shift = octave_shift(ctx.switch or "")
                if shift is not None:
                    v.set_shift(clef=shift)
    except BodyError as e:
        line = line0 + body_line + body.count("\n", 0, e.pos)
        col = e.pos - body.rfind("\n", 0, e.pos)
        err = AbcError(f"{where}tune {tune}, line {line}, column {col}: {e.msg}")
        err.tune = tune  # type: ignore[attr-defined]
        raise err from None
    except (ValueError, KeyError, IndexError, OverflowError) as e:  # defensive: never a bare crash
        err = AbcError(f"{where}tune {tune}: cannot read ({type(e).__name__}: {e})")
        err.tune = tune  # type: ignore[attr-defined]
        raise err from None
    # Before any NumPy array: Z99999999 or A99999999999 make ticks no int64 holds.
    end = max(max(v.time, max(map(int.__add__, v.starts, v.durs), default=0)) for v in voices.values())
    if end > limits.current().max_quarters * tpq:
        err = AbcError(f"{where}tune {tune}: length {end // tpq:,} quarter notes is over the limit of "
                       f"{limits.current().max_quarters:,} (COMPOSER_MAX_QUARTERS raises it)")
        err.tune = tune  # type: ignore[attr-defined]
        raise err
    score = _assemble(hdr, meta, fields, ctx, list(voices.values()), tpq, line0, source)
    try:
        return limits.check_score(score, f"{where}tune {tune}")
    except limits.LimitError as e:
        err = AbcError(str(e))
        err.tune = tune  # type: ignore[attr-defined]
        raise err from None


def _assemble(hdr: Header, meta: dict, fields: dict, ctx: TuneContext, voices: list[Voice], tpq: int,
              line0: int, source: str | None) -> Score:
    """Voices -> Score: note arrays built once, global events taken from the first sounding voice."""
    tracks, chords = [], []
    main = next((v for v in voices if v.starts), voices[0])
    for v in voices:
        if v.starts:
            arr = np.empty(len(v.starts), dtype=NOTE_DTYPE)
            arr["start"] = np.array(v.starts, dtype=np.int64)
            arr["duration"] = np.array(v.durs, dtype=np.int64)
            arr["pitch"] = np.array(v.pitches, dtype=np.uint8)
            arr["velocity"] = 80
            tracks.append(Track(name=v.name, program=v.program, notes=sort_notes(arr)))
        syms = sorted(v.chords, key=lambda c: c[0])
        for i, (t, root, quality, bass) in enumerate(syms):
            end = syms[i + 1][0] if i + 1 < len(syms) else max(v.time, t)
            if end > t or i + 1 == len(syms):
                chords.append(ChordSymbol(t, end - t, root, quality, bass))
    tonic, mode, _ = hdr.key
    keys = [KeySignature(0, tonic, MODES[mode][1])]
    modes = [mode]
    for t, (tonic, mode, _) in main.keys:
        keys.append(KeySignature(t, tonic, MODES[mode][1]))
        modes.append(mode)
    meters = [TimeSignature(0, *hdr.meter)] if hdr.meter else []
    meters += [TimeSignature(t, *m) for t, m in main.meters if m]
    tempos = ([Tempo(0, hdr.tempo)] if hdr.tempo else []) + main.tempos
    meta.update(mode=modes[0], unit=f"{hdr.unit[0]}/{hdr.unit[1]}", bars=main.bars)
    if len(modes) > 1:
        meta["modes"] = modes
    for letter, name in _FIELD_NAMES.items():
        if letter in fields:
            meta[name] = fields[letter][0]
    if fields:
        meta["fields"] = fields
    for name in ("parts", "lyrics", "words", "directives"):
        if getattr(ctx, name):
            meta.setdefault(name, []).extend(getattr(ctx, name))
    for name in ("inexact", "ignored"):
        count = sum(getattr(v, name) for v in voices)
        if count:
            meta[name] = count
    meta["line"] = line0
    if source:
        meta["source"] = source
    return Score(tpq=tpq, tempos=tempos, time_signatures=meters, key_signatures=keys, tracks=tracks,
                 chords=chords, meta=meta)


def _load(src: str | os.PathLike) -> tuple[str, str | None]:
    """Path or ABC text -> (text, source name). A one-line str naming a file, or ending in .abc,
    is a path (so a mistyped file name fails loudly instead of being read as notes)."""
    if isinstance(src, os.PathLike) or (
            "\n" not in src and (src.lower().endswith(".abc") or os.path.isfile(src))):
        path = Path(src)
        if path.is_file():
            limits.check_size(path)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise AbcError(f"cannot read {path}: {e.strerror}") from None
        try:
            return decode_text(data, str(path)), str(path)
        except InputError as e:
            raise AbcError(str(e)) from None
    limits.check_data(src, "ABC text")
    return src, None


def read_abc(src: str | os.PathLike, *, tpq: int = ABC_TPQ, errors: str = "raise",
             skipped: list | None = None) -> list[Score]:
    """Every tune in an ABC file (path or text) -> one Score each, in file order.

    ``errors="skip"`` drops tunes that cannot be read instead of raising, logs how many, and
    appends ``(tune id, reason)`` to ``skipped`` when given, so corpus builders can report them.
    """
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', not {errors!r}")
    text, source = _load(src)
    header, tunes = split_tunes(text)
    file_fields = _header_fields(header)
    out, bad = [], 0
    for line0, tune in tunes:
        try:
            out.append(_parse(tune, tpq, file_fields, line0, source))
        except AbcError as e:
            if errors == "raise":
                raise
            bad += 1
            if skipped is not None:
                skipped.append((getattr(e, "tune", f"line {line0}"), str(e)))
    if bad:
        log.warning("skipped %d of %d ABC tunes in %s", bad, len(tunes), source or "text")
    return out
