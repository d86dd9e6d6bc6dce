"""The ``compose`` command line: a thin layer over composer.pipeline.

Every failure a user can cause prints one line (``error: ...``) on stderr and exits non-zero;
``--verbose`` shows the traceback for bug reports. Heavy modules are imported inside the
commands, so ``compose --help`` and a generation start fast.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

__all__ = ["main", "cli"]


class _Cli(click.Group):
    """A group whose errors are one line on stderr, never a usage block or a traceback."""

    def main(self, args=None, prog_name=None, **extra):
        args = sys.argv[1:] if args is None else list(args)
        verbose = "--verbose" in args or "-v" in args
        try:
            rv = super().main(args, prog_name=prog_name or "compose", standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(130)
        except click.ClickException as e:
            click.echo(f"error: {e.format_message()}", err=True)
            sys.exit(e.exit_code)
        except Exception as e:
            from .errors import ComposerError

            if verbose:
                raise
            if isinstance(e, ComposerError):
                msg = str(e)
            elif isinstance(e, OSError):
                msg = f"{e.strerror or e}{f': {e.filename}' if e.filename else ''}"
            else:
                msg = f"internal error ({type(e).__name__}: {e}); rerun with --verbose and report it"
            click.echo(f"error: {msg}", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and debug logging.")
@click.version_option(package_name="composer", prog_name="compose")
def cli(verbose: bool) -> None:
    """Compose music with neural sequence models."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s", stream=sys.stderr, force=True)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)


def writes_file(command):
    """Decorator for a command whose ``-o`` is a file: adds ``--force`` and makes ``_check_output`` /
    ``_refuse_overwrite`` refuse an existing file without it (run folders are not files: they
    have ``--resume`` or their own refusal instead)."""
    import functools

    @functools.wraps(command)
    def wrapper(*args, force: bool = False, **kwargs):
        click.get_current_context().meta["composer.force"] = force
        return command(*args, **kwargs)

    force = click.Option(["--force"], is_flag=True, help="Overwrite the output file if it exists.")
    wrapper.__click_params__ = [force] + list(getattr(command, "__click_params__", []))  # listed last in --help
    return wrapper


def _refuse_overwrite(output: str) -> None:
    """An existing output file is only replaced when the command was given --force."""
    from .errors import InputError

    ctx = click.get_current_context(silent=True)
    if output != "-" and Path(output).is_file() and not (ctx and ctx.meta.get("composer.force")):
        raise InputError(f"{output} already exists; add --force to overwrite it")


def _check_output(output: str) -> None:
    """Fail before any work if the output cannot be written (or exists and --force is not given)."""
    from .errors import InputError
    from .io import WRITERS

    if output == "-":
        return
    _refuse_overwrite(output)
    p = Path(output)
    if p.suffix.lower() not in WRITERS:
        raise InputError(f"cannot write {output}: supported outputs are {', '.join(WRITERS)} or - (MIDI to stdout)")
    if not p.parent.is_dir():
        raise InputError(f"cannot write {output}: folder {p.parent} does not exist")
    if p.is_dir():
        raise InputError(f"cannot write {output}: it is a folder")


@cli.command()
@writes_file
@click.option("--style", help="Style to generate (see `compose info`); default blues.")
@click.option("--checkpoint", type=click.Path(), help="A checkpoint folder from `compose train`.")
@click.option("--bars", type=int, help="Length in bars.")
@click.option("--choruses", type=int, help="Length in choruses (12 bars each for the blues); default 3.")
@click.option("--key", default="C", show_default=True, help="Tonic: C, Db, D, ..., B (sharps or flats).")
@click.option("--tempo", type=float, help="Quarter notes per minute; default from the style.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same file, byte for byte.")
@click.option("--temperature", type=float, help="Sampling temperature (lower is safer); default from the style.")
@click.option("--top-p", type=float, help="Nucleus sampling for token styles: keep the likeliest tokens with this mass.")
@click.option("--swing", type=float, help="0 straight .. 1 triplet swing; default from the style.")
@click.option("--humanize", type=float, default=0.0, help="0 .. 1 timing and velocity jitter.")
@click.option("--meter", help="Meter, e.g. 6/8 (styles that take one).")
@click.option("--mode", help="Mode, e.g. major, minor, dorian, mixolydian (styles that take one).")
@click.option("--groove", help="A named groove or a MIDI file to start from (drums).")
@click.option("--fill-every", type=int, help="A fill every N bars (drums).")
@click.option("--form", help="Section plan: AABB (folk), AABA (jazz), A8B8, or 'intro verse chorus' (folk).")
@click.option("--prime", help="A start to continue, in the style's own notation.")
@click.option("--scale", help="Lock notes to a scale on --key: major, minor, dorian, mixolydian, blues, ... .")
@click.option("--scale-strength", type=float, help="1 = hard scale lock (default); below 1 out-of-scale notes "
              "are (1 - strength) times as likely.")
