"""Singing synthesis: lyrics in, phonemes, timing, the F0 model, the default voice's quality, the CLI."""

import itertools
import logging

import numpy as np
import pytest
from click.testing import CliRunner

from composer.cli import cli
from composer.errors import InputError
from composer.synth.phonemes import PAUSE, espeak_to_arpabet, phone_set, spelling_g2p, split_syllables, word_phones
from composer.synth.sing_f0 import F0Style, hz_to_midi, note_f0
from composer.synth.sing_plan import phonemize, plan, read_lab, write_lab
from composer.synth.sing_score import Song, SungNote, align_lyrics, parse_lyric_line, read_song

TWINKLE = """X:1
T:Twinkle
M:4/4
L:1/4
Q:1/4=100
K:C
C C G G|A A G2|
w: Twin-kle twin-kle lit-tle star
F F E E|D D C2|]
w: How I won-der what you are
"""


def _deps():
    try:
        from composer.synth.sing_espeak import espeak_available
        from composer.synth.world import require_pyworld

        require_pyworld()
        phone_set("en").lookup("a")
    except InputError as e:
        pytest.skip(str(e))
    if not espeak_available():
        pytest.skip("eSpeak NG not installed")


@pytest.fixture(scope="module")
def twinkle(tmp_path_factory):
    p = tmp_path_factory.mktemp("song") / "twinkle.abc"
    p.write_text(TWINKLE)
    return p


@pytest.fixture(scope="module")
def sung(twinkle):
    _deps()
    from composer.synth.sing import sing

    return {v: sing(read_song(twinkle), vibrato=v) for v in (0, None)}


# --- words, syllables, phonemes ---------------------------------------------------------------


def test_cmu_words_and_the_fallback_for_unknown_ones():
    _deps()
    ps = phone_set("en")
    unknown = []
    assert word_phones("Twinkle,", ps, unknown) == ["T", "W", "IH", "NG", "K", "AH", "L"]
    assert unknown == []
    fallback = word_phones("gloobert", ps, unknown)
    assert unknown == ["gloobert"] and fallback[:3] == ["G", "L", "UW"] and set(fallback) <= set(ps.phones)
    assert espeak_to_arpabet("tw'INk@L") == ["T", "W", "IH", "NG", "K", "AH", "L"]
    assert spelling_g2p("shimmer") == ["SH", "IH", "M", "ER"]


def test_words_are_cut_into_syllables_by_their_vowels():
    _deps()
    ps = phone_set("en")
    a, b = split_syllables(word_phones("twinkle", ps), 2, ps)
    assert (a.onset, a.vowel, a.coda) == (("T", "W"), "IH", ("NG",))
    assert (b.onset, b.vowel, b.coda) == (("K",), "AH", ("L",))
    assert split_syllables(word_phones("star", ps), 2, ps) is None  # one vowel, two notes


def test_abc_lyric_rules():
    ev = parse_lyric_line("Twin-kle star_ * hap~py a\\-b | end")
    assert ev[0] == ("syl", "Twin", "begin") and ev[1] == ("syl", "kle", "end")
    assert ev[3][0] == "hold" and ev[4][0] == "skip"
    assert ev[5] == ("syl", "hap py", "single") and ev[6] == ("syl", "a-b", "single") and ev[7][1] == "end"
    notes = [(i, 1, 60) for i in range(4)]
    sung, left = align_lyrics(notes, "la-la_ lo ti do")
    assert [n.text for n in sung] == ["la", "la", None, "lo"] and sung[2].extend and left == 2
    again, _ = align_lyrics(notes, "oh", repeat=True)
    assert [n.text for n in again] == ["oh"] * 4


def test_abc_hyphen_after_a_space_is_a_note_of_its_own():
    # ABC 2.1 section 5.1: "syll-a--ble" and "syll-a -ble" are both aligned with four notes
    for text in ("syll-a--ble", "syll-a -ble"):
        ev = parse_lyric_line(text)
        assert ev == [("syl", "syll", "begin"), ("syl", "a", "middle"), ("hold", None, ""), ("syl", "ble", "end")]
    assert parse_lyric_line("a | b", bars=True)[1][0] == "bar"


