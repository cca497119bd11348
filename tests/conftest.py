"""Shared fixtures: small generated datasets and a way to run the scripts.

Every dataset here is written by the tests themselves, so the suite needs
nothing but the repository (tests that use the real datasets skip cleanly
when ../shared is absent).
"""

import csv
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from pyimagesearch import sample_data


# Under pytest-xdist (make test) the test processes share the cores: each
# TensorFlow (and each script it starts) gets its share for an operation,
# instead of every process splitting each operation across all the cores
# and their threads waiting on one another (bench/README.md, "The test
# suite"). Set before any test imports TensorFlow; a value already given
# is kept.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    _share = max(1, (_cores or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(_share))

# The files that take longest, first. `make test` runs two pytest-xdist
# processes that take whole files in collection order (--no-loadscope-reorder),
# so the long files start at once and the short ones fill in at the end,
# and the two finish together.
LONGEST_FIRST = ["test_search_runs.py", "test_chapter3.py", "test_posts_flags.py",
                 "test_search_api.py", "test_compare_house_models.py", "test_honest_search.py",
                 "test_saved_models.py", "test_improved_classifier.py", "test_honest_text.py",
                 "test_honest_posts.py", "test_honest_images.py", "test_bench.py"]


def pytest_collection_modifyitems(items):
    rank = {name: i for (i, name) in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable within a file


# Keras' steps run eagerly in the tests marked ``eager_steps`` (a file's
# ``pytestmark``; ``eager_steps(False)`` on a test of such a file opts out):
# those tests check flags, files, searches and saved models with runs of a
# few steps, and tracing a step into a graph costs more than the steps it
# then runs. Everything else runs graphs, as users run them: longer runs,
# every subprocess, and the tests of the repository's code that runs inside
# a graph (fused kernels, pipelines, schedules, the side-by-side copies).
# bench/README.md, "The test suite", has the measurements behind the marks.
@contextmanager
def eager_steps():
    import tensorflow as tf

    before = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(before)


@pytest.fixture(autouse=True)
def _eager_steps_where_marked(request):
    marker = request.node.get_closest_marker("eager_steps")
    if marker is None or not marker.kwargs.get("on", marker.args[0] if marker.args else True):
        yield
        return
    with eager_steps():
        yield


ROOT = Path(__file__).resolve().parent.parent
REAL_HOUSES = ROOT.parent / "shared" / "datasets" / "Houses-dataset" / "Houses Dataset"
REAL_ANIMALS = ROOT.parent / "shared" / "datasets" / "animals"


def run_script(script, *args, timeout=300, env=None, wait=True):
    """Run one of the top-level scripts as a user would (``env``: variables
    to set; ``script`` "-m": ``args`` start with a module); return the
    result, or with ``wait=False`` the running process (its output unbuffered,
    in pipes)."""
    env = {**os.environ, **(env or {})}
    env.pop("DISPLAY", None)  # tests never open windows
    env.pop("WAYLAND_DISPLAY", None)
    command = [sys.executable, *([script] if script == "-m" else [str(ROOT / script)]),
               *map(str, args)]
    if not wait:
        env["PYTHONUNBUFFERED"] = "1"
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def interrupt_after(proc, marker, timeout=120):
    """Ctrl-C to ``proc`` (``run_script(..., wait=False)``) once ``marker``
    shows in its output; return (exit code, stdout, stderr)."""
    seen = ""
    deadline = time.time() + timeout
    while marker not in seen and time.time() < deadline:
        chunk = proc.stdout.read(1)
        if not chunk:
            break
        seen += chunk
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, seen + out, err


def run_in_process(script, *args, stop=None, fits=None):
    """``run_script``'s result (exit code, stdout, stderr) from ``script``'s
    ``main(argv)`` in this process, without a TensorFlow start-up of its
    own. Its stderr holds what the script itself writes there (cli.warn,
    the skipped files); library warnings and TensorFlow's log do not reach
    it, and ``cli.run_main`` is not run: the subprocess runs check those.
    A mistake the script raises (``UserError``, argparse's ``SystemExit``)
    propagates, after what the script wrote is passed on to the test's own
    stdout and stderr (``capsys``). With ``stop`` (and the ``fits``
    fixture) the run ends at that fit (``stopped`` is then True)."""
    if fits is not None:
        fits.stop = stop
    (out, err) = (StringIO(), StringIO())
    stopped = False
    try:
        with redirect_stdout(out), redirect_stderr(err), scripts_globals_put_back():
            try:
                code = load_script(script).main([str(a) for a in args]) or 0
            except Stopped:
                assert stop is not None
                (code, stopped) = (0, True)
    except BaseException:
        sys.stdout.write(out.getvalue())
        sys.stderr.write(err.getvalue())
        raise
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue(),
                           stopped=stopped)


