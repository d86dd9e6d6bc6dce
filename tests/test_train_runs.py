"""Training runs: TOML configs, DDP equivalence, kill-and-resume, accumulation, precision, bad input."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from composer.checkpoint import load_tensors
from composer.cli import cli
from composer.corpora.blues import generate_blues
from composer.io.midi import write_midi
from composer.pipeline import train_style

TINY = dict(size="tiny", progress=False, threads=1)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    for i, s in enumerate(generate_blues(n_songs=6, choruses=2, seed=3)):
        write_midi(s, d / f"song{i}.mid")
    return d


def _weights(run, sub="last"):
    return load_tensors(Path(run) / sub / "model.safetensors")


def _close(a, b, atol=1e-5):
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=atol) for k in a)


def _jsonl(path):
    return [json.loads(x) for x in Path(path).read_text().splitlines()]


def _env():
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def test_config_file_repeats_a_run(tmp_path, corpus):
    cfg = tmp_path / "run.toml"
    cfg.write_text(f'style = "blues"\ncorpus = "{corpus}"\nsize = "tiny"\nepochs = 2\nbatch_size = 2\n'
                   f'threads = 1\nlr = 0.01\n')
    r = CliRunner().invoke(cli, ["train", "--config", str(cfg), "-o", str(tmp_path / "a"), "--seed", "3"])
    assert r.exit_code == 0, r.output
    saved = (tmp_path / "a" / "config.toml").read_text()
    assert "lr = 0.01" in saved and "seed = 3" in saved and "epochs = 2" in saved
    # The saved config alone repeats the run: same weights, same curve.
    r = CliRunner().invoke(cli, ["train", "--config", str(tmp_path / "a" / "config.toml"), "-o", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    assert _close(_weights(tmp_path / "a", "."), _weights(tmp_path / "b", "."), atol=0)
    assert [h["train_loss"] for h in _jsonl(tmp_path / "a" / "log.jsonl")] == \
           [h["train_loss"] for h in _jsonl(tmp_path / "b" / "log.jsonl")]


@pytest.mark.parametrize("text,needle", [("epochz = 3\n", "unknown key 'epochz'"),
                                         ("epochs = \"many\"\n", "epochs must be an int"),
                                         ("epochs = [\n", "not valid TOML")])
def test_bad_config_is_one_line(tmp_path, text, needle):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    r = CliRunner().invoke(cli, ["train", "--config", str(cfg), "-o", str(tmp_path / "run")])
    assert r.exit_code == 1
    assert r.stderr.strip().startswith("error: ") and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def _ddp_rank(rank: int, port: int, out, corpus, kwargs: dict, q) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2",
                      LOCAL_RANK=str(rank))
    try:
        train_style("blues", out, corpus=corpus, **kwargs)
        q.put((rank, None))
    except BaseException as e:  # report to the parent, whatever it is
        q.put((rank, repr(e)))
    q.close()
    q.join_thread()  # flush the result before the hard exit below
    os._exit(0)  # a forked child must not run the parent's (pytest's) exit handlers


def _compare_runs(a, b, n_steps: int) -> None:
    sa, sb = _jsonl(a / "steps.jsonl"), _jsonl(b / "steps.jsonl")
    assert [s["step"] for s in sa] == [s["step"] for s in sb] == list(range(1, n_steps + 1))
    assert all(abs(x["loss"] - y["loss"]) < 1e-5 for x, y in zip(sa, sb))
    va, vb = _jsonl(a / "log.jsonl"), _jsonl(b / "log.jsonl")
    assert len(va) == len(vb) and all(abs(x["valid_loss"] - y["valid_loss"]) < 1e-5 for x, y in zip(va, vb))
    assert _close(_weights(a), _weights(b), atol=1e-5)


# 5 training windows: micro-batches of 2, 2 and 1 rows (rank 1 then has none), 2 of them per step.
DDP_ARGS = dict(epochs=3, batch_size=2, grad_accum=2, lr=0.01, log_every=1)


def test_ddp_two_processes_match_one(tmp_path, corpus):
    """2 processes (gloo), rows rank::2 of each global batch == one process on the whole batch."""
    import multiprocessing
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = multiprocessing.get_context("fork")  # no second torch import: the test stays fast
    q = ctx.Queue()
    procs = [ctx.Process(target=_ddp_rank, args=(r, port, tmp_path / "ddp", corpus, {**DDP_ARGS, **TINY}, q))
             for r in range(2)]
    for p in procs:
        p.start()
    results = dict(q.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert results == {0: None, 1: None}, results
    train_style("blues", tmp_path / "one", corpus=corpus, **DDP_ARGS, **TINY)
    _compare_runs(tmp_path / "ddp", tmp_path / "one", 6)


@pytest.mark.slow
def test_torchrun_cli_matches_one_process(tmp_path, corpus):
    """The README's command: torchrun launching `compose train` on 2 CPU processes."""
    args = ["train", "--corpus", str(corpus), "--size", "tiny", "--threads", "1",
            *[x for k, v in DDP_ARGS.items() for x in (f"--{k.replace('_', '-')}", str(v))]]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "composer.cli", *args, "-o", str(tmp_path / "ddp")]
    p = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stderr.count("best validation NLL") == 1  # rank 0 alone reports
    r = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "one")])
    assert r.exit_code == 0, r.output
    _compare_runs(tmp_path / "ddp", tmp_path / "one", 6)


