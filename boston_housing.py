"""Predict Boston house prices with K-fold validation (Deep Learning with Python, ch. 3).

    python boston_housing.py --dataset boston_housing.npz
    python boston_housing.py --dataset boston_housing.npz --kfold-epochs 500

Without --dataset, Keras' own copy is loaded (downloaded once by Keras).
"""

import argparse
import os
import time

import numpy as np

from pyimagesearch import text
from pyimagesearch.cli import UserError, fit_verbosity, positive_int, run_main


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default=None, metavar="NPZ",
                    help="Keras' boston_housing.npz (arrays x and y); default: "
                         "keras.datasets.boston_housing.load_data()")
    ap.add_argument("--folds", type=positive_int, default=4,
                    help="K of the K-fold validation (default: 4, as the chapter)")
    ap.add_argument("--kfold-epochs", type=positive_int, default=100,
                    help="epochs per fold (default: 100; the chapter's curve uses 500)")
    ap.add_argument("--kfold-batch-size", type=positive_int, default=1,
                    help="batch size per fold (default: 1, as the chapter)")
    ap.add_argument("--epochs", type=positive_int, default=80,
                    help="epochs of the final model on all training data (default: 80)")
    ap.add_argument("--batch-size", type=positive_int, default=16,
                    help="batch size of the final model (default: 16)")
    ap.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    ap.add_argument("--output", default="output/boston",
                    help="folder for the K-fold curve and results.json "
                         "(default: output/boston)")
    ap.add_argument("--tensorboard", default=None, metavar="DIR",
                    help="write TensorBoard logs under DIR (kfold/ and final/)")
    args = ap.parse_args(argv)
    if args.folds < 2:
        raise UserError("--folds must be at least 2")
    if args.dataset is not None and not os.path.isfile(args.dataset):
        raise UserError(f"--dataset {args.dataset!r} is not a file")
    return text.check_chapter_args(args)


def build_model(layers, inputs, name=None):
    """The chapter's network on ``inputs``: a price from 13 features."""
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    return layers.Dense(1, name=name)(x)  # no activation: a scalar regression


def side_by_side(keras, k, features):
    """K copies of the chapter's network in one model, fold k's named
    ``fold<k>``: its own input, its own output, no shared weights."""
    names = [f"fold{i}" for i in range(1, k + 1)]
    inputs = [keras.Input(shape=(features,), name=f"{n}_input") for n in names]
    outputs = [build_model(keras.layers, i, name=n) for (i, n) in zip(inputs, names)]
    return (keras.Model(inputs, outputs), names)


def kfold_splits(data, targets, k):
    """The chapter's folds: fold i validates on the i-th block of len // k
    samples and trains on everything else."""
    n = len(data) // k
    for i in range(k):
        val = slice(i * n, (i + 1) * n)
        yield (np.concatenate([data[:i * n], data[(i + 1) * n:]]),
               np.concatenate([targets[:i * n], targets[(i + 1) * n:]]),
               data[val], targets[val])