def test_abc_w_lines_align_with_their_own_music_line(tmp_path):
    p = tmp_path / "lines.abc"
    p.write_text("X:1\nT:Lines\nM:4/4\nL:1/4\nK:C\n"
                 "C D E F|G A B c|\nw: one two three\n"  # 3 syllables for 8 notes
                 "c B A G|F E D C|]\nw: four five six-teen_ sev-en * eight\nw: a second verse\n")
    song = read_song(p)
    texts = [n.text for n in song.notes]
    assert texts[:3] == ["one", "two", "three"] and texts[3:8] == [None] * 5
    assert texts[8:12] == ["four", "five", "six", "teen"]  # the second w: line starts on its line's first note
    assert song.notes[12].extend and texts[13:15] == ["sev", "en"] and texts[15] is None
    assert any("eight" not in w and "no note left" in w for w in song.warnings)
    assert any("later verses" in w for w in song.warnings)
    # ties count as two notes (a syllable on the second re-articulates it); "|" moves to the next bar
    p.write_text("X:1\nM:3/4\nL:1/4\nK:G\nG2 A-|A B c|d3-|d2 z|\nw: Oh time__ | go by\n")
    song = read_song(p)
    got = [(n.start, n.duration, n.text, n.extend) for n in song.notes]
    assert got == [(0, 2, "Oh", False), (2, 2, "time", False), (4, 1, None, True), (5, 1, None, False),
                   (6, 3, "go", False), (9, 2, "by", False)]
    p.write_text("X:1\nL:1/4\nK:C\nV:1\nC D E F|\nw: one two three four\nV:2\nC, D, E, F,|\n")
    song = read_song(p)  # several voices: the w: lines are sung in order, with a note saying so
    assert [n.text for n in song.notes] == ["one", "two", "three", "four"]
    assert any("several voices" in w for w in song.warnings)


def test_tempo_changes_move_the_onsets(tmp_path):
    import music21

    p = tmp_path / "tempo.abc"
    p.write_text("X:1\nM:4/4\nL:1/4\nQ:1/4=120\nK:C\nC D E F|\nQ:1/4=60\nG A [Q:1/4=240]B c|]\nw: la la la la\n")
    want = [0, 0.5, 1, 1.5, 2, 3, 4, 4.25]  # 120 qpm, then 60, then 240 from the 7th note
    song = read_song(p)
    assert song.qpm == 120 and song.tempos == [(4.0, 60.0), (6.0, 240.0)]
    np.testing.assert_allclose(song.seconds_at([n.start for n in song.notes]), want)
    assert song.seconds == pytest.approx(4.5)
    s = music21.stream.Stream([music21.tempo.MetronomeMark(number=120)])
    for i in range(6):
        if i == 3:
            s.append(music21.tempo.MetronomeMark(number=60))
        n = music21.note.Note(60 + i, quarterLength=1)
        n.lyrics = [music21.note.Lyric(text="la")]
        s.append(n)
    for fmt, name in (("musicxml", "t.musicxml"), ("midi", "t.mid")):
        s.write(fmt, tmp_path / name)
        song = read_song(tmp_path / name)
        np.testing.assert_allclose(song.seconds_at([n.start for n in song.notes]), [0, 0.5, 1, 1.5, 2.5, 3.5])
    faster = song.with_tempo(240)  # --tempo sets the start; the change keeps its ratio (half speed)
    np.testing.assert_allclose(faster.seconds_at([n.start for n in faster.notes]), [0, 0.25, 0.5, 0.75, 1.25, 1.75])


def test_timed_phoneme_score_follows_every_tempo_mark(tmp_path):
    _deps()
    from composer.synth.sing_plan import LEAD_IN

    p = tmp_path / "tempo.abc"
    p.write_text("X:1\nM:4/4\nL:1/4\nQ:1/4=120\nK:C\nC D E F|\nw: la la la la\nQ:1/4=60\nG A B c|]\nw: la la la la\n")
    song = read_song(p)
    score = plan(song, phonemize(song, phone_set("en"))[0])
    np.testing.assert_allclose(score.notes[:, 0] - LEAD_IN, [0, 0.5, 1, 1.5, 2, 3, 4, 5])
    vowels = [g for g in score.segments if g.phone == "AA"]
    np.testing.assert_allclose([g.start - LEAD_IN for g in vowels], [0, 0.5, 1, 1.5, 2, 3, 4, 5])
    assert score.duration == pytest.approx(6 + 2 * LEAD_IN)


