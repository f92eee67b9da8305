"""End-model files and `weaksup predict`: file sizes and the command's wall time, ours against a peer checkout.

    python benchmarks/end_model_files.py [--peer /path/to/other/checkout] [--repeats 5]

The peer is another weaksup checkout (e.g. the commit before end models became plain data, which saved
skops files); each side trains the text end model on the same soft labels (youtube train, and the SMS
train texts when ``../shared/data/sms`` exists), saves it in its own format, and times
``weaksup predict MODEL three_rows.csv`` in a fresh process.  Prints medians, their ratio and the load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {"youtube": ROOT / "data" / "youtube", "sms": ROOT.parent / "shared" / "data" / "sms"}

TRAIN = """
import json, sys
from pathlib import Path
import numpy as np
from weaksup.end_models.text import SoftTextClassifier
folder, out = Path(sys.argv[1]), sys.argv[2]
data = json.loads((folder / "train.json").read_text()).values()
texts = [ex["data"]["text"] for ex in data]
labels = np.array([ex["label"] for ex in data])
probs = np.full((len(texts), 2), 0.2)
probs[np.arange(len(texts)), labels] = 0.8
model = SoftTextClassifier(seed=0).fit(texts, probs)
model.save(out, {"classes": ["NO", "YES"], "text_column": "text"})
acc = float((model.predict(texts) == labels).mean())
print(json.dumps({"n": len(texts), "train_accuracy": acc}))
"""


def _python(checkout: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, check=True, cwd=checkout)


def _side(checkout: Path, suffix: str, work: Path, repeats: int) -> dict:
    """Train, save and time predict with the weaksup in ``checkout``."""
    out: dict = {}
    rows = work / "three.csv"
    rows.write_text('text\n"subscribe to my channel"\n"great song"\n"free gift http://x.co"\n')
    for name, folder in DATASETS.items():
        if not folder.exists():
            continue
        model = work / f"{checkout.name}-{name}.{suffix}"
        fit = json.loads(_python(checkout, "-c", TRAIN, str(folder), str(model)).stdout)
        size = model.stat().st_size + sum(p.stat().st_size for p in [Path(f"{model}.json")] if p.exists())
        out[name] = {**fit, "bytes": size}
        if name == "youtube":
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                _python(checkout, "-m", "weaksup.cli", "predict", str(model), str(rows))
                times.append(time.perf_counter() - start)
            out["predict_s"] = statistics.median(times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", type=Path, required=True, help="another weaksup checkout (saving .skops files)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ours = _side(ROOT, "npz", work, args.repeats)
        peer = _side(args.peer.resolve(), "skops", work, args.repeats)
    print(f"load average: {os.getloadavg()}")
    for name in DATASETS:
        if name in ours:
            o, p = ours[name], peer[name]
            print(f"{name} ({o['n']} texts): end model file {o['bytes'] / 1e6:.2f} MB ours, {p['bytes'] / 1e6:.2f} MB "
                  f"peer ({p['bytes'] / o['bytes']:.1f}x smaller); train accuracy {o['train_accuracy']:.4f} ours, "
                  f"{p['train_accuracy']:.4f} peer")  # fmt: skip
    print(f"weaksup predict, 3 rows, median of {args.repeats}: {ours['predict_s']:.2f} s ours, "
          f"{peer['predict_s']:.2f} s peer ({peer['predict_s'] / ours['predict_s']:.1f}x faster)")


if __name__ == "__main__":
    main()
