"""Cross-check composer's ABC reader against music21 on music21's bundled ABC corpora.

For every tune, both readers get the same tune text (split by composer.io.abc.split_tunes);
the first voice is compared as written (neither expands repeats) as a sequence of
(MIDI pitches, quarter length) events: chords are one event, tied notes are merged
(music21: stripTies), grace notes and rests are left out (music21 drops ``x`` and ``Z`` rests).
music21 is run as an ABC 2.1 reader (``--m21-version 2.1.0``) so that both carry accidentals
to the end of the bar; ``--m21-version 1.3.0`` shows music21's default.

    python bench/abc_crosscheck.py --limit 500 --workers 2
    python bench/abc_crosscheck.py --workers 2 > crosscheck.log 2>&1 &
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import sys
import time
import warnings
from fractions import Fraction
from multiprocessing import Pool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from composer.io.abc import read_abc, split_tunes

M21_VERSION = (2, 1, 0)

# Known music21 mistakes, each with a text rewrite that means the same under ABC 2.1 (checked:
# our reading must not change) but steers around the mistake. If music21 then agrees with us,
# the difference was music21's. Verdicts cite the ABC 2.1 standard.
VERDICTS = {
    "m21: slur next to broken rhythm/tie": "music21 wrong (2.1 sections 4.4, 4.11): 'a>(gab)', "
        "'(f/g/|a>)f', 'A-(B' - slur marks do not break a broken rhythm or tie; music21 only "
        "applies '>' when the very next token is a note.",
    "m21: decorated note misread": "music21 wrong (2.1 section 4.14): H..W, ~ . and !..! are "
        "decorations; music21 drops notes spelt with a leading 'H' (HA2 = fermata A2) and mis-tokenises others.",
    "m21: grace-note accidental carried": "music21 wrong: grace notes are ornaments and take no "
        "time (2.1 section 4.12); music21 lets an accidental inside {} alter the following notes of the bar.",
    "m21: ties misread": "music21 wrong (2.1 sections 4.4, 4.11): a tie joins two notes of the "
        "same pitch; 'A-d' (a slur written as a tie in these books) is two notes, which music21 "
        "merges into one; and in 'd>-c' music21 drops the '>' because a tie follows it. With the "
        "ties taken out of the text, both readers agree.",
    "m21: chord accidentals": "music21 wrong (2.1 sections 4.2, 11.3): accidentals in a [chord] "
        "last to the bar end and chord notes obey earlier ones; music21 reads each chord alone.",
    "m21: key accidentals ignored": "music21 wrong (2.1 section 3.1.14): explicit accidentals in "
        "K: (K:D =c, exp) and locrian / Hp keys; music21 ignores them.",
    "m21: '::' drops notes": "music21 wrong (2.1 section 4.8): '::' is a start-and-end repeat; "
        "music21 drops the note before it, and sometimes the rest of the line ('G2FE::DDDF').",
    "m21: text line in header read as music": "music21 wrong (2.1 section 2.2.1): the header "
        "runs from X: to K: and holds fields only; music21 reads a stray text line there "
        "(e.g. 'N bars 13 and 21 are |f2ed|...') as notes.",
    "m21: V: sections not joined": "music21 wrong (2.1 section 7): a V: field switches to that "
        "voice, which goes on where it stopped; music21 starts a new part at each V: line.",
    "m21: inline [V:] not understood": "music21 wrong (2.1 section 7.3): '[V:2] ...' switches "
        "voice inside a line; music21 keeps all voices in one part.",
    "m21: note after a quoted annotation dropped": "music21 wrong (2.1 sections 4.18, 4.19): a "
        "\"quoted\" chord symbol or annotation (such as \">\" for an accent) belongs to the next note; "
        "music21 loses that note.",
    "m21: stray accidental applied to a later note": "music21 wrong: a '=' or '^' with no note "
        "after it (e-mail line-wrap debris '=' / '=20' in Ryan's, typos) is junk we skip and count "
        "in meta['ignored']; music21 keeps it and applies it to the next note, even on the next line.",
    "m21: inline [K:] ignored": "music21 wrong (2.1 section 3.2): '[K:C]' inside a line changes "
        "the key (likewise [M:], [L:]); music21 reads it as a chord of nothing and keeps the old key.",
    "m21: length '3//' not understood": "music21 wrong (2.1 section 4.3): '/' halves, so B3// is "
        "3/4 of the unit; music21 falls back to one quarter note for two slashes after a number.",
    "m21: clef words taken as transposition": "music21 wrong (2.1 section 4.6): clef names do not "
        "move pitches (only octave= and clef=treble-8 style do); music21 shifts 'bass' by two octaves "
        "and the non-standard '-8va' by one. These Josquin files say how they sound with abc2midi's "
        "'%%MIDI transpose', which we honour when it is whole octaves.",
    "unspecified: chained broken rhythm": "not specified by 2.1: in 'g>f>ge' the middle note is "
        "the short half of one pair and the long half of the next. We keep each pair's written "
        "total (f = its written length), so the bar adds up; music21 lets the second '>' override "
        "the first (f dotted), which makes the bar too long.",
    "malformed input: stray symbols": "invalid ABC (e.g. '[Ae>]', '[\"Coda\"'): we drop the stray "
        "symbols and count them in meta['ignored']; music21 guesses differently.",
    "other": "unclassified: inspect the example.",
}


def _body_rewrite(text: str, fn, quotes: bool = False) -> str:
    """Apply ``fn`` to the music of a tune: body lines outside "quotes" (inside too if
    ``quotes``), not field lines."""
    head, sep, body = text.partition("\nK:")
    if not sep:
        return text
    first, nl, rest = body.partition("\n")
    lines = []
    for line in rest.split("\n"):
        if re.match(r"[A-Za-z+]:|%", line):
            lines.append(line)
            continue
        if quotes:
            lines.append(fn(line))
            continue
        parts = line.split('"')
        lines.append('"'.join(fn(p) if i % 2 == 0 else p for i, p in enumerate(parts)))
    return head + sep + first + nl + "\n".join(lines)


NEUTRALIZERS = [
    ("m21: slur next to broken rhythm/tie", lambda s: re.sub(r"\((?!\d)|\)", " ", s)),
    ("m21: decorated note misread", lambda s: re.sub(r"![^!]*!|\+[^+]*\+|[.~H-Wh-w](?=[^|:\]]|$)", "", s)),
    ("m21: grace-note accidental carried", lambda s: re.sub(r"\{[^}]*\}", "", s)),
    ("m21: '::' drops notes", lambda s: re.sub(r"(?<![|:]):(:+)(?![|:])", r":|\1", s)),
    ("m21: note after a quoted annotation dropped", lambda s: re.sub(r'"[^"]*"', " ", s)),
    ("m21: stray accidental applied to a later note", lambda s: re.sub(r"[=^_]+(?![=^_A-Ga-g])", " ", s)),
    ("m21: inline [K:] ignored", lambda s: re.sub(r"\[([KLM]):([^\]]*)\]", r"\n\1:\2\n", s).strip("\n")),
    ("m21: length '3//' not understood",
     lambda s: re.sub(r"(\d)(//+)(?![\d/])", lambda m: f"{m.group(1)}/{2 ** len(m.group(2))}", s)),
]

# the rewrite that removes "quoted" text works on whole lines, quotes included
_WHOLE_LINE = {fn for name, fn in NEUTRALIZERS if "quoted" in name}


def corpus_tunes(limit: int | None = None) -> list[tuple[str, int, str]]:
    """(path, line, tune text) for every tune in music21's ABC corpora; ``limit`` samples evenly."""
    from music21 import corpus

    tunes = []
    for path in sorted(str(p) for p in corpus.getPaths(fileExtensions=["abc"])):
        with open(path, "rb") as f:
            data = f.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        header, found = split_tunes(text)
        tunes += [(path, line, header + tune if header.strip() else tune) for line, tune in found]
    if limit and limit < len(tunes):
        step = len(tunes) / limit
        tunes = [tunes[int(i * step)] for i in range(limit)]
    return tunes


