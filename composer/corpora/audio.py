"""Audio corpora for the WaveNet: (piano roll, waveform) pairs on disk, read as random crops.

`compose corpus audio` builds a corpus folder from any of
- our own corpora (a style name: blues, drums, folk, jazz; or ``bach``, music21's chorales),
  rendered with the built-in synth;
- a folder of WAV (or FLAC/OGG) files with MIDI files of the same stem (MAESTRO's layout);
- a folder of WAV files alone (an unconditional corpus).

Every clip is stored as 16-bit mono PCM at the corpus sample rate (``clips/NAME.wav``) with its
conditioning roll (``clips/NAME.roll.npy``, float16, one row per ``hop`` samples), and listed in
``manifest.json`` with its split and where it came from; every skipped input is listed with
its reason. Training reads random crops straight from the files (``wave`` seeks to the
crop; the rolls are memory-mapped), so a corpus larger than memory trains all the same.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import ComposerError, CorpusError, InputError
from ..tokenizers.mulaw import MuLawCodec, notes_seconds

__all__ = ["MANIFEST", "AudioClip", "AudioData", "build_audio_corpus", "load_audio_corpus", "prepare_audio", "resample"]

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = "composer-audio-corpus"
MIDI_SUFFIXES = (".mid", ".midi")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
SILENT_PEAK = 1e-3  # below -60 dBFS throughout: nothing to learn
CLIPPED_FRACTION = 1e-3  # more than 0.1 % of samples at full scale: distorted


@dataclass
class AudioClip:
    """One training clip: 16-bit mono WAV path (or float32 samples in memory) and its roll."""

    name: str
    audio: Path | np.ndarray
    roll: np.ndarray | None  # (frames, features), or None for unconditional clips
    n_samples: int
    gid: int = 0

    def read(self, start: int, n: int) -> np.ndarray:
        """Samples [start, start + n) as float32, silence outside the clip."""
        out = np.zeros(n, np.float32)
        lo, hi = max(start, 0), min(start + n, self.n_samples)
        if hi <= lo:
            return out
        if isinstance(self.audio, np.ndarray):
            out[lo - start : hi - start] = self.audio[lo:hi]
        else:
            with wave.open(str(self.audio), "rb") as w:
                w.setpos(lo)
                out[lo - start : hi - start] = np.frombuffer(w.readframes(hi - lo), "<i2").astype(np.float32) / 32768.0
        return out


class AudioData:
    """Crops of ``crop_frames`` frames (``crop_frames * hop`` samples) in the trainer's batch format.

    ``batches(b, seed)`` draws ``len(self)`` random crops (clips weighted by length) for a seed;
    without a seed, the crops are fixed and evenly spaced (validation sees the same audio each
    epoch). A batch holds ``inputs`` (previous codes), ``targets``, ``mask``, and ``cond``/``gid``
    when the model is conditioned.
    """

    def __init__(self, clips: list[AudioClip], codec: MuLawCodec, crop_frames: int = 32,
                 crops_per_epoch: int | None = None, use_gid: bool = False) -> None:
        self.clips, self.codec, self.crop_frames, self.use_gid = clips, codec, int(crop_frames), use_gid
        self.crop = self.crop_frames * codec.hop
        total = sum(c.n_samples for c in clips)
        self.n = crops_per_epoch or max(1, -(-total // self.crop)) if clips else 0

    def __len__(self) -> int:
        return self.n

    @property
    def seconds(self) -> float:
        return sum(c.n_samples for c in self.clips) / self.codec.sample_rate

    def _crops(self, seed: int | None) -> list[tuple[int, int]]:
        """(clip index, first frame) of each crop."""
        frames = np.array([-(-c.n_samples // self.codec.hop) for c in self.clips])
        if seed is None:
            cum = np.concatenate([[0], np.cumsum(frames)])
            pos = np.linspace(0, cum[-1], self.n, endpoint=False).astype(np.int64)
            idx = np.searchsorted(cum, pos, side="right") - 1
            return [(int(i), int(min(p - cum[i], max(frames[i] - self.crop_frames, 0)))) for i, p in zip(idx, pos)]
        rng = np.random.default_rng(seed)
        idx = rng.choice(len(self.clips), size=self.n, p=frames / frames.sum())
        return [(int(i), int(rng.integers(0, max(frames[i] - self.crop_frames, 0) + 1))) for i in idx]

    def batches(self, batch_size: int, seed: int | None = None):
        crops = self._crops(seed)
        for s in range(0, len(crops), batch_size):
            yield self._collate(crops[s : s + batch_size])

    def _collate(self, crops) -> dict:
        B, T, hop = len(crops), self.crop, self.codec.hop
        silence = self.codec.quantization // 2
        codes = np.full((B, T + 1), silence, np.int64)
        mask = np.zeros((B, T), np.float32)
        cond = np.zeros((B, self.crop_frames, self.codec.n_features), np.float32) if self.codec.n_features else None
        gid = np.zeros(B, np.int64)
        for b, (i, f0) in enumerate(crops):
            clip, start = self.clips[i], f0 * hop
            x = clip.read(start - 1, T + 1)
            codes[b] = self.codec.encode_audio(x)
            if start == 0:
                codes[b, 0] = silence  # the sample before the clip is silence, as in generation
            mask[b, : max(0, min(T, clip.n_samples - start))] = 1
            if cond is not None:
                r = np.asarray(clip.roll[f0 : f0 + self.crop_frames], dtype=np.float32)
                cond[b, : len(r)] = r
            gid[b] = clip.gid
        batch = {"inputs": torch.from_numpy(codes[:, :-1].copy()), "targets": torch.from_numpy(codes[:, 1:].copy()),
                 "mask": torch.from_numpy(mask)}
        if cond is not None:
            batch["cond"] = torch.from_numpy(cond)
        if self.use_gid:
            batch["gid"] = torch.from_numpy(gid)
        return batch


# --- building a corpus ----------------------------------------------------------------------------


def resample(a: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """``a`` (n,) at ``sr`` → float32 at ``target_sr`` (polyphase, anti-aliased; needs scipy)."""
    try:
        from scipy.signal import resample_poly
    except ImportError:
        raise InputError(f"resampling {sr} -> {target_sr} Hz needs scipy (pip install scipy, or composer[audio])") from None
    g = np.gcd(int(sr), int(target_sr))
    return resample_poly(a, int(target_sr) // g, int(sr) // g).astype(np.float32)


def prepare_audio(samples: np.ndarray, sr: int, target_sr: int, where: str) -> tuple[np.ndarray, list[str]]:
    """Mono float32 at ``target_sr``, with notes of what was changed; a CorpusError says why a clip is unusable."""
    notes = []
    a = np.asarray(samples, dtype=np.float32)
    if a.ndim == 2 and a.shape[1] > 1:
        a = a.mean(axis=1)
        notes.append(f"mixed {samples.shape[1]} channels down to mono")
    a = a.reshape(-1)
    if not np.isfinite(a).all():
        raise CorpusError(f"{where}: samples are not finite (NaN or inf)")
    if sr != target_sr:
        if sr < 4000:
            raise CorpusError(f"{where}: sample rate {sr} Hz is too low to resample to {target_sr} Hz")
        a = resample(a, sr, target_sr)
        notes.append(f"resampled {sr} -> {target_sr} Hz")
    peak = float(np.abs(a).max()) if len(a) else 0.0
    if peak < SILENT_PEAK:
        raise CorpusError(f"{where}: silent (peak {20 * np.log10(max(peak, 1e-12)):.0f} dBFS)")
    clipped = float(np.mean(np.abs(a) >= 0.999))
    if clipped > CLIPPED_FRACTION:
        raise CorpusError(f"{where}: clipped ({100 * clipped:.1f} % of samples at full scale)")
    return a, notes


def _split_of(name: str, seed: int, valid_fraction: float) -> str:
    x = int(hashlib.sha1(f"{seed}:{name}".encode()).hexdigest()[:12], 16) / 16**12
    return "valid" if x < valid_fraction else "train"


def _built_in_scores(source: str, limit: int, seed: int):
    """(name, Score) pairs of a built-in corpus: a style's, or music21's Bach chorales."""
    if source == "bach":
        try:
            from music21 import corpus
        except ImportError:
            raise CorpusError("the bach corpus needs music21 (pip install music21)") from None
        from ..io.musicxml import read_musicxml

        paths = sorted(str(p) for p in corpus.getComposer("bach") if str(p).endswith((".mxl", ".xml", ".musicxml")))
        for p in paths[:limit]:
            try:
                yield f"bach-{Path(p).stem}", read_musicxml(p)
            except ComposerError as e:
                log.info("skipped %s: %s", p, e)
        return
    from ..pipeline import load_scores
    from ..styles import get_style

    scores, names, _, _ = load_scores(get_style(source), None, seed)
    names = names or [f"{i:04d}" for i in range(len(scores))]
    order = np.random.default_rng(seed).permutation(len(scores))[:limit]
    for i in sorted(order):
        yield f"{source}-{i:04d}-{Path(str(names[i])).stem}"[:80], scores[i]


def _folder_items(folder: Path):
    """(name, audio path, MIDI path or None) for every audio file in a folder tree."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    midi = {p.with_suffix(""): p for p in files if p.suffix.lower() in MIDI_SUFFIXES}
    for p in files:
        if p.suffix.lower() in AUDIO_SUFFIXES:
            yield str(p.relative_to(folder).with_suffix("")).replace(os.sep, "__"), p, midi.get(p.with_suffix(""))