@click.option("--low", help="Lowest pitch, e.g. C4 or 60 (folk, blues melody).")
@click.option("--high", help="Highest pitch, e.g. A5 or 81 (folk, blues melody).")
@click.option("--density", type=float, help="0 sparse .. 1 dense; 0.5 is the model's own.")
@click.option("--min-note", type=float, help="Shortest note, in beats (folk, blues melody).")
@click.option("--max-note", type=float, help="Longest note, in beats (folk, blues melody).")
@click.option("--vary", type=float, help="With --form: the share of a repeated section's bars written afresh (0 = verbatim).")
@click.option("--explain", is_flag=True, help="Print the constraints and how often each changed the sampler's choice.")
@click.option("--count", type=int, default=1, show_default=True,
              help="Pieces to compose (seeds seed, seed+1, ...): one tune book for .abc, else name-01.mid, ...")
@click.option("-o", "--output", required=True,
              help="Output file (.mid, .abc, .musicxml, .wav/.flac/.ogg audio, ...), or - for MIDI on stdout.")
@click.option("--soundfont", help="Audio output: render with this .sf2 (or 'system' for an installed GM font).")
@click.option("--play", is_flag=True, help="Audio output: also play it (where an audio device exists).")
@click.option("--sing", "sing_it", is_flag=True, help="Audio output: sing the melody (default voice) instead of playing it.")
@click.option("--lyrics", help="With --sing: words to sing, syllables split by - as in ABC w: lines; default \"la\".")
def generate(style, checkpoint, bars, choruses, key, tempo, seed, temperature, swing, humanize, count, output,
             soundfont, play, sing_it, lyrics, **style_options) -> None:
    """Compose pieces and write them (the format follows the output's extension)."""
    from .errors import InputError
    from .pipeline import generate as run_generate
    from .pipeline import resolve_model

    _check_output(output)
    audio_out = _is_audio(output)
    if (soundfont or play) and not audio_out:
        raise InputError("--soundfont and --play need an audio output (.wav, .flac or .ogg)")
    if (sing_it and not audio_out) or (lyrics and not sing_it):
        raise InputError("--sing needs an audio output (.wav, .flac or .ogg); --lyrics needs --sing")
    if bars is not None and choruses is not None:
        raise InputError("give --bars or --choruses, not both")
    if choruses is not None:
        if choruses < 1:
            raise InputError(f"choruses must be at least 1, got {choruses}")
        bars = choruses * resolve_model(style, checkpoint)[0].form_bars
    if not 1 <= count <= 10_000:
        raise InputError(f"count must be between 1 and 10000, got {count}")
    if count > 1 and output == "-":
        raise InputError("--count needs a file to write to, not -")
    if count > 1:  # name-01.mid, name-02.mid, ...: none of them overwritten without --force
        from .io import BOOK_WRITERS, output_paths

        book = Path(output).suffix.lower() in BOOK_WRITERS and not (audio_out or sing_it)
        for path in output_paths(count, output, book):
            _refuse_overwrite(path)
    from .constraints import Control

    explain = style_options.pop("explain")
    ctl = {k: style_options.pop(k) for k in ("scale", "scale_strength", "low", "high", "density", "min_note",
                                             "max_note", "vary")}
    control = Control(**{k: v for k, v in ctl.items() if v is not None}, explain=explain)
    options = {k: v for k, v in style_options.items() if v is not None}
    scores = [run_generate(style, checkpoint, bars=bars, key=key, tempo=tempo, seed=seed + i, temperature=temperature,
                           swing=swing, humanize=humanize, control=control, **options) for i in range(count)]
    if explain:
        from .constraints import explain_lines

        for i, sc in enumerate(scores):
            for line in explain_lines(sc.meta.get("constraints"), seed + i):
                click.echo(line, err=True)
    if output == "-":
        from .io.midi import midi_bytes

        sys.stdout.buffer.write(midi_bytes(scores[0]))
        return
    from .io import write_all

    writer = None
    if sing_it:
        from .synth.sing import sing_score_writer

        writer = sing_score_writer(lyrics, seed=seed, progress=True)
    elif audio_out:
        from .synth import render_to_file

        def writer(score, path):
            render_to_file(score, path, soundfont=soundfont, progress=True)

    paths = write_all(scores, output, writer=writer)
    for path in paths:
        click.echo(f"wrote {path}", err=True)
    if play:
        _play(paths[0])


