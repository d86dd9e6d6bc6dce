"""What one press of Compose does, apart from HTTP: check the request against the page's limits,
compose through the same pipeline as the CLI, write every download, and describe the result.

Kept free of the web framework so it is tested directly and the server stays a thin layer.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ComposerError, InputError

__all__ = ["LIMITS", "ComposeRequest", "compose", "style_catalogue", "find_checkpoints"]

# Request limits: generous for music, small enough that one request cannot hold the server for long.
LIMITS = {"bars": 128, "tempo": (20.0, 400.0), "temperature": (0.05, 3.0), "seed": 2**31 - 1,
          "prime_chars": 4000, "upload_bytes": 1_000_000}
# Style options the page offers, with the CLI flag each maps to (the tokenizers name which they take).
OPTION_FLAGS = {"meter": "--meter", "mode": "--mode", "form": "--form", "groove": "--groove",
                "fill_every": "--fill-every", "prime": "--prime"}
# Sampler controls (composer.constraints.Control) the page offers, with their CLI flags.
CONTROL_FLAGS = {"scale": "--scale", "scale_strength": "--scale-strength", "vary": "--vary"}


@dataclass
class ComposeRequest:
    style: str | None = None
    checkpoint: str | None = None
    key: str = "C"
    bars: int | None = None
    tempo: float | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int = 0
    options: dict = field(default_factory=dict)  # the style's own (meter, mode, form, ...)
    control: dict = field(default_factory=dict)  # scale lock, its strength, variation of repeats
    upload: str | None = None  # a MIDI or ABC file to continue or accompany
    use: str = "continue"  # what to do with the upload: continue, or the part to add (drums, bass, ...)

    @classmethod
    def from_form(cls, form: dict, checkpoints: dict[str, Path]) -> "ComposeRequest":
        """A request from the page's fields (all strings); bad values are InputErrors."""

        def num(name, kind, lo=None, hi=None):
            raw = str(form.get(name, "") or "").strip()
            if not raw:
                return None
            try:
                v = kind(raw)
            except ValueError:
                raise InputError(f"{name} must be a number, got {raw[:20]!r}") from None
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                raise InputError(f"{name} must be between {lo} and {hi}, got {raw}")
            return v

        source = str(form.get("style") or "blues")
        style, checkpoint = (None, str(checkpoints[source])) if source in checkpoints else (source, None)
        options = {}
        for name in OPTION_FLAGS:
            raw = str(form.get(name, "") or "").strip()
            if raw:
                options[name] = int(raw) if name == "fill_every" and raw.isdigit() else raw
        control = {}
        if str(form.get("scale") or "").strip():
            control["scale"] = str(form["scale"]).strip()
        for name in ("scale_strength", "vary"):
            value = num(name, float, 0.0, 1.0)
            if value is not None:
                control[name] = value
        if len(options.get("prime", "")) > LIMITS["prime_chars"]:
            raise InputError(f"the start text is over {LIMITS['prime_chars']} characters")
        return cls(
            style=style, checkpoint=checkpoint, key=str(form.get("key") or "C"),
            bars=num("bars", int, 1, LIMITS["bars"]), tempo=num("tempo", float, *LIMITS["tempo"]),
            temperature=num("temperature", float, *LIMITS["temperature"]), top_p=num("top_p", float, 0.01, 1.0),
            seed=num("seed", int, 0, LIMITS["seed"]) or 0, options=options, control=control,
            upload=form.get("upload") or None, use=_use(form.get("use")),
        )

    def command(self) -> str:
        """The `compose` command line that makes the same piece."""
        if self.upload and self.use != "continue":
            args = ["compose", "accompany", Path(self.upload).name, "--add", self.use, "--seed", str(self.seed)]
            if self.temperature is not None:
                args += ["--temperature", str(self.temperature)]
            return shlex.join(args + ["-o", "piece.mid"])
        args = ["compose", "generate"]
        args += ["--checkpoint", self.checkpoint] if self.checkpoint else ["--style", self.style or "blues"]
        args += ["--key", self.key, "--seed", str(self.seed)]
        for flag, value in (("--bars", self.bars), ("--tempo", self.tempo), ("--temperature", self.temperature),
                            ("--top-p", self.top_p)):
            if value is not None:
                args += [flag, str(value)]
        for name, value in self.options.items():
            args += [OPTION_FLAGS[name], str(value)]
        for name, value in self.control.items():
            args += [CONTROL_FLAGS[name], str(value)]
        return shlex.join(args + ["-o", "piece.mid"])


def _use(value) -> str:
    from ..accompany import ADDS

    use = str(value or "continue")
    if use != "continue" and use not in ADDS:
        raise InputError(f"an uploaded file is continued or accompanied ({', '.join(ADDS)}), not {use!r}")
    return use


def find_checkpoints(runs_dir: Path | None) -> dict[str, Path]:
    """Trained runs under ``runs_dir`` (folders holding a checkpoint), by their name on the page."""
    if runs_dir is None or not Path(runs_dir).is_dir():
        return {}
    found = {}
    for cfg in sorted(Path(runs_dir).glob("*/config.json")):
        found[f"run:{cfg.parent.name}"] = cfg.parent
    return found


