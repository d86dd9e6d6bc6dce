"""Notes + syllables -> a timed phoneme score: what is sung when, in seconds.

The singer's rule (and NPSS's): the vowel starts on the note's onset and is held through it;
consonants before the vowel are placed before the onset, consonants after it close the note.
Consonants take their usual length (stops short, fricatives longer), squeezed when the notes
leave no room. A note with no syllable of its own (a melisma) carries on the previous vowel.
The score is also the label format of a singing corpus: HTK ``.lab`` lines ``start end phone``
in 100 ns units, as the public singing datasets ship them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .phonemes import PAUSE, PhoneSet, Syllable, split_syllables, syllable_phones, word_phones
from .sing_score import Song

__all__ = ["LEAD_IN", "PhonemeScore", "Segment", "consonant_seconds", "phonemize", "plan", "read_lab", "write_lab"]

log = logging.getLogger(__name__)

LEAD_IN = 0.4  # s of silence before the first note (room for its consonants) and after the last
_STOPS, _NASALS, _LIQUIDS, _GLIDES = {"P", "B", "T", "D", "K", "G"}, {"M", "N", "NG"}, {"L", "R"}, {"W", "Y"}


def consonant_seconds(phone: str) -> float:
    """A consonant's unhurried length in singing."""
    if phone in _STOPS:
        return 0.06
    if phone in ("CH", "JH"):
        return 0.09
    if phone in _NASALS:
        return 0.07
    if phone in _LIQUIDS:
        return 0.06
    if phone in _GLIDES or phone == "HH":
        return 0.05
    return 0.09  # fricatives


@dataclass(frozen=True)
class Segment:
    phone: str
    start: float  # s
    end: float  # s
    note: int  # index into PhonemeScore.notes, -1 for pauses

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class PhonemeScore:
    """Phoneme segments covering [0, duration) without gaps, and the notes they are sung on."""

    segments: list[Segment]
    notes: np.ndarray  # (N, 3): start s, end s, MIDI pitch
    duration: float

    def frame_labels(self, phones: list[str], frame_period: float = 0.005) -> dict[str, np.ndarray]:
        """Per-frame labels: phone id (with previous and next), position in and length of the phone (s), pitch."""
        n = int(np.ceil(self.duration / frame_period))
        t = (np.arange(n) + 0.5) * frame_period
        starts = np.array([s.start for s in self.segments])
        idx = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(self.segments) - 1)
        ids = np.array([phones.index(s.phone) if s.phone in phones else 0 for s in self.segments])
        seg_start = starts[idx]
        seg_len = np.array([max(s.duration, 1e-6) for s in self.segments])[idx]
        pitch = np.zeros(n, np.float32)
        for s, e, p in self.notes:
            pitch[(t >= s) & (t < e)] = p
        return {
            "phone": ids[idx], "prev": ids[np.maximum(idx - 1, 0)], "next": ids[np.minimum(idx + 1, len(ids) - 1)],
            "position": ((t - seg_start) / seg_len).astype(np.float32), "length": seg_len.astype(np.float32),
            "pitch": pitch,
        }


def phonemize(song: Song, ps: PhoneSet) -> tuple[list[Syllable | None], list[str]]:
    """One Syllable per note (None: the note carries on the previous vowel) and the unknown words."""
    unknown: list[str] = []
    out: list[Syllable | None] = [None] * len(song.notes)
    if not song.has_lyrics:
        la = syllable_phones(ps.default_syllable, ps)
        return [la] * len(song.notes), unknown
    i = 0
    notes = song.notes
    while i < len(notes):
        n = notes[i]
        if not n.text:
            i += 1
            continue
        word = [i]  # indices of the notes holding this word's syllables
        if n.syllabic == "begin":
            j = i + 1
            while j < len(notes) and (notes[j].text is None or notes[j].syllabic == "middle"):
                if notes[j].text:
                    word.append(j)
                j += 1
            if j < len(notes) and notes[j].text and notes[j].syllabic == "end":
                word.append(j)
        texts = [notes[k].text for k in word]
        phones = word_phones("".join(texts), ps, unknown)
        sylls = split_syllables(phones, len(word), ps) if len(word) > 1 else None
        if sylls is None:
            throwaway: list[str] = []
            sylls = [syllable_phones(t, ps, unknown if len(word) == 1 else throwaway) for t in texts]
        for k, s in zip(word, sylls):
            out[k] = s
        i = word[-1] + 1
    return out, unknown


