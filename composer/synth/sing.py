"""Singing synthesis from a score with lyrics: ``sing(song) -> audio``, after NPSS's pipeline.

score + lyrics -> phonemes (per language) -> timed phoneme score -> F0 contour (sing_f0) ->
timbre frames (the default voice from eSpeak NG, or a trained NPSS model) -> WORLD -> samples.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from .phonemes import PAUSE, phone_set
from .sing_f0 import F0Style, note_f0
from .sing_plan import PhonemeScore, phonemize, plan
from .sing_score import Song
from .world import FRAME_PERIOD, WorldFeatures, synthesize

__all__ = [
    "VOICE_RANGE",
    "SingResult",
    "fit_range",
    "load_voice",
    "prepare_song",
    "sing",
    "sing_score_writer",
    "sing_to_file",
]

log = logging.getLogger(__name__)

VOICE_RANGE = (40, 81)  # MIDI E2..A5: where the vocoded voice still sounds like a voice


@dataclass
class SingResult:
    samples: np.ndarray  # float32 mono
    sample_rate: int
    score: PhonemeScore
    features: WorldFeatures
    f0_target: np.ndarray  # Hz per frame from the F0 model (before voicing)
    warnings: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def fit_range(song: Song, lo: int = VOICE_RANGE[0], hi: int = VOICE_RANGE[1]) -> tuple[Song, int]:
    """The song moved by whole octaves into [lo, hi] (and the shift), or an InputError if it cannot fit."""
    pitches = [n.pitch for n in song.notes]
    low, high = min(pitches), max(pitches)
    if lo <= low and high <= hi:
        return song, 0
    for octaves in sorted(range(-4, 5), key=abs):
        if lo <= low + 12 * octaves and high + 12 * octaves <= hi:
            return song.transposed(12 * octaves), 12 * octaves
    raise InputError(f"the melody spans MIDI {low}..{high} ({high - low} semitones), wider than the voice's "
                     f"range {lo}..{hi}; it cannot be sung even transposed")


def prepare_song(song: Song, *, tempo: float | None = None, transpose: int = 0) -> tuple[Song, list[str]]:
    """Apply --tempo (the tempo at the start; later tempo marks keep their ratio to it) and
    --transpose, then fit the voice's range by octaves; returns notes for the user."""
    notes = list(song.warnings)
    if tempo is not None:
        if not 10 <= tempo <= 400:
            raise InputError(f"tempo must be between 10 and 400 quarter notes per minute, got {tempo}")
        song = song.with_tempo(float(tempo))
    if transpose:
        song = song.transposed(transpose)
    song, shift = fit_range(song)
    if shift:
        notes.append(f"the melody was out of the voice's range (MIDI {VOICE_RANGE[0]}..{VOICE_RANGE[1]}): "
                     f"transposed {'up' if shift > 0 else 'down'} {abs(shift) // 12} octave(s)")
    return song, notes


SHIPPED_SINGER = Path(__file__).resolve().parents[1] / "pretrained" / "singer"


def load_voice(voice: str, ps):
    """"default" -> the eSpeak-based voice; "npss" -> the shipped NPSS demo model (trained on the
    default voice's singing, so it imitates that voice); a folder -> a trained singer checkpoint."""
    if voice == "default":
        from .sing_voice import DefaultVoice

        return DefaultVoice(ps)
    if voice == "npss":
        if not (SHIPPED_SINGER / "config.json").exists():
            raise InputError("no NPSS demo model is shipped with this install; train one: compose train-singer")
        voice = str(SHIPPED_SINGER)
    if not Path(voice).exists():
        raise InputError(f"unknown voice {voice!r}: use default, npss or a singer checkpoint folder")
    from ..models.singer import SingerVoice

    return SingerVoice.load(voice)


def sing(song: Song, voice="default", *, tempo: float | None = None, transpose: int = 0,
         vibrato: float | None = None, language: str = "en", seed: int = 0, progress: bool = False) -> SingResult:
    """Sing ``song``; ``voice`` is "default", a checkpoint folder or a loaded voice object.

    ``vibrato`` is the peak depth in cents (None: the F0 model's default, 0: none).
    """
    ps = phone_set(language)
    song, warnings = prepare_song(song, tempo=tempo, transpose=transpose)
    syllables, unknown = phonemize(song, ps)
    if not song.has_lyrics:
        warnings.append(f'no lyrics in the score: singing on "{ps.default_syllable}"')
    if unknown:
        warnings.append(f"words not in the dictionary, pronounced by rule: {', '.join(unknown)}")
    for w in warnings:
        log.warning("%s", w)
    score = plan(song, syllables)
    n_frames = int(np.ceil(score.duration / (FRAME_PERIOD / 1000)))
    style = F0Style(seed=seed) if vibrato is None else F0Style(vibrato_depth=float(vibrato), seed=seed)
    f0 = note_f0(score.notes, n_frames, FRAME_PERIOD / 1000, style)
    v = load_voice(voice, ps) if isinstance(voice, str) else voice
    feat = v.render(score, f0, progress=progress)
    samples = synthesize(feat)
    samples = _gate(samples, feat.sample_rate, score)
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    if peak > 0:
        samples = (samples * (0.89 / peak)).astype(np.float32)  # -1 dBFS
    return SingResult(samples, feat.sample_rate, score, feat, f0, warnings)


def _gate(samples: np.ndarray, sr: int, score: PhonemeScore) -> np.ndarray:
    """Silence the pauses (the vocoder leaves a little noise there), with 10 ms ramps."""
    gain = np.ones(len(samples), np.float32)
    ramp = max(1, int(0.01 * sr))
    for s in score.segments:
        if s.phone != PAUSE:
            continue
        a, b = int(s.start * sr), min(int(s.end * sr), len(samples))
        if b - a > 2 * ramp:
            g = np.zeros(b - a, np.float32)
            if a > 0:
                g[:ramp] = np.linspace(1, 0, ramp)
            if b < len(samples):
                g[-ramp:] = np.linspace(0, 1, ramp)
            gain[a:b] = g
    return samples * gain


def sing_to_file(song: Song, path: str | Path, voice="default", **options) -> SingResult:
    """Sing ``song`` (options as for ``sing``) and write the audio (.wav; .flac/.ogg with soundfile)."""
    from ..io.audio import write_audio

    result = sing(song, voice, **options)
    write_audio(path, result.samples, result.sample_rate)
    return result


def sing_score_writer(lyrics: str | None = None, voice="default", **options):
    """A ``writer(score, path)`` that sings a generated Score's melody (on "la" without lyrics)."""

    def writer(score, path) -> None:
        from .sing_score import song_from_score

        sing_to_file(song_from_score(score, lyrics, repeat=True), path, voice, **options)

    return writer
