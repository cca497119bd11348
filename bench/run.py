"""Time each script end to end on the real datasets and print a table.

    python bench/run.py                      # all five scripts, 3 runs (train_vgg: 1)
    python bench/run.py --runs 5 --scripts mlp_regression cnn_regression
    python bench/run.py --extra-args="--epochs 5"   # a flag for every script
    python bench/run.py --baseline /tmp/before      # against another checkout, by turns

Each run is a fresh process, as a reader runs it: wall time includes Python
and TensorFlow start-up and data loading. Peak memory is the child's maximum
resident set size.

Each script is compared with a plain port of the posts' code
(``bench/plain_port.py``: Keras' own layers and optimizers, NumPy arrays to
``model.fit``, pictures decoded one by one), timed on the same machine in
the same session, since a shared machine's speed moves by the hour and
machines differ: that speed-up is the honest one. The figures issue #5
measured for such a port on its machine are shown too. The table also
shows the machine's measured float32 and bfloat16 matrix-multiply peak,
probed at the start and again at the end, and, for SmallVGGNet, the
throughput reached in GFLOP/s against that peak (its forward passes over
the test images every epoch included). On CPUs that compute bfloat16
natively (AVX512-BF16 or AMX), SmallVGGNet is also run with
``--mixed-precision``, the faster choice that changes the numbers.
"""

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from pyimagesearch.reports import cpu_info, native_bfloat16  # noqa: E402  (after the path)

DEFAULT_DATA = os.path.join(ROOT, "..", "shared", "datasets")
SCRIPTS = ["mlp_regression", "cnn_regression", "mixed_regression",
           "train_simple_nn", "train_vgg"]
# the plain port of the posts' code: (wall seconds, peak GB), 2-core machine
BEFORE = {"mlp_regression": (26, 0.75), "cnn_regression": (108, 0.92),
          "mixed_regression": (108, 0.93), "train_simple_nn": (55, 1.0),
          "train_vgg": (671, 1.85)}
# also measured by default: SmallVGGNet in bfloat16, the trade-off behind a flag
VARIANTS = {"train_vgg": ["--mixed-precision"]}

# training time and the images per epoch, printed by pyimagesearch.training.fit
TRAINED = re.compile(r"\[INFO\] trained (\d+) epochs? of (\d+) examples in ([\d.]+)s")
# the number of test images, from the accuracy line of the classification report
TESTED = re.compile(r"^\s*accuracy\s+[\d.]+\s+(\d+)", re.MULTILINE)


def command(script, houses, animals, out, plain=False):
    """The command line of one run: the script, or its plain port."""
    data = houses if script.endswith("regression") else animals
    if plain:
        return [sys.executable, os.path.join("bench", "plain_port.py"), script, "--dataset", data]
    if script.endswith("regression"):
        return [sys.executable, f"{script}.py", "--dataset", data]
    return [sys.executable, f"{script}.py", "--dataset", data,
            "--model", os.path.join(out, "model.keras"),
            "--label-bin", os.path.join(out, "lb.pickle"),
            "--plot", os.path.join(out, "plot.png")]


def metric(script, stdout):
    """The figure the script reports: mean % error, K-fold MAE, or test accuracy."""
    if script == "boston_housing":
        m = re.search(r"\[INFO\] K-fold validation MAE: ([\d.]+)", stdout)
        return f"MAE {m.group(1)}" if m else "?"
    if script == "compare_house_models":
        m = re.search(r"^\[INFO\] [\w-]+: mean: ([\d.]+)%", stdout, re.MULTILINE)
        return f"{float(m.group(1)):.2f}% over folds" if m else "?"
    if script.endswith("regression"):
        m = re.search(r"\[INFO\] mean: ([\d.]+)%", stdout)
        return f"{float(m.group(1)):.2f}%" if m else "?"
    m = re.search(r"^\s*accuracy\s+([\d.]+)", stdout, re.MULTILINE)
    return f"{float(m.group(1)) * 100:.0f}% acc" if m else "?"


def run_once(cmd, cwd=ROOT):
    """Run ``cmd`` in ``cwd``; return (wall seconds, peak RSS in GB, stdout)."""
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        stdout = out.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    return wall, usage.ru_maxrss / 1024 / 1024, stdout