@contextmanager
def scripts_globals_put_back():
    """Put back what a script's run in this process sets for the whole
    process: the global dtype policy (--mixed-precision) and the SIGINT
    handler (the scripts' Ctrl-C callback, left installed when a fit ends
    in an exception)."""
    import keras

    previous = signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")
        signal.signal(signal.SIGINT, previous)


def load_script(script):
    """Import a top-level script as a module, to call its ``main(argv)`` in
    the test process (flag errors need no subprocess)."""
    name = Path(script).stem
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Runs in a Python that cannot see this repository: isolated mode (-I) puts
# neither the working folder nor PYTHONPATH on sys.path, and the working
# folder is a temporary one. argv[1] is a JSON list of [model, inputs.npz,
# predictions.npy]; it prints, per model, the top-level packages of its
# layer classes.
_FRESH_PREDICT = textwrap.dedent("""
    import json, sys
    import numpy as np
    try:
        import pyimagesearch
        sys.exit("pyimagesearch is importable: the check would prove nothing")
    except ImportError:
        pass
    import keras
    packages = []
    for (modelPath, arrays, out) in json.loads(sys.argv[1]):
        model = keras.models.load_model(modelPath)
        inputs = np.load(arrays, allow_pickle=False)
        # raw text comes back as NumPy unicode, which Keras takes as objects
        inputs = [inputs[k].astype(object) if inputs[k].dtype.kind in "US" else inputs[k]
                  for k in sorted(inputs.files)]
        preds = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
        preds = np.asarray(preds)
        if preds.dtype.kind == "V":  # bfloat16: as float32, exactly, for plain NumPy
            preds = preds.astype("float32")
        np.save(out, preds)
        packages.append(sorted({type(layer).__module__.split(".")[0]
                                for layer in model._flatten_layers()}))
    print(json.dumps(packages))
""")