def m21_parse(text: str):
    """One tune through music21's ABC reader, as an ABC 2.1 reader."""
    from music21.abcFormat import ABCFile, translate

    handler = ABCFile(abcVersion=M21_VERSION).readstr(text)
    return translate.abcToStreamScore(handler)


def _m21_first_voice(score):
    """The first part with notes (music21 makes empty parts for V: lines of the header)."""
    parts = [p for p in score.parts if p.flatten().notes] if score.parts else []
    return parts[0] if parts else score


def m21_events(score) -> list[tuple[tuple[int, ...], Fraction]]:
    part = _m21_first_voice(score).stripTies(inPlace=False)
    out = []
    for n in part.flatten().notes:
        if n.duration.isGrace or n.quarterLength == 0:
            continue
        pitches = tuple(sorted(p.midi for p in n.pitches))
        out.append((pitches, Fraction(n.quarterLength).limit_denominator(100000)))
    return out


def our_events(score) -> list[tuple[tuple[int, ...], Fraction]]:
    """Notes grouped by onset; a chord lasts until the next onset if its notes differ in length
    (music21 keeps only the chord's length, which is its first note's, as ours)."""
    if not score.tracks:
        return []
    groups: dict[int, list] = {}
    for start, dur, pitch, _ in score.tracks[0].notes.tolist():
        groups.setdefault(start, []).append((pitch, dur))
    onsets = sorted(groups)
    out = []
    for i, start in enumerate(onsets):
        notes = groups[start]
        dur = max(d for _, d in notes)
        if len({d for _, d in notes}) > 1:  # the chord's own length: up to the next onset
            dur = min(dur, onsets[i + 1] - start) if i + 1 < len(onsets) else min(d for _, d in notes)
        out.append((tuple(sorted(p for p, _ in notes)), Fraction(dur, score.tpq)))
    return out