def build_audio_corpus(out_dir, sources: list[str], *, sample_rate: int = 16000, hop: int = 128,
                       max_pieces: int = 50, max_seconds: float = 30.0, valid_fraction: float = 0.1,
                       seed: int = 0, progress: bool = True) -> dict:
    """Render or convert ``sources`` into a corpus folder; returns the manifest."""
    from tqdm import tqdm

    from ..checkpoint import write_json
    from ..io.atomic import atomic_write
    from ..io.audio import read_audio, write_audio

    if not sources:
        raise CorpusError("no sources given (a style name such as blues, bach, or a folder of WAV [+ MIDI] files)")
    folders = [Path(s) for s in sources if Path(s).is_dir()]
    named = [s for s in sources if not Path(s).is_dir()]
    for s in named:
        if s != "bach":
            from ..styles import get_style

            get_style(s)  # an unknown name fails here, before any work
    has_midi = any(m is not None for f in folders for _, _, m in _folder_items(f))
    conditioned = bool(named) or has_midi
    codec = MuLawCodec(sample_rate, 256, hop, "pianoroll" if conditioned else "none")
    out = Path(out_dir)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    clips, skipped = [], []
    max_n = int(max_seconds * sample_rate) if max_seconds else None

    def keep(name: str, audio: np.ndarray, sr: int, score, source: str, check_length: bool = True) -> None:
        a, notes = prepare_audio(audio, sr, sample_rate, name)
        if max_n and len(a) > max_n:
            a = a[:max_n]
            notes.append(f"cut to {max_seconds:g} s")
        roll = None
        if conditioned:
            n_frames = -(-len(a) // hop)
            if score is not None:
                score_seconds = notes_seconds(score)
                audio_seconds = len(audio) / sr
                if check_length and abs(score_seconds - audio_seconds) > 2.0 + 0.1 * audio_seconds:
                    raise CorpusError(f"{name}: the MIDI lasts {score_seconds:.1f} s but the audio {audio_seconds:.1f} s (not the same performance?)")
                roll = codec.encode(score, n_frames)
            if roll is None or not roll.any():
                raise CorpusError(f"{name}: no notes to condition on")
        write_audio(out / "clips" / f"{name}.wav", a, sample_rate)
        if roll is not None:
            buf = __import__("io").BytesIO()
            np.save(buf, roll.astype(np.float16), allow_pickle=False)
            atomic_write(out / "clips" / f"{name}.roll.npy", buf.getvalue())
        clips.append({"name": name, "samples": len(a), "split": _split_of(name, seed, valid_fraction),
                      "source": source, "notes": notes})

    for s in named:
        from ..synth import render

        items = list(_built_in_scores(s, max_pieces, seed))
        for name, score in tqdm(items, desc=f"rendering {s}", disable=not progress, unit="piece"):
            try:
                if max_seconds:
                    score = _head(score, max_seconds + 1.0)
                keep(name, render(score, sample_rate=sample_rate), sample_rate, score, f"{s} (built-in synth)", False)
            except ComposerError as e:
                skipped.append({"name": name, "reason": str(e)})
    for folder in folders:
        from ..io import read

        items = list(_folder_items(folder))
        for name, path, midi in tqdm(items, desc=f"reading {folder}", disable=not progress, unit="file"):
            try:
                if conditioned and midi is None:
                    raise CorpusError(f"{name}: no MIDI file with the same stem to condition on")
                score = read(midi) if midi is not None else None
                audio, sr = read_audio(path)
                keep(name, audio, sr, score, str(path))
            except ComposerError as e:
                skipped.append({"name": name, "reason": str(e)})
    if not clips:
        reasons = "; ".join(s["reason"] for s in skipped[:3])
        raise CorpusError(f"no usable audio in {', '.join(sources)}" + (f" ({reasons})" if reasons else ""))
    if not any(c["split"] == "valid" for c in clips) and len(clips) > 1:
        clips[-1]["split"] = "valid"
    manifest = {"format": FORMAT, "codec": codec.to_dict(), "sources": list(sources), "seed": seed,
                "clips": clips, "skipped": skipped,
                "seconds": {sp: round(sum(c["samples"] for c in clips if c["split"] == sp) / sample_rate, 2)
                            for sp in ("train", "valid")}}
    write_json(out / MANIFEST, manifest)
    return manifest


def _head(score, seconds: float):
    """The notes of ``score`` that start in its first ``seconds`` (renders stay short)."""
    from dataclasses import replace

    grid = np.arange(0, score.end + score.tpq, max(score.tpq // 4, 1))  # sixteenth-note ticks
    limit = int(grid[min(np.searchsorted(score.seconds(grid), seconds), len(grid) - 1)])
    tracks = [replace(t, notes=t.notes[t.notes["start"] < limit]) for t in score.tracks]
    return replace(score, tracks=tracks)


def load_audio_corpus(path, *, crop_frames: int = 32, crops_per_epoch: int | None = None,
                      valid_crops: int | None = None) -> tuple[MuLawCodec, AudioData, AudioData, dict]:
    """(codec, train data, valid data, manifest) of a corpus folder built by ``build_audio_corpus``.

    ``crops_per_epoch`` defaults to as many crops as tile the training audio once; ``valid_crops``
    (fixed, evenly spaced) to tiling the validation audio once.
    """
    d = Path(path)
    try:
        manifest = json.loads((d / MANIFEST).read_text())
    except FileNotFoundError:
        raise CorpusError(f"{d}: not an audio corpus (no {MANIFEST}; build one with `compose corpus audio`)") from None
    except (OSError, json.JSONDecodeError) as e:
        raise CorpusError(f"{d / MANIFEST}: unreadable ({e})") from None
    if manifest.get("format") != FORMAT:
        raise CorpusError(f"{d}: not an audio corpus built by `compose corpus audio`")
    codec = MuLawCodec.from_dict(manifest["codec"])
    splits: dict[str, list[AudioClip]] = {"train": [], "valid": []}
    for c in manifest["clips"]:
        wav = d / "clips" / f"{c['name']}.wav"
        with wave.open(str(wav), "rb") as w:
            if w.getframerate() != codec.sample_rate or w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise CorpusError(f"{wav}: not 16-bit mono at {codec.sample_rate} Hz (rebuild the corpus)")
            n = w.getnframes()
        roll = np.load(d / "clips" / f"{c['name']}.roll.npy", mmap_mode="r", allow_pickle=False) if codec.n_features else None
        splits[c["split"]].append(AudioClip(c["name"], wav, roll, n))
    train = AudioData(splits["train"], codec, crop_frames, crops_per_epoch)
    valid = AudioData(splits["valid"], codec, crop_frames, valid_crops)
    return codec, train, valid, manifest