def test_killed_run_resumes_exactly(tmp_path, corpus):
    """SIGTERM mid-epoch: a checkpoint, exit 143; --resume then ends where an uninterrupted run does."""
    args = ["train", "--corpus", str(corpus), "--size", "tiny", "--epochs", "6", "--batch-size", "1",
            "--threads", "1", "--log-every", "1", "--keep", "2", "--patience", "100"]
    run = tmp_path / "killed"
    p = subprocess.Popen([sys.executable, "-m", "composer.cli", *args, "-o", str(run)], env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    steps = run / "steps.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        if steps.exists() and len(steps.read_text().splitlines()) >= 7:
            break
        time.sleep(0.01)
    assert p.poll() is None, "the run ended before it could be interrupted"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "stopped at step" in err
    stopped_at = _jsonl(run / "steps.jsonl")[-1]["step"]
    assert stopped_at < 30 and (run / "last" / "trainer.json").exists()
    assert len(list((run / "checkpoints").glob("step-*"))) <= 2  # keep = 2

    r = CliRunner().invoke(cli, [*args, "-o", str(run), "--resume"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "straight")])
    assert r.exit_code == 0, r.output
    a, b = _jsonl(run / "steps.jsonl"), _jsonl(tmp_path / "straight" / "steps.jsonl")
    assert [s["step"] for s in a] == list(range(1, 31)) == [s["step"] for s in b]
    assert all(abs(x["loss"] - y["loss"]) < 1e-6 for x, y in zip(a, b))
    ha, hb = _jsonl(run / "log.jsonl"), _jsonl(tmp_path / "straight" / "log.jsonl")
    assert [h["epoch"] for h in ha] == list(range(1, 7))
    assert all(abs(x["valid_loss"] - y["valid_loss"]) < 1e-6 for x, y in zip(ha, hb))
    assert _close(_weights(run), _weights(tmp_path / "straight"), atol=1e-6)


def test_gradient_accumulation_equals_a_bigger_batch(tmp_path, corpus):
    train_style("blues", tmp_path / "a", corpus=corpus, epochs=2, batch_size=4, lr=0.01, **TINY)
    train_style("blues", tmp_path / "b", corpus=corpus, epochs=2, batch_size=2, grad_accum=2, lr=0.01, **TINY)
    assert _close(_weights(tmp_path / "a"), _weights(tmp_path / "b"), atol=1e-5)


def test_mid_epoch_checkpoints_keep_the_last_k(tmp_path, corpus):
    r = train_style("blues", tmp_path / "r", corpus=corpus, epochs=2, batch_size=1, checkpoint_every=2, keep=2, **TINY)
    snaps = sorted(p.name for p in (tmp_path / "r" / "checkpoints").glob("step-*"))
    assert snaps == ["step-00000008", "step-00000010"] and r.steps == 10
    assert os.path.realpath(tmp_path / "r" / "last") == str((tmp_path / "r" / "checkpoints" / "step-00000010").resolve())
    assert not list((tmp_path / "r" / "checkpoints").glob(".*"))  # no temp folder left behind


def test_bf16_autocast_on_cpu(tmp_path, corpus):
    r = train_style("blues", tmp_path / "r", corpus=corpus, epochs=1, batch_size=2, precision="bf16", **TINY)
    assert r.history and all(math.isfinite(h["valid_loss"]) for h in r.history)


def test_fp16_with_grad_scaler_on_cpu(tmp_path):
    """fp16 autocast + GradScaler (the CUDA path without bf16), on a transformer, which CPU fp16 runs."""
    import numpy as np

    from composer.data import TokenData
    from composer.models import build_model
    from composer.tokenizers.drums import DrumsTokenizer
    from composer.train import TrainConfig, train

    tok = DrumsTokenizer()
    rng = np.random.default_rng(0)
    data = TokenData([rng.integers(0, len(tok.vocab), 40) for _ in range(6)], seq_len=16)
    torch.manual_seed(0)
    net = build_model("token_transformer", {"vocab_size": len(tok.vocab), "n_layer": 1, "n_head": 2, "n_embd": 16,
                                            "block_size": 32, "dropout": 0.0})
    cfg = TrainConfig(epochs=2, batch_size=4, precision="fp16", log_every=1, device="cpu", threads=1)
    r = train(net, tok, data, data.subset([0, 1]), cfg, tmp_path / "r", style="drums", progress=False, unit="token")
    steps = _jsonl(tmp_path / "r" / "steps.jsonl")
    assert all("loss_scale" in s and math.isfinite(s["loss"]) for s in steps) and r.steps == len(steps)
    state = json.loads((tmp_path / "r" / "last" / "trainer.json").read_text())
    assert state["scaler"]["scale"] == steps[-1]["loss_scale"]  # the scaler travels with the resume point


