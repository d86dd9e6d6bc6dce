"""WaveNet: µ-law, the cached generator against the naive one, training through the one loop,
audio corpora (rendered, WAV + MIDI, plain WAV, bad input), rendering with a checkpoint."""

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from composer.cli import cli
from composer.corpora.audio import AudioClip, AudioData, build_audio_corpus, load_audio_corpus
from composer.errors import ComposerError, CorpusError, InputError
from composer.io.audio import read_audio, write_audio
from composer.io.midi import write_midi
from composer.models.wavenet import WaveNet, WaveNetConfig, generate, mulaw_decode, mulaw_encode
from composer.score import Score, Tempo, Track, notes_array
from composer.synth import render
from composer.synth.wavenet import pitch_accuracy, render_wavenet, wavenet_config
from composer.tokenizers.mulaw import MuLawCodec
from composer.train import TrainConfig, train


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def melody(pitches=(60, 64, 67, 72), step=240, tempo=120.0) -> Score:
    """A one-track monophonic line, one eighth note (0.25 s at 120 qpm) per pitch."""
    notes = [(i * step, step, p, 100) for i, p in enumerate(pitches)]
    return Score(tempos=[Tempo(0, tempo)], tracks=[Track("Melody", 0, False, notes_array(notes))])


# --- µ-law ------------------------------------------------------------------------------------------


def test_mulaw_round_trip_and_silence():
    x = np.linspace(-1, 1, 10001)
    codes = mulaw_encode(x)
    assert codes.min() == 0 and codes.max() == 255 and np.all(np.diff(codes) >= 0)
    assert mulaw_encode(np.zeros(3)).tolist() == [128, 128, 128] or mulaw_encode(np.zeros(3)).tolist() == [127, 127, 127]
    y = mulaw_decode(codes)
    # µ-law keeps relative error small: quiet samples come back finely, loud ones coarsely
    assert np.max(np.abs(y - x)) < 0.035
    quiet = np.abs(x) < 0.01
    assert np.max(np.abs(y - x)[quiet]) < 0.0005
    assert np.array_equal(mulaw_encode(mulaw_decode(np.arange(256))), np.arange(256))


# --- generation: cached == naive ------------------------------------------------------------------


