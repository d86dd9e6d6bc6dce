"""Play an audio file on the machine's speakers, or say in one line why that is not possible.

No audio library is required: the platform's own player is used (``afplay`` on macOS,
``winsound`` on Windows, PipeWire/PulseAudio/ALSA players on Linux). On Linux, a machine with
no sound card and no sound server (a container, a CI runner, ssh) is detected up front, so
``--play`` never hangs waiting for a device that is not there.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

__all__ = ["audio_device_reason", "play_file"]

_LINUX_PLAYERS = (("pw-play", []), ("paplay", []), ("aplay", ["-q"]),
                  ("ffplay", ["-nodisp", "-autoexit", "-loglevel", "quiet"]))


def _linux_sound_server() -> bool:
    runtime = os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
    return bool(os.environ.get("PULSE_SERVER")) or any(
        os.path.exists(os.path.join(runtime, s)) for s in ("pulse/native", "pipewire-0"))


def audio_device_reason() -> str | None:
    """None when sound can be played here, else a short reason why not.

    ``COMPOSER_NO_AUDIO=1`` forces "no device" (for tests and headless scripts).
    """
    if os.environ.get("COMPOSER_NO_AUDIO"):
        return "audio output disabled by COMPOSER_NO_AUDIO"
    if sys.platform == "win32":
        return None
    if sys.platform == "darwin":
        return None if shutil.which("afplay") else "afplay not found"
    if not (_linux_sound_server() or glob.glob("/dev/snd/pcmC*D*p")):
        return "no audio device found (no sound card, PulseAudio or PipeWire)"
    if not any(shutil.which(p) for p, _ in _LINUX_PLAYERS):
        return "no audio player found (install pipewire, pulseaudio-utils or alsa-utils)"
    return None


def play_file(path: str | os.PathLike) -> str | None:
    """Play a WAV file to the end; returns None on success, else the one-line reason it did not play."""
    reason = audio_device_reason()
    if reason:
        return reason
    path = os.fspath(path)
    if sys.platform == "win32":
        import winsound

        winsound.PlaySound(path, winsound.SND_FILENAME)
        return None
    if sys.platform == "darwin":
        cmd = ["afplay", path]
    else:
        name, args = next((p, a) for p, a in _LINUX_PLAYERS if shutil.which(p))
        cmd = [name, *args, path]
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              check=False)
    except OSError as e:
        return f"{cmd[0]} failed: {e.strerror or e}"
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()
        return f"{cmd[0]} failed: {err[-1] if err else f'exit {done.returncode}'}"
    return None
