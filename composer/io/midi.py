"""Standard MIDI files ⇄ Score, through mido.

Reading keeps what a Score can hold: notes per (MIDI track, channel), programs, drums
(channel 9, 0-based), tempo / time-signature / key-signature maps and our chord markers.
Writing makes a type 1 file: track 0 is the conductor (tempos, meters, keys, chord markers),
then one MTrk per Score track. ``write_midi`` then ``read_midi`` gives back an equal Score
for quantised material, so MIDI doubles as our lossless-enough interchange format.

Conventions worth knowing:

* Chords travel as marker meta events ``chord:<root>:<quality>[/<bass>]`` with root and
  bass as pitch-class names from ``theory.PC_NAMES`` (``chord:Bb:7/D``), readable in any
  DAW's marker lane. A chord lasts until the next chord marker or a ``chord:end`` marker;
  overlapping chords therefore cannot survive a round trip (the earlier one is cut).
* Tempo is stored in MIDI as integer microseconds per quarter; on reading, ``qpm`` is the
  shortest decimal that encodes to the same integer, so 93.7 qpm survives a round trip.
* Same-pitch notes are paired first-in first-out per (track, channel, pitch); notes still
  sounding at the end of a track end at its last event; zero-length notes are dropped.
* Text is read as latin-1 (never fails) and upgraded to UTF-8 where it decodes, and written
  as UTF-8, so non-ASCII track names round-trip without touching mido's global charset.
"""

from __future__ import annotations

import io
import logging
import os
import struct
from collections import deque
from pathlib import Path

import mido
import numpy as np
from mido.midifiles.meta import KeySignatureError

from .. import limits
from ..errors import InputError, MidiError
from ..score import NOTE_DTYPE, ChordSymbol, KeySignature, Score, Tempo, TimeSignature, Track, sort_notes
from ..theory import PC_NAMES, name_to_pc
from .atomic import atomic_write

__all__ = ["CHORD_END", "CHORD_PREFIX", "DRUM_CHANNEL", "midi_bytes", "read_midi", "write_midi"]

log = logging.getLogger(__name__)

DRUM_CHANNEL = 9  # 0-based; "channel 10" in General MIDI
_MAX_DELTA = 0x0FFFFFFF  # a variable-length quantity is at most 4 bytes
CHORD_PREFIX = "chord:"
CHORD_END = "chord:end"
_MELODIC_CHANNELS = [c for c in range(16) if c != DRUM_CHANNEL]
# mido key names by tonic pitch class, the spelling with fewer accidentals.
_MAJOR_KEYS = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
_MINOR_KEYS = ["Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm"]
# Everything mido or the OS raises on a bad or unreadable file.
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, struct.error, KeySignatureError)


# ---------------------------------------------------------------------------------- reading


def read_midi(source: str | os.PathLike | bytes) -> Score:
    """Read a type 0 or 1 MIDI file (a path, or the file's bytes) into a Score.

    Raises MidiError naming the file for anything unreadable: missing, truncated, not MIDI,
    SMPTE timing, type 2; LimitError for a file over composer.limits (size, notes, length, tempo).
    """
    from_bytes = isinstance(source, (bytes, bytearray, memoryview))
    name = "<bytes>" if from_bytes else os.fspath(source)
    if from_bytes:
        limits.check_data(source, name)
    else:
        limits.check_size(name, error=MidiError)
    try:
        # Always from memory (the file is within the size limit): mido trusts chunk lengths, and
        # reading a real file it would allocate the 4 GB a corrupt header claims before failing.
        data = bytes(source) if from_bytes else Path(name).read_bytes()
        _check_header(data, name)
        mf = mido.MidiFile(file=io.BytesIO(data))
    except EOFError:
        empty = len(data) == 0
        raise MidiError(
            f"{name}: {'empty file' if empty else 'truncated MIDI file (unexpected end of data)'}"
        ) from None
    except _READ_ERRORS as e:
        raise MidiError(f"{name}: {_reason(e)}") from None
    if mf.ticks_per_beat == 0:
        raise MidiError(f"{name}: zero ticks per quarter note in the header")
    if mf.ticks_per_beat < 0 or mf.ticks_per_beat >= 2**15:
        raise MidiError(f"{name}: SMPTE time division is not supported (need ticks per quarter note)")
    if mf.type == 2:
        raise MidiError(f"{name}: MIDI type 2 (independent sequences) is not supported")
    return limits.check_score(_to_score(mf, name), name)


