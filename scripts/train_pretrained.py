"""Train a style's shipped checkpoint from its built-in corpus and install it in composer/pretrained/.

    python scripts/train_pretrained.py --style blues

Runs the same `train_style` as `compose train`, in runs/pretrained-<style>, then copies the
best checkpoint (config.json + model.safetensors) into composer/pretrained/<style>/.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

from composer.checkpoint import read_config, weights_info
from composer.pipeline import pretrained_dir, train_style
from composer.styles import get_style

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--style", default="blues")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--size", default="default")
    ap.add_argument("--model", help="another model the style offers, e.g. transformer")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest for these models)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run = ROOT / "runs" / f"pretrained-{args.style}"
    if run.exists() and not args.resume:
        shutil.rmtree(run)
    result = train_style(args.style, run, epochs=args.epochs, seed=args.seed, device=args.device, resume=args.resume,
                         size=args.size, model=args.model, threads=args.threads)
    dest = pretrained_dir(get_style(args.style))
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "model.safetensors"):
        shutil.copyfile(run / name, dest / name)
    cfg = read_config(dest)
    size, params = weights_info(dest)
    print(f"{args.style}: best validation NLL {result.best_valid:.4f} nats per step after {result.epochs_run} epochs; "
          f"{params:,} parameters, {size / 1e6:.2f} MB -> {dest} (step {cfg['step']})")


if __name__ == "__main__":
    main()