def test_read_abc_musicxml_and_midi_with_lyrics(tmp_path, twinkle):
    import music21

    song = read_song(twinkle)
    assert [n.text for n in song.notes[:4]] == ["Twin", "kle", "twin", "kle"] and song.qpm == 100
    assert song.notes[0].syllabic == "begin" and song.notes[1].syllabic == "end"
    s = music21.stream.Stream([music21.tempo.MetronomeMark(number=90)])
    for pitch, text, syl in [("C4", "hel", "begin"), ("E4", "lo", "end"), ("G4", "world", "single")]:
        n = music21.note.Note(pitch, quarterLength=1)
        n.lyrics = [music21.note.Lyric(text=text, syllabic=syl)]
        s.append(n)
    s.write("musicxml", tmp_path / "a.musicxml")
    xml = read_song(tmp_path / "a.musicxml")
    assert [(n.pitch, n.text, n.syllabic) for n in xml.notes] == [(60, "hel", "begin"), (64, "lo", "end"), (67, "world", "single")]
    assert xml.qpm == 90
    s.write("midi", tmp_path / "a.mid")
    mid = read_song(tmp_path / "a.mid")
    assert [n.text for n in mid.notes] == ["hel", "lo", "world"] and [n.pitch for n in mid.notes] == [60, 64, 67]


def test_corrupt_and_unsupported_files(tmp_path):
    bad = tmp_path / "bad.musicxml"
    bad.write_text("<score-partwise><part")
    with pytest.raises(InputError, match="bad.musicxml: cannot read"):
        read_song(bad)
    with pytest.raises(InputError, match="no such file"):
        read_song(tmp_path / "missing.abc")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(InputError, match="MusicXML, MIDI or ABC"):
        read_song(tmp_path / "x.txt")


# --- the timed phoneme score -------------------------------------------------------------------


def test_consonants_before_the_onset_vowels_on_it(twinkle, tmp_path):
    _deps()
    ps = phone_set("en")
    song = read_song(twinkle)
    score = plan(song, phonemize(song, ps)[0])
    segs = score.segments
    assert segs[0].start == 0 and segs[-1].end == pytest.approx(score.duration)
    assert all(abs(a.end - b.start) < 1e-9 for a, b in itertools.pairwise(segs))  # no gaps, no overlaps
    for i, (start, end, _) in enumerate(score.notes):
        mine = [g for g in segs if g.note == i]
        vowel = [g for g in mine if ps.is_vowel(g.phone)]
        assert len(vowel) == 1 and vowel[0].start == pytest.approx(start)  # the vowel starts on the onset
        assert all(g.end <= start + 1e-9 for g in mine if g.start < vowel[0].start)  # onset consonants before it
        assert vowel[0].duration >= 0.4 * (end - start)  # and is held
    assert [g.phone for g in segs[1:5]] == ["T", "W", "IH", "NG"]
    write_lab(tmp_path / "t.lab", segs)
    back = read_lab(tmp_path / "t.lab")
    assert [g.phone for g in back] == [g.phone for g in segs]
    assert max(abs(a.start - b.start) for a, b in zip(back, segs)) < 1e-6


def test_melisma_carries_the_vowel():
    _deps()
    ps = phone_set("en")
    song = Song([SungNote(0, 1, 60, "go"), SungNote(1, 1, 62, extend=True), SungNote(2, 1, 64, extend=True)], 120)
    score = plan(song, phonemize(song, ps)[0])
    phones = [g.phone for g in score.segments if g.phone != PAUSE]
    assert phones == ["G", "OW"]
    ow = next(g for g in score.segments if g.phone == "OW")
    assert ow.start == pytest.approx(score.notes[0, 0]) and ow.end == pytest.approx(score.notes[2, 1])


