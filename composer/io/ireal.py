"""iReal Pro playlists: ``irealb://`` / ``irealbook://`` links, bare or in the app's HTML export.

The format is public and decoded here without the app. A link is percent-encoded text; songs
are ``Title=Composer==Style=Key=Transpose=<music>=Groove=Tempo=Repeats`` (``irealb``) or
``Title=Composer=Style=Key=n=<chart>`` (``irealbook``), joined by ``===``, with the playlist
name last. An ``irealb`` music field starts with ``1r34LbKcu7`` and is scrambled in 50-character
blocks (characters 0-4 and 10-23 swapped with their mirror images; the swap is its own
inverse) after three abbreviations (``XyQ`` = three empty cells, ``LZ`` = `` |``, ``Kcl`` =
``| x``). Songs are found by that music field and their other fields read at fixed offsets
from it, so empty fields cannot shift them.

The chart language: ``T44`` meter, ``*A`` section, ``{ }`` repeat, ``[ ]`` double bar, ``|`` bar
line, ``Z`` final bar, ``N1``/``N2`` endings, ``x``/``r`` repeat one/two bars, ``n`` N.C.,
``p`` slash, ``W/E`` a new bass under the last chord, ``s``/``l``/``Y``/``,`` layout, ``<...>``
comments, ``(...)`` alternate chords (dropped). A bar is a row of cells (a chord, N.C., slash
or space takes one): in a 4-cell bar the cell is the beat, otherwise beat = cell x beats /
cells. Repeats and endings are expanded (each repeat plays twice); D.C./D.S./coda jumps are
not followed, so a chart reads as written.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from .. import limits
from ..chart import Chart, chart_to_score, score_to_chart
from ..errors import InputError
from ..harmony import IREAL_QUALITIES, Chord, format_chord, parse_chord
from ..score import Score
from ..theory import PC_NAMES, name_to_pc
from .atomic import atomic_write
from .textfile import read_text

__all__ = ["ireal_link", "parse_ireal", "read_ireal", "read_ireal_all", "scramble", "write_ireal_html"]

MUSIC_PREFIX = "1r34LbKcu7"
_LINK = re.compile(r"irealb(?:ook)?://[^\s\"'<>]+")
_QUAL = "|".join(re.escape(q) for q in sorted(IREAL_QUALITIES, key=len, reverse=True) if q)
_TOKEN = re.compile(
    r"(?P<comment><[^<>]*>)|(?P<time>T\d\d)|(?P<section>\*[A-Za-z])|(?P<ending>N\d)|(?P<barline>[|\[\]{}Z])"
    rf"|(?P<chord>(?P<root>[A-G][b#]?|W)(?P<q>{_QUAL})?(?:/(?P<bass>[A-G][b#]?))?)"
    r"|(?P<alt>\([^()]*\))|(?P<space> )|(?P<x>x)|(?P<r>r)|(?P<n>n)|(?P<p>p)|(?P<skip>[,slYSQfU\s*])"
)
_BAD_AFTER_CHORD = set("0123456789^+#-abcdeghijkmoqtuvwyz")
_METERS = {"12": (12, 8)}


def scramble(s: str) -> str:
    """iReal's block permutation; applying it twice gives the input back."""
    out = []
    while len(s) > 50:
        block, s = s[:50], s[50:]
        if len(s) < 2:
            out.append(block)
            continue
        b = list(block)
        for i in list(range(5)) + list(range(10, 24)):
            b[i], b[49 - i] = block[49 - i], block[i]
        out.append("".join(b))
    return "".join(out) + s


def _unscramble(music: str) -> str:
    return scramble(music).replace("XyQ", "   ").replace("LZ", " |").replace("Kcl", "| x")


@dataclass
class _Bar:
    cells: list = field(default_factory=list)
    section: str | None = None
    ending: int | None = None
    repeat_start: bool = False
    repeat_end: bool = False
    x: bool = False
    r: bool = False


