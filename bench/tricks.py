"""What each speed trick of the scripts buys, end to end, against the stock
Keras a reader would write instead.

    python bench/tricks.py                                # every script, 3 runs each
    python bench/tricks.py --scripts cnn_regression --runs 5
    python bench/tricks.py --scripts train_vgg --extra-args="--epochs 10"

For each script it runs, by turns, the script as it is and the script with
one trick replaced by its stock alternative (one fresh process each, as a
reader runs it: start-up and loading included), and prints the medians
side by side. The rule the scripts follow: a trick stays only where it
saves at least 10% of the whole run.

The tricks and their stock alternatives:

* ``fused_batch_norm`` and ``fused_optimizer`` (the two halves of
  ``fast.use_fused_kernels``): Keras' own batch normalization, Keras' own
  optimizer step.
* ``pipeline`` (``training.batches``, training and validation data):
  NumPy arrays (float32) given to ``model.fit(x, y, batch_size=...,
  shuffle=True, validation_data=(valX, valY), validation_batch_size=256)``.
* ``no_autotuner`` (inside ``training.batches``): tf.data's default options.
* ``one_core_per_op`` (``training.one_core_per_op``): TensorFlow's default
  threads.
* ``one_pass_augmentation`` (``augmentation.image_data_generator``): Keras'
  RandomFlip, RandomRotation, RandomTranslation, RandomShear and RandomZoom
  layers mapped over the batches (four resamplings).
* ``folds_in_one_model`` (``boston_housing.py``'s default K-fold form):
  ``--kfold-loop chapter``, the chapter's loop, fold after fold.
* ``threaded_decoding`` (``datasets._LOAD_WORKERS``): pictures decoded one
  after the other.
* ``gc_freeze`` (``cli.run_main``): Python's last garbage collection at exit.
"""

import argparse
import math
import os
import runpy
import shlex
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import DEFAULT_DATA, ROOT, command, metric, run_once  # noqa: E402

TRICKS = {
    "mlp_regression": ["pipeline", "no_autotuner", "gc_freeze"],
    "cnn_regression": ["fused_batch_norm", "pipeline", "no_autotuner", "threaded_decoding"],
    "mixed_regression": ["fused_batch_norm", "fused_optimizer", "pipeline", "no_autotuner",
                         "one_core_per_op", "threaded_decoding"],
    "train_simple_nn": ["pipeline", "no_autotuner", "threaded_decoding"],
    "train_vgg": ["fused_batch_norm", "one_pass_augmentation", "no_autotuner",
                  "threaded_decoding"],
    "boston_housing": ["folds_in_one_model"],
    # the extras' recipes: the improved MLP's eight copies, the improved
    # classifiers (AdamW for the simple NN, batch norm for SmallVGGNet)
    "compare_house_models": ["fused_optimizer"],
    "improved_simple_nn": ["fused_optimizer"],
    "improved_smallvggnet": ["fused_batch_norm"],
}


# --------------------------------------------------------------------------
# In the child: one trick replaced, then the script


class _Arrays:
    """What ``training.batches`` hands ``fit`` when the pipeline is off."""

    def __init__(self, x, y, batch_size, shuffle):
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle


