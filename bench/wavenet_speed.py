"""WaveNet generation speed: naive (re-run the receptive field per sample) vs cached (Fast WaveNet).

For each receptive field the same randomly initialised model (µ-law 256, two stacks of dilated
layers) generates with both methods from the same seed. The naive generator is timed in its
steady state: it is primed with a whole receptive field of codes (priming costs it nothing), so
every timed sample re-runs the full window. The cached generator's cost per sample does not
depend on the position, so it is timed from the start. The first naive samples are checked
against the cached ones generated from the same prime and seed (they must be identical).

Real-time factor = samples per second / sample rate (1.0 = as fast as playback). Times are the
CPU time of this process (one torch thread by default), so other jobs on a shared machine do not
inflate them; on a GPU use --wall.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from composer.models.wavenet import WaveNet, WaveNetConfig, generate

CLOCK = time.process_time


def _time(fn, *args, **kw) -> tuple[float, np.ndarray]:
    t0 = CLOCK()
    out = fn(*args, **kw)
    return CLOCK() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, nargs="+", default=[9, 11],
                    help="layers per stack (2 stacks): 9 -> receptive field 1,023, 11 -> 4,095")
    ap.add_argument("--stacks", type=int, default=2)
    ap.add_argument("--residual", type=int, default=32)
    ap.add_argument("--dilation", type=int, default=32)
    ap.add_argument("--skip", type=int, default=128)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8], help="clips generated at once")
    ap.add_argument("--cached-samples", type=int, default=2000)
    ap.add_argument("--naive-samples", type=int, default=40)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--wall", action="store_true", help="time with the wall clock instead of CPU time")
    args = ap.parse_args()
    global CLOCK
    if args.wall:
        CLOCK = time.perf_counter
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), device {dev}; "
          f"residual {args.residual}, dilation {args.dilation}, skip {args.skip} channels, µ-law 256, sampling T=1")
    print(f"{'receptive field':>15} {'layers':>6} {'batch':>5} {'naive samples/s':>16} {'cached samples/s':>17} "
          f"{'speed-up':>9} {'real-time factor (16 kHz)':>26} {'same samples':>12}")
    for layers in args.layers:
        cfg = WaveNetConfig(layers=layers, stacks=args.stacks, residual_channels=args.residual,
                            dilation_channels=args.dilation, skip_channels=args.skip)
        torch.manual_seed(0)
        model = WaveNet(cfg).to(dev).eval()
        rf = cfg.receptive_field
        for B in args.batch:
            prime = np.random.default_rng(0).integers(0, 256, (B, rf))
            generate(model, 20, batch=B, method="cached")  # warm-up
            t_naive, naive = _time(generate, model, args.naive_samples, batch=B, prime=prime, method="naive")
            same = np.array_equal(naive, generate(model, args.naive_samples, batch=B, prime=prime, method="cached"))
            t_cached, _ = _time(generate, model, args.cached_samples, batch=B, method="cached")
            sps_naive = B * args.naive_samples / t_naive
            sps_cached = B * args.cached_samples / t_cached
            print(f"{rf:>15,} {layers * args.stacks:>6} {B:>5} {sps_naive:>16,.1f} {sps_cached:>17,.0f} "
                  f"{sps_cached / sps_naive:>8.0f}x {sps_cached / cfg.sample_rate:>26.4f} {same!s:>12}")


if __name__ == "__main__":
    main()
