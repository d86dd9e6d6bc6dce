"""Chord-chart importers and exporters on files written here: iReal, .lab, MusicXML, lead-sheet text, MIDI."""

import numpy as np
import pytest

from composer.chart import Chart, chart_to_score, score_to_chart
from composer.corpora.jazz import generate_jazz
from composer.errors import InputError
from composer.harmony import QUALITIES, Chord, parse_chord, simplify
from composer.io import read, read_all, write
from composer.io.chordtext import chart_text, parse_chord_text
from composer.io.ireal import ireal_link, parse_ireal, scramble
from composer.io.lab import parse_lab, read_lab, write_lab

C = parse_chord

# A real iReal Pro export (a public test fixture of an iReal reader): its chart is scrambled by the app itself.
AUTUMN_LEAVES = (
    "irealb://Autumn%20Leaves=Kosma%20Joseph==Medium%20Swing=G%2D==1r34LbKcu7QyX314C%2D7XyX7hA%7CQyX7%5EbE%7CyQX7%5EbB"
    "%7CQyX7F%7CQyQ%7CD7b4T%7BA%2AQyX7%2DyQKclcKQyX6%2DG%7CQyX317bD%7CQyX7hA%5BB%2A%7D%20%20l%20LZCX6%2DG%7CL7bG%20Q%7C"
    "Bb%5EyX31b7D%7CQyX7hAC%5B%2A%5DQyX7%5EbE%7CQyX7Q%7CG%2D7yX7F%7CZF%2D7%20E7LZAh7XyQ%7CD7b13XyQ%7CG%2D6XyQKcl%20%20Z"
    "=Jazz%2DMedium%20Swing=85=0"
)


@pytest.fixture(scope="module")
def tunes():
    return generate_jazz(40, seed=7)


def test_ireal_known_link():
    (chart,) = parse_ireal(AUTUMN_LEAVES)
    assert chart.title == "Autumn Leaves" and chart.key == (7, "minor") and chart.tempo == 85 and len(chart.bars) == 32
    assert chart.sections == {0: "A", 8: "A", 16: "B", 24: "C"}  # the repeat of A is played out
    firsts = [bar[0][1] for bar in chart.bars[:7]]
    assert firsts == [C(x) for x in ("Cm7", "F7", "Bbmaj7", "Ebmaj7", "Am7b5", "D7b13", "Gm6")]
    assert chart.bars[7] == [] and chart.bars[26] == [(0, C("Gm7")), (2, C("Gb7"))]


def test_ireal_hand_made_chart_language():
    old = "irealbook://Song Title=LastName FirstName=Style=Ab=n=T44*A{C^7 |A-7 |D-9 |G7#5 }"  # the documented example
    (chart,) = parse_ireal(old)
    assert len(chart.bars) == 8 and chart.sections == {0: "A", 4: "A"} and chart.key == (8, "major")
    assert [b[0][1] for b in chart.bars[:4]] == [C("Cmaj7"), C("Am7"), C("Dm9"), C("G7#5")]
    # endings, one-bar and two-bar repeats, N.C., slashes, alternates, commas, 3/4
    text = "irealbook://T=C=S=C=n=[T34*AC^7 |x |D-7 G7 |N1C^7 A7 }[N2C,D-,E- |F^7 |r| |p n |W/A (Bb7) ][*BC  Z"
    (chart,) = parse_ireal(text)
    assert chart.meter == (3, 4)
    cells = [[(p, str(c)) for p, c in bar] for bar in chart.bars]
    assert cells == [
        [(0, "Cmaj7")], [], [(0, "Dm7"), (2, "G7")], [(0, "Cmaj7"), (2, "A7")],  # pass 1, ending 1
        [(0, "Cmaj7")], [], [(0, "Dm7"), (2, "G7")],  # pass 2 skips to ending 2
        [(0, "C"), (1, "Dm"), (2, "Em")], [(0, "Fmaj7")],
        [(0, "C"), (1, "Dm"), (2, "Em")], [(0, "Fmaj7")],  # r: the two bars before, again
        [], [(0, "Fmaj7/A")], [(0, "C")],  # slash and N.C. hold; W/A puts A under the chord; (Bb7) is an alternate
    ]
    assert chart.sections == {0: "A", 4: "A", 13: "B"}


def test_ireal_encoder_round_trip(tunes, tmp_path):
    assert all(scramble(scramble(s)) == s for s in ("x" * n for n in range(0, 230, 7)))
    for s in tunes[:12]:
        chart = score_to_chart(s)
        (back,) = parse_ireal(ireal_link(s))
        assert (back.bars, back.sections, back.meter, back.key, back.title, back.tempo) == \
            (chart.bars, chart.sections, chart.meter, chart.key, chart.title, chart.tempo)
    write(tunes[0], tmp_path / "one.html")  # the HTML export, as iReal Pro writes it
    assert score_to_chart(read(tmp_path / "one.html")).bars == score_to_chart(tunes[0]).bars
    (tmp_path / "list.html").write_text(f'<html><a href="{ireal_link(tunes[:3], "Mine")}">Mine</a></html>')
    assert [score_to_chart(x).bars for x in read_all(tmp_path / "list.html")] == [score_to_chart(t).bars for t in tunes[:3]]