def main(argv=None):
    args = parse_args(argv)

    # TensorFlow loads only once the flags are known to be good
    import keras
    import tensorflow as tf
    from keras import layers

    from pyimagesearch.plots import smooth_curve
    from pyimagesearch.storage import save_results

    keras.utils.set_random_seed(args.seed)

    # load the 404 training and 102 test suburbs (13 features, prices in $1000s)
    print("[INFO] loading Boston housing data...")
    if args.dataset:
        ((trainData, trainTargets), (testData, testTargets)) = text.load_boston_npz(
            args.dataset)
    else:
        ((trainData, trainTargets), (testData, testTargets)) = text.keras_download(
            "boston_housing")
    if len(trainData) // args.folds < 1:
        raise UserError(f"--folds {args.folds} is more than the {len(trainData)} "
                        f"training houses")
    print(f"[INFO] {len(trainData)} training / {len(testData)} test houses, "
          f"{trainData.shape[1]} features; first training row: "
          f"{np.array2string(trainData[0], precision=5, max_line_width=200)}")

    # standardise every feature with the mean and standard deviation of the
    # *training* data (the test data too: it must never be looked at)
    mean = trainData.mean(axis=0)
    std = trainData.std(axis=0)
    std[std == 0] = 1.0
    trainData = ((trainData - mean) / std).astype("float32")
    testData = ((testData - mean) / std).astype("float32")

    # K-fold validation. The chapter trains the K folds' models one after the
    # other; here they train side by side in one model: fold k's network has
    # its own input and output, sees its own training example at every step
    # (batch 1 per fold) and its loss is its own mse, so its weights and
    # rmsprop state follow exactly the chapter's arithmetic. What is saved
    # is the overhead of 606,000 tiny steps: one graph call runs a whole
    # epoch of steps for all folds (steps_per_execution), XLA fuses each
    # step's small operations (jit_compile), the examples come from an
    # in-memory dataset and each epoch's validation is one batch per fold.
    print(f"[INFO] {args.folds}-fold validation, {args.kfold_epochs} epochs at batch "
          f"{args.kfold_batch_size} per fold...")
    folds = list(kfold_splits(trainData, trainTargets, args.folds))
    (model, names) = side_by_side(keras, args.folds, trainData.shape[1])
    stepsPerEpoch = -(-len(folds[0][0]) // args.kfold_batch_size)
    model.compile(optimizer="rmsprop", loss={n: "mse" for n in names},
                  metrics={n: ["mae"] for n in names}, steps_per_execution=stepsPerEpoch,
                  jit_compile=True)
    # the training examples, reshuffled every epoch (one permutation for all
    # folds: each fold still sees its own examples in a new order each epoch)
    train = tf.data.Dataset.from_tensor_slices(
        (tuple(f[0] for f in folds), tuple(f[1] for f in folds))).cache()
    train = train.shuffle(len(folds[0][0])).batch(args.kfold_batch_size)
    val = tf.data.Dataset.from_tensor_slices(
        (tuple(f[2] for f in folds), tuple(f[3] for f in folds))).batch(len(folds[0][2]))
    start = time.time()
    history = model.fit(train, epochs=args.kfold_epochs, validation_data=val.cache(),
                        verbose=fit_verbosity(),
                        callbacks=text.tensorboard_callbacks(args.tensorboard, "kfold"))

    seconds = time.time() - start
    print(f"[INFO] K-fold training took {seconds:.1f} s")

    # the validation MAE of each fold at the last epoch, and their mean
    foldMAE = [history.history[f"val_{n}_mae"][-1] for n in names]
    print("[INFO] validation MAE per fold: " + ", ".join(f"{m:.2f}" for m in foldMAE))
    print(f"[INFO] K-fold validation MAE: {np.mean(foldMAE):.2f}")

    # the per-epoch validation MAE averaged over the folds, and smoothed
    # (exponential moving average 0.9, the first 10 epochs dropped): where
    # it stops improving is the number of epochs to train for
    averageMAE = np.mean([history.history[f"val_{n}_mae"] for n in names], axis=0)
    if len(averageMAE) > 10:
        (smoothEpochs, smoothed) = smooth_curve(averageMAE)
        bestEpoch = int(smoothEpochs[np.argmin(smoothed)])
    else:
        (smoothed, bestEpoch) = (np.array([]), int(np.argmin(averageMAE)) + 1)
    print(f"[INFO] smoothed validation MAE stops improving after epoch {bestEpoch}")
    plot_kfold_curve(averageMAE, smoothed, bestEpoch, args.folds,
                     os.path.join(args.output, "kfold_mae.png"))

    # train a final model on all the training data and measure it on the test data
    print(f"[INFO] training the final model, {args.epochs} epochs at batch "
          f"{args.batch_size}...")
    inputs = keras.Input(shape=(trainData.shape[1],))
    model = keras.Model(inputs, build_model(layers, inputs))
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    model.fit(trainData, trainTargets, epochs=args.epochs, batch_size=args.batch_size,
              verbose=fit_verbosity(),
              callbacks=text.tensorboard_callbacks(args.tensorboard, "final"))
    (testMSE, testMAE) = model.evaluate(testData, testTargets, verbose=0)

    # a few predicted prices beside the real ones
    preds = model.predict(testData[:5], verbose=0)[:, 0]
    for (p, t) in zip(preds, testTargets[:5]):
        print(f"[INFO] predicted ${p * 1000:,.0f}, actual ${t * 1000:,.0f}")

    save_results(os.path.join(args.output, "results.json"), {
        "folds": args.folds, "kfold_epochs": args.kfold_epochs,
        "kfold_batch_size": args.kfold_batch_size, "seed": args.seed,
        "kfold_seconds": seconds,
        "fold_val_mae": foldMAE, "kfold_val_mae": float(np.mean(foldMAE)),
        "val_mae_per_epoch": averageMAE.tolist(), "smoothed_val_mae": smoothed.tolist(),
        "stops_improving_epoch": bestEpoch, "test_mse": testMSE, "test_mae": testMAE})
    print(f"[INFO] test MAE: {testMAE:.2f}")


def plot_kfold_curve(averageMAE, smoothed, bestEpoch, folds, path):
    """The chapter's two pictures side by side: the per-epoch validation MAE
    (mean of the folds), and its smoothed curve from epoch 11 on, with the
    epoch where it stops improving marked."""
    import matplotlib

    matplotlib.use("Agg")  # write a file; no display needed
    import matplotlib.pyplot as plt

    from pyimagesearch.storage import atomic_output

    epochs = np.arange(1, len(averageMAE) + 1)
    with plt.style.context("ggplot"):
        (fig, (raw, smooth)) = plt.subplots(1, 2, figsize=(12, 5))
        raw.plot(epochs, averageMAE, label=f"validation MAE, mean of {folds} folds")
        if len(averageMAE) > 10:
            # the first epochs' errors would squash the rest into a flat line
            raw.set_ylim(0.9 * averageMAE[10:].min(), 1.5 * averageMAE[10:].max())
            smooth.plot(epochs[10:], smoothed, color="tab:blue",
                        label="smoothed (EMA 0.9, first 10 epochs dropped)")
            smooth.axvline(bestEpoch, color="black", linewidth=1, linestyle="--",
                           label=f"lowest at epoch {bestEpoch}")
        for ax in (raw, smooth):
            ax.set_xlabel("Epoch #")
            ax.set_ylabel("Validation MAE ($1000s)")
            ax.legend()
        raw.set_title("Validation MAE per epoch")
        smooth.set_title("Smoothed")
        fig.tight_layout()
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format="png")
        plt.close(fig)


if __name__ == "__main__":
    run_main(main)