@cli.command()
@writes_file
@click.argument("source", type=click.Path())
@click.option("--add", "part", required=True,
              help="The part to add: drums (drums style), chords (jazz harmony), bass (walking bass from the "
                   "chords), melody (over the chords, blues model).")
@click.option("-o", "--output", required=True, help="Output file (.mid, .musicxml, ...).")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same file.")
@click.option("--temperature", type=float, help="Sampling temperature; default from the style.")
@click.option("--explain", is_flag=True, help="Print how often the conditioning changed the sampler's choice.")
def accompany(source, part, output, seed, temperature, explain) -> None:
    """Add a generated part to a piece, keeping its tracks as they are (bar-aligned)."""
    from .accompany import ADDS
    from .accompany import accompany as run_accompany
    from .constraints import explain_lines
    from .errors import InputError
    from .io import read, write

    _check_output(output)
    if output == "-":
        raise InputError("accompany needs an output file, not -")
    if part not in ADDS:
        raise InputError(f"unknown part {part!r} to add; choose one of: {', '.join(ADDS)}")
    score = read(source)
    record: dict | None = {} if explain else None
    out = run_accompany(score, part, seed=seed, temperature=temperature, explain=record)
    if explain:
        for line in explain_lines(record, seed):
            click.echo(line, err=True)
    write(out, output)
    click.echo(f"wrote {output}", err=True)


def _is_audio(output: str) -> bool:
    return Path(output).suffix.lower() in (".wav", ".flac", ".ogg")


def _play(path: str) -> None:
    """Play an audio file, or say in one line why not (never an error: the file is written)."""
    from .synth.play import play_file

    reason = play_file(path)
    if reason:
        click.echo(f"cannot play {path}: {reason}", err=True)


@cli.command()
@click.option("--config", "config_path", type=click.Path(),
              help="A TOML run config (e.g. runs/x/config.toml, which every run writes); options given here win.")
@click.option("--style", help="Style to train; default blues.")
@click.option("-o", "--output", type=click.Path(), help="Run folder (checkpoints, config.toml, logs, loss.png).")
@click.option("--corpus", type=click.Path(), help="Folder of MIDI files; default the style's built-in corpus.")
@click.option("--resume", is_flag=True, help="Continue the run in --output where it stopped.")
@click.option("--size", help="Model size preset (tiny, default, ...); default: default.")
@click.option("--model", help="Another model the style offers, e.g. transformer.")
@click.option("--epochs", type=int, help="Maximum epochs.")
@click.option("--batch-size", type=int, help="Sequences per micro-batch, over all processes together.")
@click.option("--window", type=int, help="Training window in frames or tokens (default: the style's); validation keeps the style's.")
@click.option("--grad-accum", type=int, help="Micro-batches per optimizer step (gradient accumulation).")
@click.option("--lr", type=float, help="Peak learning rate (linear warmup, then cosine decay).")
@click.option("--warmup-steps", type=int, help="Steps of linear warmup.")
@click.option("--min-lr-ratio", type=float, help="Final learning rate as a fraction of --lr.")
@click.option("--weight-decay", type=float, help="AdamW weight decay (weight matrices; not biases, norms, embeddings).")
@click.option("--grad-clip", type=float, help="Clip the gradient norm to this (0: off).")
@click.option("--patience", type=int, help="Stop after this many epochs without a better validation loss.")
@click.option("--max-steps", type=int, help="Stop after this many optimizer steps.")
@click.option("--seed", type=int, help="Seed for data split, shuffling and initialisation (torch, numpy, python).")
@click.option("--deterministic/--no-deterministic", default=None, help="Deterministic kernels only (slower on GPU).")
@click.option("--device", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]),
              help="auto: bf16 autocast on CUDA (fp16 + grad scaler without bf16), fp32 elsewhere.")
