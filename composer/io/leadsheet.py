"""MusicXML lead sheets through music21: ``<harmony>`` elements in, chord symbols out.

Reading takes each chord symbol's root, ``<kind>``, ``<degree>`` additions/alterations/
subtractions and ``<bass>``, plus meter, key, tempo, title and rehearsal marks (sections). The
kinds ``dominant-11th``, ``dominant-13th`` and ``major-13th`` are read as players read them
(no 3rd on 11, no 11 on 13), as MuseScore and the Real Book print them. Writing is focused on
chord symbols: one part of bars of rests with the symbols above them, which MuseScore and
other notation programs display; notes are not written. music21 is imported only in here.
"""

from __future__ import annotations

import os
import tempfile

from .. import limits
from ..chart import Chart, chart_to_score, estimate_key, score_to_chart
from ..errors import InputError
from ..harmony import Chord, canonical_quality, quality_degrees
from ..harmony import _label as degree_label
from ..score import ChordSymbol, Score
from ..theory import PC_NAMES
from .atomic import atomic_write

__all__ = [
    "KIND_DEGREES",
    "insert_chord_symbols",
    "music21_chord_symbol",
    "music21_crosscheck",
    "read_leadsheet_musicxml",
    "write_leadsheet_musicxml",
]

# MusicXML kinds (music21 names) we write, with the degrees we mean by each.
_KINDS = {
    "major": "1 3 5", "minor": "1 b3 5", "augmented": "1 3 #5", "diminished": "1 b3 b5",
    "dominant-seventh": "1 3 5 b7", "major-seventh": "1 3 5 7", "minor-seventh": "1 b3 5 b7",
    "diminished-seventh": "1 b3 b5 bb7", "augmented-seventh": "1 3 #5 b7", "half-diminished-seventh": "1 b3 b5 b7",
    "minor-major-seventh": "1 b3 5 7", "major-sixth": "1 3 5 6", "minor-sixth": "1 b3 5 6",
    "dominant-ninth": "1 3 5 b7 9", "major-ninth": "1 3 5 7 9", "minor-ninth": "1 b3 5 b7 9",
    "dominant-11th": "1 5 b7 9 11", "minor-11th": "1 b3 5 b7 9 11", "dominant-13th": "1 3 5 b7 9 13",
    "major-13th": "1 3 5 7 9 13", "minor-13th": "1 b3 5 b7 9 11 13", "suspended-second": "1 2 5",
    "suspended-fourth": "1 4 5", "power": "1 5",
}
KIND_DEGREES = {k: frozenset(v.split()) for k, v in _KINDS.items()}
_NUMBER = {"1": 1, "2": 9, "b3": 3, "3": 3, "4": 11, "b5": 5, "5": 5, "#5": 5, "b6": 13, "6": 13, "bb7": 7,
           "b7": 7, "7": 7, "b9": 9, "9": 9, "#9": 9, "11": 11, "#11": 11, "b13": 13, "13": 13}
_PLAIN = {3: "3", 5: "5", 7: "7", 9: "9", 11: "11", 13: "13"}


def _kind_degrees(kind: str) -> frozenset[str]:
    from music21 import harmony

    if kind in KIND_DEGREES:
        return KIND_DEGREES[kind]
    kind = harmony.CHORD_ALIASES.get(kind, kind)
    if kind in KIND_DEGREES:
        return KIND_DEGREES[kind]
    if kind not in harmony.CHORD_TYPES:
        raise ValueError(kind)
    return frozenset(degree_label(x) for x in harmony.CHORD_TYPES[kind][0].split(","))


def _chord(cs, where: str) -> Chord:
    kind = cs.chordKind or "major"
    try:
        d = set(_kind_degrees(kind))
        for mod in cs.getChordStepModifications():
            n = int(mod.degree)
            semis = int(mod.interval.semitones) if mod.interval is not None else 0
            same = {x for x in d if _NUMBER.get(x) == n}
            if mod.modType == "subtract":
                d -= same
                continue
            acc = "b" * -semis if semis < 0 else "#" * semis
            label = degree_label(acc + str(n))
            if mod.modType == "alter":
                d -= same
            d.add(label)
        quality = canonical_quality(d)
    except (ValueError, KeyError):
        raise InputError(f"unknown chord spelling {cs.figure!r} (kind {kind!r}) in {where}") from None
    root = cs.root().pitchClass
    bass = cs.bass().pitchClass if cs.bass() is not None else None
    return Chord(root, quality, None if bass in (None, root) else bass)


