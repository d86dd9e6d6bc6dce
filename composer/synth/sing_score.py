"""Songs to sing: a melody with one syllable of lyrics per note, read from MusicXML, MIDI or ABC.

Times stay in quarter notes; the tempo map (``Song.qpm`` at the start, then every tempo mark in
``Song.tempos``) turns them into seconds, so ``--tempo`` only rescales the map. MusicXML and MIDI
go through music21 (MIDI lyric events, with a trailing ``-`` marking a word that goes on); ABC
through our reader, with each ``w:`` line aligned to the music line just above it by the ABC 2.1
rules (section 5.1): ``-`` splits a word between notes, ``_`` holds the last syllable over the
next note, ``*`` skips a note, ``~`` joins words on one note, ``\\-`` is a literal hyphen, ``|``
moves on to the next bar; tied notes count as two notes, rests and grace notes as none.
"""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

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
    qpm: float = 100.0  # the tempo at the start
    title: str = ""
    warnings: list[str] = field(default_factory=list)
    tempos: list[tuple[float, float]] = field(default_factory=list)  # later changes: (quarter note, qpm)

    @property
    def has_lyrics(self) -> bool:
        return any(n.text for n in self.notes)

    @property
    def seconds(self) -> float:
        return float(self.seconds_at(self.notes[-1].end)) if self.notes else 0.0

    def seconds_at(self, quarters):
        """Quarter-note positions -> seconds from the start, through every tempo change."""
        marks = sorted((q, t) for q, t in self.tempos if q > 0)
        at = np.array([0.0] + [q for q, _ in marks])
        spq = 60.0 / np.array([self.qpm] + [t for _, t in marks])
        elapsed = np.concatenate([[0.0], np.cumsum(np.diff(at) * spq[:-1])])
        q = np.asarray(quarters, np.float64)
        i = np.searchsorted(at, q, side="right") - 1
        i = np.clip(i, 0, len(at) - 1)
        return elapsed[i] + (q - at[i]) * spq[i]

    def with_tempo(self, qpm: float) -> Song:
        """The song at ``qpm`` from the start; later tempo marks keep their ratio to it."""
        f = qpm / self.qpm
        return replace(self, qpm=qpm, tempos=[(q, t * f) for q, t in self.tempos])

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


def parse_lyric_line(text: str, bars: bool = False) -> list[tuple[str, str | None, str]]:
    """An ABC ``w:`` line (or lyrics typed on the command line) -> events in note order.

    Each event is ``("syl", text, syllabic)``, ``("hold", None, "")`` (the note carries on the
    last syllable), ``("skip", None, "")``, and with ``bars`` also ``("bar", None, "")`` for ``|``.
    A hyphen right after a syllable joins it to the next one; a hyphen after a space or another
    hyphen is a note of its own in the word (ABC 2.1: ``syll-a--ble`` = ``syll-a -ble``, 4 notes).
    """
    events: list[tuple[str, str | None, str]] = []
    text = text.replace("\\-", "\x00")
    in_word = False  # the last syllable ended with a hyphen: the word goes on
    after_space = True
    for m in re.finditer(r"\s+|[^\s\-_*|]+|-|_|\*|\|", text):
        tok = m.group()
        if tok.isspace():
            after_space = True
            continue
        glued, after_space = not after_space, False
        if tok == "|":
            if bars:
                events.append(("bar", None, ""))
            continue
        if tok == "-":
            if glued and events and events[-1][0] == "syl" and not in_word:
                kind, syl, syllabic = events[-1]
                events[-1] = (kind, syl, "begin" if syllabic == "single" else "middle")
            elif events:  # a hyphen on its own: one more note of the same word
                last = next((i for i in range(len(events) - 1, -1, -1) if events[i][0] == "syl"), None)
                if last is not None and not in_word:
                    kind, syl, syllabic = events[last]
                    events[last] = (kind, syl, "begin" if syllabic == "single" else "middle")
                events.append(("hold", None, ""))
            in_word = bool(events)
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
    qpm, changes = _tempo_map([(t.time / tpq, t.qpm) for t in score.tempos])
    return Song(sung, qpm, str(score.meta.get("title", "")), warnings, changes)


def _tempo_map(marks: list[tuple[float, float]], default: float = 100.0) -> tuple[float, list[tuple[float, float]]]:
    """Tempo marks (quarter note, qpm) -> (tempo at the start, later changes); a mark that
    repeats the tempo in force is dropped, and the last of several marks at one time wins."""
    at: dict[float, float] = {}
    for q, t in sorted(marks, key=lambda m: m[0]):
        if t and t > 0:
            at[max(float(q), 0.0)] = float(t)
    if not at:
        return default, []
    times = sorted(at)
    start = at[times[0]]  # a first mark after the start also sets the tempo before it
    changes, now = [], start
    for q in times[1:]:
        if at[q] != now:
            changes.append((q, at[q]))
            now = at[q]
    return start, changes


def _read_abc_song(path: Path) -> Song:
    from ..io.abc import AbcError, read_abc, split_tunes
    from ..io.textfile import decode_text

    try:
        tunes = read_abc(path)
    except AbcError as e:
        raise InputError(f"{path}: cannot read ABC ({e})") from None
    if not tunes:
        raise InputError(f"{path}: no tune in this ABC file")
    score = tunes[0]
    lyrics = score.meta.get("lyrics", [])
    if not lyrics:
        return song_from_score(score)
    if len([t for t in score.tracks if not t.is_drum and len(t.notes)]) > 1:
        song = song_from_score(score, " ".join(lyrics))
        song.warnings.append("the tune has several voices: its w: lines are sung one after another, "
                             "not aligned per music line")
        return song
    header, texts = split_tunes(decode_text(path.read_bytes(), str(path)))
    try:
        return _align_abc_lines(score, header, texts[0][1])
    except AbcError as e:  # the marked copy parses as the original did; never expected
        raise InputError(f"{path}: cannot align the w: lines ({e})") from None