@click.option("--compile/--no-compile", default=None, help="torch.compile the model.")
@click.option("--threads", type=int, help="CPU threads for torch (1 is often fastest for small models).")
@click.option("--checkpoint-every", type=int, help="Steps between resume points (default: each epoch's end).")
@click.option("--keep", type=int, help="Resume points kept (default 3; the best checkpoint is kept apart).")
@click.option("--log-every", type=int, help="Steps between lines of steps.jsonl and TensorBoard points.")
@click.option("--tensorboard/--no-tensorboard", default=None, help="Log to RUN/tb when tensorboard is installed.")
def train(config_path, resume, **options) -> int:
    """Train a style's model on its built-in corpus or on your MIDI files.

    Ctrl-C (or SIGTERM) saves a checkpoint and stops; --resume continues exactly there. Under
    torchrun the run is data-parallel over all processes (see the README).
    """
    import os

    from .errors import InputError
    from .pipeline import train_style
    from .runconfig import load_run_config
    from .runstate import find_snapshot

    main_rank = os.environ.get("RANK", "0") == "0"
    if not main_rank:
        logging.getLogger().setLevel(logging.WARNING)
    opts = load_run_config(config_path) if config_path else {}
    opts.update({k: v for k, v in options.items() if v is not None})
    output = opts.pop("output", None)
    if not output:
        raise InputError("no run folder: give -o/--output (or `output` in the config file)")
    if not resume and ((Path(output) / "config.json").exists() or find_snapshot(output) is not None):
        raise InputError(f"{output} already holds a run; use --resume to continue it or choose another folder")
    result = train_style(opts.pop("style", "blues"), output, resume=resume, size=opts.pop("size", "default"), **opts)
    if result.interrupted:
        if main_rank:
            click.echo(f"stopped at step {result.steps}; checkpoint in {output}/last; continue with --resume", err=True)
        return 128 + result.interrupted
    if main_rank:
        click.echo(f"best validation NLL {result.best_valid:.4f} nats/step after {result.epochs_run} epochs "
                   f"({result.steps} steps); checkpoint in {output}", err=True)
    return 0


@cli.command("eval")
@click.option("--checkpoint", required=True, type=click.Path(), help="A checkpoint folder.")
@click.option("--corpus", type=click.Path(), help="Evaluate on this corpus's validation split instead.")
@click.option("--seed", type=int, default=0, show_default=True, help="The seed the model was trained with.")
@click.option("--data", type=click.Path(), help="A file with its own splits (e.g. a piano-roll JSON) to evaluate on.")
@click.option("--split", default="valid", show_default=True, help="Which split of --data (or of a built corpus).")
@click.option("--samples", type=int, default=8, show_default=True,
              help="Pieces to sample for the musical metrics (0: none).")
def eval_cmd(checkpoint, corpus, seed, data, split, samples) -> None:
    """Print a checkpoint's validation loss, perplexity and the style's musical metrics."""
    from .errors import InputError
    from .pipeline import evaluate

    if data is not None and corpus is not None:
        raise InputError("give --data or --corpus, not both")
    r = evaluate(checkpoint, corpus=data if data is not None else corpus, seed=seed, split=split)
    label = "validation" if split == "valid" else f"{split!r} split"
    click.echo(f"{r['style']}: {label} NLL {r['nll']:.4f} nats per {r['unit']}, perplexity {r['perplexity']:.3f} "
               f"({r['valid_pieces']} pieces of {r['corpus']})")
    if samples < 0 or samples > 10_000:
        raise InputError(f"samples must be between 0 and 10000, got {samples}")
    if samples:
        from .evaluation import musical_metrics

        click.echo(f"musical metrics of {samples} sampled pieces:")
        for name, value in musical_metrics(checkpoint, samples=samples, seed=seed).items():
            if name != "pieces sampled":
                click.echo(f"  {name}: {value:.4f}")


@cli.command()
@writes_file
@click.argument("source", type=click.Path())
@click.option("-o", "--output", required=True, help="Output file; its extension picks the format.")
@click.option("--grid", type=int, default=4, show_default=True,
              help="Quantise to 1/GRID of a quarter note when converting to ABC (4 = sixteenths).")
def convert(source, output, grid) -> None:
    """Convert between MIDI, ABC and MusicXML (a tune book in, one book or a file per tune out)."""
    from .convert import convert_file

    _check_output(output)
    if output == "-":
        from .errors import InputError

        raise InputError("convert needs an output file, not -")
    for path in convert_file(source, output, grid=grid):
        click.echo(f"wrote {path}", err=True)