def test_weight_decay_groups():
    from composer.models import build_model
    from composer.train import param_groups

    m = build_model("token_transformer", {"vocab_size": 20, "n_layer": 1, "n_head": 2, "n_embd": 8, "block_size": 16})
    decay, no_decay = param_groups(m, 0.1)
    names = {id(p): n for n, p in m.named_parameters()}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"]) and "embed.weight" not in {names[id(p)] for p in decay["params"]}
    assert {"embed.weight", "ln_f.weight"} <= {names[id(p)] for p in no_decay["params"]}
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(m.parameters()))


def test_resume_with_another_vocabulary_is_refused(tmp_path, corpus):
    from composer.errors import CheckpointError

    train_style("blues", tmp_path / "r", corpus=corpus, epochs=1, batch_size=2, **TINY)
    other = tmp_path / "other"
    other.mkdir()
    for i, s in enumerate(generate_blues(n_songs=3, choruses=1, seed=11)):
        write_midi(s, other / f"x{i}.mid")
    before = (tmp_path / "r" / "model.safetensors").read_bytes()
    with pytest.raises(CheckpointError, match="vocabulary is not the run's"):
        train_style("blues", tmp_path / "r", corpus=other, epochs=2, batch_size=2, resume=True, **TINY)
    assert (tmp_path / "r" / "model.safetensors").read_bytes() == before


def test_diverging_loss_keeps_the_good_checkpoints(tmp_path, corpus):
    from composer.errors import InputError

    train_style("blues", tmp_path / "r", corpus=corpus, epochs=1, batch_size=2, **TINY)
    files = {p: p.read_bytes() for p in (tmp_path / "r").rglob("*.safetensors")}
    with pytest.raises(InputError, match="loss became"):
        train_style("blues", tmp_path / "r", corpus=corpus, epochs=3, batch_size=2, lr=1e38, grad_clip=0.0,
                    warmup_steps=0, resume=True, log_every=1, **TINY)
    assert {p: p.read_bytes() for p in (tmp_path / "r").rglob("*.safetensors")} == files


def test_out_of_memory_suggests_a_batch_size(tmp_path, corpus, monkeypatch):
    from composer.models.frame import FrameLSTM

    def oom(self, batch):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(FrameLSTM, "loss", oom)
    r = CliRunner().invoke(cli, ["train", "--corpus", str(corpus), "--size", "tiny", "--batch-size", "8",
                                 "-o", str(tmp_path / "r")])
    assert r.exit_code == 1 and "out of memory" in r.stderr and "--batch-size 4 --grad-accum 2" in r.stderr
    assert not (tmp_path / "r" / "config.json").exists()


def test_model_card_info_and_eval(tmp_path, corpus):
    run = tmp_path / "r"
    train_style("blues", run, corpus=corpus, epochs=2, batch_size=2, **TINY)
    card = json.loads((run / "config.json").read_text())
    assert len(card["corpus_sha256"]) == 64 and card["run"]["batch_size"] == 2 and card["step"] == card["metrics"]["epoch"] * 3
    assert {"valid_nll", "valid_perplexity", "train_nll"} <= card["metrics"].keys()
    r = CliRunner().invoke(cli, ["info", str(run)])
    assert r.exit_code == 0, r.output
    assert card["corpus_sha256"][:12] in r.output and "perplexity" in r.output and "batch_size = 2" in r.output
    r = CliRunner().invoke(cli, ["eval", "--checkpoint", str(run), "--corpus", str(corpus), "--samples", "2"])
    assert r.exit_code == 0, r.output
    assert "perplexity" in r.output and "scale consistency" in r.output


def test_plot_history_by_step(tmp_path, corpus):
    from composer.train import plot_history, read_history

    train_style("blues", tmp_path / "r", corpus=corpus, epochs=2, batch_size=2, log_every=1, **TINY)
    history, steps = read_history(tmp_path / "r")
    assert len(history) == 2 and len(steps) == 6
    plot_history(history, tmp_path / "a.png")  # the epoch view, as `compose plot` calls it
    plot_history(history, tmp_path / "b.png", steps=steps)
    assert (tmp_path / "a.png").read_bytes()[:4] == (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


def test_deterministic_switch_is_restored(tmp_path, corpus):
    train_style("blues", tmp_path / "r", corpus=corpus, epochs=1, batch_size=2, deterministic=True, **TINY)
    assert not torch.are_deterministic_algorithms_enabled()


@pytest.mark.slow
def test_compile_on_cpu(tmp_path, corpus):
    a = train_style("blues", tmp_path / "a", corpus=corpus, epochs=1, batch_size=2, compile=True, **TINY)
    b = train_style("blues", tmp_path / "b", corpus=corpus, epochs=1, batch_size=2, **TINY)
    assert abs(a.history[0]["train_loss"] - b.history[0]["train_loss"]) < 1e-4


def test_tensorboard_log_when_installed(tmp_path, corpus):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train_style("blues", tmp_path / "r", corpus=corpus, epochs=2, batch_size=2, log_every=1, **TINY)
    ea = EventAccumulator(str(tmp_path / "r" / "tb"))
    ea.Reload()
    assert len(ea.Scalars("train/loss")) == 6 and len(ea.Scalars("valid/loss")) == 2
