"""Lead sheets as plain text: what a player reads, and what a person can type.

    Title: Blue Bossa
    Key: C minor
    Meter: 4/4

    A | Cm7        | %          | Fm7        | %          |
      | Dm7b5      | G7alt      | Cm7        | %          |

Four bars a line; a section starts a new line with its letter before the first bar line.
Inside a bar, chords are spread the usual way (one chord fills the bar, two split it in half,
otherwise the first chord takes what the later ones leave, one beat each); ``.`` marks a beat
with no new chord when the spread is anything else (``C7 . . F7``). ``%`` repeats the bar
before, ``N.C.`` means no chord. A file may hold several tunes, each from its ``Title:`` line.
A file holding iReal links is read as an iReal playlist.
"""

from __future__ import annotations

import os
import re

from .. import limits
from ..chart import Chart, chart_to_score, score_to_chart
from ..errors import InputError
from ..harmony import format_chord, is_no_chord, parse_chord
from ..score import Score
from ..theory import PC_NAMES, parse_key
from .atomic import atomic_write
from .textfile import read_text

__all__ = ["chart_text", "parse_chord_text", "read_chord_text", "read_chord_text_all", "write_chord_text"]

_HEADER = re.compile(r"^\s*(title|composer|key|meter|time|tempo|style)\s*:(.*)$", re.IGNORECASE)  # value stripped after:
# a lazy (.*?)\s*$ rescans every run of spaces, quadratic on a long line


