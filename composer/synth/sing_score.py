"""Songs to sing: a melody with one syllable of lyrics per note, read from MusicXML, MIDI or ABC.

Times stay in quarter notes (``Song.qpm`` turns them into seconds), so ``--tempo`` only swaps the
number. MusicXML and MIDI go through music21 (MIDI lyric events, with a trailing ``-`` marking a
word that goes on); ABC through our reader, with its ``w:`` lines aligned to the notes by the
ABC 2.1 rules: ``-`` splits a word between notes, ``_`` holds the last syllable over the next
note, ``*`` skips a note, ``~`` joins words on one note, ``|`` is a bar line, ``\\-`` a hyphen.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import InputError

__all__ = ["Song", "SungNote", "align_lyrics", "parse_lyric_line", "read_song", "song_from_score"]

log = logging.getLogger(__name__)

SONG_SUFFIXES = (".musicxml", ".xml", ".mxl", ".mid", ".midi", ".kar", ".abc")


@dataclass(frozen=True)
class SungNote:
    start: float  # quarter notes from the start of the song
    duration: float  # quarter notes
    pitch: int  # MIDI
    text: str | None = None  # the syllable sung on this note; None with extend=False: no lyric given
    syllabic: str = "single"  # single | begin | middle | end (MusicXML's terms)
    extend: bool = False  # a melisma: this note carries on the previous note's vowel

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass
class Song:
    notes: list[SungNote]
    qpm: float = 100.0
    title: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def has_lyrics(self) -> bool:
        return any(n.text for n in self.notes)

    @property
    def seconds(self) -> float:
        return self.notes[-1].end * 60.0 / self.qpm if self.notes else 0.0

    def transposed(self, semitones: int) -> Song:
        return replace(self, notes=[replace(n, pitch=n.pitch + semitones) for n in self.notes])


def _monophonic(notes: list[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """Highest note of each onset; a note is cut where the next one starts."""
    by_start: dict[float, tuple[float, float, int]] = {}
    for s, d, p in notes:
        if d > 0 and (s not in by_start or p > by_start[s][2]):
            by_start[s] = (s, d, p)
    out = sorted(by_start.values())
    return [(s, min(d, out[i + 1][0] - s) if i + 1 < len(out) else d, p) for i, (s, d, p) in enumerate(out)]


def parse_lyric_line(text: str) -> list[tuple[str, str | None, str]]:
    """An ABC ``w:`` line (or lyrics typed on the command line) -> events in note order.

    Each event is ``("syl", text, syllabic)``, ``("hold", None, "")`` or ``("skip", None, "")``.
    """
    events: list[tuple[str, str | None, str]] = []
    text = text.replace("\\-", "\x00")
    in_word = False  # the last syllable ended with a hyphen
    for tok in re.findall(r"[^\s\-_*|]+|-|_|\*|\|", text):
        if tok == "|":
            continue
        if tok == "-":
            if events and events[-1][0] == "syl" and not in_word:
                kind, syl, syllabic = events[-1]
                events[-1] = (kind, syl, "begin" if syllabic == "single" else "middle")
                in_word = True
            elif in_word:  # a second hyphen: the syllable is held over one more note
                events.append(("hold", None, ""))
            continue
        if tok == "_":
            events.append(("hold", None, ""))
            continue
        if tok == "*":
            events.append(("skip", None, ""))
            in_word = False
            continue
        syl = tok.replace("~", " ").replace("\x00", "-")
        events.append(("syl", syl, "end" if in_word else "single"))
        in_word = False
    return events


def align_lyrics(notes: list[tuple[float, float, int]], lyrics: str, repeat: bool = False) -> tuple[list[SungNote], int]:
    """Put the syllables of ``lyrics`` on ``notes`` (start, duration, pitch) in order.

    Returns the notes and the number of syllables left over (more text than notes). Notes past
    the end of the text start the text again with ``repeat`` (verses), else have no lyric.
    """
    events = parse_lyric_line(lyrics)
    out, k = [], 0
    for s, d, p in notes:
        if repeat and k == len(events) and any(e[0] == "syl" for e in events):
            k = 0
        if k < len(events):
            kind, syl, syllabic = events[k]
            k += 1
            out.append(SungNote(s, d, p, syl, syllabic) if kind == "syl" else SungNote(s, d, p, extend=kind == "hold"))
        else:
            out.append(SungNote(s, d, p))
    left = sum(1 for e in events[k:] if e[0] == "syl")
    return out, left


def song_from_score(score, lyrics: str | None = None, track: int | None = None, repeat: bool = False) -> Song:
    """A Score's melody (the track named Melody, else the first pitched one) with ``lyrics`` on it
    (sung again from the start when the tune is longer, with ``repeat``)."""
    pitched = [t for t in score.tracks if not t.is_drum and len(t.notes)]
    if not pitched:
        raise InputError("nothing to sing: the score has no pitched notes")
    if track is None:
        named = [t for t in pitched if t.name.lower() in ("melody", "voice", "vocals", "lead")]
        chosen = (named or pitched)[0]
    else:
        chosen = pitched[track]
    tpq = score.tpq
    notes = _monophonic([(s / tpq, d / tpq, int(p)) for s, d, p, _ in chosen.notes.tolist()])
    if lyrics:
        sung, left = align_lyrics(notes, lyrics, repeat=repeat)
        warnings = [f"{left} syllables of the lyrics had no note left and are not sung"] if left else []
    else:
        sung, warnings = [SungNote(s, d, p) for s, d, p in notes], []
    qpm = score.tempos[0].qpm if score.tempos else 100.0
    return Song(sung, qpm, str(score.meta.get("title", "")), warnings)


def _read_abc_song(path: Path) -> Song:
    from ..io.abc import AbcError, read_abc

    try:
        tunes = read_abc(path)
    except AbcError as e:
        raise InputError(f"{path}: cannot read ABC ({e})") from None
    if not tunes:
        raise InputError(f"{path}: no tune in this ABC file")
    score = tunes[0]
    lyrics = " ".join(score.meta.get("lyrics", []))
    return song_from_score(score, lyrics or None)


def _read_music21_song(path: Path) -> Song:
    import music21

    try:
        parsed = music21.converter.parse(str(path))
    except Exception as e:  # noqa: BLE001 (music21 raises many types on malformed files)
        why = str(e).split(", got")[0][:120]  # music21 appends the raw bytes it choked on
        raise InputError(f"{path}: cannot read ({type(e).__name__}: {why})") from None
    parts = list(getattr(parsed, "parts", [])) or [parsed]
    with_lyrics = [p for p in parts if any(n.lyrics for n in p.recurse().notes)]
    part = (with_lyrics or [p for p in parts if p.recurse().notes] or parts)[0]
    raw: list[list] = []
    for n in part.flatten().notes:
        ql = float(n.quarterLength)
        if ql <= 0:  # grace notes take no time
            continue
        pitch = max(p.midi for p in n.pitches)
        tie = n.tie.type if n.tie is not None else None
        if tie in ("stop", "continue") and raw and raw[-1][2] == pitch:
            raw[-1][1] = float(n.offset) - raw[-1][0] + ql
            continue
        lyric = n.lyrics[0] if n.lyrics else None
        raw.append([float(n.offset), ql, pitch, lyric])
    if not raw:
        raise InputError(f"{path}: no notes to sing")
    cut = _monophonic([(s, d, p) for s, d, p, _ in raw])
    lyric_at = {s: ly for s, _, _, ly in raw}
    notes, open_word = [], False
    for s, d, p in cut:
        ly = lyric_at.get(s)
        text = (ly.text or "").strip() if ly is not None else ""
        if not text:
            notes.append(SungNote(s, d, p, extend=bool(notes) and (open_word or notes[-1].text is not None or notes[-1].extend)))
            continue
        syllabic = ly.syllabic or "single"
        if text.endswith("-") and len(text) > 1:  # MIDI karaoke style "Twin-"
            text, syllabic = text[:-1], ("middle" if open_word else "begin")
        elif syllabic == "single" and open_word:
            syllabic = "end"
        open_word = syllabic in ("begin", "middle")
        notes.append(SungNote(s, d, p, text, syllabic))
    if not any(n.text for n in notes):
        notes = [replace(n, extend=False) for n in notes]
    qpm = 100.0
    marks = list(parsed.flatten().getElementsByClass("MetronomeMark"))
    if marks and marks[0].getQuarterBPM():
        qpm = float(marks[0].getQuarterBPM())
    title = getattr(getattr(parsed, "metadata", None), "title", None) or ""
    return Song(notes, qpm, str(title))


def read_song(path: str | Path) -> Song:
    """Read a song to sing from MusicXML (.musicxml/.xml/.mxl), MIDI (.mid/.kar) or ABC (.abc)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"cannot read {p}: no such file")
    ext = p.suffix.lower()
    if ext not in SONG_SUFFIXES:
        raise InputError(f"cannot sing {p}: give MusicXML, MIDI or ABC ({', '.join(SONG_SUFFIXES)})")
    song = _read_abc_song(p) if ext == ".abc" else _read_music21_song(p)
    if not song.notes:
        raise InputError(f"{p}: no notes to sing")
    return song
