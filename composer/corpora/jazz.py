"""The built-in jazz corpus: chord progressions derived by a jazz-harmony grammar, in all keys.

No jazz-standard chord corpus is available offline, so the shipped one is generated, after
Steedman's grammar for the jazz 12-bar blues (Steedman 1984; Chemillier 2004) and the rules it
shares with its successors (Rohrmeier 2011): start from a skeleton of tonic, subdominant and
dominant, then rewrite it (every rule keeps bar lengths and the chord's harmonic function):

1. split: a chord lasting a bar or more becomes the same chord twice (room for rule 3-6);
2. subdominant: the second half of a long tonic becomes its IV (the plagal move, blues bar 2);
3. secondary dominant: a one-slot chord before y becomes V7 of y (bar 8 of the blues: VI7);
4. ii-V: a dominant lasting a bar becomes its related ii then itself (m7b5 + 7b9 before minor);
5. tritone substitution: a dominant that falls a fifth becomes the dominant a tritone away;
6. diminished passing chord: I . | ii becomes I #Idim7 | ii, and IV . | I becomes IV #IVdim7 | I/5;
7. backdoor: ii-V-I becomes iv-bVII-I;
8. colour: each chord takes an extension or alteration its function allows (7 -> 9, 13, 7b9, 7alt
   before minor, 7#11 on tritone substitutes; maj7 -> 6, 6/9, maj9; m7 -> m9, m11; ...).

Forms: 12-bar blues (major, bebop, minor), 32-bar AABA (and rhythm changes), 32-bar ABAC,
16-bar AB, some in 3/4. A sections repeat their first six bars and vary the last two (the
ending); every section ends on a cadence (``tokenizers.chord_grammar``), so each tune passes
``check_form``. Each tune is then moved to a random key. Provenance: corpora/jazz/README.md.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..chart import Chart, chart_to_score, score_to_chart
from ..harmony import Chord, parse_chord
from ..score import Score
from ..tokenizers.chord_grammar import check_form

__all__ = ["FORMS", "generate_jazz", "generate_tune"]

A_MAJOR = [
    "Cmaj7 | Am7 | Dm7 | G7 | Em7 | A7", "Cmaj7 | C7 | Fmaj7 | Fm7 Bb7 | Em7 | A7",
    "Cmaj7 | Cmaj7 | D7 | D7 | Dm7 | G7", "Dm7 | G7 | Cmaj7 | Cmaj7 | Dm7 | G7",
    "Cmaj7 | Bm7b5 E7 | Am7 | D7 | Dm7 | G7", "Fmaj7 | Fm7 Bb7 | Cmaj7 | Am7 | Dm7 | G7",
    "Em7 | A7 | Dm7 | G7 | Cmaj7 | Cmaj7", "Cmaj7 | Cmaj7 | Gm7 | C7 | Fmaj7 | Fm7",
    "Am7 | D7 | Dm7 | G7 | Cmaj7 | A7", "C6 | C6 | Dm7 | G7 | C6 | C6",
    "Cmaj7 | Ebdim7 | Dm7 | G7 | Em7 | Am7", "Cmaj7 | Cmaj7 | Fm7 | Bb7 | Cmaj7 | Cmaj7",
]
A_MINOR = [
    "Cm7 | Cm7 | Fm7 | Fm7 | Dm7b5 | G7", "Fm7 | Bb7 | Ebmaj7 | Abmaj7 | Dm7b5 | G7",
    "Cm6 | Cm6 | Dm7b5 | G7 | Cm6 | Cm6", "Cm7 | Fm7 | Dm7b5 | G7 | Cm7 | C7",
    "Cmmaj7 | Cm7 | Cm6 | Cm7 | Fm7 | Bb7", "Cm7 | Dm7b5 G7 | Cm7 | Gm7b5 C7 | Fm7 | Fm7",
]
B_MAJOR = [
    "E7 | E7 | A7 | A7 | D7 | D7 | G7 | G7", "Gm7 | C7 | Fmaj7 | Fmaj7 | Am7 | D7 | Dm7 | G7",
    "Fmaj7 | Fmaj7 | Fm7 | Bb7 | Em7 | A7 | Dm7 | G7", "Bm7b5 | E7 | Am7 | Am7 | D7 | D7 | Dm7 | G7",
    "Ebm7 | Ab7 | Dbmaj7 | Dbmaj7 | Dm7 | G7 | Cmaj7 | Dm7 G7", "C7 | C7 | Fmaj7 | Fmaj7 | D7 | D7 | Dm7 | G7",
    "Cm7 | F7 | Bbmaj7 | Bbmaj7 | Bbm7 | Eb7 | Abmaj7 | Dm7 G7",
]
B_MINOR = [
    "Ebmaj7 | Ebmaj7 | Abmaj7 | Abmaj7 | Dm7b5 | G7 | Cm7 | Dm7b5 G7", "Fm7 | Bb7 | Ebmaj7 | Ebmaj7 | Abmaj7 | Abmaj7 | Dm7b5 | G7",
    "Gm7b5 | C7 | Fm7 | Fm7 | Dm7b5 | G7 | Cm7 | G7",
]
HALF = {"major": ["Cmaj7 A7 | Dm7 G7", "Em7 A7 | Dm7 G7", "Cmaj7 | Dm7 G7", "Cmaj7 Eb7 | Abmaj7 Db7", "C6 | G7"],
        "minor": ["Cm7 Ab7 | Dm7b5 G7", "Cm6 | Dm7b5 G7", "Abmaj7 | G7"]}
FULL = {"major": ["Dm7 G7 | Cmaj7", "Dm7 Db7 | C6", "Fm7 Bb7 | Cmaj7", "Dm7 G7 | C6 A7", "G7 | Cmaj7"],
        "minor": ["Dm7b5 G7 | Cm6", "Dm7b5 G7 | Cm7", "Ab7 G7 | Cm6"]}
BLUES = {"major": "C7 | C7 | C7 | C7 | F7 | F7 | C7 | C7 | G7 | F7 | C7 | C7",
         "bird": "Cmaj7 | Bm7b5 E7 | Am7 D7 | Gm7 C7 | F7 | Fm7 Bb7 | Em7 A7 | Ebm7 Ab7 | Dm7 | G7 | C7 A7 | Dm7 G7",
         "minor": "Cm7 | Cm7 | Cm7 | Cm7 | Fm7 | Fm7 | Cm7 | Cm7 | Ab7 | G7 | Cm7 | Dm7b5 G7"}
RHYTHM_A = "C Am7 | Dm7 G7 | C Am7 | Dm7 G7 | C C7 | F F#dim7"
RHYTHM_END = {"half": "C/G A7 | Dm7 G7", "full": "C/G G7 | C"}
# form name -> (plan, weight)
FORMS = {"blues": ([("A", 12)], 0.30), "aaba": ([("A", 8), ("A", 8), ("B", 8), ("A", 8)], 0.30),
         "rhythm": ([("A", 8), ("A", 8), ("B", 8), ("A", 8)], 0.08), "abac": ([("A", 8), ("B", 8), ("A", 8), ("C", 8)], 0.12),
         "ab16": ([("A", 8), ("B", 8)], 0.20)}
Slots = list  # one Chord per half bar


@cache
def _slots(text: str) -> tuple[Chord, ...]:
    """'Dm7 G7 | Cmaj7' -> two slots per bar (a one-chord bar fills both)."""
    out = []
    for bar in text.split("|"):
        names = bar.split()
        chords = [parse_chord(n) for n in names]
        out += chords * 2 if len(chords) == 1 else chords
    return tuple(out)


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


def _weighted(rng: np.random.Generator, pairs):
    names, weights = zip(*pairs)
    return names[int(rng.choice(len(names), p=np.array(weights) / sum(weights)))]


def _dom(c: Chord) -> bool:
    return c.quality == "7"


def _rewrite(s: Slots, rng: np.random.Generator, lo: int, hi: int, p: float) -> Slots:
    """Rules 2-7 on slots [lo, hi), each place with probability ``p``; rule 1 is implicit in slots."""
    s = list(s)
    for i in range(lo, hi - 1):  # 2: subdominant in the second half of a long tonic
        if s[i].root == 0 and i + 3 < hi and s[i] == s[i + 1] == s[i + 2] == s[i + 3] and i % 4 == 0 and rng.random() < p / 2:
            s[i + 2] = s[i + 3] = Chord(5, s[i].quality)
    for i in range(max(lo, 1), hi - 1):  # 3: secondary dominant on a one-slot chord
        y = s[i + 1]
        if s[i - 1] != s[i] != y and not _dom(s[i]) and "dim" not in y.quality and y.root != s[i].root and rng.random() < p:
            s[i] = Chord((y.root + 7) % 12, "7")
    for i in range(lo, hi - 1):  # 4: ii-V from a dominant lasting a bar
        one_bar = s[i] == s[i + 1] and (i == 0 or s[i - 1] != s[i]) and (i + 2 >= len(s) or s[i + 2] != s[i])
        if i % 2 == 0 and _dom(s[i]) and one_bar and rng.random() < p:
            nxt = next((c for c in s[i + 2:] if c != s[i]), None)
            minor = nxt is not None and nxt.quality.startswith("m") and not nxt.quality.startswith("maj")
            s[i] = Chord((s[i].root + 7) % 12, "m7b5" if minor else "m7")
    for i in range(lo, hi - 1):  # 6: diminished passing chords
        a, b = s[i], s[i + 1]
        if i % 2 == 1 and i + 1 < hi and s[i - 1] == a and rng.random() < p:
            if a.root == 0 and b.root == 2 and b.quality == "m7":
                s[i] = Chord(1, "dim7")
            elif a.root == 5 and b.root == 0 and "b3" not in a.degrees:
                s[i], s[i + 1] = Chord(6, "dim7"), Chord(0, b.quality, 7)
    for i in range(lo, hi - 2):  # 7: backdoor ii-V
        if (s[i].root, s[i].quality, s[i + 1].root) == (2, "m7", 7) and _dom(s[i + 1]) and s[i + 2].root == 0 \
                and rng.random() < p / 2:
            s[i], s[i + 1] = Chord(5, "m7"), Chord(10, "7")
    return s


def _substitute(s: Slots, rng: np.random.Generator, p: float) -> Slots:
    """Rule 5 (tritone substitution), safe anywhere: a dominant stays a dominant."""
    s = list(s)
    for i in range(len(s)):
        nxt = next((c for c in s[i + 1:] if c != s[i]), None)
        if _dom(s[i]) and nxt is not None and nxt.root == (s[i].root + 5) % 12 and (i == 0 or s[i - 1] != s[i]) \
                and rng.random() < p:
            sub = Chord((s[i].root + 6) % 12, "7")
            j = i
            while j < len(s) and s[j] == s[i]:
                j += 1
            s[i:j] = [sub] * (j - i)
    return s


def _colour(s: Slots, rng: np.random.Generator, mode: str, blues: bool) -> Slots:
    """Rule 8: an extension or alteration per chord, chosen by its function."""
    out, memo = [], {}
    for i, c in enumerate(s):
        if i and s[i - 1] == c:
            out.append(out[-1])
            continue
        nxt = next((x for x in s[i + 1:] if x != c), s[0])
        q = c.quality
        if q == "7":
            to_minor = "b3" in nxt.degrees and "b5" not in nxt.degrees
            if blues and c.root in (0, 5):
                opts = [("7", 6), ("9", 2), ("13", 2)]
            elif to_minor and nxt.root == (c.root + 5) % 12:
                opts = [("7b9", 4.5), ("7alt", 3), ("7", 1.5), ("7b13", 1)]
            elif nxt.root == (c.root + 11) % 12:
                opts = [("7", 4), ("7#11", 3), ("9", 2), ("13", 1)]
            else:
                opts = [("7", 45), ("9", 15), ("13", 25), ("7b9", 7), ("7alt", 5), ("7#9", 3)]
        elif q in ("maj7", "maj") and c.root == 0 and mode == "major":
            opts = [("maj7", 5), ("6", 2.5), ("69", 1), ("maj9", 1.5)] if q == "maj7" else [("maj", 6), ("6", 4)]
        elif q == "maj7":
            opts = [("maj7", 7), ("maj9", 1.5), ("6", 1), ("maj7#11", 0.5)]
        elif q == "m7" and c.root == 0 and mode == "minor":
            opts = [("m7", 3.5), ("m6", 3.5), ("m69", 1), ("mmaj7", 1), ("m9", 1)]
        elif q == "m7":
            opts = [("m7", 75), ("m9", 15), ("m11", 10)]
        else:
            opts = [(q, 1)]
        key = (c, nxt.root)
        if key not in memo:  # the same chord in the same place keeps its colour within a tune
            memo[key] = Chord(c.root, _weighted(rng, opts), c.bass)
        out.append(memo[key])
    return out


def _finish(part: Slots, after: Chord, rng: np.random.Generator, p: float, mode: str, blues: bool) -> Slots:
    """Rules 5 and 8 on one part (a body, an ending, a bridge), given the chord that follows it."""
    return _colour(_substitute(list(part) + [after], rng, p / 2), rng, mode, blues)[:-1]


def generate_tune(rng: np.random.Generator) -> tuple[Chart, list[tuple[str, int]], str]:
    """One progression in C (or C minor): (chart, form plan, form name)."""
    form = _weighted(rng, [(k, w) for k, (_, w) in FORMS.items()])
    plan = FORMS[form][0]
    mode = "minor" if rng.random() < (0.25 if form in ("aaba", "abac", "ab16") else 0.12 if form == "blues" else 0) \
        else "major"
    p = float(rng.uniform(0.15, 0.55))  # how far this tune strays from its skeleton
    home = _slots("Cm7" if mode == "minor" else "C")[0]

    def fin(part, after=home):
        return _finish(part, after, rng, p, mode, form == "blues")

    if form == "blues":
        kind = "minor" if mode == "minor" else _weighted(rng, [("major", 0.75), ("bird", 0.25)])
        s = list(_slots(BLUES[kind]))
        if kind == "major":  # bar 4 ii-V of IV, bar 8 VI7, bars 9-10 ii-V, a turnaround in 11-12
            if rng.random() < p + 0.2:
                s[6], s[7] = Chord(7, "m7"), Chord(0, "7")
            if rng.random() < 0.6:
                s[14] = s[15] = Chord(9, "7")
            if rng.random() < 0.7:
                s[16:20] = _slots("Dm7 | G7")
            s[20:24] = _slots(_pick(rng, ["C7 A7 | Dm7 G7", "C7 | G7", "C7 Eb7 | Ab7 Db7", "C7 | Dm7 G7"]))
            s = _rewrite(s, rng, 0, 12, p)
        sections = [fin(s)]
    elif form == "rhythm":
        body = fin(_rewrite(list(_slots(RHYTHM_A)), rng, 0, 12, p), _slots(RHYTHM_END["half"])[0])
        half, full = fin(_slots(RHYTHM_END["half"])), fin(_slots(RHYTHM_END["full"]), Chord(4, "7"))
        sections = [body + half, body + full, fin(_slots(B_MAJOR[0])), body + fin(_slots(RHYTHM_END["full"]))]
    else:
        a_pool = A_MINOR if mode == "minor" else A_MAJOR
        a_raw = _rewrite(list(_slots(_pick(rng, a_pool))), rng, 0, 12, p)
        endings = [_slots(_pick(rng, HALF[mode])), _slots(_pick(rng, FULL[mode])), _slots(_pick(rng, FULL[mode]))]
        body = fin(a_raw, endings[0][0])
        ends = [fin(e) for e in endings]
        b_raw = list(_slots(_pick(rng, B_MINOR if mode == "minor" else B_MAJOR)))
        bridge = fin(_rewrite(b_raw, rng, 0, len(b_raw) - 4, p))
        if form == "aaba":
            sections = [body + ends[0], body + ends[1], bridge, body + ends[2]]
        else:
            other = _rewrite(list(_slots(_pick(rng, a_pool))), rng, 0, 12, p) + list(endings[1])
            other = fin(other)
            sections = [body + ends[0], bridge, body + fin(_slots(_pick(rng, HALF[mode]))), other] if form == "abac" \
                else [body + ends[0], other]
    flat = [c for sec in sections for c in sec]
    meter = (3, 4) if form in ("aaba", "ab16") and rng.random() < 0.12 else (4, 4)
    chart = Chart(meter=meter, key=(0, mode), title=form, tempo=float(rng.integers(90, 261)))
    at = 0
    for (label, n) in plan:
        chart.sections[at] = label
        at += n
    for b in range(len(flat) // 2):
        x, y = flat[2 * b], flat[2 * b + 1]
        chart.bars.append([(0, x)] + ([(2, y)] if y != x else []))
    return chart, plan, form


def _unique_key(chart: Chart) -> tuple:
    return (chart.meter, chart.key, tuple(sorted(chart.sections.items())), tuple(tuple(b) for b in chart.bars))


def generate_jazz(n_tunes: int = 3000, seed: int = 0) -> list[Score]:
    """``n_tunes`` distinct progressions (each passes ``check_form``), in random keys; deterministic."""
    rng = np.random.default_rng(seed)
    seen, out = set(), []
    for _ in range(n_tunes * 20):
        if len(out) == n_tunes:
            break
        chart, plan, form = generate_tune(rng)
        canonical = score_to_chart(chart_to_score(chart))  # merge held chords the way every reader does
        k = _unique_key(canonical)
        if k in seen or not check_form(canonical, plan)["all"]:
            continue
        seen.add(k)
        tonic = int(rng.integers(12))
        moved = chart_to_score(canonical.transpose(tonic))
        moved.meta.update(title=f"{form} #{len(out) + 1}", form=form)
        out.append(moved)
    return out
