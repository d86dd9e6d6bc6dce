"""The NPSS singer: cached generation equals the parallel network, and it trains through the one loop."""

import numpy as np
import pytest
import torch

from composer.errors import InputError
from composer.models.singer import SIZES, Singer, SingerConfig


def test_cached_generation_matches_the_parallel_network():
    torch.manual_seed(0)
    model = Singer(SingerConfig(n_phones=10, feat_dim=6, **SIZES["tiny"])).eval()
    T = 40
    phones = torch.randint(0, 10, (T, 3))
    cond = torch.randn(T, 4)
    frames = model.generate(phones, cond)  # each frame fed back as the next input
    prev = torch.cat([torch.zeros(1, 6), frames[:-1]])[None]
    mean, _ = model(prev, phones[None], cond[None])
    assert torch.allclose(mean[0], frames, atol=1e-5)
    assert model.cfg.receptive_field == 1 + sum(SIZES["tiny"]["dilations"])


@pytest.mark.slow
def test_singer_trains_on_a_default_voice_corpus_and_sings(tmp_path):
    try:
        from composer.synth.sing_espeak import espeak_available
        from composer.synth.world import require_pyworld

        require_pyworld()
    except InputError as e:
        pytest.skip(str(e))
    if not espeak_available():
        pytest.skip("eSpeak NG not installed")
    from click.testing import CliRunner

    from composer.cli import cli
    from composer.io.audio import read_audio
    from composer.synth.sing_corpus import load_corpus
    from composer.synth.sing_train import evaluate_singer, train_singer

    corpus = tmp_path / "corpus"
    r = CliRunner().invoke(cli, ["sing-corpus", "-o", str(corpus), "--songs", "3", "--bars", "2"])
    assert r.exit_code == 0, r.output
    assert sorted(p.suffix for p in corpus.glob("song000.*")) == [".abc", ".lab", ".wav"]
    utts, codec = load_corpus(corpus, progress=False)
    assert len(utts) == 3 and utts[0].frames.shape[1] == codec.feat_dim == 62
    assert abs(float(np.concatenate([u.frames for u in utts]).mean())) < 0.05  # normalised
    run = tmp_path / "run"
    res = train_singer(corpus, run, size="tiny", epochs=3, batch_size=4, lr=3e-3, progress=False, warmup_steps=2)
    first, last = res.history[0]["valid_loss"], res.best_valid
    assert np.isfinite(last) and last < first  # it learns
    metrics = evaluate_singer(run, corpus, max_songs=1)
    assert metrics["valid_nll"] == pytest.approx(last, rel=1e-3) and 0 < metrics["mcd_db"] < 40
    out = tmp_path / "npss.wav"
    r = CliRunner().invoke(cli, ["sing", str(corpus / "song000.abc"), "--voice", str(run), "-o", str(out)])
    assert r.exit_code == 0, r.output
    x, sr = read_audio(out)
    assert sr == 22050 and len(x) > sr and np.isfinite(x).all()


def test_the_shipped_npss_voice_sings_on_pitch():
    """The demo model (trained on the default voice's corpus) through the whole `sing` path."""
    try:
        from composer.synth.world import require_pyworld

        require_pyworld()
    except InputError as e:
        pytest.skip(str(e))
    from composer.synth.phonemes import phone_set
    from composer.synth.sing import SHIPPED_SINGER, sing
    from composer.synth.sing_check import pitch_report, yin
    from composer.synth.sing_score import Song, SungNote

    if not (SHIPPED_SINGER / "config.json").exists():
        pytest.skip("no shipped singer")
    song = Song([SungNote(0, 1, 57, "la"), SungNote(1, 1, 62, "so"), SungNote(2, 1, 60, "me")], 100)
    r = sing(song, "npss", vibrato=0)
    assert r.sample_rate == 22050 and np.isfinite(r.samples).all() and np.abs(r.samples).max() > 0.5
    f0, _ = yin(r.samples, r.sample_rate)
    rep = pitch_report(f0, r.score, phone_set("en"))
    assert rep.measured == 3 and rep.max_abs < 20, rep.cents