@cli.group()
def corpus() -> None:
    """Build training corpora."""


@corpus.command("build")
@click.argument("style")
@click.option("-o", "--output", required=True, type=click.Path(), help="Folder for the splits and the manifest.")
@click.option("--source", type=click.Path(), help="A file or folder to read instead of the style's built-in corpus.")
@click.option("--seed", type=int, default=0, show_default=True)
def corpus_build(style, output, source, seed) -> None:
    """Tokenise a corpus into train/valid/test splits with a report of what was skipped and why."""
    from .corpora.build import build_corpus

    m = build_corpus(style, output, source=source, seed=seed)
    click.echo(f"{m['source']}: kept {m['kept']} of {m['read'] + m['unreadable']} pieces "
               f"(train {m['splits']['train']}, valid {m['splits']['valid']}, test {m['splits']['test']}); "
               f"{m['tokens']:,} tokens, vocabulary {len(m['tokenizer']['vocab'])}", err=True)
    for reason, n in m["skipped_by_reason"].items():
        click.echo(f"  skipped {n}: {reason}", err=True)
    click.echo(f"wrote {output}", err=True)


@corpus.command("audio")
@click.argument("sources", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(), help="Corpus folder (clips/ + manifest.json).")
@click.option("--sample-rate", type=int, default=16000, show_default=True, help="Samples per second of every clip.")
@click.option("--hop", type=int, default=128, show_default=True, help="Samples per conditioning frame.")
@click.option("--max-pieces", type=int, default=50, show_default=True, help="Pieces rendered per built-in corpus.")
@click.option("--max-seconds", type=float, default=30.0, show_default=True, help="Longest clip kept (0: whole pieces).")
@click.option("--seed", type=int, default=0, show_default=True)
def corpus_audio(sources, output, sample_rate, hop, max_pieces, max_seconds, seed) -> None:
    """Pair scores with audio for the WaveNet: SOURCES are built-in corpora (blues, drums, folk, jazz,
    bach) rendered with the built-in synth, folders of WAV + MIDI with the same stem, or WAV folders."""
    from .corpora.audio import build_audio_corpus

    m = build_audio_corpus(output, list(sources), sample_rate=sample_rate, hop=hop, max_pieces=max_pieces,
                           max_seconds=max_seconds, seed=seed)
    kind = "unconditional" if m["codec"]["conditioning"] == "none" else "with piano rolls"
    click.echo(f"kept {len(m['clips'])} clips {kind} (train {m['seconds']['train']:.0f} s, "
               f"valid {m['seconds']['valid']:.0f} s at {sample_rate} Hz); skipped {len(m['skipped'])}", err=True)
    for s in m["skipped"][:20]:
        click.echo(f"  skipped {s['reason']}", err=True)
    click.echo(f"wrote {output}", err=True)