def _check_header(data: bytes, name: str) -> None:
    """The MThd chunk, before mido: its length field must be sane (mido would believe 2^32)."""
    if len(data) >= 8 and data[:4] == b"MThd" and not 6 <= int.from_bytes(data[4:8], "big") <= 64:
        raise MidiError(f"{name}: corrupt MIDI header (chunk length {int.from_bytes(data[4:8], 'big')}, expected 6)")


def _reason(e: BaseException) -> str:
    """One line, without repeating the file name an OSError already carries."""
    text = e.strerror if isinstance(e, OSError) and e.strerror else str(e) or type(e).__name__
    return " ".join(text.split())


def _text(s: str) -> str:
    """mido decodes text as latin-1; recover UTF-8 (what we and most tools write) where valid."""
    try:
        return s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return s


def _qpm(us_per_quarter: int) -> float:
    """The shortest decimal qpm that maps back to the same integer microseconds."""
    exact = 60e6 / us_per_quarter
    for digits in range(7):
        q = round(exact, digits)
        if q > 0 and round(60e6 / q) == us_per_quarter:
            return q
    return exact


def _key(name: str) -> tuple[int, str]:
    minor = name.endswith("m")
    return name_to_pc(name[:-1] if minor else name), "minor" if minor else "major"


def _parse_chord(text: str) -> tuple[int, str, int | None] | None:
    """'chord:Bb:7/D' -> (10, '7', 2); None for anything else."""
    parts = text.split(":", 2)
    if len(parts) != 3 or parts[0] + ":" != CHORD_PREFIX:
        return None
    try:
        root = name_to_pc(parts[1])
    except InputError:
        return None
    quality, bass = parts[2], None
    head, sep, tail = quality.rpartition("/")
    if sep:
        try:
            bass, quality = name_to_pc(tail), head
        except InputError:
            pass  # a '/' inside the quality itself, not a slash bass
    return root, quality, bass


def _to_score(mf: mido.MidiFile, name: str = "<midi>") -> Score:
    tempos: dict[int, float] = {}  # tick -> qpm; a later event at the same tick wins
    meters: dict[int, tuple[int, int]] = {}
    keys: dict[int, tuple[int, str]] = {}
    marks: list[tuple[int, str]] = []
    tracks: list[Track] = []
    file_end = 0
    max_notes = limits.current().max_notes
    n_notes = 0
    for mtrack in mf.tracks:
        tick = 0
        track_name = None
        programs = [0] * 16
        first_program: dict[int, int] = {}  # channel -> program in force at its first note
        cols: dict[int, list[int]] = {}  # channel -> flat [start, duration, pitch, velocity, ...]
        open_notes: dict[int, deque] = {}  # channel << 7 | pitch -> deque of (start, velocity)
        for msg in mtrack:
            if msg.time > _MAX_DELTA:  # mido reads variable-length numbers of any length
                raise MidiError(f"{name}: delta time {msg.time} is longer than MIDI's 4-byte maximum")
            tick += msg.time
            kind = msg.type
            if kind == "note_on" and msg.velocity > 0:
                ch = msg.channel
                key = ch << 7 | msg.note
                q = open_notes.get(key)
                if q is None:
                    q = open_notes[key] = deque()
                q.append((tick, msg.velocity))
                n_notes += 1
                if n_notes > max_notes:
                    limits.check_count(n_notes, "max_notes", "notes", name)
                if ch not in first_program:
                    first_program[ch] = programs[ch]
                    cols[ch] = []
            elif kind == "note_off" or kind == "note_on":
                q = open_notes.get(msg.channel << 7 | msg.note)
                if q:
                    start, vel = q.popleft()
                    if tick > start:
                        cols[msg.channel] += (start, tick - start, msg.note, vel)
            elif kind == "program_change":
                programs[msg.channel] = msg.program
            elif kind == "set_tempo" and msg.tempo > 0:
                tempos[tick] = _qpm(msg.tempo)
            elif kind == "time_signature":
                meters[tick] = (msg.numerator, msg.denominator)
            elif kind == "key_signature":
                keys[tick] = _key(msg.key)
            elif kind == "track_name" and track_name is None:
                track_name = _text(msg.name)
            elif (kind == "marker" or kind == "text") and msg.text.startswith(CHORD_PREFIX):
                marks.append((tick, msg.text))
        file_end = max(file_end, tick)
        for key, q in open_notes.items():  # never closed: end at the track's last event
            for start, vel in q:
                if tick > start:
                    cols[key >> 7] += (start, tick - start, key & 127, vel)
        used = sorted(ch for ch, flat in cols.items() if flat)
        for ch in used:
            name = track_name or ""
            if len(used) > 1:
                name = f"{name} ch{ch + 1}".strip()  # 1-based, as MIDI users number channels
            flat = np.array(cols[ch], dtype=np.int64).reshape(-1, 4)
            notes = np.zeros(len(flat), dtype=NOTE_DTYPE)
            for i, field in enumerate(NOTE_DTYPE.names):
                notes[field] = flat[:, i]
            tracks.append(Track(name, first_program[ch], ch == DRUM_CHANNEL, sort_notes(notes)))
    return Score(
        tpq=mf.ticks_per_beat,
        tempos=[Tempo(t, q) for t, q in sorted(tempos.items())],
        time_signatures=[TimeSignature(t, n, d) for t, (n, d) in sorted(meters.items())],
        key_signatures=[KeySignature(t, pc, mode) for t, (pc, mode) in sorted(keys.items())],
        tracks=tracks,
        chords=_chords(marks, file_end),
    )