def read_leadsheet_musicxml(path: str | os.PathLike, doc=None) -> Score:
    """The chord symbols of a MusicXML file (with meter, key, tempo, title, rehearsal marks).

    ``doc``: the file already parsed by music21 (the full MusicXML reader passes it on)."""
    from .musicxml import _parse, interpret

    name = os.fspath(path)
    return interpret(_leadsheet, _parse(name) if doc is None else doc, name)


def _leadsheet(doc, name: str) -> Score:
    from music21 import expressions, harmony, key, meter, tempo

    parts = list(getattr(doc, "parts", [])) or [doc]
    flat = next((p.flatten() for p in parts if p.flatten().getElementsByClass(harmony.ChordSymbol)), doc.flatten())
    symbols = [c for c in flat.getElementsByClass(harmony.ChordSymbol) if not isinstance(c, harmony.NoChord)]
    if not symbols:
        raise InputError(f"{name}: no chords (no <harmony> chord symbols)")
    whole = doc.flatten()
    ts = next(iter(whole.getElementsByClass(meter.TimeSignature)), None)
    mt = (ts.numerator, ts.denominator) if ts is not None else (4, 4)
    bar_q = mt[0] * 4 / mt[1]
    end_q = float(max(whole.highestTime, max(float(c.offset) for c in symbols) + 1e-6))
    tpq = 480
    chords = []
    for i, cs in enumerate(symbols):
        c = _chord(cs, f"{name} bar {int(float(cs.offset) // bar_q) + 1}")
        start = round(float(cs.offset) * tpq)
        stop = round(float(symbols[i + 1].offset) * tpq) if i + 1 < len(symbols) else round(end_q * tpq)
        chords.append(ChordSymbol(start, max(stop - start, 1), c.root, c.quality, c.bass))
    score = Score(tpq=tpq, chords=chords)
    from ..score import KeySignature, Tempo, TimeSignature

    score.time_signatures = [TimeSignature(0, *mt)]
    ks = next(iter(whole.getElementsByClass(key.KeySignature)), None)
    if isinstance(ks, key.Key):
        score.key_signatures = [KeySignature(0, ks.tonic.pitchClass, "minor" if ks.mode == "minor" else "major")]
    elif ks is not None:
        major = (7 * ks.sharps) % 12
        tonic, mode = estimate_key(chords, candidates={(major, "major"), ((major + 9) % 12, "minor")})
        score.key_signatures = [KeySignature(0, tonic, mode)]
    mm = next(iter(whole.getElementsByClass(tempo.MetronomeMark)), None)
    if mm is not None and mm.number:
        score.tempos = [Tempo(0, float(mm.number))]
    if doc.metadata is not None and doc.metadata.bestTitle:
        score.meta["title"] = doc.metadata.bestTitle
    marks = [[int(float(r.getOffsetInHierarchy(doc)) // bar_q), str(r.content)]
             for r in doc.recurse().getElementsByClass(expressions.RehearsalMark)]
    if marks:
        score.meta["sections"] = sorted(marks)
    limits.check_score(score, name)  # before the chart allocates a list per bar
    return chart_to_score(score_to_chart(score), tpq)


def music21_chord_symbol(c: Chord):
    """A music21 ChordSymbol for our chord: the nearest MusicXML kind plus <degree> changes."""
    from music21 import harmony

    d = quality_degrees(c.quality)
    minor = "b3" in d

    def cost(k: str) -> tuple[float, int]:
        kd = KIND_DEGREES[k]
        return len(d - kd) + 1.5 * len(kd - d) + (5 if ("b3" in kd) != minor else 0), -len(kd)

    kind = min(KIND_DEGREES, key=cost)
    kd = KIND_DEGREES[kind]
    cs = harmony.ChordSymbol(root=PC_NAMES[c.root].replace("b", "-"), kind=kind,
                             bass=None if c.bass is None else PC_NAMES[c.bass].replace("b", "-"))
    extra = set(d - kd)
    for missing in sorted(kd - d, key=lambda x: _NUMBER[x]):
        n = _NUMBER[missing]
        alt = next((x for x in sorted(extra) if _NUMBER[x] == n and x not in ("2", "4", "6", "b6")), None)
        if alt is not None:
            extra.discard(alt)
            cs.addChordStepModification(harmony.ChordStepModification("alter", n, _alter(alt)))
        else:
            cs.addChordStepModification(harmony.ChordStepModification("subtract", n, 0))
    for x in sorted(extra, key=lambda x: (_NUMBER[x], x)):
        cs.addChordStepModification(harmony.ChordStepModification("add", _NUMBER[x] if x not in ("2", "4", "6", "b6")
                                                                  else int(x[-1]), _alter(x)))
    return cs


def insert_chord_symbols(part, score: Score) -> None:
    """Put the score's chord symbols into a music21 part (for writers of full scores)."""
    for c in score.chords:
        part.insert(c.start / score.tpq, music21_chord_symbol(Chord(c.root % 12, canonical_quality(
            quality_degrees(c.quality)), None if c.bass is None or c.bass % 12 == c.root % 12 else c.bass % 12)))


def _alter(label: str) -> int:
    return label.count("#") - label.count("b")


def write_leadsheet_musicxml(score: Score, path: str | os.PathLike) -> None:
    """The score's chord symbols as a MusicXML lead sheet (bars of rests under the symbols)."""
    import warnings

    from music21 import expressions, key, metadata, meter, note, stream, tempo

    chart: Chart = score_to_chart(score)
    if not chart.bars:
        raise InputError(f"{os.fspath(path)}: nothing to write, the score has no chord symbols")
    doc, part = stream.Score(), stream.Part()
    doc.metadata = metadata.Metadata(title=chart.title or "Untitled")
    for i, bar in enumerate(chart.bars):
        m = stream.Measure(number=i + 1)
        if i == 0:
            m.insert(0, meter.TimeSignature(f"{chart.meter[0]}/{chart.meter[1]}"))
            if chart.key is not None:
                m.insert(0, key.Key(PC_NAMES[chart.key[0]].replace("b", "-"), chart.key[1]))
            if chart.tempo:
                m.insert(0, tempo.MetronomeMark(number=chart.tempo))
        if i in chart.sections:
            m.insert(0, expressions.RehearsalMark(chart.sections[i]))
        for pos, c in bar:
            m.insert(float(pos), music21_chord_symbol(c))
        m.insert(0, note.Rest(quarterLength=float(chart.beats)))
        part.append(m)
    doc.append(part)
    fd, tmp = tempfile.mkstemp(suffix=".musicxml")
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            doc.write("musicxml", fp=tmp)
        with open(tmp, "rb") as f:
            data = f.read()
    finally:
        os.unlink(tmp)
    atomic_write(os.fspath(path), data)


# music21's figure for qualities whose lead-sheet spelling its parser does not take.
MUSIC21_FIGURES = {"69": "6add9", "m69": "m6add9", "mmaj7": "mM7", "maj9": "M9", "mmaj9": "mM9", "maj13": "M13",
                   "maj9#11": "M9#11", "9sus4": "7sus4add9", "13sus4": "7sus4add9add13", "7b9sus4": "7sus4b9",
                   "7b13sus4": "7sus4b13"}


def music21_crosscheck() -> tuple[dict, list[str]]:
    """Our pitch classes against ``music21.harmony.ChordSymbol``'s for every quality, on C.

    Returns ({quality: (ours, music21's)} where they differ, [qualities music21 cannot spell]).
    """
    import warnings

    from music21 import harmony

    from ..harmony import QUALITIES, format_chord, quality_pcs

    differ, unsupported = {}, []
    for q in QUALITIES:
        fig = "C" + MUSIC21_FIGURES[q] if q in MUSIC21_FIGURES else format_chord(Chord(0, q), "leadsheet")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = frozenset(p.pitchClass for p in harmony.ChordSymbol(fig).pitches)
        except Exception:
            unsupported.append(q)
            continue
        ours = quality_pcs(0, q)
        if theirs != ours:
            differ[q] = (sorted(ours), sorted(theirs))
    return differ, unsupported
