"""Training speed of the search's airbench network on CIFAR-10-sized pictures.

    python bench/cifar_speed.py                       # float32, then mixed bfloat16
    python bench/cifar_speed.py --widths 32,128,128 --batch-size 256

Each precision runs in a fresh process (Keras' precision policy is global):
the default airbench network (``pyimagesearch/airbench.py``) on
random 32x32x3 pictures, Muon and Nesterov SGD as the search compiles it, a
``tf.data`` pipeline of uint8 batches scaled as they are drawn; the
pictures a second of two epochs after a warm-up epoch are printed. This is
what ``--precision auto`` was decided on (bench/README.md). ``--activation``,
``--augment`` and ``--without`` time variants: where a step's time goes.
``--policy mixed_bfloat16`` runs that precision alone, in this process.
"""

import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(policy, widths, batch_size, steps, activation="gelu", augment=False,
            batch_norm=True, ema=True, muon=True):
    import keras
    import numpy as np

    sys.path.insert(0, ROOT)
    from pyimagesearch import airbench
    from pyimagesearch.training import batches

    keras.mixed_precision.set_global_policy(policy)
    if activation == "tanh-gelu":
        activation = lambda x: keras.activations.gelu(x, approximate=True)  # noqa: E731
    norm = keras.layers.BatchNormalization
    if not batch_norm:
        # what the steps cost without any batch norm (not a network to train)
        keras.layers.BatchNormalization = lambda **kwargs: keras.layers.Identity()
    inputs = keras.Input((32, 32, 3))
    x = airbench.features(keras, inputs, [0.5] * 3, [0.25] * 3, widths=widths,
                          activation=activation)
    keras.layers.BatchNormalization = norm
    model = keras.Model(inputs, airbench.classifier_head(keras, x, 10))
    optimizer = airbench.optimizer(keras, batch_size, steps=3 * steps)
    optimizer.use_ema = ema
    model.compile(optimizer=optimizer,
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.2))
    airbench.scale_bias_steps(model)
    if muon:
        airbench.muon_steps(model, airbench.muon_rate(batch_size))
    rng = np.random.default_rng(0)
    n = batch_size * steps
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype="uint8")
    labels = np.eye(10, dtype="float32")[rng.integers(0, 10, n)]
    data = batches(images, labels, batch_size, shuffle=True, seed=0, repeat=True,
                   augment=airbench.flip_and_translate if augment else None)
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    start = time.perf_counter()
    model.fit(data, epochs=2, steps_per_epoch=steps, verbose=0)
    return 2 * n / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", default="64,256,256")
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=12, help="steps an epoch (default: 12)")
    ap.add_argument("--activation", default="gelu", choices=("gelu", "relu", "tanh-gelu"))
    ap.add_argument("--augment", action="store_true",
                    help="flips and 2-pixel moves in the input pipeline, as the search trains")
    ap.add_argument("--without", default=[], action="append", choices=("batch-norm", "ema", "muon"),
                    help="leave out every batch norm, the weights' running average, or "
                         "Muon (SGD steps the filters too)")
    ap.add_argument("--policy", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    widths = tuple(int(w) for w in args.widths.split(","))
    if args.policy:
        options = {"activation": args.activation, "augment": args.augment,
                   "batch_norm": "batch-norm" not in args.without, "ema": "ema" not in args.without,
                   "muon": "muon" not in args.without}
        print(f"{measure(args.policy, widths, args.batch_size, args.steps, **options):.0f}")
        return
    variant = ["--activation", args.activation] + ["--augment"] * args.augment + \
        [f"--without={w}" for w in args.without]
    for policy in ("float32", "mixed_bfloat16"):
        out = subprocess.run([sys.executable, __file__, "--policy", policy, "--widths",
                              args.widths, "--batch-size", str(args.batch_size), "--steps",
                              str(args.steps), *variant], capture_output=True, text=True,
                             env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        rate = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-300:]
        print(f"{policy:>15}: {rate} pictures/s (widths {args.widths}, batch {args.batch_size}, "
              f"{' '.join(variant)})")


if __name__ == "__main__":
    main()
