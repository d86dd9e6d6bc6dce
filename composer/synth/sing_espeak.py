"""eSpeak NG through ctypes (the library and its data come with the ``espeakng-loader`` wheel).

Two uses: letter-to-sound rules for words the lexicon lacks (``text_to_espeak_phonemes``) and
the default voice's timbres (``speak_phonemes``: audio of a phoneme string plus the time at
which each phoneme starts, from eSpeak's phoneme events). eSpeak keeps global state, so every
call holds one lock.
"""

from __future__ import annotations

import ctypes
import functools
import threading

import numpy as np

from ..errors import InputError

__all__ = ["espeak_available", "speak_phonemes", "text_to_espeak_phonemes"]

_LOCK = threading.Lock()
_AUDIO_OUTPUT_SYNCHRONOUS, _INITIALIZE_PHONEME_EVENTS = 2, 1
_EVENT_LIST_TERMINATED, _EVENT_PHONEME = 0, 7
_PHONEMES_FLAG = 0x100  # espeakPHONEMES: [[...]] is phoneme input
_RATE, _PITCH, _RANGE = 1, 3, 4  # espeak_PARAMETER


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class _Espeak:
    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.cdll.LoadLibrary(espeakng_loader.get_library_path())
        self.lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self.sample_rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                                      espeakng_loader.get_data_path().encode(),
                                                      _INITIALIZE_PHONEME_EVENTS)
        if self.sample_rate <= 0:
            raise OSError("espeak_Initialize failed")
        self.chunks: list[np.ndarray] = []
        self.events: list[tuple[int, str]] = []
        self.callback = _CALLBACK(self._on_audio)  # kept referenced for the library's lifetime
        self.lib.espeak_SetSynthCallback(self.callback)
        self.voice = ""

    def _on_audio(self, wav, n, events) -> int:
        if n > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            if events[i].type == _EVENT_PHONEME:
                self.events.append((events[i].audio_position, events[i].id.decode("ascii", "replace")))
            i += 1
        return 0

    def set_voice(self, voice: str) -> None:
        if voice != self.voice:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise InputError(f"eSpeak NG has no voice {voice!r}")
            self.voice = voice


@functools.lru_cache(maxsize=1)
def _engine() -> _Espeak | None:
    try:
        return _Espeak()
    except (ImportError, OSError):
        return None


def espeak_available() -> bool:
    """True when eSpeak NG loads (pip install espeakng-loader)."""
    return _engine() is not None


def _require() -> _Espeak:
    eng = _engine()
    if eng is None:
        raise InputError('the default voice needs eSpeak NG: pip install "composer[sing]" (espeakng-loader)')
    return eng


def text_to_espeak_phonemes(text: str, voice: str = "en-us") -> str:
    """eSpeak's pronunciation of ``text`` in its ASCII phoneme mnemonics (e.g. ``gl'u:b3t``)."""
    eng = _require()
    with _LOCK:
        eng.set_voice(voice)
        buf = ctypes.c_char_p(text.encode("utf-8"))
        ptr = ctypes.pointer(buf)
        parts = []
        while buf.value:
            out = eng.lib.espeak_TextToPhonemes(ptr, 0, 0)
            if out is None:
                break
            parts.append(out.decode("ascii", "replace"))
        return " ".join(parts).strip()


def speak_phonemes(phonemes: str, voice: str = "en-us", *, pitch: int = 40, rate: int = 120
                   ) -> tuple[np.ndarray, int, list[tuple[float, str]]]:
    """Speak an eSpeak phoneme string monotonously: (float32 samples, sample rate, [(start s, phoneme)]).

    Pauses (``_``) are left out of the events; the first event starts after eSpeak's lead-in.
    """
    eng = _require()
    with _LOCK:
        eng.set_voice(voice)
        eng.lib.espeak_SetParameter(_RATE, rate, 0)
        eng.lib.espeak_SetParameter(_PITCH, pitch, 0)
        eng.lib.espeak_SetParameter(_RANGE, 0, 0)  # no intonation: one pitch, re-pitched later anyway
        eng.chunks, eng.events = [], []
        text = f"[[{phonemes}]]".encode()
        eng.lib.espeak_Synth(ctypes.c_char_p(text), len(text) + 1, 0, 0, 0, _PHONEMES_FLAG, None, None)
        samples = np.concatenate(eng.chunks) if eng.chunks else np.zeros(0, np.int16)
        events = [(ms / 1000.0, name) for ms, name in eng.events if not name.startswith("_")]
    return samples.astype(np.float32) / 32768.0, eng.sample_rate, events