@cli.command("train-wavenet")
@click.option("--corpus", "corpus_dir", required=True, type=click.Path(), help="A folder from `compose corpus audio`.")
@click.option("-o", "--output", required=True, type=click.Path(), help="Run folder (checkpoint, logs, loss.png).")
@click.option("--size", default="small", show_default=True, help="tiny, small (CPU) or default (GPU).")
@click.option("--crop-frames", type=int, default=16, show_default=True, help="Conditioning frames per training crop.")
@click.option("--crops-per-epoch", type=int, help="Random crops per epoch (default: the training audio once).")
@click.option("--epochs", type=int)
@click.option("--batch-size", type=int)
@click.option("--lr", type=float)
@click.option("--patience", type=int)
@click.option("--max-steps", type=int)
@click.option("--seed", type=int)
@click.option("--device", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--threads", type=int, help="CPU threads for torch.")
@click.option("--resume", is_flag=True, help="Continue the run in --output where it stopped.")
def train_wavenet_cmd(corpus_dir, output, size, crop_frames, crops_per_epoch, resume, **options) -> None:
    """Train a WaveNet that plays piano rolls (or an unconditional one) on an audio corpus."""
    import math

    from .errors import InputError
    from .synth.wavenet import train_wavenet

    if not resume and (Path(output) / "config.json").exists():
        raise InputError(f"{output} already holds a run; use --resume to continue it or choose another folder")
    r = train_wavenet(corpus_dir, output, size=size, crop_frames=crop_frames, crops_per_epoch=crops_per_epoch,
                      resume=resume, **options)
    click.echo(f"best validation NLL {r.best_valid / math.log(2):.3f} bits/sample after {r.epochs_run} epochs "
               f"({r.steps} steps); checkpoint in {output}", err=True)


@cli.command()
@click.argument("source", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(), help="Folder for the shards and manifest.json.")
@click.option("--workers", type=int, default=0, show_default=True, help="Parsing processes (0: one per CPU).")
@click.option("--shard-tokens", type=int, default=1 << 24, show_default=True, help="Tokens per shard (at most).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the train/valid/test split.")
def tokenize(source, output, workers, shard_tokens, seed) -> None:
    """Tokenise a folder of MIDI files (recursively) into REMI shards for `compose train --style midi`.

    Re-running into the same folder resumes: files already done are skipped.
    """
    from .corpora.shards import tokenize_corpus
    from .errors import InputError

    if workers < 0:
        raise InputError(f"workers must be 0 (one per CPU) or more, got {workers}")
    m = tokenize_corpus(source, output, workers=workers, shard_tokens=shard_tokens, seed=seed)
    c, sp = m["counts"], m["splits"]
    click.echo(f"{source}: {c['files']} files, {c['tokenized']} tokenized, {c['duplicates']} duplicates, "
               f"{c['skipped']} skipped; {m['tokens']:,} tokens (train {sp['train']['tokens']:,}, "
               f"valid {sp['valid']['tokens']:,}, test {sp['test']['tokens']:,})", err=True)
    for reason, n in m["skipped_by_reason"].items():
        click.echo(f"  skipped {n}: {reason}", err=True)
    click.echo(f"wrote {output}", err=True)


@cli.command()
@click.argument("checkpoint", required=False, type=click.Path())
def info(checkpoint) -> None:
    """List styles and shipped checkpoints, or describe one checkpoint folder."""
    from .checkpoint import read_config, weights_info
    from .pipeline import pretrained_dir
    from .styles import STYLES

    if checkpoint:
        _model_card(checkpoint)
        return
    click.echo("styles:")
    for name, st in sorted(STYLES.items()):
        click.echo(f"  {name:10s} {st.description}")
    click.echo("shipped checkpoints:")
    for name, st in sorted(STYLES.items()):
        d = pretrained_dir(st)
        if (d / "config.json").exists():
            cfg = read_config(d)
            size, params = weights_info(d)
            nll = cfg.get("metrics", {}).get("valid_nll")
            click.echo(f"  {name:10s} {cfg['model']['kind']}, {params:,} parameters, {size / 1e6:.2f} MB"
                       + (f", validation NLL {nll:.3f}" if nll is not None else ""))
        else:
            click.echo(f"  {name:10s} (none shipped)")


@cli.command("render")
@writes_file
@click.argument("source", type=click.Path())
@click.option("-o", "--output", help="Audio file: .wav (always), .flac or .ogg (with soundfile). Optional with --play.")
@click.option("--soundfont", help="A .sf2/.sf3 SoundFont, or 'system' for an installed GM font; default: built-in synth.")
@click.option("--sample-rate", type=int, default=44100, show_default=True, help="Samples per second.")
@click.option("--play", is_flag=True, help="Play the result (where an audio device exists).")
@click.option("--engine", type=click.Choice(["synth", "wavenet"]), default="synth", show_default=True,
              help="synth: built-in voices or --soundfont; wavenet: a trained WaveNet (--checkpoint) plays the score.")
@click.option("--checkpoint", type=click.Path(), help="WaveNet run folder (from `compose train-wavenet`).")
@click.option("--seed", type=int, default=0, show_default=True, help="WaveNet sampling seed.")
@click.option("--temperature", type=float, default=1.0, show_default=True, help="WaveNet sampling temperature.")
@click.option("--seconds", type=float, help="WaveNet: render only the first SECONDS.")
def render_cmd(source, output, soundfont, sample_rate, play, engine, checkpoint, seed, temperature, seconds) -> None:
    """Render a MIDI (or ABC, MusicXML) file to audio with the built-in synth, a SoundFont or a WaveNet."""
    import tempfile

    from .errors import InputError
    from .io import read
    from .synth import render_to_file

    if engine == "wavenet" or checkpoint:
        from .synth.wavenet import render_wavenet_file

        if engine != "wavenet" or not checkpoint or soundfont:
            raise InputError("a WaveNet render needs --engine wavenet --checkpoint RUN (and no --soundfont)")
        if output is None or not _is_audio(output):
            raise InputError("give -o FILE.wav for the WaveNet's audio")
        _check_output(output)
        rate = sample_rate if click.get_current_context().get_parameter_source("sample_rate").name != "DEFAULT" else None
        render_wavenet_file(read(source), checkpoint, output, sample_rate=rate, seed=seed, temperature=temperature,
                            max_seconds=seconds, progress=True)
        click.echo(f"wrote {output}", err=True)
        if play:
            _play(output)
        return

    if output is None and not play:
        raise InputError("give -o FILE.wav to write the audio (or --play to listen)")
    if output is not None:
        if not _is_audio(output):
            raise InputError(f"cannot write {output}: render writes .wav, .flac or .ogg")
        _check_output(output)
    elif play:
        from .synth.play import audio_device_reason

        reason = audio_device_reason()
        if reason:
            raise InputError(f"cannot play: {reason}; give -o FILE.wav to write the audio instead")
    score = read(source)
    if output is not None:
        render_to_file(score, output, sample_rate, soundfont=soundfont, progress=True)
        click.echo(f"wrote {output}", err=True)
        if play:
            _play(output)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "render.wav")
        render_to_file(score, path, sample_rate, soundfont=soundfont, progress=True)
        _play(path)


