"""MusicXML ⇄ Score through music21 (imported here only): notes, meters, keys, tempo, chord symbols.

music21 is the well-kept MusicXML implementation, so we translate rather than parse XML by
hand. Chord symbols go through the lead-sheet module, which knows every spelling we support.
"""

from __future__ import annotations

import os
import re
import tempfile

import numpy as np

from .. import limits
from ..errors import ComposerError, InputError
from ..score import KeySignature, Score, Tempo, TimeSignature, Track, notes_array, sort_notes
from .atomic import atomic_write

__all__ = ["read_musicxml", "write_musicxml", "TPQ"]

TPQ = 10080  # every tuplet music21 produces in common music lands on an integer tick


def _ticks(quarters) -> int:
    return int(round(float(quarters) * TPQ))


def check_file(name: str) -> None:
    """Size limits before music21 sees the file: the file itself and, for a compressed .mxl,
    what its members inflate to (a zip bomb is refused from the zip directory, unread).
    Entity-expansion bombs are stopped by expat itself (2.4+)."""
    import zipfile
    import zlib

    limits.check_size(name)
    if not zipfile.is_zipfile(name):
        try:
            with open(name, "rb") as f:
                _check_numbers(f.read(), name)
        except OSError as e:
            raise InputError(f"{name}: {e.strerror}") from None
        return
    try:
        with zipfile.ZipFile(name) as z:
            infos = z.infolist()
            limits.check_count(len(infos), "max_tracks", "files inside the archive", name)
            limits.check_count(sum(i.file_size for i in infos), "max_bytes", "uncompressed size", name)
            for info in infos:
                if info.filename.lower().endswith((".xml", ".musicxml")) and not info.filename.startswith("META-INF"):
                    _check_numbers(z.read(info), name)
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, RuntimeError) as e:  # Runtime: encrypted
        raise InputError(f"{name}: not a readable compressed MusicXML file ({e})") from None


# Elements whose absurd values send music21 into loops it never leaves (an <alter> of 2^32
# semitones moves a pitch octave by octave, billions of times): bounds far beyond real scores.
_NUMBER_BOUNDS = {b"alter": 12, b"degree-alter": 12, b"octave-change": 10, b"octave": 12, b"degree-value": 30,
                  b"fifths": 14, b"beats": 1024, b"beat-type": 1024}
_NUMBER_RE = re.compile(rb"<(alter|degree-alter|octave-change|octave|degree-value|fifths|beats|beat-type)>\s*([^<]{0,40})<")


def _check_numbers(xml: bytes, name: str) -> None:
    for m in _NUMBER_RE.finditer(xml):
        try:
            value = float(m.group(2))
        except ValueError:
            continue  # music21 reports a malformed number itself
        if not abs(value) <= _NUMBER_BOUNDS[m.group(1)]:  # also NaN
            raise InputError(f"{name}: <{m.group(1).decode()}> {m.group(2).decode('latin-1').strip()!r} is out of range")


