"""Call-analysis speed and memory: an hour of 8 kHz stereo must take under 18 s
(200x real time), and peak memory must not grow with the length of the call.

    .venv/bin/python bench/quality.py [--minutes 10 60] [--vad energy|auto|webrtc]

Each file is analysed in a fresh child process so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, resource, sys, time
from funnelwatch.quality.audio import analyze_file
t = time.perf_counter()
a = analyze_file(sys.argv[1], vad=sys.argv[2])
elapsed = time.perf_counter() - t
print(json.dumps({"elapsed": elapsed, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                  / 1024, "vad": a.vad, "summary": a.summary()}))
"""

BASELINE = """
import json, resource
import numpy
from funnelwatch.quality.audio import analyze_file
print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 60])
    parser.add_argument("--vad", default="energy")
    parser.add_argument("--keep", help="Folder to keep the generated files in.")
    args = parser.parse_args()
    from funnelwatch.quality.audio import synth

    folder = Path(args.keep or tempfile.mkdtemp(prefix="fw-quality-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    base = json.loads(subprocess.check_output([sys.executable, "-c", BASELINE]))
    print(f"python + numpy + analyser imported: peak RSS {base['rss_mb']:.1f} MB")
    ok = True
    for minutes in args.minutes:
        seconds = minutes * 60
        path = folder / f"call-{minutes:g}min.wav"
        if not path.exists():
            t = time.perf_counter()
            mgr, cli = synth.dialogue(seconds, manager_share=0.55, seed=1)
            synth.write_call(path, seconds, mgr, cli, seed=1)
            print(
                f"generated {path.name} ({path.stat().st_size / 1e6:.0f} MB) in "
                f"{time.perf_counter() - t:.1f} s"
            )
        out = json.loads(
            subprocess.check_output([sys.executable, "-c", CHILD, str(path), args.vad])
        )
        factor = seconds / out["elapsed"]
        print(
            f"{minutes:g} min 8 kHz stereo, vad={out['vad']}: {out['elapsed']:.2f} s "
            f"({factor:.0f}x real time), peak RSS {out['rss_mb']:.1f} MB; "
            f"talk_ratio={out['summary']['talk_ratio']} "
            f"switches/min={out['summary']['switches_per_min']}"
        )
        per_hour = out["elapsed"] * 3600 / seconds
        if per_hour > 18:
            ok = False
            print(f"  SLOW: {per_hour:.1f} s an hour (target < 18 s)")
    if not args.keep:
        for p in folder.glob("*.wav"):
            p.unlink()
        folder.rmdir()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