def style_catalogue(checkpoints: dict[str, Path]) -> list[dict]:
    """Every style with a shipped checkpoint, and every run found, with the controls each takes."""
    from ..checkpoint import read_config
    from ..constraints import ScaleLock
    from ..form import SectionForm
    from ..pipeline import pretrained_dir
    from ..styles import STYLES
    from ..tokenizers import build_tokenizer

    entries = []

    def entry(name, label, st, cfg):
        tok = build_tokenizer(cfg["tokenizer"])
        options = [o for o in getattr(tok, "options", ()) if o in OPTION_FLAGS]
        if tok.kind in ScaleLock.kinds:
            options += ["scale", "scale_strength"]
        if tok.kind in SectionForm.kinds or "form" in options:
            options += [o for o in ("form", "vary") if o not in options]
        entries.append({"name": name, "label": label, "style": st.name, "description": st.description,
                         "options": options, "bars": st.bars,
                         "tempo": st.tempo, "temperature": st.temperature, "top_p": st.top_p, "keyed": st.keyed})

    for st in STYLES.values():
        path = pretrained_dir(st)
        if (path / "config.json").exists():
            entry(st.name, st.name, st, read_config(path))
    for name, path in checkpoints.items():
        try:
            cfg = read_config(path)
            entry(name, f"{name} ({cfg['style']})", STYLES[cfg["style"]], cfg)
        except (ComposerError, KeyError):
            continue  # a broken run folder is not offered
    return entries


def _notes(score) -> list[list]:
    """Notes as [track, pitch, start s, duration s, velocity] for the page's piano roll."""
    out = []
    for i, t in enumerate(score.tracks):
        n = t.notes
        if not len(n):
            continue
        start = score.seconds(n["start"])
        end = score.seconds(n["start"] + n["duration"])
        out += [[i, int(p), round(float(a), 4), round(float(b - a), 4), int(v)]
                for p, a, b, v in zip(n["pitch"], start, end, n["velocity"])]
    return out


def _prime_from(req: ComposeRequest) -> str:
    """The start a model continues from an uploaded piece: its own notation when the tokenizer has
    one (a folk tune's first bars), else the file itself (styles that take a MIDI prime)."""
    from ..io import read
    from ..pipeline import cached_checkpoint, resolve_model

    _, path = resolve_model(req.style, req.checkpoint)
    tok = cached_checkpoint(path).tokenizer
    if "prime" not in getattr(tok, "options", ()):
        raise InputError(f"this model cannot continue an uploaded piece; choose one that takes a start (e.g. folk)")
    if hasattr(tok, "prime_text"):
        return tok.prime_text(read(req.upload))
    return str(req.upload)


def compose(req: ComposeRequest, out_dir: Path) -> tuple[dict, object]:
    """Compose, write piece.mid/.wav/.abc into ``out_dir``; return the page's view of it and the Score
    (kept by the server to write piece.musicxml when it is first asked for)."""
    from ..accompany import accompany
    from ..constraints import Control
    from ..io import read, write
    from ..pipeline import generate
    from ..theory import pc_to_name

    t0 = time.perf_counter()
    if req.upload and req.use != "continue":
        score = accompany(read(req.upload), req.use, seed=req.seed, temperature=req.temperature)
    else:
        if req.upload:
            req.options["prime"] = _prime_from(req)
        control = Control(**req.control) if req.control else None
        score = generate(req.style, req.checkpoint, bars=req.bars, key=req.key, tempo=req.tempo, seed=req.seed,
                         temperature=req.temperature, top_p=req.top_p, control=control, **req.options)
    t1 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    write(score, out_dir / "piece.mid")
    files["midi"] = "piece.mid"
    write(score, out_dir / "piece.wav")
    files["wav"] = "piece.wav"
    t2 = time.perf_counter()
    abc = None
    try:  # ABC holds less than MIDI (e.g. drums): offered when it writes cleanly
        write(score, out_dir / "piece.abc")
        files["abc"] = "piece.abc"
        abc = (out_dir / "piece.abc").read_text(encoding="utf-8")
    except ComposerError:
        pass
    files["musicxml"] = "piece.musicxml"  # written on first download: music21 is slow to start
    tracks = [{"name": t.name, "program": int(t.program), "drum": bool(t.is_drum)} for t in score.tracks]
    starts = score.seconds([c.start for c in score.chords]) if score.chords else []
    return {
        "style": f"{req.use} (accompany)" if req.upload and req.use != "continue" else req.style or "checkpoint",
        "seed": req.seed, "command": req.command(), "abc": abc,
        "tracks": tracks, "notes": _notes(score), "seconds": round(float(score.seconds(score.end)), 2),
        "chords": [[round(float(s), 3), pc_to_name(c.root) + c.quality] for s, c in zip(starts, score.chords)],
        "files": files, "timing": {"compose_s": round(t1 - t0, 3), "audio_s": round(t2 - t1, 3)},
    }, score