def _chords(marks: list[tuple[int, str]], file_end: int) -> list[ChordSymbol]:
    """Each chord marker lasts until the next chord or end marker (or the end of the file)."""
    marks.sort(key=lambda m: m[0])  # stable: keeps file order within a tick
    chords = []
    for i, (tick, text) in enumerate(marks):
        parsed = None if text == CHORD_END else _parse_chord(text)
        if parsed is None:
            if text != CHORD_END:
                log.debug("ignoring unparsable chord marker %r at tick %d", text, tick)
            continue
        end = marks[i + 1][0] if i + 1 < len(marks) else max(file_end, tick)
        chords.append(ChordSymbol(tick, end - tick, *parsed))
    return chords


# ---------------------------------------------------------------------------------- writing


def write_midi(score: Score, path: str | os.PathLike) -> None:
    """Write ``score`` as a type 1 MIDI file, atomically (no partial file on failure)."""
    name = os.fspath(path)
    data = _encode(score, name)
    try:
        atomic_write(name, data)
    except InputError as e:
        raise MidiError(str(e)) from None
    except OSError as e:
        raise MidiError(f"{name}: {_reason(e)}") from None


def midi_bytes(score: Score) -> bytes:
    """The bytes ``write_midi`` would write; for stdout and in-memory use."""
    return _encode(score, "<bytes>")


def _utf8(s: str) -> str:
    """Text whose latin-1 encoding (mido's default charset) is the UTF-8 of ``s``."""
    return str(s).encode("utf-8", "replace").decode("latin-1")


def _encode(score: Score, name: str) -> bytes:
    if not 0 < score.tpq < 2**15:
        raise MidiError(f"{name}: ticks per quarter {score.tpq} outside 1..32767")
    mf = mido.MidiFile(type=1, ticks_per_beat=score.tpq)
    mf.tracks.append(_conductor(score, name))
    melodic = 0
    for track in score.tracks:
        if track.is_drum:
            channel = DRUM_CHANNEL
        else:
            channel = _MELODIC_CHANNELS[melodic % len(_MELODIC_CHANNELS)]
            melodic += 1
        mf.tracks.append(_track(track, channel, name))
    out = io.BytesIO()
    try:
        mf.save(file=out)
    except (ValueError, TypeError, struct.error) as e:
        raise MidiError(f"{name}: cannot encode MIDI: {_reason(e)}") from None
    return out.getvalue()


def _absolute_to_track(events: list[tuple[int, mido.Message | mido.MetaMessage]]) -> mido.MidiTrack:
    """(absolute tick, message) pairs, already in order, to a track with delta times."""
    track, last = mido.MidiTrack(), 0
    for tick, msg in events:
        track.append(msg.copy(time=tick - last))
        last = tick
    return track


