"""The default voice: no singing data, eSpeak NG's phonemes made to sing through WORLD.

For each sung syllable eSpeak NG speaks its phonemes on one pitch; WORLD analyses that speech;
each phoneme's frames (found from eSpeak's phoneme events) are stretched to the length the
phoneme score gives it (consonants never faster than spoken, vowels in their steady middle so
the transitions keep their natural speed), levelled in loudness and re-synthesised with the
score's F0. What it sounds like: a clear, slightly robotic speech voice held on pitch.
"""

from __future__ import annotations

import logging

import numpy as np

from .phonemes import PAUSE, PhoneSet
from .sing_plan import PhonemeScore, Segment
from .world import FRAME_PERIOD, WorldFeatures, analyze

__all__ = ["SILENCE_C0", "DefaultVoice", "syllables_of"]

log = logging.getLogger(__name__)

SILENCE_C0 = -12.0  # log-amplitude of silence frames (about -104 dB)
_SONORANTS = {"L", "R", "M", "N", "NG", "W", "Y"}
_FP = FRAME_PERIOD / 1000.0


def syllables_of(segments: list[Segment], ps: PhoneSet) -> list[list[int]]:
    """Segment indices grouped by syllable: the consonants of a vowel's note before it, the vowel,
    and the consonants after it up to the next syllable's onset (which belong to a later note)."""
    groups: list[list[int]] = []
    vowel_note = -2
    pending: list[int] = []  # consonants not yet given to a syllable
    for i, s in enumerate(segments):
        if s.phone == PAUSE:
            if pending and groups:
                groups[-1] += pending
            pending = []
            continue
        if ps.is_vowel(s.phone):
            coda = [j for j in pending if segments[j].note != s.note] if groups else []
            onset = [j for j in pending if j not in coda]
            if coda:
                groups[-1] += coda
            groups.append(onset + [i])
            vowel_note, pending = s.note, []
        else:
            pending.append(i)
    if pending:
        if groups and vowel_note >= 0:
            groups[-1] += pending
        else:
            groups.append(pending)
    return groups