@cli.command()
@writes_file
@click.argument("path", type=click.Path())
@click.option("-o", "--output", required=True, help="Picture to write (.png, .svg or .pdf).")
def plot(path, output) -> None:
    """Draw a music file as a piano roll, or a training run folder's loss curves."""
    from .errors import InputError

    _refuse_overwrite(output)
    p = Path(path)
    if p.is_dir():
        if not (p / "log.jsonl").is_file():
            raise InputError(f"{path}: a folder, but not a training run (no log.jsonl)")
        from .train import plot_history, read_history

        try:
            history, steps = read_history(p)
        except ValueError as e:
            raise InputError(f"{p / 'log.jsonl'}: not valid JSON lines ({e})") from None
        if not history:
            raise InputError(f"{path}: no finished epoch in log.jsonl yet")
        plot_history(history, Path(output), steps=steps)
    else:
        from .io import read
        from .plot import plot_pianoroll

        if not Path(output).parent.is_dir():
            raise InputError(f"cannot write {output}: folder {Path(output).parent} does not exist")
        plot_pianoroll(read(path), output, title=p.name)
    click.echo(f"wrote {output}", err=True)


@cli.command("sing")
@writes_file
@click.argument("song", type=click.Path())
@click.option("-o", "--output", required=True, help="Output audio (.wav; .flac/.ogg with soundfile).")
@click.option("--voice", default="default", show_default=True,
              help="default (eSpeak NG phonemes through WORLD), npss (the shipped NPSS demo model, which "
                   "imitates the default voice) or a singer checkpoint folder from train-singer.")
@click.option("--tempo", type=float, help="Quarter notes per minute at the start (later tempo marks keep their "
                                          "ratio to it); default the score's.")
@click.option("--transpose", type=int, default=0, show_default=True, help="Semitones up (negative: down).")
@click.option("--vibrato", type=float, help="Vibrato depth in cents, 0 for none; default 40.")
@click.option("--lyrics", help="Sing these words instead of the score's (syllables split by -, as in ABC w:).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the pitch drift.")
def sing_cmd(song, output, voice, tempo, transpose, vibrato, lyrics, seed) -> None:
    """Sing a score with lyrics (MusicXML, MIDI with lyric events, ABC with w: lines) into a WAV."""
    from .errors import InputError
    from .synth.sing import sing_to_file
    from .synth.sing_score import align_lyrics, read_song

    _refuse_overwrite(output)
    if not _is_audio(output):
        raise InputError(f"cannot write {output}: sing writes audio (.wav, .flac or .ogg)")
    if not Path(output).parent.is_dir():
        raise InputError(f"cannot write {output}: folder {Path(output).parent} does not exist")
    s = read_song(song)
    if lyrics:
        s.notes = align_lyrics([(n.start, n.duration, n.pitch) for n in s.notes], lyrics, repeat=True)[0]
    r = sing_to_file(s, output, voice, tempo=tempo, transpose=transpose, vibrato=vibrato, seed=seed, progress=True)
    click.echo(f"wrote {output} ({r.seconds:.1f} s, {len(r.score.notes)} notes)", err=True)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; only this machine unless you name another (e.g. 0.0.0.0).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--runs", type=click.Path(file_okay=False), default="runs", show_default=True,
              help="Folder whose trained runs the page offers beside the styles.")
