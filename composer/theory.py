"""Small pure music-theory helpers: names ⇄ pitch classes, scales, chord templates.

Kept free of music21 so hot paths (generation, metrics) import in milliseconds.
"""

from __future__ import annotations

import re

from .errors import InputError

__all__ = [
    "PC_NAMES",
    "SCALES",
    "CHORD_QUALITIES",
    "name_to_pc",
    "pc_to_name",
    "parse_key",
    "scale_pcs",
    "chord_pcs",
    "identify_chord",
    "key_offset",
    "KK_MAJOR",
    "KK_MINOR",
    "key_from_histogram",
]

PC_NAMES = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
_LETTER = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# Intervals above the tonic.
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "major_pentatonic": (0, 2, 4, 7, 9),
    "minor_pentatonic": (0, 3, 5, 7, 10),
    # The blues scale: minor pentatonic plus the flat fifth "blue note".
    "blues": (0, 3, 5, 6, 7, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "melodic_minor": (0, 2, 3, 5, 7, 9, 11),
}

# Intervals above the root. Order matters for identify_chord: richer templates first.
CHORD_QUALITIES: dict[str, tuple[int, ...]] = {
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
    "6": (0, 4, 7, 9),
    "m6": (0, 3, 7, 9),
    "9": (0, 2, 4, 7, 10),
    "maj": (0, 4, 7),
    "m": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
}


def name_to_pc(name: str) -> int:
    """'C' -> 0, 'F#' -> 6, 'Bb' -> 10, 'eb' -> 3. Raises InputError on anything else."""
    m = re.fullmatch(r"\s*([A-Ga-g])([#b♯♭]*)\s*", name or "")
    if not m or len(m.group(2)) > 2:
        raise InputError(f"unknown key or note name {name!r} (use C, C#, Db, D, ..., B)")
    pc = _LETTER[m.group(1).upper()]
    pc += sum(1 if ch in "#♯" else -1 for ch in m.group(2))
    return pc % 12


def pc_to_name(pc: int) -> str:
    return PC_NAMES[pc % 12]


def parse_key(text: str) -> tuple[int, str]:
    """'D' -> (2, 'major'), 'Am' / 'A minor' / 'a:min' -> (9, 'minor')."""
    m = re.fullmatch(r"\s*([A-Ga-g][#b♯♭]?)\s*[:\s]?\s*(m|min|minor|maj|major)?\s*", text or "")
    if not m:
        raise InputError(f"unknown key {text!r} (use e.g. C, F#, Bb, Am)")
    mode = "minor" if (m.group(2) or "").lower() in ("m", "min", "minor") else "major"
    return name_to_pc(m.group(1)), mode


def scale_pcs(tonic: int, scale: str) -> frozenset[int]:
    if scale not in SCALES:
        raise InputError(f"unknown scale {scale!r}; valid: {', '.join(SCALES)}")
    return frozenset((tonic + i) % 12 for i in SCALES[scale])


def chord_pcs(root: int, quality: str) -> frozenset[int]:
    if quality not in CHORD_QUALITIES:
        raise InputError(f"unknown chord quality {quality!r}; valid: {', '.join(CHORD_QUALITIES)}")
    return frozenset((root + i) % 12 for i in CHORD_QUALITIES[quality])


def identify_chord(pcs, bass: int | None = None) -> tuple[int, str] | None:
    """Best (root, quality) for a set of pitch classes, or None if nothing fits.

    Exact template matches win; among several (C6 = Am7), the one rooted on ``bass`` wins,
    then the earlier quality in CHORD_QUALITIES.
    """
    pcs = frozenset(p % 12 for p in pcs)
    if len(pcs) < 3:
        return None
    exact = [(r, q) for q in CHORD_QUALITIES for r in range(12) if chord_pcs(r, q) == pcs]
    if exact:
        for r, q in exact:
            if r == bass:
                return r, q
        return exact[0]
    # Otherwise the template covering most notes with fewest extras (e.g. a 7th chord missing its 5th).
    best, best_score = None, 0.0
    for q, ivs in CHORD_QUALITIES.items():
        for r in range(12):
            tpl = chord_pcs(r, q)
            score = len(tpl & pcs) - 0.5 * len(pcs - tpl) - 0.25 * len(tpl - pcs) + (0.1 if r == bass else 0)
            if score > best_score:
                best, best_score = (r, q), score
    return best if best_score >= 2 else None


def key_offset(tonic: int) -> int:
    """The shift in -6..+5 semitones that moves C to ``tonic`` (the smallest move either way).

    Material composed or normalised in C moves by this to reach a key, and back by its negative.
    """
    tonic %= 12
    return tonic if tonic <= 5 else tonic - 12


# Krumhansl-Kessler key profiles (probe-tone ratings), tonic first.
KK_MAJOR = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
KK_MINOR = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)


def key_from_histogram(hist, modes=("major", "minor")) -> tuple[int, str]:
    """(tonic, mode) whose Krumhansl-Kessler profile best correlates with a pitch-class histogram."""
    import numpy as np

    hist = np.asarray(hist, dtype=float)
    if not hist.any() or not hist.std():
        return 0, "major"
    profiles = {"major": np.array(KK_MAJOR), "minor": np.array(KK_MINOR)}
    scored = [(np.corrcoef(np.roll(profiles[m], k), hist)[0, 1], -i, k, m)
              for i, m in enumerate(modes) for k in range(12)]
    _, _, tonic, mode = max(scored)
    return tonic, mode