# --- the F0 model ---------------------------------------------------------------------------------


def test_f0_model_lands_on_the_notes_with_overshoot_and_vibrato():
    notes = np.array([[0.5, 1.5, 60.0], [1.5, 3.0, 67.0]])
    flat = hz_to_midi(note_f0(notes, 700, style=F0Style(vibrato_depth=0, drift=0)))
    t = np.arange(700) * 0.005
    steady = (t > 0.9) & (t < 1.3)  # before the preparation for the leap
    assert np.abs(flat[steady] - 60).max() < 0.01
    assert flat[(t > 1.5) & (t < 1.8)].max() > 67.2  # overshoot after the leap
    assert flat[(t > 1.2) & (t < 1.5)].min() < 59.9  # preparation: a dip before it
    assert abs(t[np.argmax(flat >= 63.5)] - 1.5) <= 0.01  # halfway on the written onset
    vib = hz_to_midi(note_f0(notes, 700, style=F0Style(vibrato_depth=50, drift=0))) - flat
    late = (t > 2.2) & (t < 2.9)
    assert 0.45 < vib[late].max() < 0.55  # 50 cents peak
    spectrum = np.abs(np.fft.rfft(vib[late] - vib[late].mean(), 4096))
    assert np.fft.rfftfreq(4096, 0.005)[np.argmax(spectrum)] == pytest.approx(5.5, abs=0.2)


# --- the default voice: quality checks on its audio --------------------------------------------


def test_sung_pitch_within_20_cents_of_the_score(sung):
    from composer.synth.sing_check import pitch_report, yin

    ps = phone_set("en")
    for r in sung.values():
        f0, _ = yin(r.samples, r.sample_rate)
        rep = pitch_report(f0, r.score, ps)
        assert rep.measured == len(r.score.notes)
        assert rep.max_abs < 20, rep.cents


def test_sung_onsets_within_20_ms(sung):
    from composer.synth.sing_check import onset_errors, voicing_report, yin

    ps = phone_set("en")
    r = sung[0]
    f0, _ = yin(r.samples, r.sample_rate)
    legato = onset_errors(f0, r.score)
    voiced_on = voicing_report(f0, r.score, ps)["onset_errors"]
    assert len(legato) >= 2 and len(voiced_on) >= 3
    assert np.abs(legato).max() <= 0.02 and np.abs(voiced_on).max() <= 0.02


def test_legato_onsets_at_voiced_consonant_joins_within_20_ms():
    """Leaps joined by W, Y, L, M, N, R: the consonants the pitch estimators used to hear off pitch
    (the default voice squeezed eSpeak's slow consonants 4x; a change looked up to 40 ms early)."""
    _deps()
    from composer.synth.sing import sing
    from composer.synth.sing_check import onset_errors, yin

    words = ["you", "one", "we", "will", "run", "low", "more", "ma", "new", "rain", "way", "oh", "yes", "lone",
             "maid", "now"]
    pitches = [60, 64, 62, 65, 60, 67, 64, 62, 69, 65, 62, 60, 64, 67, 64, 60]
    r = sing(Song([SungNote(i, 1, p, w) for i, (w, p) in enumerate(zip(words, pitches))], 100), vibrato=0)
    f0, _ = yin(r.samples, r.sample_rate)
    errors = onset_errors(f0, r.score)
    assert len(errors) >= 12  # every change is legato and voiced: nearly all are measurable
    assert np.abs(errors).max() <= 0.02, errors


def test_pitch_and_onsets_cross_checked_by_librosa_pyin(sung):
    pytest.importorskip("librosa", reason="the pYIN cross-check needs librosa")
    from composer.synth.sing_check import onset_errors, pitch_report, pyin

    ps = phone_set("en")
    for vibrato, r in sung.items():
        f0 = pyin(r.samples, r.sample_rate)
        rep = pitch_report(f0, r.score, ps)
        assert rep.measured >= 0.9 * len(r.score.notes) and rep.max_abs < 20, rep.cents
        if vibrato == 0:
            legato = onset_errors(f0, r.score)
            assert len(legato) >= 2 and np.abs(legato).max() <= 0.02, legato