def predict_many_in_fresh_python(jobs, tmp_path):
    """``predict_in_fresh_python`` for several models in one fresh Python
    (one TensorFlow start-up): ``jobs`` maps a name to ``(modelPath,
    inputs)``; returns a name -> ``(predictions, packages)`` dict."""
    manifest = []
    for k, (name, (modelPath, inputs)) in enumerate(jobs.items()):
        inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        arrays = tmp_path / f"fresh_inputs_{k}.npz"
        np.savez(arrays, **{f"x{i:02d}": np.asarray(a) for i, a in enumerate(inputs)})
        manifest.append([str(modelPath), str(arrays), str(tmp_path / f"fresh_preds_{k}.npy")])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run([sys.executable, "-I", "-c", _FRESH_PREDICT, json.dumps(manifest)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    packages = json.loads(result.stdout.strip().splitlines()[-1])
    return {name: (np.load(out), found)
            for name, (_, _, out), found in zip(jobs, manifest, packages)}


def predict_in_fresh_python(modelPath, inputs, tmp_path):
    """Load ``modelPath`` with plain ``keras.models.load_model`` in a fresh
    Python without this repository and predict ``inputs`` (an array, or a
    list of arrays for a multi-input model). Returns the predictions and
    the top-level packages of the model's classes (only ``keras`` for a
    stock model)."""
    return predict_many_in_fresh_python({"model": (modelPath, inputs)}, tmp_path)["model"]


def info_lines(result):
    """The [INFO] lines a script printed, in order."""
    return [line.strip() for line in result.stdout.replace("\r", "\n").splitlines()
            if line.startswith("[INFO]")]


@pytest.fixture(scope="session")
def houses(tmp_path_factory):
    """A generated Houses dataset: 4 zip codes x 25 houses."""
    folder = tmp_path_factory.mktemp("houses")
    sample_data.write_houses(folder, houses_per_zipcode=25, seed=0)
    return folder


@pytest.fixture(scope="session")
def shapes3(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shapes3")
    sample_data.write_shapes(folder, classes=3, per_class=24, seed=0)
    return folder


@pytest.fixture(scope="session")
def shapes2(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shapes2")
    sample_data.write_shapes(folder, classes=2, per_class=40, seed=1)
    return folder


# --------------------------------------------------------------------------
# The search scripts (test_search.py, test_search_runs.py)

# a search that takes seconds: 16-pixel pictures, one epoch, small batches
TINY = ["--image-size", "16", "--epochs", "1", "--batch-size", "16"]


@pytest.fixture
def float32_after():
    """The scripts set Keras' global precision (mixed bfloat16 for the
    airbench block where it is native); put it back for the next test."""
    yield
    import keras

    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(scope="module")
def classifier():
    return load_script("search_image_classifier.py")


@pytest.fixture(scope="module")
def regressor():
    return load_script("search_image_regressor.py")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("search_shapes")
    sample_data.write_shapes(folder, classes=3, per_class=20, seed=0)
    return folder


@pytest.fixture(scope="module")
def targets_folder(tmp_path_factory):
    """Images with a targets.csv: grey squares whose target is their brightness."""
    import cv2

    folder = tmp_path_factory.mktemp("search_targets")
    rng = np.random.default_rng(0)
    with open(folder / "targets.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "target"])
        for i in range(24):
            level = int(rng.integers(20, 235))
            image = np.clip(rng.normal(level, 8, (20, 20, 3)), 0, 255).astype("uint8")
            cv2.imwrite(str(folder / f"img_{i:02d}.png"), image)
            writer.writerow([f"img_{i:02d}.png", level / 10])
    return folder


def outputs(folder, name="m"):
    """Output flags that keep everything under ``folder``."""
    return ["--project-dir", str(folder / "project"), "--model", str(folder / f"{name}.keras"),
            "--plot", str(folder / f"{name}.png")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_split_folder(root, side=12, per_class=(9, 3), classes=("cat", "dog", "frog")):
    """A CIFAR-10-like folder: train/<class>/ and test/<class>/ of
    ``side``-pixel pictures, each class its own colour."""
    import cv2

    for (split, count) in zip(("train", "test"), per_class):
        for (k, name) in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                image = np.full((side, side, 3), 40 + 80 * k, "uint8")
                image[i % side, :, :] = 255
                cv2.imwrite(str(folder / f"{i:04d}.png"), image)
    return root


# --------------------------------------------------------------------------
# The training scripts run in this process, their fits watched

CLASSIFIERS = ("train_simple_nn.py", "train_vgg.py")


class Stopped(Exception):
    """Raised by the ``fits`` wrapper in place of the fit it stops at."""


@pytest.fixture
def fits(monkeypatch):
    """Every ``model.fit`` of a run, in ``calls``: a namespace of the model,
    its args and kwargs, the weights it started from, and its history (None
    until it ends). Callbacks in ``extra`` are added to each fit, after the
    script's own; ``stop = N`` ends the run at the N-th fit with
    ``Stopped`` instead of training it."""
    import keras

    spy = SimpleNamespace(calls=[], stop=None, extra=[])
    fit = keras.Model.fit

    def spied_fit(model, *args, **kwargs):
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), *spy.extra]
        call = SimpleNamespace(model=model, args=args, kwargs=kwargs, history=None,
                               weights=[w.copy() for w in model.get_weights()])
        spy.calls.append(call)
        if spy.stop == len(spy.calls):
            raise Stopped
        call.history = fit(model, *args, **kwargs)
        return call.history

    monkeypatch.setattr(keras.Model, "fit", spied_fit)
    return spy


def script_argv(script, dataset, out):
    """The flags a training script needs to run on ``dataset``, writing
    under ``out``: the classifiers' model, label file and plot (``net.model``,
    ``lb.pickle``, ``plot.png``), the house scripts' and the comparison's
    --output."""
    if script in (*CLASSIFIERS, "train_improved_classifier.py"):
        return ["--dataset", dataset, "--model", out / "net.model",
                "--label-bin", out / "lb.pickle", "--plot", out / "plot.png"]
    return ["--dataset", dataset, "--output", out]


def predict(out, *argv, model=None, labels=None):
    """predict.py in this process with the model and label file a
    classifier wrote under ``out`` (``script_argv``'s names), or those given."""
    return run_in_process("predict.py", "--model", model or out / "net.model",
                          "--label-bin", labels or out / "lb.pickle", *argv)


def same_weights(a, b):
    """Whether two lists of weight arrays are equal, array for array."""
    return len(a) == len(b) and all(np.array_equal(u, v) for (u, v) in zip(a, b))
