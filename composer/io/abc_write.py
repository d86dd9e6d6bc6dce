"""ABC 2.1 writer: Score -> idiomatic ABC text that our reader turns back into the same notes.

One voice per track: notes that start together become a chord (longest first, since a chord
lasts as long as its first note), a note that outlives the next onset or bar line is split with
a tie, gaps become rests. Lengths are multiples of L:, triplets come out as ``(3``, a dotted
pair of unit notes as ``A>B``, and accidentals are spelt against the key signature and the
accidentals already written in the bar, exactly as the reader undoes them. Bar lines and repeat
marks come from ``meta['bars']`` when the score was read from ABC, else from the time signature;
chord symbols, P: parts, key, meter and tempo changes are written inline where they fall.

One limit: two notes of one pitch that overlap in one track and end at different times cannot
be told apart in one ABC voice; they come back sounding the same but split differently (MIDI
cannot hold such overlaps either).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from fractions import Fraction
from math import gcd

import numpy as np

from ..score import Score, Track
from .abc_common import MODES, AbcError, default_unit, key_name, parse_unit
from .atomic import atomic_write

__all__ = ["score_to_abc", "write_abc"]

_NATURAL_PC = (0, 2, 4, 5, 7, 9, 11)
_LETTERS = "CDEFGAB"
_ACC_TEXT = {2: "^^", 1: "^", 0: "=", -1: "_", -2: "__"}
_SHARP_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
_FLAT_NAMES = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]


def _len_text(num: int, den: int) -> str:
    """Unit multiple num/den -> ABC length suffix: 1 -> '', 2 -> '2', 1/2 -> '/', 3/4 -> '3/4'."""
    g = gcd(num, den)
    num, den = num // g, den // g
    if den == 1:
        return "" if num == 1 else str(num)
    if num == 1:
        return "/" if den == 2 else f"/{den}"
    return f"{num}/{den}"


def _note_text(li: int, nat: int, acc: int | None) -> str:
    """Letter index + natural MIDI pitch (+ accidental to print) -> '^f', 'B,', "c'"."""
    octave = nat // 12 - 5  # 0: C4..B4 upper case, 1: c5..b5 lower case
    letter = _LETTERS[li]
    if octave >= 1:
        text = letter.lower() + "'" * (octave - 1)
    else:
        text = letter + "," * (-octave)
    return (_ACC_TEXT[acc] if acc is not None else "") + text


class _Speller:
    """Chooses letters and accidentals the way the reader will read them back."""

    def __init__(self, alts: tuple[int, ...]):
        self.alts, self.mem = alts, {}
        self.flat = sum(alts) < 0

    def spell(self, pitch: int) -> tuple[int, int, int | None]:
        """pitch -> (letter index, natural pitch, accidental to print or None); updates bar memory."""
        pc = pitch % 12
        for li in range(7):
            alt = self.mem.get(li, self.alts[li])
            if (_NATURAL_PC[li] + alt) % 12 == pc:
                return li, pitch - alt, None
        if pc in _NATURAL_PC:
            li, alt = _NATURAL_PC.index(pc), 0
        elif self.flat:
            li, alt = _NATURAL_PC.index((pc + 1) % 12), -1
        else:
            li, alt = _NATURAL_PC.index((pc - 1) % 12), 1
        self.mem[li] = alt
        return li, pitch - alt, alt


def _pick_tracks(score: Score, tracks: str | list[int] | None) -> list[Track]:
    pitched = [t for t in score.tracks if not t.is_drum and len(t.notes)]
    if tracks == "all":
        return pitched
    if tracks is not None:
        return [score.tracks[i] for i in tracks]
    named = [t for t in pitched if t.name.lower() == "melody"]
    return named[:1] or pitched[:1]


def _bar_ticks_list(score: Score, end: int) -> list[tuple[int, str]]:
    """Bar lines from the time signatures when the score carries none of its own."""
    sigs = sorted(score.time_signatures, key=lambda s: s.time)
    out = []
    for i, sig in enumerate(sigs):
        stop = sigs[i + 1].time if i + 1 < len(sigs) else end
        if 0 < sig.time < end:
            out.append((sig.time, "|"))
        step, t = sig.bar_ticks(score.tpq), sig.time + sig.bar_ticks(score.tpq)
        while step > 0 and t < stop:
            out.append((t, "|"))
            t += step
    if end:
        out.append((end, "|]"))
    return out


def _simple_parts(length: int, unit: int) -> list[int]:
    """``length`` ticks as plain, dotted or double-dotted note lengths (largest first), so a note
    music21 and other readers cannot write as one note (25/16 of a unit, say) becomes tied notes."""
    if Fraction(length, unit).denominator % 3 == 0:
        return [length]  # a tuplet length: the tuplet notation carries it
    parts = []
    while length > 0:
        f = Fraction(length, unit)
        if f.denominator & (f.denominator - 1) == 0 and f.numerator in (1, 3, 7) or \
                f.denominator == 1 and f.numerator & (f.numerator - 1) == 0:
            parts.append(length)
            break
        best = max((p for k in range(-6, 7) for m in (1, Fraction(3, 2), Fraction(7, 4))
                    if (p := Fraction(2) ** k * m * unit) <= length and p.denominator == 1), default=length)
        parts.append(int(best))
        length -= int(best)
    return parts


def _events(notes: np.ndarray, bounds: list[int], end: int, unit: int | None = None) -> list[tuple[int, int, list]]:
    """Sweep the notes: (start, advance, [(pitch, written length, tied on, tied in)]) per event,
    rests as an empty list. ``bounds`` are ticks (bars, key/meter changes) no event may cross;
    with ``unit``, lengths no single note can show are cut into tied simple ones."""
    starts = notes["start"].tolist()
    ends = (notes["start"] + notes["duration"]).tolist()
    pitches = notes["pitch"].tolist()
    onsets = sorted(set(starts))
    cuts = sorted(set(onsets) | {b for b in bounds if 0 < b < end} | {end})
    if unit:
        extra = set()
        for a, b in zip(cuts, cuts[1:]):
            t = a
            for part in _simple_parts(b - a, unit)[:-1]:
                t += part
                extra.add(t)
        cuts = sorted(set(cuts) | extra)
    out, carry, i, n, ci = [], [], 0, len(starts), 0
    pos = 0
    while pos < end:
        while ci < len(cuts) and cuts[ci] <= pos:
            ci += 1
        nb = cuts[ci] if ci < len(cuts) else end
        group = [(p, e, True) for p, e in carry]
        while i < n and starts[i] == pos:
            if ends[i] > pos:
                group.append((pitches[i], ends[i], False))
            i += 1
        if not group:
            out.append((pos, nb - pos, []))
            pos = nb
            continue
        carry, items = [], []
        for p, e, tied_in in group:
            w = min(e, nb)
            if e > nb:
                carry.append((p, e))
            items.append((p, w - pos, e > nb, tied_in))
        items.sort(key=lambda it: -it[1])
        adv = items[0][1]
        out.append((pos, adv, items))
        pos += adv
    return out


def _tuplet_ok(den: int) -> bool:
    """True when a length with this denominator is a plain length inside a (3 triplet."""
    return den % 3 == 0 and (den // 3) & (den // 3 - 1) == 0


def _chord_name(root: int, quality: str, bass: int | None, flat: bool) -> str:
    names = _FLAT_NAMES if flat else _SHARP_NAMES
    return names[root % 12] + ("" if quality == "maj" else quality) + ("" if bass is None else "/" + names[bass % 12])


def _voice_body(score: Score, track: Track, unit: int, alts0: tuple, bars: list, bars_per_line: int,
                chords: bool) -> str:
    tpq = score.tpq
    notes = track.notes
    end = int((notes["start"] + notes["duration"]).max()) if len(notes) else 0
    end = max([end] + [t for t, _ in bars] + [c.start + c.duration for c in score.chords if chords])
    keys = {k.time: k for k in score.key_signatures if k.time > 0}
    meters = {m.time: m for m in score.time_signatures if m.time > 0}
    tempos = {t.time: t for t in score.tempos if t.time > 0}
    modes = score.meta.get("modes") or []
    key_modes = {k.time: (modes[i] if i < len(modes) else k.mode)
                 for i, k in enumerate(sorted(score.key_signatures, key=lambda k: k.time))}
    bar_at: dict[int, list[str]] = {}
    for t, kind in bars:
        bar_at.setdefault(t, []).append(kind)
    flat = sum(alts0) < 0
    chord_at = {c.start: _chord_name(c.root, c.quality, c.bass, flat) for c in score.chords if c.start < end} \
        if chords else {}
    parts = {int(t): str(label) for t, label in score.meta.get("parts", [])} if chords else {}
    bounds = list(bar_at) + list(keys) + list(meters) + list(tempos) + list(chord_at) + list(parts)
    events = _events(notes, bounds, end, unit)
    speller = _Speller(alts0)
    # tokens: ("bar", text) | ("field", text) | ("ev", start, adv, [(note, num, den, tie)], chord symbol)
    toks: list[tuple] = []
    last_t = -1

    def marks(t: int) -> None:
        kinds = bar_at.get(t, [])
        for kind in kinds:  # one token per bar line; a variant ending joins the bar before it
            if kind[:2] != "[|" and kind.startswith("[") and toks and toks[-1][0] == "bar" \
                    and toks[-1][1].endswith("|"):
                toks[-1] = ("bar", toks[-1][1] + kind[1:])
            else:
                toks.append(("bar", kind))
        if kinds:
            speller.mem = {}
        if t in meters:
            toks.append(("field", f"[M:{meters[t].numerator}/{meters[t].denominator}]"))
        if t in keys:
            mode = key_modes.get(t, keys[t].mode)
            mode = mode if MODES.get(mode, (0, ""))[1] == keys[t].mode else keys[t].mode
            name, alts = key_name(keys[t].tonic, mode)
            toks.append(("field", f"[K:{name}]"))
            speller.alts, speller.mem, speller.flat = alts, {}, sum(alts) < 0
        if t in tempos:
            toks.append(("field", f"[Q:1/4={_num(tempos[t].qpm)}]"))
        if t in parts:
            toks.append(("field", f"[P:{parts[t]}]"))

    for start, adv, items in events:
        if start != last_t:
            marks(start)
            last_t = start
        if not items:
            toks.append(("ev", start, adv, [("z", adv, unit, False)], chord_at.get(start, "")))
            continue
        written = []
        for pitch, w, tie_on, _ in items:
            written.append((_note_text(*speller.spell(pitch)), w, unit, tie_on))
        toks.append(("ev", start, adv, written, chord_at.get(start, "")))
    for t in sorted(bar_at):
        if t > last_t:
            marks(t)
    return _format(toks, score, bars_per_line, tpq)


def _num(x: float) -> str:
    return str(round(x)) if abs(x - round(x)) < 1e-6 else f"{x:.3f}".rstrip("0")


def _format(toks: list[tuple], score: Score, bars_per_line: int, tpq: int) -> str:
    """Tokens -> text: tuplets, broken rhythm, beaming spaces and a line break every few bars."""
    sig = score.time_signatures[0] if score.time_signatures else None
    beat = tpq * 4 // sig.denominator * (3 if sig.numerator % 3 == 0 and sig.numerator > 3 else 1) if sig else tpq
    prefix: dict[int, str] = {}
    scale: dict[int, tuple[int, int]] = {}
    run: list[int] = []

    def flush() -> None:
        for j in range(0, len(run), 3):
            chunk = run[j:j + 3]
            prefix[chunk[0]] = "(3" if len(chunk) == 3 else f"(3:2:{len(chunk)}"
            for c in chunk:
                scale[c] = (3, 2)
        run.clear()

    for i, tok in enumerate(toks):
        if tok[0] == "ev" and all(_tuplet_ok(den // gcd(w, den)) for _, w, den, _ in tok[3]):
            run.append(i)
        else:
            flush()
    flush()
    broken: dict[int, str] = {}
    evs = [i for i, tok in enumerate(toks) if tok[0] == "ev"]
    for a, b in itertools.pairwise(evs):
        if b != a + 1 or a in scale or b in scale or a in broken or (a - 1) in broken:
            continue
        ta, tb = toks[a][3], toks[b][3]
        if any(x[0] == "z" or x[3] for x in ta) or any(x[0] == "z" for x in tb):
            continue
        ra = {(2 * w) / den for _, w, den, _ in ta}
        rb = {(2 * w) / den for _, w, den, _ in tb}
        if ra == {3} and rb == {1}:
            broken[a] = ">"
        elif ra == {1} and rb == {3}:
            broken[a] = "<"
    out, line, nbars, bar_start, new_bar = [], "", 0, 0, True
    for i, tok in enumerate(toks):
        if tok[0] == "bar":
            opens = tok[1].startswith(("|:", "[|"))
            if opens and nbars >= bars_per_line and line.strip():  # a new line starts the repeat
                out.append(line.rstrip())
                line, nbars = "", 0
            line += ("" if not line or line.endswith(" ") else " ") + tok[1] + " "
            new_bar = True
            nbars += tok[1][:1] != "[" or tok[1][:2] == "[|"
            if not opens and nbars >= bars_per_line and i + 1 < len(toks) and toks[i + 1][0] != "bar":
                out.append(line.rstrip())
                line, nbars = "", 0
            continue
        if tok[0] == "field":
            line += tok[1]
            continue
        _, start, adv, items, symbol = tok
        if new_bar:
            bar_start, new_bar = start, False
        n, d = scale.get(i, (1, 1))
        if i in broken or (i - 1) in broken:
            parts = [text + ("-" if tie else "") for text, _, _, tie in items]
            body = parts[0] if len(parts) == 1 else "[" + "".join(parts) + "]"
        elif len(items) > 1 and len({(w, den) for _, w, den, _ in items}) == 1:
            all_tied = all(tie for *_, tie in items)
            inner = "".join(text + ("-" if tie and not all_tied else "") for text, _, _, tie in items)
            body = f"[{inner}]{_len_text(items[0][1] * n, items[0][2] * d)}" + ("-" if all_tied else "")
        else:
            parts = [text + _len_text(w * n, den * d) + ("-" if tie else "") for text, w, den, tie in items]
            body = parts[0] if len(parts) == 1 else "[" + "".join(parts) + "]"
        line += (f'"{symbol}"' if symbol else "") + prefix.get(i, "") + body + broken.get(i, "")
        if i not in broken and (start + adv - bar_start) % beat == 0:
            line += " "
    if line.strip():
        out.append(line.rstrip())
    return "\n".join(out)


def score_to_abc(score: Score, *, x: int | None = None, tracks: str | list[int] | None = None,
                 bars_per_line: int = 4) -> str:
    """One Score -> one ABC tune. Writes the track named 'melody' (else the first pitched track);
    ``tracks="all"`` or a list of indices writes several as V: voices. Lyrics are not written."""
    meta = score.meta
    chosen = _pick_tracks(score, tracks) or [Track("melody")]  # no notes: still bars, chords
    sig = min(score.time_signatures, key=lambda s: s.time) if score.time_signatures else None
    meter = (sig.numerator, sig.denominator) if sig and sig.time == 0 else None
    unit_frac = parse_unit(str(meta.get("unit", ""))) or default_unit(meter)
    for cand in (unit_frac, (1, 8), (1, 4), (1, 2), (1, 1)):  # coarser units for coarse tpq
        unit4, rem = divmod(score.tpq * 4 * cand[0], cand[1])
        if not rem and unit4 > 0:
            unit_frac = cand
            break
    else:
        raise AbcError(f"cannot write ABC lengths at tpq {score.tpq}")
    key0 = min(score.key_signatures, key=lambda k: k.time) if score.key_signatures else None
    tonic, ks_mode = (key0.tonic, key0.mode) if key0 else (0, "major")
    mode = meta.get("mode", ks_mode)
    if MODES.get(mode, (0, ""))[1] != ks_mode:
        mode = ks_mode
    kname, alts = key_name(tonic, mode)
    number = x if x is not None else meta.get("x", 1)
    head = [f"X:{number}", f"T:{meta.get('title') or 'Untitled'}"]
    fields = meta.get("fields") or {}
    head += [f"T:{t}" for t in fields.get("T", [])]
    for name, letter in (("composer", "C"), ("origin", "O"), ("rhythm", "R")):
        if meta.get(name):
            head.append(f"{letter}:{meta[name]}")
        head += [f"{letter}:{v}" for v in fields.get(letter, [])[1:]]
    for letter in "ABDFGHNSZ":  # the rest of the header, as read
        head += [f"{letter}:{v}" for v in fields.get(letter, [])]
    head.append(f"M:{meter[0]}/{meter[1]}" if meter else "M:none")
    head.append(f"L:{unit_frac[0]}/{unit_frac[1]}")
    tempo0 = [t for t in score.tempos if t.time == 0]
    if tempo0:
        head.append(f"Q:1/4={_num(tempo0[0].qpm)}")
    end = max((int((t.notes["start"] + t.notes["duration"]).max()) for t in chosen if len(t.notes)), default=0)
    if "bars" in meta:  # read from ABC: keep its bar lines and repeats, even none at all
        bars = [(int(t), str(k)) for t, k in meta["bars"]]
    else:
        bars = _bar_ticks_list(score, end)
    if len(chosen) > 1:
        for i, t in enumerate(chosen):
            head.append(f'V:{i + 1} name="{t.name}"' if t.name else f"V:{i + 1}")
    if len(chosen) == 1 and chosen[0].program:
        head.append(f"%%MIDI program {chosen[0].program}")
    head.append(f"K:{kname}")
    body = []
    for i, t in enumerate(chosen):
        if len(chosen) > 1:
            body.append(f"V:{i + 1}")
            if t.program:
                body.append(f"%%MIDI program {t.program}")
        body.append(_voice_body(score, t, unit4, alts, bars, bars_per_line, chords=i == 0))
    return "\n".join(head + body) + "\n"


def write_abc(scores: Score | Iterable[Score], path: str | os.PathLike, **kwargs) -> None:
    """Write one or many Scores as one ABC file, tunes numbered by their X: (atomic write)."""
    if isinstance(scores, Score):
        scores = [scores]
    texts, used = [], set()
    for i, s in enumerate(scores):
        x = s.meta.get("x")
        x = x if isinstance(x, int) and x not in used else i + 1
        while x in used:
            x += 1
        used.add(x)
        texts.append(score_to_abc(s, x=x, **kwargs))
    atomic_write(path, "\n".join(texts).encode("utf-8"))