def test_phoneme_durations_match_the_phoneme_score(sung):
    """Vowels are heard voiced and voiceless consonants unvoiced, where the score puts them."""
    from composer.synth.sing_check import voicing_report, yin

    r = sung[None]
    f0, _ = yin(r.samples, r.sample_rate)
    rep = voicing_report(f0, r.score, phone_set("en"))
    assert rep["vowel_voiced"] > 0.95 and rep["consonant_unvoiced"] > 0.9
    assert abs(r.seconds - r.score.duration) < 0.02
    rms = np.sqrt(np.mean(r.samples.reshape(-1)[: int(0.2 * r.sample_rate)] ** 2))
    assert rms < 1e-3  # the lead-in pause is silent


def test_bad_input_no_lyrics_unknown_words_range(caplog):
    _deps()
    from composer.synth.sing import sing
    from composer.synth.sing_voice import DefaultVoice

    voice = DefaultVoice(phone_set("en"))
    with caplog.at_level(logging.WARNING):
        r = sing(Song([SungNote(0, 1, 60), SungNote(1, 1, 64)], 120), voice)
    assert any('singing on "la"' in w for w in r.warnings)
    assert [g.phone for g in r.score.segments if g.phone != PAUSE] == ["L", "AA", "L", "AA"]
    r = sing(Song([SungNote(0, 1, 60, "zorblax")], 120), voice)
    assert any("zorblax" in w and "not in the dictionary" in w for w in r.warnings)
    high = Song([SungNote(0, 1, 96, "la"), SungNote(1, 1, 100, "la")], 120)
    r = sing(high, voice)
    assert any("transposed down 2 octave" in w for w in r.warnings) and r.score.notes[:, 2].max() == 76
    with pytest.raises(InputError, match="wider than the voice's range"):
        sing(Song([SungNote(0, 1, 30, "a"), SungNote(1, 1, 90, "a")], 120), voice)


# --- the CLI ------------------------------------------------------------------------------------


def test_cli_sing_and_its_errors(twinkle, tmp_path):
    _deps()
    from composer.io.audio import read_audio

    out = tmp_path / "t.wav"
    r = CliRunner().invoke(cli, ["sing", str(twinkle), "-o", str(out), "--tempo", "200", "--transpose", "-2",
                                 "--vibrato", "0"])
    assert r.exit_code == 0, r.output
    x, sr = read_audio(out)
    assert sr == 22050 and abs(len(x) / sr - (16 * 0.3 + 0.8)) < 0.05  # 16 beats at 200 qpm + lead-in/out
    other = str(tmp_path / "other.wav")
    for args, msg in ([str(tmp_path / "nope.abc"), "-o", other], "no such file"), \
                     ([str(twinkle), "-o", str(tmp_path / "t.mid")], "sing writes audio"), \
                     ([str(twinkle), "-o", other, "--voice", str(tmp_path)], "not a checkpoint"), \
                     ([str(twinkle), "-o", other, "--tempo", "1"], "tempo must be"), \
                     ([str(twinkle), "-o", str(out)], "already exists"):
        r = CliRunner().invoke(cli, ["sing", *args])
        assert r.exit_code == 1 and msg in r.output and "Traceback" not in r.output, r.output


def test_cli_generate_sings_a_folk_tune(tmp_path):
    _deps()
    from composer.io.audio import read_audio

    out = tmp_path / "tune.wav"
    r = CliRunner().invoke(cli, ["generate", "--style", "folk", "--bars", "4", "--sing", "--lyrics", "oh my dar-ling",
                                 "-o", str(out)])
    assert r.exit_code == 0, r.output
    x, sr = read_audio(out)
    assert len(x) > sr and np.abs(x).max() > 0.5
    r = CliRunner().invoke(cli, ["generate", "--style", "folk", "--sing", "-o", str(tmp_path / "t.mid")])
    assert r.exit_code == 1 and "--sing needs an audio output" in r.output
