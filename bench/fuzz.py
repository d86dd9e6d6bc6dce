"""Mutation fuzzing of every reader: N mutated files each, counted as accepted / rejected / failed.

Seeds are real files the project reads and writes: music21's bundled ABC tunes, the jazz
standards in corpora/jazz, and MIDI, ABC, lead-sheet text, iReal, .lab and MusicXML files our
writers make from them. Each input is 1-4 stacked mutations of a seed: bit flips, MIDI-aware
"interesting" bytes (huge variable-length deltas, tempo 1 us, chunk lengths of 2^32-1, zero or
SMPTE division), deleted / duplicated / repeated slices (deep nesting, 10^5 copies of a
construct), truncation, splices of two seeds, absurd numbers, and re-encodings (UTF-16,
latin-1, BOMs). A reader must end each in a Score (accepted) or a ComposerError (rejected);
anything else, or more than ``--timeout`` seconds, or more than ``--memory`` MiB, is a failure.

Inputs run in a child process (restarted after a hang or a crash) with an address-space
limit, so a runaway input is caught rather than taking the machine down. Failing inputs are
saved under ``--save`` for replay.

    python bench/fuzz.py --n 1000                    # every reader
    python bench/fuzz.py --n 100000 --readers midi,abc
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

__all__ = ["READERS", "SLOW_READERS", "fuzz_in_process", "main", "mutate", "run_one", "seeds"]


# ---------------------------------------------------------------------------------- readers


def _read_midi(p):
    from composer.io.midi import read_midi

    return read_midi(p)


def _read_midi_chords(p):
    from composer.io.midi_chords import read_midi_chords

    return read_midi_chords(p)


def _read_abc(p):
    from composer.io.abc import read_abc

    return read_abc(Path(p))


def _read_chordtext(p):
    from composer.io.chordtext import read_chord_text_all

    return read_chord_text_all(p)


def _read_ireal(p):
    from composer.io.ireal import read_ireal_all

    return read_ireal_all(p)


def _read_lab(p):
    from composer.io.lab import read_lab

    return read_lab(p)


def _read_leadsheet(p):
    from composer.io.leadsheet import read_leadsheet_musicxml

    return read_leadsheet_musicxml(p)


def _read_musicxml(p):
    from composer.io.musicxml import read_musicxml

    return read_musicxml(p)


def _read_any(p):
    from composer.io import read_all

    return read_all(p)


def _parse_chord(p):
    from composer.harmony import parse_chord

    text = Path(p).read_bytes().decode("utf-8", "replace")
    return [parse_chord(line) for line in text.splitlines() if line.strip()]


# name -> (file extension, reader taking a path)
READERS = {
    "midi": (".mid", _read_midi),
    "midi_chords": (".mid", _read_midi_chords),
    "abc": (".abc", _read_abc),
    "chordtext": (".txt", _read_chordtext),
    "ireal": (".html", _read_ireal),
    "lab": (".lab", _read_lab),
    "chord": (".chord", _parse_chord),
    "leadsheet": (".musicxml", _read_leadsheet),
    "musicxml": (".musicxml", _read_musicxml),
    "mxl": (".mxl", _read_any),
}
SLOW_READERS = {"leadsheet", "musicxml", "mxl"}  # music21 underneath: ~50x slower per file


# ---------------------------------------------------------------------------------- seeds

_SEEDS: dict[str, list[bytes]] = {}


def _charts():
    from composer.io.chordtext import parse_chord_text

    text = (ROOT / "corpora" / "jazz" / "standards.txt").read_text(encoding="utf-8")
    return parse_chord_text(text, "standards.txt")


def _abc_tunes(n: int = 40) -> list[str]:
    """An even sample of music21's bundled ABC tunes, as text."""
    from composer.corpora.folk import bundled_abc_paths
    from composer.io.abc import split_tunes

    tunes = []
    for p in bundled_abc_paths():
        tunes += [t for _, t in split_tunes(p.read_text(encoding="utf-8", errors="replace"))[1]]
    step = max(1, len(tunes) // n)
    return tunes[::step][:n]


def _midi_seeds() -> list[bytes]:
    import mido

    from composer.chart import chart_to_score
    from composer.io.abc import parse_tune
    from composer.io.midi import midi_bytes
    from composer.score import ChordSymbol, KeySignature, Tempo, TimeSignature, Track, notes_array

    out = []
    for tune in _abc_tunes(12):
        try:
            s = parse_tune(tune)
        except Exception:  # noqa: BLE001, S112 - a seed our writer cannot make is just not a seed
            continue
        s.tpq = 480 if s.tpq % 21 else s.tpq // 21  # 10080 -> 480, a tpq MIDI can hold
        for t in s.tracks:
            t.notes["start"] //= 21
            t.notes["duration"] = (t.notes["duration"] // 21).clip(1)
        s.tempos = [Tempo(t.time // 21, t.qpm) for t in s.tempos]
        s.time_signatures = [TimeSignature(t.time // 21, t.numerator, t.denominator) for t in s.time_signatures]
        s.key_signatures = [KeySignature(k.time // 21, k.tonic, k.mode) for k in s.key_signatures]
        s.chords = [ChordSymbol(c.start // 21, c.duration // 21, c.root, c.quality, c.bass) for c in s.chords]
        try:
            out.append(midi_bytes(s))
        except Exception:  # noqa: BLE001, S112 - a seed our writer cannot make is just not a seed
            continue
    for chart in _charts()[:4]:  # comping chords + a bass + drums: the midi_chords reader's case
        sc = chart_to_score(chart)
        comp, bass, drums = [], [], []
        for c in sc.chords:
            for b in range(0, c.duration, 480):
                t = c.start + b
                comp += [(t, 480, 60 + (c.root + iv) % 12, 70) for iv in (0, 4, 7, 10)]
                bass.append((t, 480, 36 + c.root, 90))
                drums.append((t, 120, 42, 80))
        sc.tracks = [Track("piano", 0, False, notes_array(comp)), Track("bass", 33, False, notes_array(bass)),
                     Track("drums", 0, True, notes_array(drums))]
        sc.chords = [] if len(out) % 2 else sc.chords
        out.append(midi_bytes(sc))
    # hand-made events mido writes but our writer never does: running status, sysex, pitch bend,
    # SMPTE offset, lyrics, a type 0 file, note-on with velocity 0 as note-off
    mf = mido.MidiFile(type=0, ticks_per_beat=96)
    tr = mido.MidiTrack([
        mido.MetaMessage("smpte_offset", hours=1), mido.MetaMessage("set_tempo", tempo=500000),
        mido.MetaMessage("time_signature", numerator=7, denominator=8), mido.MetaMessage("key_signature", key="Ebm"),
        mido.Message("sysex", data=[1, 2, 3]), mido.Message("program_change", channel=3, program=40),
        mido.Message("note_on", channel=3, note=64, velocity=90), mido.Message("pitchwheel", channel=3, pitch=1000, time=5),
        mido.Message("note_on", channel=3, note=64, velocity=0, time=90), mido.MetaMessage("lyrics", text="la", time=3),
        mido.Message("control_change", channel=9, control=7, value=100), mido.Message("note_on", channel=9, note=36, velocity=100),
        mido.Message("note_off", channel=9, note=36, time=48), mido.MetaMessage("marker", text="chord:C:7"),
    ])
    mf.tracks.append(tr)
    import io

    buf = io.BytesIO()
    mf.save(file=buf)
    out.append(buf.getvalue())
    return out


def _text_seeds(kind: str) -> list[bytes]:
    from composer.chart import chart_to_score
    from composer.io.chordtext import chart_text

    charts = _charts()
    if kind == "abc":
        from composer.io.abc import parse_tune, score_to_abc

        tunes = _abc_tunes(40)
        out = ["\n\n".join(tunes[i:i + 3]).encode() for i in range(0, len(tunes), 3)]
        for t in tunes[:6]:
            try:
                out.append(score_to_abc(parse_tune(t)).encode())  # our writer's spelling too
            except Exception:  # noqa: BLE001, S110 - as above
                pass
        return out
    if kind == "chordtext":
        return [chart_text(c).encode() for c in charts] + [(ROOT / "corpora" / "jazz" / "standards.txt").read_bytes()]
    if kind == "ireal":
        from composer.io.ireal import ireal_link

        scores = [chart_to_score(c) for c in charts]
        pages = [f'<html><body><a href="{ireal_link(s)}">x</a></body></html>' for s in scores[:8]]
        return [p.encode() for p in pages] + [ireal_link(scores[:5], "Set").encode()]
    if kind == "lab":
        from composer.io.lab import write_lab

        out = []
        with tempfile.TemporaryDirectory() as d:
            for i, c in enumerate(charts[:10]):
                p = os.path.join(d, f"{i}.lab")
                write_lab(chart_to_score(c), p)
                data = Path(p).read_bytes()
                out.append(data if i % 2 else b"\n".join(data.split(b"\n")[1:]))  # with and without the hint
        return out
    if kind == "chord":
        from composer.harmony import QUALITIES, Chord, format_chord

        out, names = [], sorted(QUALITIES)
        for style in ("leadsheet", "harte", "ireal"):
            lines = []
            for i, q in enumerate(names):
                try:
                    lines.append(format_chord(Chord(i % 12, q, (i * 5) % 12 if i % 3 == 0 else None), style))
                except Exception:  # noqa: BLE001, S110 - a quality a style cannot spell
                    pass
            out += ["\n".join(lines[j:j + 8]).encode() for j in range(0, len(lines), 8)]
        return out + [b"Cmaj7#11/E\nBb13(b9,#11)\nF#m7b5\nEb-7\nD:hdim7/b3\nG7alt\nC6/9\nA(add9)\nN.C."]
    raise KeyError(kind)


def _xml_seeds(kind: str) -> list[bytes]:
    from composer.chart import chart_to_score
    from composer.io.leadsheet import write_leadsheet_musicxml
    from composer.io.midi import read_midi
    from composer.io.musicxml import write_musicxml

    out = []
    with tempfile.TemporaryDirectory() as d:
        for i, c in enumerate(_charts()[:3]):
            p = os.path.join(d, f"{i}.musicxml")
            write_leadsheet_musicxml(chart_to_score(c), p)
            out.append(Path(p).read_bytes())
        for i, m in enumerate(seeds("midi")[:2]):
            p = os.path.join(d, f"n{i}.musicxml")
            s = read_midi(m)
            write_musicxml(s, p)
            out.append(Path(p).read_bytes())
        if kind == "mxl":
            import zipfile

            zipped = []
            for i, x in enumerate(out):
                p = os.path.join(d, f"{i}.mxl")
                with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
                    z.writestr("META-INF/container.xml", '<?xml version="1.0"?><container><rootfiles>'
                               '<rootfile full-path="score.musicxml"/></rootfiles></container>')
                    z.writestr("score.musicxml", x)
                zipped.append(Path(p).read_bytes())
            out = zipped
    return out


def seeds(reader: str) -> list[bytes]:
    """The seed files for one reader (cached per process)."""
    if reader not in _SEEDS:
        if reader in ("midi", "midi_chords"):
            _SEEDS[reader] = _midi_seeds()
        elif reader in ("leadsheet", "musicxml", "mxl"):
            _SEEDS[reader] = _xml_seeds(reader)
        else:
            _SEEDS[reader] = _text_seeds(reader)
    return _SEEDS[reader]


# ---------------------------------------------------------------------------------- mutations

_VARLEN_HUGE = bytes([0xFF, 0xFF, 0xFF, 0x7F])  # the largest MIDI delta time, 2^28 - 1
_INTERESTING = [
    b"\x00", b"\xff", b"\x7f", b"\x80", b"\x90", b"\xf0", b"\xf7", b"\xff\x51\x03\x00\x00\x01",
    b"\xff\x2f\x00", _VARLEN_HUGE, b"\xff\xff\xff\xff", b"MTrk\xff\xff\xff\xff", b"MThd\x00\x00\x00\x06\x00\x01\xff\xff\x00\x00",
    b"\x00\x00", b"\x80\x00", b"\xe7\x28", b"\xff\x58\x04\x00\x00\x00\x00", b"\xff\x59\x02\x80\x05",
]
_TEXT_TOKENS = [
    "Z99999999", "(9:1:99999", "A99999999", "a/99999999", "[" * 50, "(" * 5000, "{" * 1000, "!" * 999,
    "%%MIDI transpose 9996", "K:C octave=99", "M:99999999/1", "M:0/0", "L:1/99999999", "L:0", "Q:1/4=0.00001",
    "Q:1/4=1e308", "\n|:" * 2000, "&" * 3000, "^^^^^^^^", ",,,,,,,,,,,,,,,,", "''''''''''''''''''''''",
    "\x00", "\ufffd", "\u202e", "N.C.", "%", "|", " | ", "Meter: 0/0", "Meter: 99999/1", "Tempo: nan",
    "Tempo: -5", "Key: H mixolydian", "1e308\t1e308\tC:maj", "-5\t-1\tC", "nan\tinf\tG:7", "T00", "T99",
    "*A{", "N9", "x r x r", "W/C", "<<<<", "irealb://", "=" * 100, "Cmaj7" * 500, "b" * 2000 + "9",
    "(" + "add9," * 1000 + ")", "/" * 500, "#" * 500, "<?xml", "<!DOCTYPE x [<!ENTITY a \"aaaaaaaa\">]>",
    "<note><pitch><step>C</step><octave>99</octave></pitch><duration>-1</duration></note>",
    "<divisions>0</divisions>", "<alter>99</alter>", "<duration>99999999999</duration>",
]


def _number(rng: random.Random) -> bytes:
    return rng.choice([b"0", b"-1", b"99999999", b"4294967296", b"1e308", b"nan", b"-0", b"00000000000000007",
                       str(rng.randrange(10**rng.randrange(1, 20))).encode()])


def _mutate_once(data: bytearray, rng: random.Random, pool: list[bytes]) -> bytearray:
    n = len(data)
    op = rng.randrange(12)
    if n == 0:
        op = 5
    if op == 0:  # flip bits
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(n)
            data[i] ^= 1 << rng.randrange(8)
    elif op == 1:  # interesting bytes over the data
        v = rng.choice(_INTERESTING)
        i = rng.randrange(n)
        data[i:i + len(v)] = v
    elif op == 2:  # delete a slice
        i = rng.randrange(n)
        del data[i:i + rng.randint(1, max(1, n // 8))]
    elif op == 3:  # duplicate a slice a few times
        i = rng.randrange(n)
        piece = data[i:i + rng.randint(1, 64)]
        data[i:i] = piece * rng.randint(1, 8)
    elif op == 4:  # repeat a slice very many times: deep nesting, huge counts
        i = rng.randrange(n)
        piece = data[i:i + rng.randint(1, 8)]
        data[i:i] = piece * rng.choice([100, 1000, 20_000])
    elif op == 5:  # insert random bytes
        i = rng.randrange(n + 1)
        data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif op == 6:  # truncate
        del data[rng.randrange(n):]
    elif op == 7:  # splice with another seed
        other = rng.choice(pool)
        i, j = rng.randrange(n), rng.randrange(max(1, len(other)))
        data[i:] = other[j:]
    elif op == 8:  # a dangerous text token
        i = rng.randrange(n + 1)
        data[i:i] = rng.choice(_TEXT_TOKENS).encode("utf-8")
    elif op == 9:  # replace a run of digits by an absurd number
        digits = [k for k in range(n) if 48 <= data[k] <= 57]
        if digits:
            i = rng.choice(digits)
            j = i
            while j < n and 48 <= data[j] <= 57:
                j += 1
            data[i:j] = _number(rng)
    elif op == 10:  # another encoding of the same text
        text = bytes(data).decode("utf-8", "replace")
        enc = rng.choice(["utf-16", "utf-16-be", "latin-1", "utf-8-sig", "cp1252", "utf-32"])
        data[:] = text.encode(enc, "replace")
    else:  # MIDI-aware: a huge delta or tempo right after an MTrk header, or a wild chunk length
        i = bytes(data).find(b"MTrk", rng.randrange(n))
        if i >= 0 and i + 8 <= n:
            if rng.random() < 0.5:
                data[i + 4:i + 8] = rng.choice([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x00\x00\x00\x01",
                                                (n * 2).to_bytes(4, "big")])
            else:
                data[i + 8:i + 8] = rng.choice([_VARLEN_HUGE + b"\x90\x3c\x40", b"\x00\xff\x51\x03\x00\x00\x01",
                                                b"\x00\xff\x51\x03\xff\xff\xff", b"\x00\x3c\x40" * 50,
                                                (_VARLEN_HUGE + b"\x90\x3c\x40") * 100])
        elif n >= 14 and data[:4] == b"MThd":
            data[12:14] = rng.choice([b"\x00\x00", b"\x80\x00", b"\xe7\x28", b"\x7f\xff", b"\x00\x01"])
        else:
            data[rng.randrange(n)] = rng.randrange(256)
    return data


def mutate(seed: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    """1-4 stacked mutations of ``seed``."""
    data = bytearray(seed)
    for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
        data = _mutate_once(data, rng, pool)
    return bytes(data)


def case(reader: str, i: int, base_seed: int = 0) -> bytes:
    """The i-th mutated input for a reader: deterministic, so a failure can be replayed by index."""
    rng = random.Random(f"{base_seed}:{reader}:{i}")
    pool = seeds(reader)
    return mutate(rng.choice(pool), rng, pool)


# ---------------------------------------------------------------------------------- running


def run_one(reader: str, data: bytes, folder: str) -> tuple[str, str]:
    """Run one reader on one input -> ("accepted" | "rejected" | "failed", detail)."""
    import warnings

    from composer.errors import ComposerError

    ext, fn = READERS[reader]
    path = os.path.join(folder, "input" + ext)
    with open(path, "wb") as f:
        f.write(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(path)
    except ComposerError as e:
        msg = str(e)
        if not msg.strip() or "\n" in msg.strip():
            return "failed", f"ComposerError without a one-line message: {msg!r}"
        return "rejected", msg
    except (Exception, RecursionError) as e:  # noqa: BLE001 - what the fuzzer counts as a failure
        tb = traceback.extract_tb(e.__traceback__)[-1]
        return "failed", f"{type(e).__name__}: {str(e)[:100]} at {Path(tb.filename).name}:{tb.lineno}"
    return "accepted", ""


def fuzz_in_process(reader: str, n: int, base_seed: int = 0) -> Counter:
    """Run n cases in this process (for tests): Counter of outcomes, failures listed under their detail."""
    out: Counter = Counter()
    with tempfile.TemporaryDirectory() as d:
        for i in range(n):
            kind, detail = run_one(reader, case(reader, i, base_seed), d)
            out[kind] += 1
            if kind == "failed":
                out[f"{reader}#{i}: {detail}"] += 1
    return out


def _child(conn, memory_mb: int) -> None:
    import resource

    if memory_mb:
        lim = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    folder = tempfile.mkdtemp(prefix="fuzz-")
    while True:
        job = conn.recv()
        if job is None:
            return
        reader, i, base_seed = job
        try:
            data = case(reader, i, base_seed)
            t0 = time.perf_counter()
            kind, detail = run_one(reader, data, folder)
            conn.send((kind, detail, time.perf_counter() - t0))
        except MemoryError:
            conn.send(("failed", "MemoryError (over the memory limit)", 0.0))


class _Worker:
    def __init__(self, memory_mb: int):
        self.memory_mb = memory_mb
        self._start()

    def _start(self) -> None:
        ctx = mp.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_child, args=(child, self.memory_mb), daemon=True)
        self.proc.start()

    def run(self, job, timeout: float):
        self.conn.send(job)
        if self.conn.poll(timeout):
            try:
                return self.conn.recv()
            except EOFError:
                pass
            self.restart()
            return "failed", "worker died (crash)", 0.0
        self.restart()
        return "failed", f"timeout (over {timeout:g} s)", timeout

    def restart(self) -> None:
        self.proc.kill()
        self.proc.join()
        self._start()

    def close(self) -> None:
        self.conn.send(None)
        self.proc.join(5)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="mutated inputs per reader")
    ap.add_argument("--n-slow", type=int, help="inputs for the music21-based readers (default: --n)")
    ap.add_argument("--readers", default=",".join(READERS), help="comma-separated subset")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds one input may take")
    ap.add_argument("--memory", type=int, default=3072, help="MiB of address space for the worker")
    ap.add_argument("--save", default="/tmp/composer-fuzz-failures", help="folder for failing inputs")
    args = ap.parse_args(argv)
    from tqdm import tqdm

    names = [r.strip() for r in args.readers.split(",") if r.strip()]
    unknown = set(names) - set(READERS)
    if unknown:
        ap.error(f"unknown readers {sorted(unknown)}; known: {', '.join(READERS)}")
    for r in names:
        seeds(r)  # built once in the parent; forked workers inherit them
    worker = _Worker(args.memory)
    rows, total_failed = [], 0
    for r in names:
        n = args.n_slow if (r in SLOW_READERS and args.n_slow is not None) else args.n
        counts: Counter = Counter()
        worst, worst_i, t0, failures = 0.0, 0, time.perf_counter(), Counter()
        for i in tqdm(range(n), desc=r, mininterval=5, file=sys.stderr):
            kind, detail, secs = worker.run((r, i, args.seed), args.timeout)
            counts[kind] += 1
            if secs > worst:
                worst, worst_i = secs, i
            if kind == "failed":
                failures[detail] += 1
                os.makedirs(args.save, exist_ok=True)
                Path(args.save, f"{r}-{args.seed}-{i}{READERS[r][0]}").write_bytes(case(r, i, args.seed))
        total_failed += counts["failed"]
        rows.append((r, n, counts["accepted"], counts["rejected"], counts["failed"], worst,
                     (time.perf_counter() - t0) / max(n, 1) * 1e3, worst_i))
        for detail, k in failures.most_common(10):
            print(f"  {r}: {k} x {detail}", file=sys.stderr)
    worker.close()
    print(f"{'reader':12s} {'inputs':>8s} {'accepted':>9s} {'rejected':>9s} {'failed':>7s} {'max s':>7s} "
          f"{'(case)':>7s} {'ms/input':>9s}")
    for r, n, a, rej, f, worst, ms, wi in rows:
        print(f"{r:12s} {n:8d} {a:9d} {rej:9d} {f:7d} {worst:7.2f} {'#' + str(wi):>7s} {ms:9.1f}")
    total = sum(row[1] for row in rows)
    print(f"{'total':12s} {total:8d} {sum(r[2] for r in rows):9d} {sum(r[3] for r in rows):9d} {total_failed:7d}")
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main())