def replace(trick):
    """Replace ``trick`` in this process by its stock alternative."""
    import keras

    from pyimagesearch import training

    if trick in ("fused_batch_norm", "fused_optimizer"):
        from pyimagesearch import fast

        fuse = fast.use_fused_kernels

        def use_fused_kernels(model, **kwargs):
            # the fused steps are methods bound on the objects themselves:
            # removing one leaves Keras' own method of the class
            fuse(model, **kwargs)
            if trick == "fused_batch_norm":
                for layer in fast._all_layers(model):
                    layer.__dict__.pop("call", None)
            else:
                getattr(model, "optimizer", None).__dict__.pop("update_step", None)
            return model

        fast.use_fused_kernels = use_fused_kernels
    elif trick == "pipeline":
        stockFit = keras.Model.fit

        def batches(x, y, batch_size, shuffle=False, seed=None, augment=None, mix=None,
                    repeat=False):
            assert augment is None and mix is None and not repeat
            return _Arrays(training._float32(x), training._float32(y), batch_size, shuffle)

        def arrays(a):
            return list(a.x) if isinstance(a.x, tuple) else a.x

        def fit(self, x=None, y=None, **kwargs):
            val = kwargs.get("validation_data")
            if isinstance(val, _Arrays):
                kwargs.update(validation_data=(arrays(val), val.y),
                              validation_batch_size=val.batch_size)
            if isinstance(x, _Arrays):
                kwargs.pop("shuffle", None)
                return stockFit(self, arrays(x), x.y, batch_size=x.batch_size,
                                shuffle=x.shuffle, **kwargs)
            return stockFit(self, x, y, **kwargs)

        training.batches = batches
        keras.Model.fit = fit
    elif trick == "no_autotuner":
        import tensorflow as tf

        training._NO_AUTOTUNER = tf.data.Options()
    elif trick == "one_core_per_op":
        training.one_core_per_op = lambda: None
    elif trick == "one_pass_augmentation":
        from pyimagesearch import augmentation

        def image_data_generator(rotation_range=0.0, width_shift_range=0.0,
                                 height_shift_range=0.0, shear_range=0.0, zoom_range=0.0,
                                 horizontal_flip=False, fill_mode="nearest"):
            # (Keras' shear factor is a fraction of the size: the post's
            # 0.2 degrees, as ImageDataGenerator read it, is tan(0.2 deg))
            shear = math.tan(math.radians(shear_range))
            layers = [keras.layers.RandomRotation(rotation_range / 360, fill_mode=fill_mode),
                      keras.layers.RandomTranslation(height_shift_range, width_shift_range,
                                                     fill_mode=fill_mode),
                      keras.layers.RandomShear(shear, shear, fill_mode=fill_mode),
                      keras.layers.RandomZoom(zoom_range, zoom_range, fill_mode=fill_mode)]
            if horizontal_flip:
                layers.insert(0, keras.layers.RandomFlip("horizontal"))

            def augment(images, seed):
                for layer in layers:
                    images = layer(images, training=True)
                return images
            return augment

        augmentation.image_data_generator = image_data_generator
    elif trick == "threaded_decoding":
        from pyimagesearch import datasets

        datasets._LOAD_WORKERS = 1
    elif trick == "folds_in_one_model":
        sys.argv.append("--kfold-loop=chapter")
    elif trick == "gc_freeze":
        import gc

        gc.freeze = lambda: None
    elif trick != "none":
        raise SystemExit(f"unknown trick {trick!r}")


def child(trick, script, argv):
    sys.path.insert(0, ROOT)
    sys.argv = [script] + argv
    replace(trick)
    runpy.run_path(os.path.join(ROOT, script), run_name="__main__")


# --------------------------------------------------------------------------
# In the parent: the runs by turns, and the table


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2], sys.argv[3], sys.argv[4:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--houses", default=os.path.join(DEFAULT_DATA, "Houses-dataset",
                                                     "Houses Dataset"))
    ap.add_argument("--animals", default=os.path.join(DEFAULT_DATA, "animals"))
    ap.add_argument("--boston", default=os.path.join(DEFAULT_DATA, "boston_housing.npz"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scripts", nargs="+", choices=list(TRICKS), default=list(TRICKS))
    ap.add_argument("--tricks", nargs="+", default=None,
                    help="only these tricks (default: every trick of each script)")
    ap.add_argument("--extra-args", default="", help="flags added to every script")
    args = ap.parse_args()

    extra = shlex.split(args.extra_args)
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for script in args.scripts:
            tricks = [t for t in TRICKS[script] if not args.tricks or t in args.tricks]
            if script == "boston_housing":
                cmd = ["boston_housing.py", "--dataset", args.boston, "--output", out]
            elif script == "compare_house_models":
                cmd = ["compare_house_models.py", "--dataset", args.houses, "--models",
                       "mlp-improved", "--output", out]
            elif script.startswith("improved_"):
                cmd = command("train_improved_classifier", args.houses, args.animals, out)[1:]
                cmd += ["--network", script[len("improved_"):]]
            else:
                cmd = command(script, args.houses, args.animals, out)[1:]
            cmd += extra
            found = {t: [] for t in ["none"] + tricks}
            for i in range(args.runs):
                for trick in found:
                    wall, _, stdout = run_once(
                        [sys.executable, __file__, "--child", trick, *cmd])
                    found[trick].append((wall, metric(script, stdout)))
                    print(f"  {script} without {trick} run {i + 1}/{args.runs}: "
                          f"{wall:.1f} s, {found[trick][-1][1]}", flush=True)
            rows += [(script, t, found["none"], found[t]) for t in tricks]
    print()
    print("| script | trick | with it: median (min-max) | stock instead: median (min-max) "
          "| saves | result: with / stock |")
    print("|---|---|---|---|---|---|")
    for (script, trick, kept, stock) in rows:
        (w, wText), (s, sText) = timing(kept), timing(stock)
        print(f"| {script} | {trick} | {wText} | {sText} | {1 - w / s:.0%} | "
              f"{' '.join(r[1] for r in kept)} / {' '.join(r[1] for r in stock)} |")


def timing(results):
    walls = [r[0] for r in results]
    return (statistics.median(walls),
            f"{statistics.median(walls):.1f} s ({min(walls):.1f}-{max(walls):.1f})")


if __name__ == "__main__":
    main()