def _written_bars(chart: str, where: str) -> tuple[list[_Bar], tuple[int, int]]:
    bars: list[_Bar] = []
    cur, meter, last, i = _Bar(), None, None, 0

    max_bars = limits.current().max_quarters

    def close() -> None:
        nonlocal cur
        if cur.cells or cur.x or cur.r:
            bars.append(cur)
            cur = _Bar()
            if len(bars) > max_bars:
                limits.check_count(len(bars), "max_quarters", "bars", where)

    while i < len(chart):
        m = _TOKEN.match(chart, i)
        if not m:
            i += 1  # unknown characters are layout we do not need
            continue
        i, g = m.end(), m.groupdict()
        if g["barline"]:
            ch = g["barline"]
            if ch == "}":
                cur.repeat_end = True
            close()
            if ch == "{":
                cur.repeat_start = True
        elif g["time"]:
            t = g["time"][1:]
            mt = _METERS.get(t, (int(t[0]), int(t[1])))
            if not (mt[0] and mt[1]):
                raise InputError(f"{where}: meter T{t} is not a meter")
            if meter is not None and mt != meter:
                raise InputError(f"{where}: meter changes ({meter[0]}/{meter[1]} to {mt[0]}/{mt[1]}) are not supported")
            meter = mt
        elif g["section"]:
            cur.section = g["section"][1:]
        elif g["ending"]:
            cur.ending = int(g["ending"][1:])
        elif g["chord"]:
            nxt = chart[i:i + 1]
            if nxt in _BAD_AFTER_CHORD:
                bad = re.match(r"[^\s|,\[\]{}<>()]*", chart[m.start():]).group()
                raise InputError(f"unknown chord spelling {bad!r} in {where}")
            if g["root"] == "W":
                if last is None or not g["bass"]:
                    cur.cells.append(None)
                    continue
                chord = Chord(last.root, last.quality, None)
                bass = name_to_pc(g["bass"])
                chord = Chord(chord.root, chord.quality, None if bass == chord.root else bass)
            else:
                chord = parse_chord(_ireal_chord(g), where)
            cur.cells.append(chord)
            last = chord
        elif g["space"] or g["n"] or g["p"]:
            cur.cells.append(None)
        elif g["x"]:
            cur.x = True
        elif g["r"]:
            cur.r = True
    close()
    return bars, meter or (4, 4)


def _ireal_chord(g: dict) -> str:
    """An iReal chord in our word spelling (iReal's qualities are a fixed list)."""
    return f"{g['root']}:{IREAL_QUALITIES[g['q'] or '']}" + (f"/{g['bass']}" if g["bass"] else "")


def _place(cells: list, beats: int) -> list[tuple[int, Chord]]:
    n, out = len(cells), []
    for i, c in enumerate(cells):
        if c is None:
            continue
        b = min(i, beats - 1) if n == 4 and beats <= 4 else i * beats // n
        if out and b <= out[-1][0]:
            b = out[-1][0] + 1
            if b >= beats:
                out[-1] = (out[-1][0], c)
                continue
        out.append((b, c))
    return out


def _expand(bars: list[_Bar]) -> list[_Bar]:
    out, i, start, passno, budget = [], 0, 0, 1, 10_000
    while i < len(bars) and budget:
        budget -= 1
        b = bars[i]
        if b.repeat_start and passno == 1:
            start = i
        if b.ending is not None and b.ending != passno:
            j = i + 1
            while j < len(bars) and not bars[j - 1].repeat_end and bars[j].ending is None:
                j += 1
            i = j
            continue
        out.append(b)
        if b.repeat_end and passno == 1:
            passno, i = 2, start
            continue
        if b.repeat_end or (b.ending is not None and passno > 1):
            passno, start = 1, i + 1
        i += 1
    return out


def _song_chart(title: str, composer: str, style: str, key: str, chart_text: str, tempo: str, where: str) -> Chart:
    where = f"{where}, song {title!r}"
    written, meter = _written_bars(chart_text, where)
    beats = Chart(meter=meter).beats if (meter[0] * 4) % meter[1] == 0 else None
    if beats is None:
        raise InputError(f"{where}: meter {meter[0]}/{meter[1]} is not a whole number of quarter-note beats")
    resolved: list[list[tuple[int, Chord]]] = []
    second_of_r = False
    for b in written:  # x and r copy bars as written, before repeats are expanded
        if b.x and resolved:
            chords = list(resolved[-1])
        elif b.r and len(resolved) >= 2:
            chords, second_of_r = list(resolved[-2]), True
            resolved.append(chords)
            continue
        else:
            chords = _place(b.cells, beats)
            if second_of_r and not chords and len(resolved) >= 2:
                chords = list(resolved[-2])
            second_of_r = False
        resolved.append(chords)
    for b, chords in zip(written, resolved):
        b.cells = chords
    chart = Chart(meter=meter, title=title, meta={"composer": composer, "ireal_style": style})
    prev = None
    for k, b in enumerate(_expand(written)):
        if b.section:
            chart.sections[k] = b.section
        bar = []
        for pos, c in b.cells:
            if c != prev or (pos == 0 and b.section):
                bar.append((pos, c))
            prev = c
        chart.bars.append(bar)
    if not any(chart.bars):
        raise InputError(f"{where}: no chords")
    k = re.fullmatch(r"([A-G][b#]?)(-?)", key.strip())
    if k:
        chart.key = (name_to_pc(k.group(1)), "minor" if k.group(2) else "major")
    if tempo.strip().isdigit() and int(tempo) > 0:
        chart.tempo = float(tempo)
    return chart