def plan(song: Song, syllables: list[Syllable | None], *, lead_in: float = LEAD_IN) -> PhonemeScore:
    """Lay the syllables out in time (seconds through the song's tempo map), consonants around the onsets."""
    if not song.notes:
        raise InputError("nothing to sing: no notes")
    starts = lead_in + song.seconds_at([n.start for n in song.notes])
    ends = lead_in + song.seconds_at([n.end for n in song.notes])
    notes = np.stack([starts, ends, np.array([n.pitch for n in song.notes], np.float64)], axis=1)
    # Groups: a syllable's note and the melisma notes that carry on its vowel without a rest.
    groups: list[list] = []  # [syllable, first note, last note]
    for k, syl in enumerate(syllables):
        contiguous = groups and notes[k, 0] - notes[groups[-1][2], 1] < 1e-6
        if (syl is None or song.notes[k].extend) and contiguous:
            groups[-1][2] = k
        elif syl is None:  # a vowel after a rest with no syllable: sing the last vowel again
            prev = groups[-1][0] if groups else Syllable((), "AH", ())
            groups.append([Syllable((), prev.vowel, ()), k, k])
        else:
            groups.append([syl, k, k])
    spans = [(float(notes[a, 0]), float(notes[b, 1])) for _, a, b in groups]
    onset = [[consonant_seconds(p) for p in g[0].onset] for g in groups]
    coda = [[consonant_seconds(p) for p in g[0].coda] for g in groups]
    # Onsets may use the rest before the note and at most 40 % of the previous group.
    for i, (s, _) in enumerate(spans):
        room = s - (spans[i - 1][0] + 0.6 * (spans[i - 1][1] - spans[i - 1][0])) if i else s
        total = sum(onset[i])
        if total > room > 0:
            onset[i] = [d * room / total for d in onset[i]]
        elif room <= 0:
            onset[i] = [0.0 for _ in onset[i]]
    segs: list[Segment] = []
    for i, ((syl, a, b), (s, e)) in enumerate(zip(groups, spans)):
        intrusion = max(0.0, sum(onset[i + 1]) - (spans[i + 1][0] - e)) if i + 1 < len(groups) else 0.0
        room = 0.6 * (e - s)
        if intrusion + sum(coda[i]) > room:  # keep at least 40 % of the group for its vowel
            f = room / (intrusion + sum(coda[i]))
            intrusion *= f
            coda[i] = [d * f for d in coda[i]]
            if i + 1 < len(groups) and sum(onset[i + 1]) > 0:  # the next onset shrinks to what is left
                g = (spans[i + 1][0] - e + intrusion) / sum(onset[i + 1])
                onset[i + 1] = [d * g for d in onset[i + 1]]
        t = s - sum(onset[i])
        for p, d in zip(syl.onset, onset[i]):
            segs.append(Segment(p, t, t + d, a))
            t += d
        vowel_end = e - intrusion - sum(coda[i])
        segs.append(Segment(syl.vowel, s, vowel_end, a))
        t = vowel_end
        for p, d in zip(syl.coda, coda[i]):
            segs.append(Segment(p, t, t + d, b))
            t += d
    total = float(notes[-1, 1] + lead_in)
    return PhonemeScore(_fill_pauses([s for s in segs if s.duration > 1e-6], total), notes, total)


def _fill_pauses(segs: list[Segment], total: float) -> list[Segment]:
    out, t = [], 0.0
    for s in segs:
        if s.start > t + 1e-6:
            out.append(Segment(PAUSE, t, s.start, -1))
        start = max(s.start, t)
        if s.end > start:
            out.append(Segment(s.phone, start, s.end, s.note))
            t = s.end
    if total > t + 1e-6:
        out.append(Segment(PAUSE, t, total, -1))
    return out


def write_lab(path: str | Path, segments: list[Segment]) -> None:
    """HTK label file: ``start end phone`` per line, times in 100 ns units (atomic write)."""
    from ..io.atomic import atomic_write

    lines = [f"{round(s.start * 1e7)} {round(s.end * 1e7)} {s.phone}" for s in segments]
    atomic_write(path, ("\n".join(lines) + "\n").encode())


def read_lab(path: str | Path) -> list[Segment]:
    """Read an HTK ``.lab`` file (100 ns units); ``sil``/``pau``/``sp`` all become pauses."""
    segs = []
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {path}: {e}") from None
    for k, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            start, end, phone = int(parts[0]), int(parts[1]), parts[2]
        except (IndexError, ValueError):
            raise InputError(f"{path}:{k}: expected 'start end phone', got {line!r}") from None
        phone = PAUSE if phone.lower() in ("sil", "pau", "sp", "br") else phone.upper()
        segs.append(Segment(phone, start / 1e7, end / 1e7, -1))
    if not segs:
        raise InputError(f"{path}: no labels")
    return segs
