"""Wall time of `compose generate --style blues` as a whole process, and the share spent importing.

Runs the real console entry point in fresh processes (median of N), then the same process
with `-X importtime` to attribute import cost. Goal: under 3 s on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CMD = [sys.executable, "-c", "from composer.cli import main; main()", "generate", "--style", "blues", "--force"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        out = str(Path(d) / "blues.mid")
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            subprocess.run(CMD + ["-o", out], check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
        p = subprocess.run([sys.executable, "-X", "importtime"] + CMD[1:] + ["-o", out], check=True,
                           capture_output=True, text=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare = time.perf_counter() - t0
    # Top-level imports only (indentation level 0 in -X importtime's tree), cumulative microseconds.
    top = [(int(m.group(1)), m.group(2)) for m in re.finditer(r"import time:\s+\d+ \|\s+(\d+) \| (\S+)$", p.stderr, re.M)]
    total_import = sum(us for us, _ in top) / 1e6
    heavy = sorted(top, reverse=True)[:5]
    med = statistics.median(times)
    print(f"compose generate --style blues: median {med:.2f} s over {args.runs} runs "
          f"(min {min(times):.2f}, max {max(times):.2f}); bare python start {bare:.2f} s")
    print(f"imports: {total_import:.2f} s ({100 * total_import / med:.0f}% of the wall time); heaviest top-level:")
    for us, name in heavy:
        print(f"  {name:30s} {us / 1e6:.2f} s")
    loaded = {name for _, name in top}
    print("music21 imported:", "music21" in loaded)
    print(f"goal < 3 s: {'met' if med < 3 else 'NOT met'}")


if __name__ == "__main__":
    main()