def _parse(name: str):
    """music21's parse of a MusicXML file, with every failure as one InputError."""
    import warnings

    from music21 import converter

    check_file(name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return converter.parse(name, format="musicxml")
    except RecursionError:
        raise InputError(f"{name}: not a readable MusicXML file (nested too deeply)") from None
    except Exception as e:  # noqa: BLE001 - music21 raises many kinds on malformed files
        raise InputError(f"{name}: not a readable MusicXML file ({type(e).__name__}: {' '.join(str(e).split())[:120]})") from None


def interpret(convert, doc, name: str) -> Score:
    """``convert(doc, name)`` -> Score, where music21 objects built from a hostile file can fail
    anywhere: any such failure is one InputError, and the Score is checked against the limits."""
    try:
        score = convert(doc, name)
    except ComposerError:
        raise
    except Exception as e:  # noqa: BLE001
        raise InputError(f"{name}: MusicXML content music21 cannot interpret ({type(e).__name__}: "
                         f"{' '.join(str(e).split())[:120]})") from None
    return limits.check_score(score, name)


def read_musicxml(path: str | os.PathLike) -> Score:
    """One Score per file: a Track per part (ties merged), meters, keys, tempi, chord symbols."""
    name = os.fspath(path)
    return interpret(_to_score, _parse(name), name)


def _to_score(m21, path: str) -> Score:
    from music21 import key, meter, tempo

    flat = m21.flatten()
    tracks = []
    for i, part in enumerate(getattr(m21, "parts", [m21]) or [m21]):
        rows = []
        for n in part.stripTies().flatten().notes:
            if n.isChord and type(n).__name__ == "ChordSymbol":
                continue
            start, dur = _ticks(n.getOffsetInHierarchy(part)), _ticks(n.quarterLength)
            vel = int(n.volume.velocity or 80)
            rows += [(start, dur, p.midi, min(max(vel, 0), 127)) for p in n.pitches if dur > 0]
            if any(not 0 <= p.midi <= 127 for p in n.pitches):
                raise InputError(f"{path}: a note outside the MIDI pitch range in part {i + 1}")
            limits.check_count(len(rows), "max_notes", "notes", path)
        program = 0
        inst = part.getInstrument(returnDefault=False)
        if inst is not None and inst.midiProgram is not None:
            program = int(inst.midiProgram)
        tracks.append(Track(part.partName or f"Part {i + 1}", program, False, notes_array(rows)))
    score = Score(
        tpq=TPQ,
        tempos=[Tempo(_ticks(t.offset), float(t.getQuarterBPM())) for t in flat.getElementsByClass(tempo.MetronomeMark)
                if t.getQuarterBPM()],
        time_signatures=[TimeSignature(_ticks(t.offset), t.numerator, t.denominator)
                         for t in flat.getElementsByClass(meter.TimeSignature)],
        key_signatures=[KeySignature(_ticks(k.offset), k.asKey().tonic.pitchClass, k.asKey().mode)
                        for k in flat.getElementsByClass(key.KeySignature)],
        tracks=[t for t in tracks if len(t.notes)],
        meta={"title": (m21.metadata.title if m21.metadata and m21.metadata.title else "")},
    )
    score.tempos = sorted(set(score.tempos), key=lambda t: t.time)
    score.time_signatures = sorted(set(score.time_signatures), key=lambda t: t.time)
    score.key_signatures = sorted({(k.time, k.tonic, k.mode): k for k in score.key_signatures if k.mode in
                                   ("major", "minor")}.values(), key=lambda k: k.time)
    if flat.getElementsByClass("ChordSymbol"):
        from dataclasses import replace

        from .leadsheet import read_leadsheet_musicxml

        sheet = read_leadsheet_musicxml(path, m21)
        score.chords = [replace(c, start=c.start * TPQ // sheet.tpq, duration=c.duration * TPQ // sheet.tpq)
                        for c in sheet.chords]
    return score


def write_musicxml(score: Score, path: str | os.PathLike) -> None:
    """Write every pitched or drum track as a part; music21 splits notes into tied notation."""
    from music21 import chord, duration, instrument, key, metadata, meter, note, stream, tempo

    if not score.tracks:
        from .leadsheet import write_leadsheet_musicxml  # chord symbols alone: a lead sheet

        return write_leadsheet_musicxml(score, path)
    out = stream.Score()
    out.metadata = metadata.Metadata(title=str(score.meta.get("title") or "composer"))
    q = float(score.tpq)
    for ti, t in enumerate(score.tracks):
        part = stream.Part()
        part.partName = t.name or f"Part {ti + 1}"
        inst = instrument.UnpitchedPercussion() if t.is_drum else instrument.instrumentFromMidiProgram(t.program)
        part.insert(0, inst)
        if ti == 0:
            for ts in score.time_signatures or [TimeSignature(0)]:
                part.insert(ts.time / q, meter.TimeSignature(f"{ts.numerator}/{ts.denominator}"))
            for k in score.key_signatures:
                part.insert(k.time / q, key.Key(_pc_name(k.tonic), k.mode))
            for tm in score.tempos:
                part.insert(tm.time / q, tempo.MetronomeMark(number=round(tm.qpm, 2)))
            from .leadsheet import insert_chord_symbols  # chord symbols above the first part

            insert_chord_symbols(part, score)
        n = sort_notes(t.notes)
        starts, first = np.unique(n["start"], return_index=True)
        for start, a, b in zip(starts, first, list(first[1:]) + [len(n)]):
            sel = n[a:b]  # the notes struck together: one note or one chord
            dur = duration.Duration(float(sel["duration"].max()) / q)
            if len(sel) == 1:
                el = note.Note(int(sel["pitch"][0]), duration=dur)
            else:
                el = chord.Chord([int(p) for p in sel["pitch"]], duration=dur)
            el.volume.velocity = int(sel["velocity"].max())
            part.insert(float(start) / q, el)
        out.insert(0, part)
    with tempfile.TemporaryDirectory() as d:
        tmp = os.path.join(d, "score.musicxml")
        try:
            out.makeNotation(inPlace=True)
            out.write("musicxml", fp=tmp)
        except Exception as e:
            raise InputError(f"cannot write {path} as MusicXML: {type(e).__name__}: {e}") from None
        with open(tmp, "rb") as f:
            atomic_write(path, f.read())


def _pc_name(pc: int) -> str:
    from ..theory import PC_NAMES

    return PC_NAMES[pc % 12].replace("b", "-")