def _first_diff(ours: list, theirs: list) -> str:
    i = next((k for k, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
    a = ours[i] if i < len(ours) else None
    b = theirs[i] if i < len(theirs) else None
    return f"event {i}: ours {a} vs music21 {b}"


def _m21_agrees(text: str, rewrites: list, ours: list, untie: bool = False) -> bool:
    """Does music21 read ``text`` like us once ``rewrites`` are applied? ``untie``: also take
    the ties out and compare both readings of that text (so the ties made the difference)."""
    for fn in rewrites:
        text = _body_rewrite(text, fn, quotes=fn in _WHOLE_LINE)
    try:
        if untie:
            text = _body_rewrite(text, lambda s: s.replace("-", " "))
            ours = our_events(read_abc(text)[0])
        return m21_events(m21_parse(text)) == ours
    except Exception:
        return False


def classify(text: str, ours: list, theirs: list) -> str:
    """Name the cause of a disagreement: first by neutral rewrites, then by the K: line and ties."""
    key = text.split("\nK:", 1)[1].split("\n", 1)[0] if "\nK:" in text else ""
    useful = []  # rewrites that change the text but not our reading
    for name, fn in NEUTRALIZERS:
        text2 = _body_rewrite(text, fn, quotes=fn in _WHOLE_LINE)
        try:
            if text2 != text and our_events(read_abc(text2)[0]) == ours:
                useful.append((name, fn))
        except Exception:
            continue
    if re.search(r"-8va|\bbass\b|treble8", key):
        text2 = text
        for _, fn in useful:
            text2 = _body_rewrite(text2, fn, quotes=fn in _WHOLE_LINE)
        try:
            theirs2 = m21_events(m21_parse(text2))
        except Exception:
            theirs2 = []
        shifts = {a - b for x, y in zip(ours, theirs2) for a, b in zip(x[0], y[0])}
        if len(ours) == len(theirs2) and len(shifts) == 1 and shifts != {0} and next(iter(shifts)) % 12 == 0 \
                and all(x[1] == y[1] for x, y in zip(ours, theirs2)):
            return "m21: clef words taken as transposition"
    for untie in (False, True):
        if (useful or untie) and _m21_agrees(text, [fn for _, fn in useful], ours, untie):
            needed = list(useful)  # drop the rewrites music21 does not need, one at a time
            for item in useful:
                rest = [x for x in needed if x is not item]
                if (rest or untie) and _m21_agrees(text, [fn for _, fn in rest], ours, untie):
                    needed = rest
            names = [name for name, _ in needed] + (["m21: ties misread"] if untie else [])
            return " + ".join(names)
    body = text.split("\nK:", 1)[-1]
    if re.search(r"[<>][^<>|\s]{1,12}[<>]", body):
        for t in (text, _body_rewrite(text, lambda x: x.replace("-", " "))):  # with and without ties
            try:
                o, th = our_events(read_abc(t)[0]), m21_events(m21_parse(t))
            except Exception:
                continue
            if len(o) == len(th) and all(a[0] == b[0] for a, b in zip(o, th)):
                return "unspecified: chained broken rhythm"
    try:
        if read_abc(text)[0].meta.get("ignored"):
            return "malformed input: stray symbols"
    except Exception:
        pass
    if "[V:" in text and len(theirs) > len(ours):
        return "m21: inline [V:] not understood"
    head = text.split("\nK:", 1)[0].split("\n")[1:]
    if any(line.strip() and not re.match(r"[A-Za-z+]:|%", line) for line in head):
        return "m21: text line in header read as music"
    if re.search(r"^V:", text.split("\nK:", 1)[-1], re.MULTILINE):
        return "m21: V: sections not joined"
    if re.search(r"[_^=][A-Ga-g]|\bexp\b|loc|Hp", key, re.IGNORECASE):
        return "m21: key accidentals ignored"
    if len(ours) == len(theirs) and all(len(a[0]) == len(b[0]) and a[1] == b[1] for a, b in zip(ours, theirs)):
        if any(len(a[0]) > 1 and a != b for a, b in zip(ours, theirs)):
            return "m21: chord accidentals"
        return "pitch differs"
    if len(ours) == len(theirs):
        return "duration differs"
    return "other"


def check(task: tuple[str, int, str]) -> tuple[str, str, str, str]:
    """-> (status, category, tune id, detail); status in same/diff/m21-error/our-error."""
    path, line, text = task
    tid = f"{os.path.basename(path)}:{line}"
    try:
        ours = read_abc(text)
    except Exception as e:
        return "our-error", type(e).__name__, tid, str(e)[:200]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            theirs = m21_events(m21_parse(text))
        except Exception as e:
            return "m21-error", type(e).__name__, tid, str(e)[:120]
    mine = our_events(ours[0]) if ours else []
    if mine == theirs:
        return "same", "", tid, ""
    return "diff", classify(text, mine, theirs), tid, _first_diff(mine, theirs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="check an even sample of N tunes")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--m21-version", default="2.1.0", help="ABC version music21 assumes (1.3.0 = its default)")
    ap.add_argument("--examples", type=int, default=1, help="examples printed per category")
    ap.add_argument("--dump", help="write every disagreement as JSON lines to this file")
    ap.add_argument("--only", help="re-check only the tunes listed in an earlier --dump file")
    args = ap.parse_args(argv)
    global M21_VERSION
    M21_VERSION = tuple(int(x) for x in args.m21_version.split("."))
    tasks = corpus_tunes(args.limit)
    if args.only:
        with open(args.only) as f:
            wanted = {json.loads(line)[2] for line in f}
        tasks = [t for t in tasks if f"{os.path.basename(t[0])}:{t[1]}" in wanted]
    t0 = time.perf_counter()
    if args.workers > 1:
        with Pool(args.workers, initializer=_init, initargs=(M21_VERSION,)) as pool:
            results = pool.map(check, tasks, chunksize=8)
    else:
        results = [check(t) for t in tasks]
    if args.dump:
        with open(args.dump, "w") as f:
            for r in results:
                if r[0] != "same":
                    f.write(json.dumps(r) + "\n")
    status = collections.Counter(r[0] for r in results)
    parsed = status["same"] + status["diff"]
    print(f"{len(tasks)} tunes in {time.perf_counter() - t0:.0f}s; music21 as ABC {args.m21_version}")
    print(f"music21 failed on {status['m21-error']}, we failed on {status['our-error']}")
    print(f"agreement: {status['same']}/{parsed} = {100 * status['same'] / max(parsed, 1):.2f}% "
          "of the tunes both read")
    m21_wrong = sum(r[0] == "diff" and r[1].startswith("m21:") for r in results)
    print(f"agreement once music21's own errors are set aside (each shown by a rewrite that leaves "
          f"our reading unchanged): {status['same'] + m21_wrong}/{parsed} = "
          f"{100 * (status['same'] + m21_wrong) / max(parsed, 1):.2f}%")
    cats = collections.Counter((r[0], r[1]) for r in results if r[0] != "same")
    for (st, cat), n in cats.most_common():
        print(f"\n[{st}] {cat}: {n}")
        for part in cat.split(" + "):
            if part in VERDICTS:
                print(f"  verdict: {VERDICTS[part]}")
        for r in [r for r in results if (r[0], r[1]) == (st, cat)][: args.examples]:
            print(f"  e.g. {r[2]}  {r[3]}")
    return 0


def _init(version: tuple) -> None:
    global M21_VERSION
    M21_VERSION = version


if __name__ == "__main__":
    sys.exit(main())
