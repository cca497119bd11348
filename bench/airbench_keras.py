"""The search's default airbench network trained alone, no search: test accuracy and speed.

    python bench/airbench_keras.py --dataset /tmp/cifar10 --epochs 10

Trains the first trial of a CIFAR-10 search (``ImageHyperModel.build`` with
the space's defaults, ``--activation`` aside, its ``fit``: the recipe's
schedule over ``--epochs``)
on all the training pictures of a ``train/``/``test/`` folder, then prints
the test accuracy on each picture alone, averaged with its mirror image, and
over airbench's six views, the training pictures per second (steady steps,
the first left out) and the minutes. The figure to set beside
``../shared/ref/airbench_cpu.py``'s, on the same machine. ``--muon 0``
trains the filters by SGD as before Muon; ``--batch-size`` other batches.
"""

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", required=True, help="CIFAR-10's train/ and test/ folders")
    ap.add_argument("--epochs", type=float, default=10.0)
    ap.add_argument("--precision", default="auto", choices=("auto", "float32", "mixed_bfloat16"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--activation", default=None, choices=("gelu", "relu"),
                    help="the family's activation (default: the space's first, GELU)")
    ap.add_argument("--muon", type=float, default=None, metavar="RATE",
                    help="Muon's peak rate for the filters; 0: SGD steps them too "
                         "(default: the search's, airbench.muon_rate of the batch)")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="pictures a step (default: the search's, 512)")
    args = ap.parse_args()
    if args.batch_size is not None and args.batch_size < 1:
        ap.error("--batch-size must be 1 or more")
    sys.path.insert(0, ROOT)
    import keras
    import keras_tuner
    import numpy as np

    from pyimagesearch import airbench, imagesets
    from pyimagesearch.search.blocks import ImageBlock
    from pyimagesearch.search.heads import ClassificationHead
    from pyimagesearch.search.hypermodel import ImageHyperModel
    from pyimagesearch.search.settings import resolve

    started = time.perf_counter()
    (train_x, train_y, test_x, test_y, _) = imagesets.load(args.dataset, "split", 32, 42)
    loaded = time.perf_counter()
    block = ImageBlock("airbench", augment=True)
    head = ClassificationHead().adapt(train_y)
    settings = resolve(block, 32, len(train_x), seed=args.seed, precision=args.precision,
                       batch_size=args.batch_size)
    keras.mixed_precision.set_global_policy(settings.precision)
    keras.utils.set_random_seed(args.seed)
    hypermodel = ImageHyperModel(block, head, settings, train_x.shape[1:], train_x[:5000])
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    if args.activation:
        # the space is registered by the first build; the second reads the value set
        hp.values["airbench_activation"] = args.activation
        model = hypermodel.build(hp)
    if args.muon is not None:
        muon_steps = airbench.muon_steps
        airbench.muon_steps = lambda model, rate: \
            muon_steps(model, args.muon) if args.muon else model
    metrics = hypermodel.fit(hp, model, train_x, head.encode(train_y), epochs=args.epochs)
    trained = time.perf_counter()
    accuracy = {}
    for (name, views) in (("plain", airbench.views(False, False)),
                          ("mirror", airbench.views(True, False)),
                          ("6 views", airbench.views(True, True))):
        preds = airbench.averaged(model, test_x, views)
        accuracy[name] = float(np.mean(preds.argmax(axis=1) == test_y))
    done = time.perf_counter()
    rate = settings.batch_size / metrics["step_seconds"]
    print(f"AIRBENCH_KERAS epochs={metrics['epochs']:.2f} precision={settings.precision} "
          f"activation={hp.get('airbench_activation')} "
          f"muon={airbench.muon_rate(settings.batch_size) if args.muon is None else args.muon:.3f} "
          f"batch={settings.batch_size} plain={accuracy['plain']:.4f} "
          f"mirror={accuracy['mirror']:.4f} tta6={accuracy['6 views']:.4f} "
          f"pictures_per_s={rate:.0f} load_s={loaded - started:.0f} "
          f"train_s={trained - loaded:.0f} test_s={done - trained:.0f}")


if __name__ == "__main__":
    main()