@pytest.mark.parametrize("link,needle", [
    ("irealb://garbage=with=no=chart", "does not decode"),
    ("no link here", "no irealb:// or irealbook:// link"),
    ("irealbook://T=C=S=C=n=[T44Cmaj7 |F7 Z", "unknown chord spelling 'Cmaj7'"),
    ("irealbook://T=C=S=C=n=[T44 | | Z", "no chords"),
])
def test_ireal_bad_links(link, needle):
    with pytest.raises(InputError, match=needle) as e:
        parse_ireal(link, "my.html")
    assert "\n" not in str(e.value)


LAB = """0.000 2.000 C:maj7
2.000 3.000 A:min7
3.000 4.000 D:min7
4.000 6.000 G:7(b9)
6.000 8.000 N
8.000 10.000 D:hdim7/b3
"""


def test_lab_golden(tmp_path):
    chart = parse_lab(LAB)
    assert chart.tempo == 120 and chart.meter == (4, 4)
    assert chart.bars == [[(0, C("Cmaj7"))], [(0, C("Am7")), (2, C("Dm7"))], [(0, C("G7b9"))], [],
                          [(0, C("Dm7b5/F"))]]
    (tmp_path / "x.lab").write_text(LAB)
    s = read(tmp_path / "x.lab")
    write_lab(s, tmp_path / "y.lab")
    assert (tmp_path / "y.lab").read_text().splitlines()[-1] == "8.000000\t10.000000\tD:hdim7/b3"


def test_lab_round_trip_and_errors(tunes, tmp_path):
    for s in [t for t in tunes if t.time_signatures[0].numerator == 4][:6]:
        write_lab(s, tmp_path / "t.lab")
        assert score_to_chart(read_lab(tmp_path / "t.lab")).bars == score_to_chart(s).bars
    (tmp_path / "empty.lab").write_text("0.0 4.0 N\n")
    with pytest.raises(InputError, match="empty.lab: no chords"):
        read_lab(tmp_path / "empty.lab")
    with pytest.raises(InputError, match=r"unknown chord spelling 'C:fancy' in .*line 2"):
        parse_lab("0 1 C:maj\n1 2 C:fancy\n", "x.lab")


def test_musicxml_every_quality_round_trips(tmp_path):
    from composer.io.leadsheet import read_leadsheet_musicxml, write_leadsheet_musicxml

    rng = np.random.default_rng(0)
    chords = [Chord(int(rng.integers(12)), q) for q in QUALITIES]
    chords += [Chord(2, "m7", 0), Chord(7, "7b9", 11), Chord(0, "7(13)"), C("Fmaj7(#5,9)"), Chord(1, "9sus4", 6)]
    bars = [[(0, a), (2, b)] for a, b in zip(chords[::2], chords[1::2])]
    chart = Chart(bars, (4, 4), {0: "A", 8: "B"}, (10, "major"), "Every quality", 132.0)
    write_leadsheet_musicxml(chart_to_score(chart), tmp_path / "all.musicxml")
    assert (tmp_path / "all.musicxml").read_text().count("<harmony") == len(chords)
    back = score_to_chart(read_leadsheet_musicxml(tmp_path / "all.musicxml"))
    assert back.bars == chart.bars and back.key == chart.key and back.tempo == 132 and back.title == "Every quality"
    assert back.sections == {0: "A", 8: "B"}


MUSICXML = """<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="3.1"><part-list><score-part id="P1"><part-name>Lead</part-name></score-part></part-list>
<part id="P1"><measure number="1"><attributes><divisions>1</divisions><key><fifths>-2</fifths></key>
<time><beats>4</beats><beat-type>4</beat-type></time></attributes>
<direction placement="above"><direction-type><rehearsal>A</rehearsal></direction-type></direction>
<harmony><root><root-step>D</root-step></root><kind text="m7">minor-seventh</kind></harmony>
<note><pitch><step>D</step><octave>4</octave></pitch><duration>2</duration><type>half</type></note>
<harmony><root><root-step>G</root-step></root><kind>dominant</kind>
<degree><degree-value>9</degree-value><degree-alter>-1</degree-alter><degree-type>add</degree-type></degree></harmony>
<note><pitch><step>B</step><octave>4</octave></pitch><duration>2</duration><type>half</type></note></measure>
<measure number="2"><harmony><root><root-step>C</root-step></root><kind>major-seventh</kind>
<bass><bass-step>E</bass-step></bass></harmony>
<note><pitch><step>C</step><octave>5</octave></pitch><duration>4</duration><type>whole</type></note></measure>
<measure number="3"><harmony><root><root-step>B</root-step><root-alter>-1</root-alter></root><kind>dominant</kind>
<degree><degree-value>5</degree-value><degree-alter>1</degree-alter><degree-type>alter</degree-type></degree></harmony>
<note><rest/><duration>4</duration><type>whole</type></note></measure></part></score-partwise>
"""


