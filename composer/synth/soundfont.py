"""SoundFont rendering through TinySoundFont (the ``tinysoundfont`` binding), offline, no audio device.

Chosen over pyfluidsynth because it is one self-contained 190 kB wheel (no system library)
and renders faster here (see bench/render_speed.py). Tracks get MIDI channels by program
(drums on channel 10), the same stereo pan as the built-in synth, and the note events are
played in sample-exact order: the synth is advanced to each event, then the event is sent.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..score import Score
from .engine import note_samples, track_pans

__all__ = ["SYSTEM_SOUNDFONTS", "find_system_soundfont", "render_soundfont", "soundfont_available"]

log = logging.getLogger(__name__)

# Where distributions put a General MIDI SoundFont (Debian/Ubuntu fluid-soundfont-gm,
# timgm6mb-soundfont, musescore-general-soundfont; Fedora fluid-soundfont-gm; Arch soundfont-fluid).
SYSTEM_SOUNDFONTS = (
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf3/default-GM.sf3",
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM2-2.sf2",
    "/usr/share/soundfonts/freepats-general-midi.sf2",
    "/usr/local/share/soundfonts/default.sf2",
    "/opt/homebrew/share/soundfonts/default.sf2",
    "~/.local/share/soundfonts/default.sf2",
)
_INSTALL_HINT = "pip install --no-deps tinysoundfont (its pyaudio dependency is only for live playback)"
_BLOCK = 4096  # longest single generate() call, frames


def soundfont_available() -> bool:
    """True when the tinysoundfont binding can be imported."""
    try:
        import tinysoundfont  # noqa: F401
    except ImportError:
        return False
    return True


def find_system_soundfont() -> str | None:
    """The first General MIDI SoundFont in the usual system places, or None."""
    env = os.environ.get("COMPOSER_SOUNDFONT")
    for cand in ((env,) if env else ()) + SYSTEM_SOUNDFONTS:
        p = Path(cand).expanduser()
        if p.is_file():
            return str(p.resolve())
    return None


def _resolve(soundfont: str | os.PathLike) -> str:
    if os.fspath(soundfont) == "system":
        found = find_system_soundfont()
        if found is None:
            raise InputError("no General MIDI SoundFont found in the usual places (e.g. apt install "
                             "fluid-soundfont-gm, or set COMPOSER_SOUNDFONT); pass --soundfont FILE")
        return found
    path = os.fspath(soundfont)
    if not os.path.isfile(path):
        raise InputError(f"SoundFont {path}: no such file")
    return path


def _channels(score: Score) -> list[int]:
    """A MIDI channel per track: drums on 9, pitched tracks by program on the other 15."""
    by_program: dict[int, int] = {}
    free = [c for c in range(16) if c != 9]
    chans = []
    for t in score.tracks:
        if t.is_drum:
            chans.append(9)
            continue
        if t.program not in by_program:
            if len(by_program) < len(free):
                by_program[t.program] = free[len(by_program)]
            else:  # more than 15 programs: share the last channel (its first program wins)
                log.warning("more than 15 instruments; %s plays with another track's sound", t.name or t.program)
                by_program[t.program] = free[-1]
        chans.append(by_program[t.program])
    return chans


def _load(synth, path: str) -> int:
    try:
        with open(path, "rb") as f:
            head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
            raise InputError(f"SoundFont {path}: not a SoundFont file (no RIFF sfbk header)")
        return synth.sfload(path)
    except InputError:
        raise
    except Exception as e:  # the binding raises plain Exceptions for malformed fonts
        raise InputError(f"SoundFont {path}: cannot load it ({e})") from None


def render_soundfont(score: Score, soundfont: str | os.PathLike, sample_rate: int = 44100, *,
                     progress: bool = False) -> np.ndarray:
    """Render ``score`` through a SoundFont: float32 (n, 2), not yet normalised.

    ``soundfont`` is a file path or "system". Raises InputError when the binding is missing
    or the font is missing or unreadable.
    """
    path = _resolve(soundfont)
    if not soundfont_available():
        raise InputError(f"SoundFont rendering needs the tinysoundfont package: {_INSTALL_HINT}")
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=int(sample_rate))
    sfid = _load(synth, path)
    chans = _channels(score)
    pans = track_pans(score)
    for t, ch, pan in zip(score.tracks, chans, pans):
        # The font's preset for the program; else its preset 0 (TSF itself tries the drum bank first).
        for preset in dict.fromkeys((0 if t.is_drum else int(t.program), 0)):
            try:
                synth.program_select(ch, sfid, 0, preset, is_drums=t.is_drum)
                break
            except RuntimeError:
                continue
        else:
            log.warning("SoundFont %s has no preset for %s; it stays silent", path, t.name or f"program {t.program}")
        synth.control_change(ch, 10, min(127, round((pan + 1.0) * 63.5)))

    # Events as one sorted array: (sample, kind 0=off before 1=on, channel, key, velocity).
    rows = []
    for t, ch in zip(score.tracks, chans):
        if not len(t):
            continue
        on, held = note_samples(score, t, sample_rate)
        k = t.notes["pitch"].astype(np.int64)
        v = t.notes["velocity"].astype(np.int64)
        c = np.full(len(t), ch, dtype=np.int64)
        rows.append(np.stack([on + held, np.zeros_like(on), c, k, v], 1))
        rows.append(np.stack([on, np.ones_like(on), c, k, v], 1))
    events = np.concatenate(rows) if rows else np.zeros((0, 5), dtype=np.int64)
    events = events[np.lexsort((events[:, 1], events[:, 0]))]
    tail = int(2.0 * sample_rate)  # let releases ring out
    total = (int(events[-1, 0]) if len(events) else 0) + tail
    out = np.zeros((total, 2), dtype=np.float32)
    view = memoryview(out).cast("B")
    frame_bytes = 8
    pos = 0

    def advance(to: int) -> None:
        nonlocal pos
        while pos < to:
            n = min(_BLOCK, to - pos)
            synth.generate_simple(n, buffer=view[pos * frame_bytes:(pos + n) * frame_bytes])
            pos += n

    items = events.tolist()
    if progress:
        from tqdm import tqdm

        items = tqdm(items, desc="render", unit="event", leave=False, mininterval=0.5)
    for sample, kind, ch, key, vel in items:
        advance(sample)
        if kind:
            synth.noteon(ch, key, vel)
        else:
            synth.noteoff(ch, key)
    advance(total)
    return out