def parse_ireal(text: str, source: str = "<link>") -> list[Chart]:
    """Every song of every iReal link in ``text`` (a bare link, or HTML holding links)."""
    stripped = text.strip()
    bare = stripped.startswith("ireal") and "\n" not in stripped and "<" not in stripped
    links = [stripped] if bare else _LINK.findall(text)
    if not links:
        raise InputError(f"{source}: no irealb:// or irealbook:// link in it")
    charts = []
    for link in links:
        scheme, _, body = html.unescape(link).partition("://")
        body = unquote(body)
        charts += _new_format(body, source) if scheme == "irealb" else _old_format(body, source)
    return charts


def _new_format(body: str, source: str) -> list[Chart]:
    parts = body.split("=")
    found = [i for i, p in enumerate(parts) if p.startswith(MUSIC_PREFIX)]
    if not found:
        raise InputError(f"{source}: iReal link does not decode (no {MUSIC_PREFIX} chart field in it)")
    out = []
    for i in found:
        if i < 6:
            raise InputError(f"{source}: iReal link does not decode (song fields missing before the chart)")
        get = lambda k: parts[k] if k < len(parts) else ""
        music = _unscramble(parts[i][len(MUSIC_PREFIX):])
        out.append(_song_chart(parts[i - 6], parts[i - 5], parts[i - 3], parts[i - 2], music, get(i + 2), source))
    return out


def _old_format(body: str, source: str) -> list[Chart]:
    fields = [p for p in body.split("=")]
    out, i = [], 0
    while i < len(fields):
        if not fields[i].strip():
            i += 1
            continue
        song = fields[i:i + 6]
        if len(song) < 6:
            raise InputError(f"{source}: iReal link does not decode (a song needs Title=Composer=Style=Key=n=Chart)")
        out.append(_song_chart(song[0], song[1], song[2], song[3], song[5], "0", source))
        i += 6
    if not out:
        raise InputError(f"{source}: iReal link does not decode (no song in it)")
    return out


def read_ireal_all(path: str | os.PathLike) -> list[Score]:
    """Every song of an iReal playlist file (the app's HTML export, or a text file with links)."""
    text, name = read_text(path)
    return [limits.check_score(chart_to_score(c), name) for c in parse_ireal(text, name)]


def read_ireal(path: str | os.PathLike) -> Score:
    """The first song of an iReal playlist file."""
    return read_ireal_all(path)[0]


# ---------------------------------------------------------------------------------- writing


def _music(chart: Chart) -> str:
    n, d = chart.meter
    s = ""
    for i, bar in enumerate(chart.bars):
        if i == 0:
            s += "[" + (f"*{chart.sections[0]}" if 0 in chart.sections else "") + ("T12" if (n, d) == (12, 8) else f"T{n}{d}")
        elif i in chart.sections:
            s += f"][*{chart.sections[i]}"
        else:
            s += "|"
        at, prev_chord = dict(bar), False
        for b in range(chart.beats):
            if b in at:
                s += ("," if prev_chord else "") + format_chord(at[b], "ireal")
                prev_chord = True
            else:
                s += " "
                prev_chord = False
    return s + "Z"


def ireal_link(scores: list[Score] | Score, playlist: str | None = None) -> str:
    """An ``irealb://`` link holding the scores' chord charts; tap it on a phone to import it."""
    scores = [scores] if isinstance(scores, Score) else list(scores)
    songs = []
    for s in scores:
        chart = score_to_chart(s)
        if not chart.bars:
            raise InputError("nothing to export to iReal Pro: the score has no chord symbols")
        key = "C" if chart.key is None else PC_NAMES[chart.key[0]] + ("-" if chart.key[1] == "minor" else "")
        title = (chart.title or "Untitled").replace("=", "-")
        composer = str(chart.meta.get("composer", "") or "composer").replace("=", "-")
        style = str(chart.meta.get("ireal_style", "") or "Medium Swing").replace("=", "-")
        tempo = str(round(chart.tempo)) if chart.tempo else "0"
        songs.append("=".join([title, composer, "", style, key, "", MUSIC_PREFIX + scramble(_music(chart)), "", tempo, "3"]))
    body = "===".join(songs)
    if playlist or len(songs) > 1:
        body += "===" + (playlist or "Playlist").replace("=", "-")
    return "irealb://" + quote(body, safe="=/")


def write_ireal_html(score: Score, path: str | os.PathLike) -> None:
    """An HTML page like iReal Pro's own export: one link that opens the chart in the app."""
    title = html.escape(str(score.meta.get("title", "") or "Untitled"))
    link = html.escape(ireal_link(score), quote=True)
    page = (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n'
            f'<body><h3><a href="{link}">{title}</a></h3>\n'
            "<p>Open this page on a phone or tablet with iReal Pro installed and tap the title.</p></body></html>\n")
    atomic_write(os.fspath(path), page.encode("utf-8"))