def test_musicxml_golden(tmp_path):
    from composer.io.leadsheet import read_leadsheet_musicxml

    (tmp_path / "sheet.musicxml").write_text(MUSICXML)
    chart = score_to_chart(read_leadsheet_musicxml(tmp_path / "sheet.musicxml"))
    assert chart.bars == [[(0, C("Dm7")), (2, C("G7b9"))], [(0, C("Cmaj7/E"))], [(0, C("Bb7#5"))]]
    assert chart.sections == {0: "A"} and chart.key == (10, "major")  # 2 flats, ending away from Gm: Bb major
    assert [(c.root, c.quality) for c in read(tmp_path / "sheet.musicxml").chords] == \
        [(2, "m7"), (7, "7b9"), (0, "maj7"), (10, "7#5")]  # the same through io.read


TEXT = """Title: Blue Bossa
Key: C minor
Tempo: 150

A | Cm7   | %     | Fm7    | %     |
  | Dm7b5 | G7alt | Cm7    | %     |
B | Ebm7  | Ab7   | Dbmaj7 | %     |
  | Dm7b5 | G7alt | Cm7    | Dm7b5 G7alt |
"""


def test_text_lead_sheet(tunes, tmp_path):
    (chart,) = parse_chord_text(TEXT)
    assert chart.title == "Blue Bossa" and chart.key == (0, "minor") and chart.tempo == 150 and len(chart.bars) == 16
    assert chart.bars[1] == [] and chart.bars[15] == [(0, C("Dm7b5")), (2, C("G7alt"))] and chart.sections == {0: "A", 8: "B"}
    for s in tunes:
        chart = score_to_chart(s)
        text = chart_text(chart)
        lines = [x for x in text.splitlines() if "|" in x]
        assert all(x.count("|") == 5 for x in lines)  # four bars a line
        (back,) = parse_chord_text(text)
        assert (back.bars, back.sections, back.key, back.meter, back.tempo) == \
            (chart.bars, chart.sections, chart.key, chart.meter, chart.tempo)
    assert parse_chord_text("| C7 . . F7 |")[0].bars == [[(0, C("C7")), (3, C("F7"))]]
    assert parse_chord_text("| C7 F7 Bb7 |")[0].bars == [[(0, C("C7")), (2, C("F7")), (3, C("Bb7"))]]


@pytest.mark.parametrize("text,needle", [
    ("| C7 | Fnope |", "unknown chord spelling 'Fnope' in x.txt line 1"),
    ("| % | C |", "x.txt line 1: '%' repeats the bar before"),
    ("| C D E F G |", "x.txt line 1: 5 chords in a bar of 4 beats"),
    ("Title: nothing\n", "x.txt: no chords"),
    ("hello\n", "x.txt line 1: not a header"),
])
def test_text_errors(text, needle):
    with pytest.raises(InputError) as e:
        parse_chord_text(text, "x.txt")
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_midi_comping_estimation(tunes, tmp_path):
    from dataclasses import replace

    from composer.comping import render_backing
    from composer.io.midi import read_midi, write_midi
    from composer.io.midi_chords import estimate_chords

    hits = roots = total = 0
    for s in [t for t in tunes if t.time_signatures[0].numerator == 4][:5]:
        chart = score_to_chart(s)
        played = replace(s, chords=[], tracks=render_backing(s.chords, s.tpq, 4, len(chart.bars)))
        write_midi(played, tmp_path / "comp.mid")
        midi = read_midi(tmp_path / "comp.mid")
        assert not midi.chords  # no markers: the chords must be heard
        truth = {b: c for b in range(len(chart.bars) * 4) for c in [_at(s.chords, b * s.tpq)]}
        est = estimate_chords(midi)
        for b, c in truth.items():
            e = _at(est, b * midi.tpq)
            total += 1
            roots += e is not None and e.root == c.root
            hits += e is not None and e.root == c.root and simplify(e.quality) == simplify(c.quality)
    assert roots / total > 0.8 and hits / total > 0.75, (roots / total, hits / total)


def _at(chords, tick):
    on = [c for c in chords if c.start <= tick]
    return max(on, key=lambda c: c.start) if on else None