def serve(host, port, runs) -> None:
    """Open the composer page in your browser: compose, look, listen, download."""
    from .web.app import serve as run_server

    run_server(host, port, runs)


def _model_card(checkpoint) -> None:
    """What a checkpoint is, how it was trained and how well it did (its config.json)."""
    from .checkpoint import read_config, weights_info

    cfg = read_config(checkpoint)
    size, params = weights_info(checkpoint)
    click.echo(f"{checkpoint}: style {cfg['style']}, model {cfg['model']['kind']}, {params:,} parameters, "
               f"{size / 1e6:.2f} MB")
    m = cfg.get("metrics") or {}
    figures = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in sorted(m.items()))
    click.echo(f"  step {cfg.get('step')}" + (f"; {figures}" if figures else ""))
    if "corpus" in cfg:
        click.echo(f"  corpus {cfg['corpus']}: {cfg.get('pieces')} pieces, {cfg.get('skipped', 0)} skipped"
                   + (f", sha256 {cfg['corpus_sha256']}" if cfg.get("corpus_sha256") else ""))
    if cfg.get("run"):
        click.echo("  run config:")
        for k, v in cfg["run"].items():
            if v is not None:
                click.echo(f"    {k} = {v}")


@cli.command("sing-corpus")
@click.option("-o", "--output", required=True, type=click.Path(), help="Folder for NAME.wav + NAME.lab + NAME.abc.")
@click.option("--songs", type=int, default=40, show_default=True, help="Songs to sing.")
@click.option("--bars", type=int, default=8, show_default=True, help="Bars per song (4/4).")
@click.option("--seed", type=int, default=0, show_default=True)
def sing_corpus_cmd(output, songs, bars, seed) -> None:
    """Write a singing corpus sung by the default voice (what a singer trained on it imitates)."""
    from .errors import InputError
    from .synth.sing_corpus import build_corpus

    if not 1 <= songs <= 100_000 or not 1 <= bars <= 1000:
        raise InputError("--songs and --bars must be positive")
    build_corpus(output, songs, bars=bars, seed=seed)
    click.echo(f"wrote {songs} songs to {output}", err=True)


@cli.command("train-singer")
@click.argument("corpus", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(), help="Run folder (checkpoint, log, loss.png).")
@click.option("--size", default="default", show_default=True, help="tiny, small or default.")
@click.option("--resume", is_flag=True, help="Continue the run in --output where it stopped.")
@click.option("--epochs", type=int, help="Maximum epochs (default 30).")
@click.option("--batch-size", type=int, help="Windows of 200 frames (1 s) per batch (default 16).")
@click.option("--lr", type=float, help="Learning rate (default 0.002).")
@click.option("--max-steps", type=int, help="Stop after this many optimizer steps.")
@click.option("--seed", type=int, help="Seed for the song split, shuffling and initialisation.")
@click.option("--device", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--threads", type=int, help="CPU threads for torch.")
@click.option("--input-noise", type=float, help="Noise on the teacher-forced input frames (normalised units), "
              "so the model learns to recover from its own errors (NPSS); default 1.0.")
def train_singer_cmd(corpus, output, size, resume, epochs, batch_size, lr, max_steps, seed, device, threads,
                     input_noise) -> None:
    """Train the NPSS singer on a corpus folder (WAV + .lab phoneme labels, see `compose sing-corpus`)."""
    from .errors import InputError
    from .synth.sing_train import train_singer

    if not resume and (Path(output) / "config.json").exists():
        raise InputError(f"{output} already holds a run; use --resume to continue it or choose another folder")
    r = train_singer(corpus, output, size=size, resume=resume, epochs=epochs, batch_size=batch_size, lr=lr,
                     max_steps=max_steps, seed=seed, device=device, threads=threads,
                     model_options={"input_noise": input_noise} if input_noise is not None else None)
    click.echo(f"best validation NLL {r.best_valid:.3f} nats/frame after {r.epochs_run} epochs ({r.steps} steps); "
               f"use it with: compose sing SONG --voice {output} -o song.wav", err=True)


def main() -> None:
    cli.main()


if __name__ == "__main__":
    main()
