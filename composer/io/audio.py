"""Audio files ⇄ NumPy sample arrays: WAV always (stdlib ``wave``), FLAC/OGG with soundfile.

Samples are float32 in [-1, 1], shape ``(n,)`` (mono) or ``(n, channels)``. WAV is written as
16-bit PCM (rounded, no dither); every write goes through ``atomic_write`` so an
interrupted render never leaves half a file behind.
"""

from __future__ import annotations

import io
import os
import wave

import numpy as np

from ..errors import InputError
from .atomic import atomic_write

__all__ = ["AUDIO_SUFFIXES", "read_audio", "soundfile_available", "wav_bytes", "write_audio"]

#: Suffixes ``write_audio`` understands (FLAC and OGG need the optional ``soundfile`` package).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
_SOUNDFILE_FORMATS = {".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS")}
_WRITE_BLOCK = 1 << 15


def soundfile_available() -> bool:
    """True when the optional ``soundfile`` package (libsndfile) can be imported."""
    try:
        import soundfile  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def _as_2d(samples: np.ndarray) -> np.ndarray:
    a = np.asarray(samples)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] < 1:
        raise InputError(f"audio samples must have shape (n,) or (n, channels), got {np.shape(samples)}")
    if not np.issubdtype(a.dtype, np.floating):
        raise InputError(f"audio samples must be floating point in [-1, 1], got {a.dtype}")
    return a


def _to_pcm16(a: np.ndarray) -> np.ndarray:
    """Float in [-1, 1] → int16, clipping whatever lies outside (NaN becomes silence)."""
    a = np.nan_to_num(a.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(np.rint(a * 32767.0), -32768, 32767).astype("<i2")


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """A complete 16-bit PCM WAV file in memory (for atomic writes and for playback)."""
    a = _as_2d(samples)
    if not 1 <= int(sample_rate) <= 768_000:
        raise InputError(f"sample rate must be between 1 and 768000 Hz, got {sample_rate}")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(a.shape[1])
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(_to_pcm16(a).tobytes())
    return buf.getvalue()


def write_audio(path: str | os.PathLike, samples: np.ndarray, sample_rate: int) -> None:
    """Write float samples to ``path``; the suffix picks the format (.wav, .flac, .ogg).

    WAV needs nothing beyond the standard library; FLAC and OGG need ``soundfile`` and raise
    an InputError naming the missing package otherwise. The write is atomic.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if os.path.isdir(path):
        raise InputError(f"cannot write {path}: it is a folder")
    if ext == ".wav":
        atomic_write(path, wav_bytes(samples, sample_rate))
        return
    if ext not in _SOUNDFILE_FORMATS:
        raise InputError(f"cannot write audio to {path}: supported suffixes are {', '.join(AUDIO_SUFFIXES)}")
    if not soundfile_available():
        raise InputError(f"cannot write {path}: {ext} needs the soundfile package (pip install soundfile); .wav works without it")
    import soundfile as sf

    a = np.clip(_as_2d(samples), -1.0, 1.0).astype(np.float32)
    fmt, subtype = _SOUNDFILE_FORMATS[ext]
    buf = io.BytesIO()
    # In blocks: libvorbis can crash on one very large write (python-soundfile #426, libsndfile #1095).
    with sf.SoundFile(buf, "w", int(sample_rate), a.shape[1], format=fmt, subtype=subtype) as f:
        for i in range(0, len(a), _WRITE_BLOCK):
            f.write(a[i:i + _WRITE_BLOCK])
    atomic_write(path, buf.getvalue())


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read an audio file into ``(float32 samples of shape (n, channels), sample_rate)``.

    WAV (8/16/24/32-bit PCM) is read with the standard library; other formats, and WAV
    flavours ``wave`` rejects (float, extensible), go through ``soundfile`` when installed.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"cannot read {path}: no such file")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".wav":
        try:
            return _read_wav(path)
        except (wave.Error, EOFError, ValueError) as e:
            if not soundfile_available():
                raise InputError(f"cannot read {path}: not a PCM WAV file ({e})") from None
    if not soundfile_available():
        raise InputError(f"cannot read {path}: {ext or 'this format'} needs the soundfile package (pip install soundfile)")
    import soundfile as sf

    try:
        data, sr = sf.read(path, dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises its own LibsndfileError / RuntimeError
        raise InputError(f"cannot read {path}: not a readable audio file ({e})") from None
    return np.ascontiguousarray(data, dtype=np.float32), int(sr)


def _read_wav(path: str) -> tuple[np.ndarray, int]:
    with wave.open(path, "rb") as w:
        n_ch, width, sr, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
        raw = w.readframes(n)
    if width == 1:
        a = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        a = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        i = (b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8) | (b[:, 2].astype(np.int32) << 16))
        i = np.where(i >= 1 << 23, i - (1 << 24), i)
        a = i.astype(np.float32) / float(1 << 23)
    elif width == 4:
        a = (np.frombuffer(raw, "<i4").astype(np.float64) / 2.0**31).astype(np.float32)
    else:
        raise ValueError(f"unsupported sample width {width}")
    frames = len(a) // n_ch
    return np.ascontiguousarray(a[: frames * n_ch].reshape(frames, n_ch)), int(sr)
