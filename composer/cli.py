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


def _check_output(output: str) -> None:
    """Fail before any work if the output cannot be written."""
    from .errors import InputError
    from .io import WRITERS

    if output == "-":
        return
    p = Path(output)
    if p.suffix.lower() not in WRITERS:
        raise InputError(f"cannot write {output}: supported outputs are {', '.join(WRITERS)} or - (MIDI to stdout)")
    if not p.parent.is_dir():
        raise InputError(f"cannot write {output}: folder {p.parent} does not exist")


@cli.command()
@click.option("--style", help="Style to generate (see `compose info`); default blues.")
@click.option("--checkpoint", type=click.Path(), help="A checkpoint folder from `compose train`.")
@click.option("--bars", type=int, help="Length in bars.")
@click.option("--choruses", type=int, help="Length in choruses (12 bars each for the blues); default 3.")
@click.option("--key", default="C", show_default=True, help="Tonic: C, Db, D, ..., B (sharps or flats).")
@click.option("--tempo", type=float, help="Quarter notes per minute; default from the style.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same file, byte for byte.")
@click.option("--temperature", type=float, help="Sampling temperature (lower is safer); default from the style.")
@click.option("--swing", type=float, help="0 straight .. 1 triplet swing; default from the style.")
@click.option("--humanize", type=float, default=0.0, help="0 .. 1 timing and velocity jitter.")
@click.option("--meter", help="Meter, e.g. 6/8 (styles that take one).")
@click.option("--mode", help="Mode, e.g. major, minor, dorian, mixolydian (styles that take one).")
@click.option("--groove", help="A named groove or a MIDI file to start from (drums).")
@click.option("--fill-every", type=int, help="A fill every N bars (drums).")
@click.option("--form", help="Section plan, e.g. AABA (styles that take one).")
@click.option("--prime", help="A start to continue, in the style's own notation.")
@click.option("--count", type=int, default=1, show_default=True,
              help="Pieces to compose (seeds seed, seed+1, ...): one tune book for .abc, else name-01.mid, ...")
@click.option("-o", "--output", required=True, help="Output file (.mid, .abc, .musicxml, ...), or - for MIDI on stdout.")
def generate(style, checkpoint, bars, choruses, key, tempo, seed, temperature, swing, humanize, count, output,
             **style_options) -> None:
    """Compose pieces and write them (the format follows the output's extension)."""
    from .errors import InputError
    from .pipeline import generate as run_generate
    from .pipeline import resolve_model

    _check_output(output)
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
    options = {k: v for k, v in style_options.items() if v is not None}
    scores = [run_generate(style, checkpoint, bars=bars, key=key, tempo=tempo, seed=seed + i, temperature=temperature,
                           swing=swing, humanize=humanize, **options) for i in range(count)]
    if output == "-":
        from .io.midi import midi_bytes

        click.get_binary_stream("stdout").write(midi_bytes(scores[0]))
        return
    from .io import write_all

    for path in write_all(scores, output):
        click.echo(f"wrote {path}", err=True)


@cli.command()
@click.option("--style", default="blues", show_default=True, help="Style to train.")
@click.option("-o", "--output", required=True, type=click.Path(), help="Run folder (checkpoint, log, loss.png).")
@click.option("--corpus", type=click.Path(), help="Folder of MIDI files; default the style's built-in corpus.")
@click.option("--resume", is_flag=True, help="Continue the run in --output where it stopped.")
@click.option("--size", default="default", show_default=True, help="Model size preset (tiny, default, ...).")
@click.option("--model", "model_name", help="Another model the style offers, e.g. transformer.")
@click.option("--epochs", type=int, help="Maximum epochs.")
@click.option("--batch-size", type=int, help="Sequences per batch.")
@click.option("--lr", type=float, help="Learning rate.")
@click.option("--patience", type=int, help="Stop after this many epochs without a better validation loss.")
@click.option("--max-steps", type=int, help="Stop after this many optimizer steps (smoke tests).")
@click.option("--seed", type=int, help="Seed for data split, shuffling and initialisation.")
@click.option("--device", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--threads", type=int, help="CPU threads for torch (1 is often fastest for small models).")
def train(style, output, corpus, resume, size, model_name, epochs, batch_size, lr, patience, max_steps, seed, device,
          threads) -> None:
    """Train a style's model on its built-in corpus or on your MIDI files."""
    from .errors import InputError
    from .pipeline import train_style

    if not resume and (Path(output) / "config.json").exists():
        raise InputError(f"{output} already holds a run; use --resume to continue it or choose another folder")
    result = train_style(style, output, corpus=corpus, size=size, model=model_name, resume=resume, epochs=epochs, batch_size=batch_size,
                         lr=lr, patience=patience, max_steps=max_steps, seed=seed, device=device, threads=threads)
    click.echo(f"best validation NLL {result.best_valid:.4f} nats/step after {result.epochs_run} epochs "
               f"({result.steps} steps); checkpoint in {output}", err=True)


@cli.command("eval")
@click.option("--checkpoint", required=True, type=click.Path(), help="A checkpoint folder.")
@click.option("--corpus", type=click.Path(), help="Evaluate on this corpus's validation split instead.")
@click.option("--seed", type=int, default=0, show_default=True, help="The seed the model was trained with.")
def eval_cmd(checkpoint, corpus, seed) -> None:
    """Print a checkpoint's validation loss and perplexity."""
    from .pipeline import evaluate

    r = evaluate(checkpoint, corpus=corpus, seed=seed)
    click.echo(f"{r['style']}: validation NLL {r['nll']:.4f} nats per {r['unit']}, perplexity {r['perplexity']:.3f} "
               f"({r['valid_pieces']} pieces of {r['corpus']})")


@cli.command()
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


@cli.command()
@click.argument("checkpoint", required=False, type=click.Path())
def info(checkpoint) -> None:
    """List styles and shipped checkpoints, or describe one checkpoint folder."""
    from .checkpoint import read_config, weights_info
    from .pipeline import pretrained_dir
    from .styles import STYLES

    if checkpoint:
        cfg = read_config(checkpoint)
        size, params = weights_info(checkpoint)
        click.echo(f"{checkpoint}: style {cfg['style']}, model {cfg['model']['kind']}, {params:,} parameters, "
                   f"{size / 1e6:.2f} MB, step {cfg.get('step')}, metrics {cfg.get('metrics')}")
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


def main() -> None:
    cli.main()


if __name__ == "__main__":
    main()