class DefaultVoice:
    """Phoneme timbres from eSpeak NG, cached per syllable for the life of the object."""

    name = "default"

    def __init__(self, ps: PhoneSet, order: int = 59) -> None:
        self.ps, self.order = ps, order
        self.sample_rate = 0
        self.fft_size = 0
        self._cache: dict[tuple[str, ...], tuple[WorldFeatures, list[tuple[int, int]]]] = {}

    def _syllable(self, phones: tuple[str, ...]) -> tuple[WorldFeatures, list[tuple[int, int]]]:
        """WORLD features of the spoken syllable and each phone's (first, end) frame in them."""
        if phones in self._cache:
            return self._cache[phones]
        from .sing_espeak import speak_phonemes

        spelled = "".join(("'" if self.ps.is_vowel(p) else "") + self.ps.to_espeak.get(p, "@") for p in phones)
        x, sr, events = speak_phonemes(spelled, self.ps.espeak_voice)
        pad = np.zeros(int(0.05 * sr), np.float32)
        feat = analyze(np.concatenate([pad, x, pad]), sr, order=self.order)
        self.sample_rate, self.fft_size = sr, feat.fft_size
        n = len(feat)
        loud = np.flatnonzero(np.abs(x) > 0.01 * max(np.abs(x).max(), 1e-9))
        end = (len(pad) + (loud[-1] if len(loud) else len(x))) / sr
        times = [t + len(pad) / sr for t, _ in events]
        if len(times) != len(phones):  # eSpeak merged or split a phone: share the speech evenly
            first = (len(pad) + (loud[0] if len(loud) else 0)) / sr
            times = list(np.linspace(first, end, len(phones) + 1)[:-1])
        bounds = [*times, end]
        spans = []
        for k in range(len(phones)):
            a = min(round(bounds[k] / _FP), n - 1)
            b = min(max(round(bounds[k + 1] / _FP), a + 1), n)
            spans.append((a, b))
        self._cache[phones] = (feat, spans)
        return feat, spans

    def render(self, score: PhonemeScore, f0: np.ndarray, progress: bool = False) -> WorldFeatures:
        """WORLD features for the whole score: timbre per phoneme, F0 from ``f0`` (Hz per frame)."""
        from tqdm import tqdm

        n = len(f0)
        groups = syllables_of(score.segments, self.ps)
        mcep = np.zeros((n, self.order + 1))
        mcep[:, 0] = SILENCE_C0
        bap_rows: list[tuple[int, int, np.ndarray]] = []
        voiced = np.zeros(n, bool)
        levels = []
        for g in tqdm(groups, desc="syllables", unit="syl", disable=not progress, leave=False):
            phones = tuple(score.segments[i].phone for i in g)
            feat, spans = self._syllable(phones)
            vowel = [k for k, p in enumerate(phones) if self.ps.is_vowel(p)]
            periodic = np.median(feat.bap[feat.f0 > 0], axis=0) if (feat.f0 > 0).any() else feat.bap.min(axis=0)
            level = np.median(feat.mcep[slice(*spans[vowel[0]]), 0]) if vowel else None
            for k, i in enumerate(g):
                seg = score.segments[i]
                a, b = round(seg.start / _FP), min(round(seg.end / _FP), n)
                if b <= a:
                    continue
                before_vowel = not vowel or k < vowel[0]
                src = _warp(spans[k][0], spans[k][1], b - a, self.ps.is_vowel(seg.phone), before_vowel)
                mcep[a:b] = feat.mcep[src]
                rows = feat.bap[src]
                if seg.phone in _SONORANTS or self.ps.is_vowel(seg.phone):
                    # Sung vowels and sonorants are voiced throughout (no aspiration, no fading
                    # final consonant): at most as aperiodic as the syllable's voiced frames.
                    rows = np.minimum(rows, periodic)
                bap_rows.append((a, b, rows))
                voiced[a:b] = seg.phone not in self.ps.voiceless
                if level is not None:
                    levels.append((a, b, level))
        if not bap_rows:
            raise ValueError("nothing to sing")
        bap = np.zeros((n, bap_rows[0][2].shape[1]))
        for a, b, rows in bap_rows:
            bap[a:b] = rows
        if levels:  # level each syllable's loudness to the song's typical vowel
            ref = float(np.median([lv for _, _, lv in levels]))
            for a, b, lv in levels:
                mcep[a:b, 0] += 0.7 * (ref - lv)
        sounding = mcep[:, 0] > SILENCE_C0
        kernel = np.array([0.25, 0.5, 0.25])  # soften the joins between syllables
        for c in range(mcep.shape[1]):
            mcep[1:-1, c] = np.convolve(mcep[:, c], kernel, mode="same")[1:-1]
        mcep[~sounding, 0] = SILENCE_C0
        out_f0 = np.where(voiced & sounding, f0, 0.0)
        return WorldFeatures(out_f0, mcep, bap, self.sample_rate, self.fft_size)


def _warp(first: int, end: int, length: int, vowel: bool, before_vowel: bool = True) -> np.ndarray:
    """Source frame index for each of ``length`` target frames.

    Vowels keep up to 30 ms at each edge at natural speed (the transitions carry the consonants'
    identity) and stretch the middle. Consonants are stretched uniformly when longer than
    spoken, but never sped up: eSpeak's slow speech gives e.g. a W of 200 ms, and squeezing it
    into the 50 ms the score allows made its formant glide and fade-in 4x faster than speech,
    which both YIN and pYIN then heard up to 1.5 semitones off the F0 (legato onsets looked
    40 ms early). A shorter consonant keeps the frames next to its vowel, at natural speed.
    """
    src = end - first
    if not vowel and length < src:
        start = end - length if before_vowel else first
        return start + np.arange(length)
    if not vowel or length <= src:
        return first + np.minimum((np.arange(length) * src / length).astype(int), src - 1)
    edge = min(6, src // 3, length // 3)
    middle = length - 2 * edge
    mid = first + edge + np.minimum((np.arange(middle) * (src - 2 * edge) / middle).astype(int), max(src - 2 * edge - 1, 0))
    return np.concatenate([first + np.arange(edge), mid, end - edge + np.arange(edge)]).astype(int)