_ABC_FIELD_RE = re.compile(r"([A-Za-z+]):(?![|:\]])")
_ABC_TIE_RE = re.compile(r'("[^"\n]*"|![^!\n]*!|\+[^+\n]*\+|\[[A-Za-z]:[^\]\[\n]*\]|%.*)|-')
_LINE_MARK = "\x01line"


def _abc_lyric_lines(tune: str) -> tuple[list[str], dict[int, str], list[str]]:
    """Tune text -> (its lines with each music line marked by an inline ``[P:]`` field and its
    ties cut, the first w: text after each music line by line number, warnings)."""
    lines, lyric, warnings = [], {}, []
    in_body = not re.search(r"^K:", tune, re.MULTILINE)  # a fragment without K: is all body
    music, last_field, continued, current, verses, orphans = -1, "", False, None, 0, 0
    for line in tune.split("\n"):
        field_m = _ABC_FIELD_RE.match(line)
        if line.startswith("%") or not line.strip():
            lines.append(line)
            continue
        if field_m:
            letter, value = field_m.group(1), line[2:].split("%", 1)[0].strip().rstrip("\\").strip()
            if letter == "K":
                in_body = True
            if letter == "w":
                current = None
                if music < 0:
                    orphans += 1
                elif music in lyric:
                    verses += 1
                else:
                    lyric[music], current = value, music
            elif letter == "+" and last_field == "w" and current is not None:
                lyric[current] += " " + value  # field continuation (ABC 2.1 section 3.3)
            if letter != "+":
                last_field = letter
            lines.append(line)
            continue
        if not in_body:
            lines.append(line)
            continue
        body = line.split("%", 1)[0].rstrip()
        if not continued:
            music += 1
            line = f"[P:{_LINE_MARK}{music}]" + line
        continued = body.endswith("\\")
        lines.append(_ABC_TIE_RE.sub(lambda m: m.group(1) or "", line))
    if verses:
        warnings.append(f"{verses} further w: line(s) after a music line (later verses) are not sung")
    if orphans:
        warnings.append(f"{orphans} w: line(s) before the first music line are not sung")
    return lines, lyric, warnings


def _align_abc_lines(score, header: str, tune: str) -> Song:
    """Each w: line on the notes of the music line above it (ABC 2.1 section 5.1).

    A copy of the tune with every music line marked and every tie cut is read again: the marks
    give the tick where each line starts, and the untied notes are the lyric slots (tied notes
    count as two). A syllable that lands on the second note of a tie re-articulates it.
    """
    from ..io.abc import parse_tune

    lines, lyric, warnings = _abc_lyric_lines(tune)
    marked = parse_tune(header + "\n".join(lines), tpq=score.tpq)
    starts = sorted((t, int(label[len(_LINE_MARK):])) for t, label in marked.meta.get("parts", [])
                    if label.startswith(_LINE_MARK))
    melody = next(t for t in score.tracks if not t.is_drum and len(t.notes))
    untied = next(t for t in marked.tracks if not t.is_drum and len(t.notes))
    notes = _monophonic([(s, d, int(p)) for s, d, p, _ in melody.notes.tolist()])
    slots = sorted({s for s, _, _ in _monophonic([(s, d, int(p)) for s, d, p, _ in untied.notes.tolist()])})
    bars = sorted({t for t, _ in marked.meta.get("bars", [])})
    given: dict[int, tuple[str, str | None, str]] = {}
    left = 0
    for k, (line_start, m) in enumerate(starts):
        if m not in lyric:
            continue
        line_end = starts[k + 1][0] if k + 1 < len(starts) else float("inf")
        mine = [t for t in slots if line_start <= t < line_end]
        i = 0
        for ev in parse_lyric_line(lyric[m], bars=True):
            if ev[0] == "bar":
                # "|" moves on to the next bar, unless the next note already starts one
                if 0 < i < len(mine) and not any(mine[i - 1] < b <= mine[i] for b in bars):
                    nxt = next((b for b in bars if b > mine[i - 1]), None)
                    i = next((j for j, t in enumerate(mine) if nxt is not None and t >= nxt), len(mine))
                continue
            if i >= len(mine):
                left += ev[0] == "syl"
                continue
            given[mine[i]] = ev
            i += 1
    if left:
        warnings.append(f"{left} syllable(s) of the w: lines had no note left in their music line and are not sung")
    sung: list[SungNote] = []
    q = score.tpq
    for s, d, p in notes:
        cuts = [s] + [t for t in slots if s < t < s + d and given.get(t, ("",))[0] == "syl"] + [s + d]
        for a, b in itertools.pairwise(cuts):
            kind, text, syllabic = given.get(a, ("none", None, ""))
            sung.append(SungNote(a / q, (b - a) / q, p, text, syllabic) if kind == "syl"
                        else SungNote(a / q, (b - a) / q, p, extend=kind == "hold"))
    qpm, changes = _tempo_map([(t.time / score.tpq, t.qpm) for t in score.tempos])
    return Song(sung, qpm, str(score.meta.get("title", "")), warnings, changes)


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
    flat = parsed.flatten()
    qpm, changes = _tempo_map([(float(m.getOffsetBySite(flat)), m.getQuarterBPM() or 0.0)
                               for m in flat.getElementsByClass("MetronomeMark")])
    title = getattr(getattr(parsed, "metadata", None), "title", None) or ""
    return Song(notes, qpm, str(title), tempos=changes)


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
