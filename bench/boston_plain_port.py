"""The chapter's K-fold loop for Boston housing, ported plainly to Keras 3:
one model per fold, one after the other, ``model.fit`` at batch 1 (the
script's own ``kfold_chapter_loop``, what ``--kfold-loop chapter`` runs).
The reference that ``boston_housing.py`` (the folds in one model) is timed against.

    python bench/boston_plain_port.py --dataset boston_housing.npz --epochs 100 \\
        --compare output/boston/results.json

Prints the wall time of the K-fold loop, the mean validation MAE and where
the smoothed curve stops improving; with --compare, how far the smoothed
curve of a boston_housing.py run (results.json) is from this one.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from boston_housing import kfold_chapter_loop  # noqa: E402
from pyimagesearch.chapter3_datasets import load_boston_npz  # noqa: E402
from pyimagesearch.plots import smooth_curve  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--dataset", required=True)
ap.add_argument("--epochs", type=int, default=100)
ap.add_argument("--folds", type=int, default=4)
ap.add_argument("--seed", type=int, default=42)
ap.add_argument("--compare", default=None, help="results.json of boston_housing.py")
ap.add_argument("--save", default=None, help="write the curves and the time as JSON")
args = ap.parse_args()

import keras  # noqa: E402

keras.utils.set_random_seed(args.seed)
((trainData, trainTargets), _) = load_boston_npz(args.dataset)
mean, std = trainData.mean(axis=0), trainData.std(axis=0)
trainData = (trainData - mean) / std

# the chapter's code, fold after fold
start = time.time()
(_, histories) = kfold_chapter_loop(keras, trainData, trainTargets, args.folds, args.epochs, 1)
seconds = time.time() - start

average = np.mean(histories, axis=0)
(epochs, smoothed) = smooth_curve(average)
stop = int(epochs[np.argmin(smoothed)])
print(f"plain port: {args.folds} folds x {args.epochs} epochs at batch 1 in {seconds:.1f} s; "
      f"validation MAE {np.mean([h[-1] for h in histories]):.2f}; smoothed curve lowest "
      f"at epoch {stop}")

if args.save:
    with open(args.save, "w") as f:
        json.dump({"seconds": seconds, "val_mae_per_epoch": average.tolist(),
                   "smoothed_val_mae": smoothed.tolist(), "stops_improving_epoch": stop}, f)

if args.compare:
    with open(args.compare) as f:
        fast = json.load(f)
    other = np.array(fast["smoothed_val_mae"])
    common = min(len(other), len(smoothed))
    print(f"boston_housing.py ({fast['kfold_epochs']} epochs): validation MAE "
          f"{fast['kfold_val_mae']:.2f}, smoothed curve lowest at epoch "
          f"{fast['stops_improving_epoch']}; over epochs 11-{10 + common} the smoothed "
          f"curves differ by at most {np.max(np.abs(other[:common] - smoothed[:common])):.3f} "
          f"(mean {np.mean(np.abs(other[:common] - smoothed[:common])):.3f})")