def _conductor(score: Score, name: str) -> mido.MidiTrack:
    events: list[tuple[int, int, mido.MetaMessage]] = []  # (tick, kind rank, message)
    tempos = score.tempos or [Tempo(0, 120.0)]
    meters = score.time_signatures or [TimeSignature(0, 4, 4)]
    try:
        for t in tempos:
            _check_time(t.time, "tempo", name)
            us = round(60e6 / t.qpm) if t.qpm > 0 else 0
            if not 0 < us < 2**24:  # a 24-bit field: about 3.6 to 60 million qpm
                raise MidiError(f"{name}: tempo {t.qpm} qpm at tick {t.time} is outside what MIDI can store")
            events.append((t.time, 0, mido.MetaMessage("set_tempo", tempo=us)))
        for ts in meters:
            _check_time(ts.time, "time signature", name)
            msg = mido.MetaMessage("time_signature", numerator=ts.numerator, denominator=ts.denominator)
            events.append((ts.time, 1, msg))
        for k in score.key_signatures:
            _check_time(k.time, "key signature", name)
            if k.mode not in ("major", "minor"):
                raise MidiError(f"{name}: key mode {k.mode!r} at tick {k.time} (MIDI has major/minor)")
            key = (_MAJOR_KEYS if k.mode == "major" else _MINOR_KEYS)[k.tonic % 12]
            events.append((k.time, 2, mido.MetaMessage("key_signature", key=key)))
    except (ValueError, TypeError) as e:  # mido's range checks (a 4/3 meter, numerator > 255, ...)
        raise MidiError(f"{name}: {_reason(e)}") from None
    chords = sorted(score.chords, key=lambda c: c.start)
    for i, c in enumerate(chords):
        _check_time(c.start, "chord", name)
        slash = "" if c.bass is None else "/" + PC_NAMES[c.bass % 12]
        text = f"{CHORD_PREFIX}{PC_NAMES[c.root % 12]}:{c.quality}{slash}"
        events.append((c.start, 3, mido.MetaMessage("marker", text=_utf8(text))))
        end = c.start + max(c.duration, 0)
        nxt = chords[i + 1].start if i + 1 < len(chords) else None
        if nxt is not None and nxt < end:
            log.warning("%s: chord at tick %d overlaps the next; MIDI markers will cut it", name, c.start)
        if nxt != end:
            events.append((end, 3, mido.MetaMessage("marker", text=CHORD_END)))
    events.sort(key=lambda e: (e[0], e[1]))  # stable within a rank: keeps the given order
    return _absolute_to_track([(t, m) for t, _, m in events])


def _check_time(tick: int, what: str, name: str) -> None:
    if tick < 0:
        raise MidiError(f"{name}: {what} at negative tick {tick}")


def _track(track: Track, channel: int, name: str) -> mido.MidiTrack:
    track_name, program = track.name, track.program
    label = f"track {track_name!r}"
    if not 0 <= program <= 127:
        raise MidiError(f"{name}: {label} has program {program} outside 0..127")
    notes = track.notes
    keep = notes["duration"] > 0
    if not keep.all():
        log.debug("%s: %s: dropping %d notes of zero or negative length", name, label, int((~keep).sum()))
        notes = notes[keep]
    if len(notes) and notes["start"].min() < 0:
        raise MidiError(f"{name}: {label} has a note at negative tick {int(notes['start'].min())}")
    if len(notes) and notes["pitch"].max() > 127:
        raise MidiError(f"{name}: {label} has pitch {int(notes['pitch'].max())} outside 0..127")
    n = len(notes)
    starts = notes["start"].astype(np.int64)
    ticks = np.concatenate([starts + notes["duration"], starts])
    is_on = np.concatenate([np.zeros(n, np.int8), np.ones(n, np.int8)])
    pitch = np.concatenate([notes["pitch"], notes["pitch"]])
    vel = np.concatenate([np.full(n, 64, np.uint8), np.clip(notes["velocity"], 1, 127)])
    order = np.lexsort((pitch, is_on, ticks))  # note-offs first at equal ticks: repeats stay distinct
    out = mido.MidiTrack()
    if track_name:
        out.append(mido.MetaMessage("track_name", name=_utf8(track_name)))
    out.append(mido.Message("program_change", channel=channel, program=int(program)))
    deltas = np.diff(ticks[order], prepend=0).tolist()
    on_off = ("note_off", "note_on")
    for d, on, p, v in zip(deltas, is_on[order].tolist(), pitch[order].tolist(), vel[order].tolist()):
        # Values are range-checked above, so mido's per-message validation is skipped (2x faster).
        out.append(mido.Message(on_off[on], channel=channel, note=p, velocity=v, time=d, skip_checks=True))
    return out
