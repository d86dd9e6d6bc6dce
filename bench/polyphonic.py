"""The piano-roll benchmarks (Boulanger-Lewandowski et al. 2012): train (or load) each model on
each set and print valid NLL beside the published test figures.

    python bench/polyphonic.py                                  # CPU configs, every set and model
    python bench/polyphonic.py --sets jsb --models pitchconv    # one cell
    python bench/polyphonic.py --full                           # the GPU preset
    python bench/polyphonic.py --eval-only                      # just the table from saved runs

Each (set, model) trains through ``compose train``'s library call into ``--runs/<set>-<model>``
(seeded: the same command gives the same weights on the same machine and thread count); a
finished run is loaded, an interrupted one resumed. NLL is nats per frame, summed over the 88
keys and averaged over every frame of the split (the first frame of a piece included, predicted
from silence), evaluated over whole pieces, i.e. the convention of the published tables. The
published figures are on the held-out *test* split, which the data files do not contain.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

SETS = {"jsb": "jsb_chorales.json", "nottingham": "nottingham.json", "musedata": "musedata.json",
        "piano": "piano_midi.json"}
MODELS = {"lstm": "sigmoid LSTM", "nade": "RNN-NADE (LSTM)", "pitchconv": "LSTM + pitch CNN"}
# CPU training configs (a few minutes to an hour each on one shared core); epochs scale inversely
# with set size. "size" is the pitch CNN's preset (the poly style's sizes): at an eighth-note grid
# it reads 4 past frames around each key. "window": train on 256-frame windows of the long pieces
# of the two big sets (more steps per epoch, no padding); validation always reads whole pieces.
CPU = {"jsb": {"epochs": 30, "batch_size": 4, "lr": 3e-3, "patience": 8, "size": "default"},
       "nottingham": {"epochs": 6, "batch_size": 2, "lr": 3e-3, "patience": 2, "size": "history4"},
       "musedata": {"epochs": 12, "batch_size": 8, "lr": 3e-3, "patience": 3, "size": "history4", "window": 256},
       "piano": {"epochs": 30, "batch_size": 4, "lr": 3e-3, "patience": 5, "size": "history4", "window": 256}}
FULL = {"epochs": 200, "batch_size": 16, "lr": 1e-3, "patience": 20, "size": "full", "window": 256}


def default_data_dir() -> Path:
    env = os.environ.get("COMPOSER_POLY_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data" / "polyphonic"


def finished(run: Path) -> bool:
    state = run / "last" / "trainer.json"
    if not state.exists():
        return False
    s = json.loads(state.read_text())
    cfg = s["train_config"]
    return s["epoch"] + 1 >= cfg["epochs"] or s["bad_epochs"] >= cfg["patience"]


def run_cell(data: Path, set_name: str, model: str, runs: Path, full: bool, seed: int, threads: int,
             eval_only: bool, epochs: int | None) -> dict:
    from composer.pipeline import evaluate, train_style

    cfg = dict(FULL if full else CPU[set_name], seed=seed, threads=threads)
    size = cfg.pop("size")
    if model != "pitchconv" and not full:
        size = "default"  # the CPU presets differ only in the pitch CNN
    window = f"-w{cfg['window']}" if cfg.get("window") else ""
    run = runs / f"{set_name}-{model}{'' if size == 'default' else '-' + size}{window}-s{seed}"
    if epochs is not None:
        cfg["epochs"] = epochs
    t0 = time.perf_counter()
    if not eval_only and not finished(run):
        resume = (run / "last" / "trainer.json").exists()
        train_style("poly", run, corpus=data, size=size, model=model, resume=resume,
                    progress=True, **cfg)
    if not (run / "config.json").exists():
        return {"set": set_name, "model": model, "nll": None}
    r = evaluate(run, corpus=data, split="valid")
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    return {"set": set_name, "model": model, "nll": r["nll"], "epochs": len(log),
            "train_s": sum(x["seconds"] for x in log), "wall_s": time.perf_counter() - t0,
            "params": json.loads((run / "config.json").read_text())["model"]["parameters"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=default_data_dir())
    ap.add_argument("--sets", default="jsb,nottingham,musedata,piano")
    ap.add_argument("--models", default="lstm,nade,pitchconv")
    ap.add_argument("--runs", type=Path, default=Path("/tmp/poly/bench"))
    ap.add_argument("--full", action="store_true", help="GPU preset: the 'full' model size, 200 epochs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, help="override the preset's epochs")
    ap.add_argument("--eval-only", action="store_true", help="no training: the table from saved runs")
    args = ap.parse_args()

    import torch

    from composer.corpora.polyphonic import read_polyphonic

    torch.set_num_threads(args.threads)
    rows = []
    for s in args.sets.split(","):
        path = args.data_dir / SETS[s]
        known = read_polyphonic(path).known
        for m in args.models.split(","):
            rows.append((known, run_cell(path, s, m, args.runs, args.full, args.seed, args.threads, args.eval_only,
                                         args.epochs)))
            print(json.dumps(rows[-1][1]), flush=True)
    print()
    print("| set | model | params | epochs | valid NLL | RNN-RBM (test) | RNN-NADE HF (test) | ratio to RNN-NADE HF "
          "| Bai LSTM / TCN (test) | beats RNN-NADE HF |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for known, r in rows:
        pub = known.published
        bai = f"{pub['LSTM (Bai)']:.2f} / {pub['TCN (Bai)']:.2f}" if "LSTM (Bai)" in pub else "–"
        ref = pub["RNN-NADE (HF)"]
        if r["nll"] is None:
            print(f"| {known.name} | {MODELS[r['model']]} | – | – | not trained | {pub['RNN-RBM']:.2f} | {ref:.2f} | – | {bai} | – |")
            continue
        print(f"| {known.name} | {MODELS[r['model']]} | {r['params'] / 1e6:.2f} M | {r['epochs']} | {r['nll']:.3f} "
              f"| {pub['RNN-RBM']:.2f} | {ref:.2f} | {r['nll'] / ref:.3f} | {bai} | {'yes' if r['nll'] < ref else 'no'} |")


if __name__ == "__main__":
    main()