@pytest.mark.parametrize("kernel, n", [(2, 2000), (3, 300)])
def test_cached_generator_gives_exactly_the_naive_samples(kernel, n):
    cfg = WaveNetConfig(layers=4, stacks=2, kernel_size=kernel, residual_channels=8, dilation_channels=8,
                        skip_channels=16, local_channels=6, cond_channels=8, upsample_scales=[2, 4],
                        global_classes=3, global_channels=4)
    torch.manual_seed(0)
    model = WaveNet(cfg)
    cond = np.random.default_rng(1).random((2, max(n, 4200) // 8 + 1, 6)).astype(np.float32)
    kw = {"cond": cond, "gid": [0, 2], "seed": 7}
    naive = generate(model, n, method="naive", **kw)
    cached = generate(model, n, method="cached", **kw)
    assert naive.shape == (2, n)
    assert np.array_equal(naive, cached)
    assert len(np.unique(naive)) > 20  # real sampling, not a constant
    assert not np.array_equal(cached[:, :200], generate(model, 200, method="cached", cond=cond, gid=[0, 2], seed=8))
    # past the receptive field too, after a given start, and across the 4,096-sample chunks of gate biases
    prime = np.random.default_rng(2).integers(0, 256, (2, 4070 if kernel == 3 else 3 * model.receptive_field))
    a = generate(model, 50, method="naive", prime=prime, **kw)
    b = generate(model, 50, method="cached", prime=prime, **kw)
    assert np.array_equal(a, b)


def test_batch_generation_and_conditioning_mismatch():
    cfg = WaveNetConfig(layers=4, stacks=1, residual_channels=8, dilation_channels=8, skip_channels=8,
                        local_channels=4, cond_channels=4, upsample_scales=[4])
    model = WaveNet(cfg)
    cond = np.zeros((3, 10, 4), np.float32)
    out = generate(model, 40, cond=cond)
    assert out.shape == (3, 40) and out.min() >= 0 and out.max() < 256
    with pytest.raises(InputError, match="needs \\(batch, frames, 4\\)"):
        generate(model, 40, cond=np.zeros((1, 10, 5)))
    with pytest.raises(InputError, match="conditioned on 4 features"):
        generate(model, 40)
    with pytest.raises(InputError, match="covers 40 samples"):
        generate(model, 41, cond=cond)
    with pytest.raises(InputError, match="no global id"):
        generate(model, 4, cond=cond, gid=[0, 0, 0])
    with pytest.raises(InputError, match="unknown generation method"):
        generate(model, 4, cond=cond, method="fast")


# --- training through the shared loop --------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny WaveNet overfitted on one second of a rendered note sequence (its run folder, history)."""
    torch.manual_seed(0)
    codec = MuLawCodec(16000, 256, 128)
    score = melody()
    x = render(score, sample_rate=16000).mean(axis=1)[:16000]
    clip = AudioClip("one-second", x, codec.encode(score, 125), len(x))
    data = AudioData([clip], codec, crop_frames=8, crops_per_epoch=8)
    valid = AudioData([clip], codec, crop_frames=8, crops_per_epoch=2)
    model = WaveNet(wavenet_config(codec, "tiny"))
    out = tmp_path_factory.mktemp("wn") / "run"
    cfg = TrainConfig(epochs=15, batch_size=4, lr=5e-3, warmup_steps=4, patience=100, device="cpu", seed=0,
                      tensorboard=False)
    result = train(model, codec, data, valid, cfg, out, style="wavenet", progress=False)
    return out, result


def test_overfits_one_second_with_a_clearly_falling_nll(trained):
    _, result = trained
    bits = [h["train_loss"] / np.log(2) for h in result.history]
    assert bits[0] > 7.0  # µ-law 256 starts near uniform: 8 bits per sample
    assert bits[-1] < bits[0] - 1.0, bits
    assert min(h["valid_loss"] for h in result.history) / np.log(2) < 7.0


def test_checkpoint_renders_a_score_and_refuses_bad_conditioning(trained, tmp_path):
    run_dir, _ = trained
    audio, sr = render_wavenet(melody(), run_dir, max_seconds=0.1, seed=1)
    assert sr == 16000 and audio.dtype == np.float32 and len(audio) == 0.1 * 16000 // 128 * 128
    assert np.abs(audio).max() <= 1.0
    mid = tmp_path / "song.mid"
    write_midi(melody(), mid)
    out = tmp_path / "song.wav"
    r = run("render", mid, "--engine", "wavenet", "--checkpoint", run_dir, "--seconds", "0.05", "-o", out)
    assert r.exit_code == 0, r.output
    samples, rate = read_audio(out)
    assert rate == 16000 and samples.shape[1] == 1 and len(samples) > 700
    r = run("render", mid, "--engine", "wavenet", "-o", tmp_path / "b.wav")
    assert r.exit_code == 1 and "--checkpoint" in r.output
    r = run("render", mid, "--engine", "wavenet", "--checkpoint", tmp_path, "-o", tmp_path / "c.wav")
    assert r.exit_code == 1 and "not a checkpoint" in r.output


def test_render_refuses_a_checkpoint_that_is_not_a_wavenet(tmp_path):
    from composer.pipeline import pretrained_dir
    from composer.styles import STYLES

    mid = tmp_path / "song.mid"
    write_midi(melody(), mid)
    r = run("render", mid, "--engine", "wavenet", "--checkpoint", pretrained_dir(STYLES["blues"]), "-o", tmp_path / "x.wav")
    assert r.exit_code == 1 and "not a WaveNet" in r.output


# --- audio corpora ----------------------------------------------------------------------------------


def test_corpus_from_wav_and_midi_folder_with_bad_files(tmp_path):
    src = tmp_path / "maestro"
    (src / "2004").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):  # good pairs: stereo at 22.05 kHz, resampled and mixed down
        s = melody(pitches=rng.integers(55, 80, 8).tolist())
        write_midi(s, src / "2004" / f"take{i}.midi")
        write_audio(src / "2004" / f"take{i}.wav", render(s, sample_rate=22050), 22050)
    s = melody()
    write_midi(s, src / "silent.mid")
    write_audio(src / "silent.wav", np.zeros(22050, np.float32), 22050)
    write_midi(s, src / "clipped.mid")
    write_audio(src / "clipped.wav", np.clip(4 * render(s, 16000), -1, 1), 16000)
    write_midi(s, src / "long.mid")
    write_audio(src / "long.wav", 0.1 * rng.standard_normal(16000 * 20).astype(np.float32), 16000)
    write_audio(src / "alone.wav", render(s, 16000), 16000)
    r = run("corpus", "audio", src, "-o", tmp_path / "c", "--max-seconds", "0")
    assert r.exit_code == 0, r.output
    assert "kept 3 clips with piano rolls" in r.output
    for why in ("silent", "clipped", "the MIDI lasts 1.0 s but the audio 20.0 s", "no MIDI file with the same stem"):
        assert why in r.output
    codec, tr, va, manifest = load_audio_corpus(tmp_path / "c", crop_frames=8)
    assert codec.n_features == 223 and codec.sample_rate == 16000
    clip = manifest["clips"][0]
    assert "resampled 22050 -> 16000 Hz" in clip["notes"] and "mixed 2 channels down to mono" in clip["notes"]
    samples, sr = read_audio(tmp_path / "c" / "clips" / f"{clip['name']}.wav")
    assert sr == 16000 and samples.shape[1] == 1
    # crops streamed from disk are the stored samples, in µ-law, with the next sample as target
    clips = tr.clips + va.clips
    full = read_audio(clips[0].audio)[0][:, 0]
    assert np.allclose(clips[0].read(1000, 64), full[1000:1064], atol=1e-6)
    data = AudioData(clips, codec, crop_frames=8, crops_per_epoch=5)
    batch = next(data.batches(5, seed=3))
    assert batch["inputs"].shape == (5, 1024) and batch["cond"].shape == (5, 8, 223)
    assert torch.equal(batch["inputs"][:, 1:], batch["targets"][:, :-1])
    assert [b["inputs"].tolist() for b in data.batches(5)] == [b["inputs"].tolist() for b in data.batches(5)]


def test_plain_wav_folder_is_unconditional_and_bad_sources_fail(tmp_path):
    src = tmp_path / "wavs"
    src.mkdir()
    write_audio(src / "a.wav", render(melody(), 16000), 16000)
    write_audio(src / "b.wav", render(melody((50, 52)), 16000), 16000)
    m = build_audio_corpus(tmp_path / "u", [str(src)], progress=False)
    assert m["codec"]["conditioning"] == "none" and len(m["clips"]) == 2
    tr = load_audio_corpus(tmp_path / "u", crop_frames=4)[1]
    assert "cond" not in next(tr.batches(2, seed=0))
    with pytest.raises(ComposerError, match="no-such-style"):
        build_audio_corpus(tmp_path / "x", ["no-such-style"], progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no usable audio"):
        build_audio_corpus(tmp_path / "x", [str(tmp_path / "empty")], progress=False)
    r = run("train-wavenet", "--corpus", tmp_path / "empty", "-o", tmp_path / "run")
    assert r.exit_code == 1 and "not an audio corpus" in r.output


def test_rendered_builtin_corpus_trains_from_the_cli(tmp_path):
    r = run("corpus", "audio", "drums", "-o", tmp_path / "c", "--max-pieces", "2", "--max-seconds", "2")
    assert r.exit_code == 0, r.output
    r = run("train-wavenet", "--corpus", tmp_path / "c", "-o", tmp_path / "run", "--size", "tiny",
            "--crop-frames", "4", "--crops-per-epoch", "4", "--epochs", "1", "--batch-size", "2", "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert "bits/sample" in r.output and (Path(tmp_path) / "run" / "model.safetensors").exists()
    (tmp_path / "wavs").mkdir()
    write_audio(tmp_path / "wavs" / "a.wav", render(melody(), 16000), 16000)
    build_audio_corpus(tmp_path / "u", [str(tmp_path / "wavs")], progress=False)
    r = run("train-wavenet", "--corpus", tmp_path / "u", "-o", tmp_path / "run", "--resume")
    assert r.exit_code == 1 and "does not match the run" in r.output


# --- the pitch check itself -------------------------------------------------------------------------


def test_pitch_accuracy_hears_the_synth_play_the_score():
    pitches = [48, 55, 60, 62, 64, 67, 69, 72, 76, 79]
    score = melody(pitches, step=480)
    audio = render(score, sample_rate=16000).mean(axis=1)
    notes = [(0.5 * i, 0.5 * (i + 1), p) for i, p in enumerate(pitches)]
    r = pitch_accuracy(audio, notes, 16000)
    assert r["notes"] == 10 and r["accuracy"] >= 0.9, r
    wrong = [(a, b, p + 2) for a, b, p in notes]
    assert pitch_accuracy(audio, wrong, 16000)["accuracy"] <= 0.1
