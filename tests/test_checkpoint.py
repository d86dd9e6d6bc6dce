"""Checkpoints: safetensors + JSON, validated, hashed, never pickle."""

import json
import pickle
from dataclasses import asdict

import pytest
import torch

from composer.checkpoint import load_checkpoint, read_config, save_checkpoint, weights_info
from composer.errors import CheckpointError
from composer.models import build_model
from composer.tokenizers.pianoroll import PianoRollTokenizer


def _model():
    tok = PianoRollTokenizer()
    cfg = {"groups": [asdict(g) for g in tok.groups], "cond_size": tok.cond_size, "hidden": 16, "layers": 1}
    return build_model("frame_lstm", cfg), tok


def test_save_load_round_trip(tmp_path):
    m, tok = _model()
    save_checkpoint(tmp_path / "ck", m, tok, style="blues", step=5, metrics={"valid_nll": 1.5})
    ck = load_checkpoint(tmp_path / "ck")
    for k, v in m.state_dict().items():
        assert torch.equal(v, ck.model.state_dict()[k])
    assert ck.config["step"] == 5 and ck.config["style"] == "blues"
    assert ck.tokenizer.vocab == tok.vocab
    size, params = weights_info(tmp_path / "ck")
    assert params == sum(p.numel() for p in m.parameters()) and size > 0
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["config.json", "model.safetensors"]


def test_tampered_weights_are_refused(tmp_path):
    m, tok = _model()
    save_checkpoint(tmp_path, m, tok, style="blues")
    w = tmp_path / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(tmp_path)


def test_shape_mismatch_is_one_clear_error(tmp_path):
    m, tok = _model()
    save_checkpoint(tmp_path, m, tok, style="blues")
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["model"]["config"]["hidden"] = 32
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="shape"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("bad", ["not json", "{}", '{"format": "composer-checkpoint", "version": 99}', "[1, 2]"])
def test_malformed_config_is_refused(tmp_path, bad):
    (tmp_path / "config.json").write_text(bad)
    with pytest.raises(CheckpointError):
        read_config(tmp_path)


def test_pickle_checkpoint_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "model.pt"
    evil.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(evil)
    # A pickle disguised as safetensors inside a checkpoint folder is not valid safetensors either.
    m, tok = _model()
    save_checkpoint(tmp_path / "ck", m, tok, style="blues")
    (tmp_path / "ck" / "model.safetensors").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "ck")
    assert not marker.exists()


def test_missing_folder(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nope")