def probe():
    """The matmul peaks and SmallVGGNet's training GFLOP per image, computed
    in a child process: on Linux a child's peak memory counts its parent's
    size when it started, so this process must not load TensorFlow itself."""
    out = subprocess.run([sys.executable, __file__, "--probe"], cwd=ROOT, check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    found = json.loads(out.strip().splitlines()[-1])
    return found["peaks"], found["vgg_gflop_per_image"]


def matmul_peak():
    """Best GFLOP/s of a large matrix multiply in float32 and bfloat16."""
    import tensorflow as tf

    peaks = {}
    n = 2048
    for dtype in (tf.float32, tf.bfloat16):
        a = tf.random.uniform((n, n), dtype=tf.float32)
        a = tf.cast(a, dtype)
        mm = tf.function(lambda x: tf.linalg.matmul(x, x))
        mm(a).numpy()
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(5):
                r = mm(a)
            r.numpy()
            best = min(best, (time.perf_counter() - start) / 5)
        peaks[dtype.name] = 2 * n ** 3 / best / 1e9
    return peaks


def vgg_train_gflop_per_image():
    """Forward + backward FLOPs of one SmallVGGNet training image (3x forward)."""
    from pyimagesearch.smallvggnet import SmallVGGNet

    model = SmallVGGNet.build(64, 64, 3, 3)
    flops = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            h, w, c_out = layer.output.shape[1:]
            kh, kw, c_in, _ = layer.kernel.shape
            flops += 2 * h * w * kh * kw * c_in * c_out
        elif kind == "Dense":
            flops += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
    return 3 * flops / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--houses", default=os.path.join(DEFAULT_DATA, "Houses-dataset",
                                                     "Houses Dataset"))
    ap.add_argument("--animals", default=os.path.join(DEFAULT_DATA, "animals"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--vgg-runs", type=int, default=1)
    ap.add_argument("--scripts", nargs="+", choices=SCRIPTS, default=SCRIPTS)
    ap.add_argument("--extra-args", default="", help="flags added to every script")
    ap.add_argument("--plain-runs", type=int, default=1,
                    help="runs of the plain port per script (bench/plain_port.py), the "
                         "same-machine baseline; 0 skips it (default: 1)")
    ap.add_argument("--no-variants", action="store_true",
                    help="skip the extra rows (" + ", ".join(
                        f"{k} {' '.join(v)}" for k, v in VARIANTS.items()) + ")")
    ap.add_argument("--baseline", metavar="DIR", default=None,
                    help="another checkout of this repository (e.g. `git worktree add "
                         "/tmp/before REV`): run each script there and here by turns, "
                         "and compare the two (no plain port)")
    ap.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe:
        print(json.dumps({"peaks": matmul_peak(),
                          "vgg_gflop_per_image": vgg_train_gflop_per_image()}))
        return
    if args.baseline:
        return compare(args)

    print(f"machine: {cpu_info() or platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}")
    peaks, vggFlops = probe()
    print("matmul peak before: " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peaks.items()))

    rows = []
    with tempfile.TemporaryDirectory() as out:
        jobs = [(script, []) for script in args.scripts]
        if not args.no_variants and native_bfloat16():
            jobs += [(script, flags) for script, flags in VARIANTS.items()
                     if script in args.scripts]
        elif not args.no_variants:
            print("no bfloat16 row: this CPU has no AVX512-BF16 or AMX, so bfloat16 "
                  "would run emulated, slower than float32")
        for script, flags in jobs:
            runs = args.vgg_runs if script == "train_vgg" else args.runs
            extra = shlex.split(args.extra_args)
            name = " ".join([script] + flags)
            results = timed_runs(name, command(script, args.houses, args.animals, out)
                                 + flags + extra, script, runs)
            plain = []
            if not flags and args.plain_runs:
                plain = timed_runs(f"{script} (plain port)",
                                   command(script, args.houses, args.animals, out, plain=True)
                                   + extra, script, args.plain_runs)
            rows.append((name, results, plain,
                         throughput(results[-1][3], vggFlops, peaks)
                         if script == "train_vgg" else ""))

    # shared machines change speed by the hour: a second probe shows the drift
    after, _ = probe()
    print("matmul peak after: " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in after.items()))
    print()
    print("| script | runs | plain port here | now: median (min-max) | speed-up | "
          "issue's plain port | speed-up | peak memory: now / plain | result: now / plain | |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, results, plain, note in rows:
        print(row(name, results, plain, note, issue=not args.extra_args))


def compare(args):
    """Each script run by turns in the baseline checkout and here, so that a
    shared machine's changes of speed reach both alike; a table of both."""
    extra = shlex.split(args.extra_args)
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for script in args.scripts:
            cmd = command(script, args.houses, args.animals, out) + extra
            runs = args.vgg_runs if script == "train_vgg" else args.runs
            found = {"baseline": [], "now": []}
            for i in range(runs):
                for label, tree in (("baseline", args.baseline), ("now", ROOT)):
                    wall, rss, stdout = run_once(cmd, cwd=tree)
                    found[label].append((wall, rss, metric(script, stdout)))
                    print(f"  {script} {label} run {i + 1}/{runs}: {wall:.1f} s, {rss:.2f} GB, "
                          f"{found[label][-1][2]}", flush=True)
            rows.append((script, found["baseline"], found["now"]))
    print()
    print("| script | runs | baseline: median (min-max) | now: median (min-max) | "
          "now / baseline | peak memory: baseline / now | result: baseline / now |")
    print("|---|---|---|---|---|---|---|")
    for script, before, now in rows:
        print(compare_row(script, before, now))


def compare_row(script, before, now):
    """One line of the comparison table."""
    def timing(results):
        walls = [r[0] for r in results]
        return statistics.median(walls), f"{statistics.median(walls):.1f} s " \
                                         f"({min(walls):.1f}-{max(walls):.1f})"

    (b, bText), (n, nText) = timing(before), timing(now)
    memory = f"{max(r[1] for r in before):.2f} / {max(r[1] for r in now):.2f} GB"
    results = f"{' '.join(r[2] for r in before)} / {' '.join(r[2] for r in now)}"
    return f"| {script} | {len(now)} | {bText} | {nText} | {n / b:.2f} | {memory} | {results} |"


def row(name, results, plain, note, issue=True):
    """One line of the table. ``issue``: compare with the issue's figures
    (only meaningful for the posts' settings, without --extra-args)."""
    walls = [r[0] for r in results]
    med = statistics.median(walls)
    wall0, rss0 = BEFORE[name.split()[0]]
    here = statistics.median([r[0] for r in plain]) if plain else None
    memory = f"{max(r[1] for r in results):.2f}"
    result = " ".join(r[2] for r in results)
    if plain:
        memory += f" / {max(r[1] for r in plain):.2f}"
        result += " / " + " ".join(r[2] for r in plain)
    cells = [name, str(len(results)), f"{here:.1f} s" if here else "",
             f"{med:.1f} s ({min(walls):.1f}-{max(walls):.1f})",
             # two decimals: 1.48x must not read as the 1.5x goal
             f"{here / med:.2f}x" if here else "",
             f"{wall0} s, {rss0:.2f} GB", f"{wall0 / med:.2f}x" if issue else "n/a",
             f"{memory} GB", result, note]
    return "| " + " | ".join(cells) + " |"


def timed_runs(name, cmd, script, runs):
    """Run ``cmd`` ``runs`` times: (wall, peak GB, metric, stdout) each."""
    results = []
    for i in range(runs):
        wall, rss, stdout = run_once(cmd)
        results.append((wall, rss, metric(script, stdout), stdout))
        print(f"  {name} run {i + 1}/{runs}: {wall:.1f} s, {rss:.2f} GB, "
              f"{results[-1][2]}", flush=True)
    return results


def throughput(stdout, vggFlops, peaks):
    """SmallVGGNet's training GFLOP/s, from the script's training-time line."""
    m = TRAINED.search(stdout)
    v = TESTED.search(stdout)
    if not (m and v):
        return ""
    epochs, images, seconds = int(m.group(1)), int(m.group(2)), float(m.group(3))
    # every epoch also runs the test images forward (a third of a training
    # image's work), inside the same seconds
    achieved = vggFlops * epochs * (images + int(v.group(1)) / 3) / seconds
    return (f"training {achieved:.0f} GFLOP/s = {achieved / peaks['float32']:.0%} "
            f"of float32 peak, {achieved / peaks['bfloat16']:.0%} of bfloat16 peak")


if __name__ == "__main__":
    main()