def default_beats(k: int, beats: int) -> list[int]:
    """Where ``k`` chords written in a bar of ``beats`` beats fall when no dots say otherwise."""
    if k == 1:
        return [0]
    if k == 2 and beats % 2 == 0:
        return [0, beats // 2]
    return [0] + list(range(beats - k + 1, beats))


def parse_chord_text(text: str, source: str = "<text>") -> list[Chart]:
    """Every tune in a lead-sheet text (or the iReal links in it) as Charts."""
    if "irealb://" in text or "irealbook://" in text:
        from .ireal import parse_ireal

        return parse_ireal(text, source)
    tunes: list[dict] = []
    cur: dict | None = None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _HEADER.match(line)
        if m and "|" not in line:
            field, value = m.group(1).lower(), m.group(2).strip()
            if field == "title" or cur is None or (cur["lines"] and field == "title"):
                cur = {"header": {}, "lines": []}
                tunes.append(cur)
            cur["header"][{"time": "meter"}.get(field, field)] = (value, n)
            continue
        if "|" not in line:
            raise InputError(f"{source} line {n}: not a header (Title:, Key:, ...) nor a line of bars: {line.strip()!r}")
        if cur is None:
            cur = {"header": {}, "lines": []}
            tunes.append(cur)
        cur["lines"].append((n, line))
    charts = [_tune(t, source) for t in tunes]
    if not any(c.bars for c in charts):
        raise InputError(f"{source}: no chords")
    return charts


def _tune(tune: dict, source: str) -> Chart:
    h = tune["header"]
    meter = (4, 4)
    if "meter" in h:
        m = re.fullmatch(r"(\d{1,4})\s*/\s*(\d{1,4})", h["meter"][0])
        if not m:
            raise InputError(f"{source} line {h['meter'][1]}: meter {h['meter'][0]!r} is not like 4/4")
        meter = (int(m.group(1)), int(m.group(2)))
        if not (0 < meter[0] <= 64 and 0 < meter[1] <= 64):
            raise InputError(f"{source} line {h['meter'][1]}: meter {h['meter'][0]!r} is outside 1/1..64/64")
    chart = Chart(meter=meter, title=h.get("title", ("", 0))[0])
    if "key" in h:
        try:
            chart.key = parse_key(h["key"][0])
        except InputError as e:
            raise InputError(f"{source} line {h['key'][1]}: {e}") from None
    if "tempo" in h:
        try:
            chart.tempo = float(h["tempo"][0].split()[0])
        except (ValueError, IndexError):
            raise InputError(f"{source} line {h['tempo'][1]}: tempo {h['tempo'][0]!r} is not a number") from None
    for field in ("composer", "style"):
        if field in h:
            chart.meta[field] = h[field][0]
    beats = chart.beats
    written: list[list[tuple[int, object]]] = []
    for n, line in tune["lines"]:
        label, _, rest = line.partition("|")
        label = label.strip().strip("[]:")
        if label:
            chart.sections[len(written)] = label
        for cell in rest.rsplit("|", 1)[0].split("|") if rest.rstrip().endswith("|") else rest.split("|"):
            written.append(_bar(cell.split(), beats, written, f"{source} line {n}"))
            if len(written) * beats > limits.current().max_quarters:
                limits.check_count(len(written) * beats, "max_quarters", "length in beats", source)
    prev = None
    for i, bar in enumerate(written):  # merge held chords, as score_to_chart does
        out = []
        for pos, c in bar:
            if c is None:
                continue
            if c != prev or (pos == 0 and i in chart.sections):
                out.append((pos, c))
            prev = c
        chart.bars.append(out)
    return chart


def _bar(tokens: list[str], beats: int, written: list, where: str) -> list:
    if tokens == ["%"]:
        if not written:
            raise InputError(f"{where}: '%' repeats the bar before, but there is none")
        return list(written[-1])
    if len(tokens) > beats:
        raise InputError(f"{where}: {len(tokens)} chords in a bar of {beats} beats")
    pos = list(range(len(tokens))) if "." in tokens else default_beats(len(tokens), beats)
    out = []
    for p, tok in zip(pos, tokens):
        if tok == ".":
            continue
        out.append((p, None if is_no_chord(tok) else parse_chord(tok, where)))
    return out


def read_chord_text_all(path: str | os.PathLike) -> list[Score]:
    text, name = read_text(path)
    return [limits.check_score(chart_to_score(c), name) for c in parse_chord_text(text, name)]


def read_chord_text(path: str | os.PathLike) -> Score:
    """The first tune of a lead-sheet text file."""
    return read_chord_text_all(path)[0]


def _bar_text(bar: list, beats: int) -> str:
    if [p for p, _ in bar] == default_beats(len(bar), beats):
        return "  ".join(format_chord(c) for _, c in bar)
    at = dict(bar)
    return " ".join(format_chord(at[b]) if b in at else "." for b in range(beats))


def chart_text(chart: Chart) -> str:
    """A chart as a lead sheet, four bars a line."""
    key = "" if chart.key is None else f"Key: {PC_NAMES[chart.key[0]]} {chart.key[1]}\n"
    head = f"Title: {chart.title or 'Untitled'}\n{key}Meter: {chart.meter[0]}/{chart.meter[1]}\n"
    if chart.tempo:
        head += f"Tempo: {chart.tempo:g}\n"
    cells, single, cur = [], False, None
    for i, bar in enumerate(chart.bars):
        if bar:
            if bar[0][0] != 0 and cur is not None:  # restate the held chord rather than print dots
                bar = [(0, cur)] + bar
            cells.append(_bar_text(bar, chart.beats))
            single = len(bar) == 1 and bar[0][0] == 0
            cur = bar[-1][1]
        elif cur is None:
            cells.append("N.C.")
        else:
            cells.append("%" if single else format_chord(cur))
            single = True
    width = max([10] + [len(c) for c in cells])
    lines, line, label = [], [], ""
    for i, cell in enumerate(cells):
        if line and (i in chart.sections or len(line) == 4):
            lines.append(f"{label:<3}| " + " | ".join(x.ljust(width) for x in line) + " |")
            line, label = [], ""
        if i in chart.sections:
            label = chart.sections[i]
        line.append(cell)
    if line:
        lines.append(f"{label:<3}| " + " | ".join(x.ljust(width) for x in line) + " |")
    return head + "\n" + "\n".join(lines) + "\n"


def write_chord_text(score: Score, path: str | os.PathLike) -> None:
    """The score's chord symbols as a readable lead sheet (atomically)."""
    atomic_write(os.fspath(path), chart_text(score_to_chart(score)).encode("utf-8"))
