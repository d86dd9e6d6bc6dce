"""Singing corpora for the NPSS model: the folder format, a corpus sung by the default voice, batches.

Folder format (as the public singing datasets are laid out, e.g. NIT-SONG070, Kiritan):

    corpus/
      NAME.wav      one sung song, mono (any sample rate, the same for the whole corpus)
      NAME.lab      its phonemes with times: "start end phone" per line, 100 ns units (HTK);
                    ARPAbet phones for English, pau/sil/sp for silence
      NAME.abc      optional: the score (.abc with w: lyrics, .musicxml or .mid), for re-singing

``build_corpus`` writes such a folder with songs the default voice sings (random diatonic
melodies on English words), so a model trained on it imitates the default voice, no more.
WORLD analyses are cached in ``corpus/.world/NAME.npz`` (plain arrays, no pickle).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CorpusError, InputError
from .phonemes import PAUSE, PhoneSet, phone_set
from .sing_plan import PhonemeScore, Segment, read_lab, write_lab
from .world import FRAME_PERIOD, analyze

__all__ = ["FeatureCodec", "SingerData", "Utterance", "build_corpus", "load_corpus", "random_song_abc"]

log = logging.getLogger(__name__)
_FP = FRAME_PERIOD / 1000.0
LF0_CENTER, LF0_SCALE = float(np.log(220.0)), 0.5

_WORDS = ["love", "light", "night", "day", "sun", "moon", "star", "sky", "sea", "wind", "rain", "home", "heart", "song", "sing", "dream", "time", "way", "road", "gold", "green", "blue", "red", "white", "fair", "sweet", "true", "blue", "old", "young", "long", "far", "near", "high", "low", "bright", "dark", "come", "go", "stay", "walk", "run", "fly", "fall", "rise", "know", "see", "hear", "feel", "hold", "let", "keep", "give", "take", "make", "find", "lost", "free", "wild", "soft", "slow", "deep", "cold", "warm", "late", "oh", "my", "your", "our", "the", "a", "and", "to", "in", "on", "of", "all", "one", "two", "three", "will", "shall", "be", "is", "was", "are", "we", "you", "me", "she", "he", "they", "there", "here", "when", "then", "now", "more", "no", "yes", "time", "dance", "fire", "stone", "tree", "hill", "bird", "leaf", "snow", "field", "town", "friend", "rose", "wave", "shine", "glow", "ring", "bell", "call", "fare", "well", "sun-shine", "morn-ing", "e-ven-ing", "riv-er", "moun-tain", "o-pen", "hap-py", "sor-row", "mem-o-ry", "yel-low", "sil-ver", "win-ter", "sum-mer", "gar-den", "wan-der", "fol-low", "mea-dow", "val-ley"]


@dataclass
class FeatureCodec:
    """The NPSS model's frame codec: phone vocabulary, feature layout and per-dimension scaling."""

    phones: list
    sample_rate: int
    fft_size: int
    order: int = 59
    n_bap: int = 2
    language: str = "en"
    mean: list | None = None
    std: list | None = None

    kind = "world_features"
    family = "frames"

    @property
    def vocab(self) -> list:
        return self.phones

    @property
    def feat_dim(self) -> int:
        return self.order + 1 + self.n_bap

    def to_dict(self) -> dict:
        return {"kind": self.kind, "phones": list(self.phones), "sample_rate": self.sample_rate,
                "fft_size": self.fft_size, "order": self.order, "n_bap": self.n_bap, "language": self.language,
                "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, spec: dict) -> FeatureCodec:
        return cls(**{k: v for k, v in spec.items() if k != "kind"})

    def model_inputs(self) -> dict:
        return {"n_phones": len(self.phones), "feat_dim": self.feat_dim}

    def fit(self, raw: list[np.ndarray]) -> None:
        allf = np.concatenate(raw)
        self.mean = allf.mean(0).astype(float).tolist()
        self.std = np.maximum(allf.std(0), 1e-3).astype(float).tolist()

    def encode(self, mcep: np.ndarray, bap: np.ndarray) -> np.ndarray:
        x = np.concatenate([mcep, bap], axis=1)
        return ((x - np.array(self.mean)) / np.array(self.std)).astype(np.float32)

    def decode(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(frames, np.float64) * np.array(self.std) + np.array(self.mean)
        return x[:, : self.order + 1], np.minimum(x[:, self.order + 1 :], 0.0)

    def conditioning(self, score: PhonemeScore, f0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(phones (T, 3) int64, cond (T, 4) float32, voiced (T,) bool) for ``len(f0)`` frames.

        ``f0`` is the contour to sing (Hz, interpolated through unvoiced frames); voicing comes
        from the phones, as in the default voice.
        """
        ps = phone_set(self.language)
        lab = score.frame_labels(self.phones, _FP)
        n = len(f0)
        fit = lambda a: np.resize(a, n) if len(a) != n else a
        ph = np.stack([fit(lab["prev"]), fit(lab["phone"]), fit(lab["next"])], axis=1).astype(np.int64)
        names = np.array(self.phones)[ph[:, 1]]
        voiced = ~np.isin(names, sorted(ps.voiceless) + [PAUSE])
        lf0 = (np.log(np.maximum(f0, 1.0)) - LF0_CENTER) / LF0_SCALE
        cond = np.stack([fit(lab["position"]), np.log(fit(lab["length"]) + 1e-3), lf0, voiced.astype(np.float32)], 1)
        return ph, cond.astype(np.float32), voiced


@dataclass
class Utterance:
    name: str
    frames: np.ndarray  # (T, D) normalised features
    phones: np.ndarray  # (T, 3)
    cond: np.ndarray  # (T, 4)
    mcep: np.ndarray  # (T, M+1) as analysed, for distortion measures
    score: PhonemeScore
    f0: np.ndarray  # (T,) analysed, 0 unvoiced


def _interp_f0(f0: np.ndarray) -> np.ndarray:
    v = f0 > 0
    if not v.any():
        return np.full(len(f0), 220.0)
    idx = np.arange(len(f0))
    return np.exp(np.interp(idx, idx[v], np.log(f0[v])))


def _analysis(wav: Path, cache_dir: Path):
    from ..io.atomic import atomic_write
    from ..io.audio import read_audio

    cache = cache_dir / (wav.stem + ".npz")
    if cache.exists() and cache.stat().st_mtime >= wav.stat().st_mtime:
        with np.load(cache, allow_pickle=False) as z:
            return z["f0"], z["mcep"], z["bap"], int(z["sr"]), int(z["fft"])
    x, sr = read_audio(wav)
    feat = analyze(x.mean(axis=1), sr)
    import io

    buf = io.BytesIO()
    np.savez(buf, f0=feat.f0, mcep=feat.mcep, bap=feat.bap, sr=sr, fft=feat.fft_size)
    cache_dir.mkdir(exist_ok=True)
    atomic_write(cache, buf.getvalue())
    return feat.f0, feat.mcep, feat.bap, sr, feat.fft_size


def load_corpus(folder: str | Path, codec: FeatureCodec | None = None, language: str = "en",
                progress: bool = True) -> tuple[list[Utterance], FeatureCodec]:
    """Every NAME.wav with a NAME.lab in ``folder``, analysed; fits ``codec`` when None is given."""
    from tqdm import tqdm

    d = Path(folder)
    if not d.is_dir():
        raise CorpusError(f"{d}: no such corpus folder")
    pairs = [(w, w.with_suffix(".lab")) for w in sorted(d.glob("*.wav")) if w.with_suffix(".lab").exists()]
    if not pairs:
        raise CorpusError(f"{d}: no NAME.wav with a NAME.lab beside it (see composer/synth/sing_corpus.py for the format)")
    ps = phone_set(language)
    raw, skipped = [], []
    for wav, lab in tqdm(pairs, desc="analysing", unit="song", disable=not progress, leave=False):
        try:
            f0, mcep, bap, sr, fft = _analysis(wav, d / ".world")
            segs = read_lab(lab)
        except InputError as e:
            skipped.append(f"{wav.name}: {e}")
            continue
        unknown = sorted({s.phone for s in segs} - set(ps.phones))
        if unknown:
            skipped.append(f"{lab.name}: phones not in the {language} phone set: {', '.join(unknown[:5])}")
            continue
        raw.append((wav.stem, f0, mcep, bap, sr, fft, segs))
    for s in skipped:
        log.warning("skipped %s", s)
    if not raw:
        raise CorpusError(f"{d}: no usable song ({len(skipped)} skipped)")
    rates = {r[4] for r in raw}
    if len(rates) > 1:
        raise CorpusError(f"{d}: songs at several sample rates ({sorted(rates)}); resample them to one")
    if codec is None:
        codec = FeatureCodec(ps.phones, raw[0][4], raw[0][5], raw[0][2].shape[1] - 1, raw[0][3].shape[1], language)
        codec.fit([np.concatenate([m, b], axis=1) for _, _, m, b, *_ in raw])
    utts = []
    for name, f0, mcep, bap, sr, fft, segs in raw:
        score = PhonemeScore([Segment(s.phone, s.start, s.end, -1) for s in segs], np.zeros((0, 3)), segs[-1].end)
        n = min(len(f0), int(np.ceil(score.duration / _FP)))
        ph, cond, _ = codec.conditioning(score, _interp_f0(f0[:n]))
        utts.append(Utterance(name, codec.encode(mcep[:n], bap[:n]), ph, cond, mcep[:n], score, f0[:n]))
    return utts, codec


class SingerData:
    """Windows of ``seq_len`` frames over utterances, batched for the one training loop."""

    def __init__(self, utts: list[Utterance], seq_len: int = 200) -> None:
        self.utts, self.seq_len = utts, seq_len
        self.windows = [(i, k) for i, u in enumerate(utts) for k in range(0, len(u.frames), seq_len)]

    def __len__(self) -> int:
        return len(self.windows)

    @property
    def n_frames(self) -> int:
        return int(sum(len(u.frames) for u in self.utts))

    def batches(self, batch_size: int, seed: int | None = None):
        import torch

        order = np.arange(len(self.windows))
        if seed is not None:
            order = np.random.default_rng(seed).permutation(order)
        L = self.seq_len
        for s in range(0, len(order), batch_size):
            win = [self.windows[j] for j in order[s : s + batch_size]]
            D, B = self.utts[0].frames.shape[1], len(win)
            inputs, targets = np.zeros((B, L, D), np.float32), np.zeros((B, L, D), np.float32)
            phones, cond = np.zeros((B, L, 3), np.int64), np.zeros((B, L, 4), np.float32)
            mask = np.zeros((B, L), np.float32)
            for b, (i, k) in enumerate(win):
                u = self.utts[i]
                n = min(L, len(u.frames) - k)
                targets[b, :n] = u.frames[k : k + n]
                if k:
                    inputs[b, :n] = u.frames[k - 1 : k + n - 1]
                else:
                    inputs[b, 1:n] = u.frames[: n - 1]
                phones[b, :n], cond[b, :n], mask[b, :n] = u.phones[k : k + n], u.cond[k : k + n], 1.0
            yield {k: torch.from_numpy(v) for k, v in
                   (("inputs", inputs), ("targets", targets), ("phones", phones), ("cond", cond), ("mask", mask))}


def _abc_note(pitch: int, eighths: int) -> str:
    names = {0: "C", 2: "D", 4: "E", 5: "F", 7: "G", 9: "A", 11: "B"}
    octave, pc = divmod(pitch, 12)
    name = names[pc]
    if octave >= 6:
        name = name.lower() + "'" * (octave - 6)
    else:
        name = name + "," * (5 - octave)
    return name + (str(eighths) if eighths != 1 else "")


def random_song_abc(rng: np.random.Generator, bars: int = 8, title: str = "song") -> str:
    """A random diatonic tune in C (MIDI 52..72) with random English words, as ABC with w: lines."""
    scale = [p for p in range(52, 73) if p % 12 in (0, 2, 4, 5, 7, 9, 11)]
    pos = int(rng.integers(3, len(scale) - 3))
    music, words, syllables_needed = [], [], 0
    for bar in range(bars):
        left = 8
        while left > 0:
            if rng.random() < 0.08 and left >= 2 and bar:
                music.append(f"z{2 if left >= 2 else 1}")
                left -= 2
                continue
            dur = int(min(left, rng.choice([1, 2, 2, 2, 3, 4, 4, 6])))
            pos = int(np.clip(pos + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]), 0, len(scale) - 1))
            music.append(_abc_note(scale[pos], dur))
            left -= dur
            syllables_needed += 1
        music.append("|")
    while syllables_needed > 0:
        w = str(rng.choice(_WORDS))
        n = w.count("-") + 1
        if n > syllables_needed:
            w, n = str(rng.choice([x for x in _WORDS if "-" not in x])), 1
        words.append(w)
        syllables_needed -= n
    qpm = int(rng.integers(80, 141))
    return (f"X:1\nT:{title}\nM:4/4\nL:1/8\nQ:1/4={qpm}\nK:C\n" + " ".join(music) + "]\nw: " + " ".join(words) + "\n")


def build_corpus(out: str | Path, songs: int = 40, *, bars: int = 8, seed: int = 0, progress: bool = True) -> Path:
    """Write ``songs`` songs sung by the default voice: NAME.wav + NAME.lab + NAME.abc (the score)."""
    from tqdm import tqdm

    from ..io.atomic import atomic_write
    from ..io.audio import write_audio
    from .sing import sing
    from .sing_score import read_song
    from .sing_voice import DefaultVoice

    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    voice = DefaultVoice(phone_set("en"))
    for i in tqdm(range(songs), desc="singing", unit="song", disable=not progress):
        name = f"song{i:03d}"
        atomic_write(d / f"{name}.abc", random_song_abc(rng, bars, name).encode())
        r = sing(read_song(d / f"{name}.abc"), voice, seed=seed * 1000 + i)
        write_audio(d / f"{name}.wav", r.samples, r.sample_rate)
        write_lab(d / f"{name}.lab", r.score.segments)
    return d


def phone_set_of(codec: FeatureCodec) -> PhoneSet:
    return phone_set(codec.language)
