"""Predict Boston house prices with K-fold validation (Deep Learning with Python, ch. 3).

    python boston_housing.py --dataset boston_housing.npz
    python boston_housing.py --dataset boston_housing.npz --kfold-epochs 500
    python boston_housing.py --dataset boston_housing.npz --kfold-loop chapter

Without --dataset, Keras' own copy is loaded (downloaded once by Keras).

The K-fold validation is the chapter's loop (``kfold_chapter_loop``: a fresh
model per fold, one after the other), each fold standardised with the mean
and deviation of the blocks it trains on (the chapter standardised once,
which let each validation block into its own fold's statistics). By default
the K folds' models train in one model instead (``kfold_in_one_model``): the
same arithmetic per fold, without the overhead of the chapter's tiny steps
(121,200 of them at batch 1 for 100 epochs, 606,000 for the chapter's 500);
``--kfold-loop chapter`` runs the chapter's loop. Both report the same
figures (per fold, their mean, the curve); their random starting weights
and shuffles differ, so the numbers differ within run-to-run noise.
"""

import argparse
import os
import time

import numpy as np

from pyimagesearch.cli import check_chapter_paths, fit_verbosity, positive_int, run_main
from pyimagesearch.errors import UserError

KFOLD_LOOPS = ("one-model", "chapter")


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
    ap.add_argument("--kfold-loop", choices=KFOLD_LOOPS, default="one-model",
                    help="'chapter' trains the folds' models one after the other, as "
                         "the chapter's loop; 'one-model' (default) trains them in "
                         "one model, the same arithmetic, faster")
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
    check_chapter_paths(args.dataset, args.output, args.tensorboard)
    return args


def build_model(keras, name=None):
    """The chapter's ``build_model()``: a price from the features, compiled
    with rmsprop, the mse loss and the mae metric."""
    model = keras.Sequential([
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(1),  # no activation: a scalar regression
    ], name=name)
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    return model


def standardise(trainData, *others):
    """``trainData`` and ``others`` standardised with the mean and standard
    deviation of ``trainData`` alone (a feature that never varies is left
    centred, not divided by zero)."""
    mean = trainData.mean(axis=0)
    std = trainData.std(axis=0)
    std[std == 0] = 1.0
    return [((d - mean) / std).astype("float32") for d in (trainData, *others)]


def kfold_chapter_loop(keras, trainData, trainTargets, k, numEpochs, batchSize, logDir=None):
    """The chapter's K-fold validation, fold after fold, on the training
    houses as loaded. Returns each fold's validation MAE and its validation
    MAE per epoch; with ``logDir``, fold i's TensorBoard logs go to
    ``logDir/fold<i>``."""
    numValSamples = len(trainData) // k
    allScores = []
    allMAEHistories = []
    for i in range(k):
        print(f"[INFO] processing fold #{i + 1} of {k}...")
        # the i-th block of len // k samples validates...
        valData = trainData[i * numValSamples:(i + 1) * numValSamples]
        valTargets = trainTargets[i * numValSamples:(i + 1) * numValSamples]
        # ...and all the others train
        partialTrainData = np.concatenate(
            [trainData[:i * numValSamples], trainData[(i + 1) * numValSamples:]], axis=0)
        partialTrainTargets = np.concatenate(
            [trainTargets[:i * numValSamples], trainTargets[(i + 1) * numValSamples:]], axis=0)
        # standardised with the mean and deviation of the blocks it trains
        # on: the validation block is this fold's test data, never looked at
        (partialTrainData, valData) = standardise(partialTrainData, valData)

        # a fresh model, trained on the others, evaluated on the i-th block
        model = build_model(keras)
        logs = ([keras.callbacks.TensorBoard(os.path.join(logDir, f"fold{i + 1}"))]
                if logDir else [])
        history = model.fit(partialTrainData, partialTrainTargets,
                            validation_data=(valData, valTargets), epochs=numEpochs,
                            batch_size=batchSize, verbose=0, callbacks=logs)
        (valMSE, valMAE) = model.evaluate(valData, valTargets, verbose=0)
        allScores.append(valMAE)
        allMAEHistories.append(history.history["val_mae"])
    return (allScores, allMAEHistories)


# --------------------------------------------------------------------------
# The same K-fold validation, the K folds' models in one model


def kfold_splits(data, targets, k):
    """The chapter's folds: fold i validates on the i-th block of len // k
    samples and trains on everything else, both standardised with the
    statistics of what it trains on."""
    n = len(data) // k
    for i in range(k):
        val = slice(i * n, (i + 1) * n)
        (train, valData) = standardise(np.concatenate([data[:i * n], data[(i + 1) * n:]]),
                                       data[val])
        yield (train, np.concatenate([targets[:i * n], targets[(i + 1) * n:]]),
               valData, targets[val])


def folds_in_one_model(keras, k, features, stepsPerExecution):
    """K of the chapter's models in one, fold i's named ``fold<i>``: its own
    input, its own output and mse loss, no shared weights. Compiled so that
    one graph call runs ``stepsPerExecution`` steps for all folds and XLA
    fuses each step's small operations."""
    names = [f"fold{i}" for i in range(1, k + 1)]
    inputs = [keras.Input(shape=(features,), name=f"{n}_input") for n in names]
    outputs = [build_model(keras, name=n)(x) for (x, n) in zip(inputs, names)]
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss={n: "mse" for n in names},
                  metrics={n: ["mae"] for n in names},
                  steps_per_execution=stepsPerExecution, jit_compile=True)
    return (model, names)


def kfold_in_one_model(keras, trainData, trainTargets, k, numEpochs, batchSize, logDir=None):
    """``kfold_chapter_loop`` with the K folds' models trained in one model.

    Fold i's network sees its own training example at every step (batch
    ``batchSize`` per fold) and its loss is its own mse, so its weights and
    rmsprop state follow exactly the chapter's arithmetic. What is saved is
    the overhead of the chapter's many tiny steps: one graph call runs a
    whole epoch of steps for all folds, XLA fuses each step, the examples
    come from an in-memory dataset and each epoch's validation is one batch
    per fold. Returns what ``kfold_chapter_loop`` returns (a fold's MAE:
    its validation MAE after the last epoch, what ``evaluate`` gives).
    """
    import tensorflow as tf

    folds = list(kfold_splits(trainData, trainTargets, k))
    stepsPerEpoch = -(-len(folds[0][0]) // batchSize)
    (model, names) = folds_in_one_model(keras, k, trainData.shape[1], stepsPerEpoch)
    # the training examples, reshuffled every epoch (one permutation for all
    # folds: each fold still sees its own examples in a new order each epoch)
    train = tf.data.Dataset.from_tensor_slices(
        (tuple(f[0] for f in folds), tuple(f[1] for f in folds))).cache()
    train = train.shuffle(len(folds[0][0])).batch(batchSize)
    val = tf.data.Dataset.from_tensor_slices(
        (tuple(f[2] for f in folds), tuple(f[3] for f in folds))).batch(len(folds[0][2]))
    logs = [keras.callbacks.TensorBoard(logDir)] if logDir else []
    history = model.fit(train, epochs=numEpochs, validation_data=val.cache(), shuffle=False,
                        verbose=fit_verbosity(), callbacks=logs)
    maeHistories = [history.history[f"val_{n}_mae"] for n in names]
    return ([h[-1] for h in maeHistories], maeHistories)


# --------------------------------------------------------------------------


def main(argv=None):
    args = parse_args(argv)

    from pyimagesearch.chapter3_datasets import keras_download, load_boston_npz
    from pyimagesearch.plots import plot_kfold_curve, smooth_curve
    from pyimagesearch.storage import save_results

    # load the 404 training and 102 test suburbs (13 features, prices in $1000s)
    print("[INFO] loading Boston housing data...")
    if args.dataset:
        ((trainData, trainTargets), (testData, testTargets)) = load_boston_npz(args.dataset)
    else:
        ((trainData, trainTargets), (testData, testTargets)) = keras_download("boston_housing")
    if len(trainData) // args.folds < 1:
        raise UserError(f"--folds {args.folds} is more than the {len(trainData)} "
                        f"training houses")
    print(f"[INFO] {len(trainData)} training / {len(testData)} test houses, "
          f"{trainData.shape[1]} features; first training row: "
          f"{np.array2string(trainData[0], precision=5, max_line_width=200)}")

    # TensorFlow loads only now, once the flags and the data are known
    # to be good
    import keras

    keras.utils.set_random_seed(args.seed)

    # standardise every feature with the mean and standard deviation of the
    # *training* data (the test data too: it must never be looked at); the
    # K-fold validation below standardises each fold with its own training
    # blocks' statistics instead, so it is given the houses as loaded
    rawTrainData = trainData
    (trainData, testData) = standardise(trainData, testData)

    # K-fold validation: K fresh models, each validated on its own block of
    # the training houses (the chapter's loop, or its models in one model)
    print(f"[INFO] {args.folds}-fold validation, {args.kfold_epochs} epochs at batch "
          f"{args.kfold_batch_size} per fold...")
    kfold = kfold_chapter_loop if args.kfold_loop == "chapter" else kfold_in_one_model
    logDir = os.path.join(args.tensorboard, "kfold") if args.tensorboard else None
    start = time.time()
    (foldMAE, maeHistories) = kfold(keras, rawTrainData, trainTargets, args.folds,
                                    args.kfold_epochs, args.kfold_batch_size, logDir)
    seconds = time.time() - start
    print(f"[INFO] K-fold training took {seconds:.1f} s")

    # the validation MAE of each fold, and their mean
    foldMAE = [float(m) for m in foldMAE]
    print("[INFO] validation MAE per fold: " + ", ".join(f"{m:.2f}" for m in foldMAE))
    print(f"[INFO] K-fold validation MAE: {np.mean(foldMAE):.2f}")

    # the per-epoch validation MAE averaged over the folds, and smoothed
    # (exponential moving average 0.9, the first 10 epochs dropped): where
    # it stops improving is the number of epochs to train for
    averageMAE = np.mean(maeHistories, axis=0)
    if len(averageMAE) > 10:
        (smoothEpochs, smoothed) = smooth_curve(averageMAE)
        bestEpoch = int(smoothEpochs[np.argmin(smoothed)])
    else:
        (smoothed, bestEpoch) = (np.array([]), int(np.argmin(averageMAE)) + 1)
    print(f"[INFO] smoothed validation MAE stops improving after epoch {bestEpoch}")

    # train a final model on all the training data and measure it on the test data
    print(f"[INFO] training the final model, {args.epochs} epochs at batch "
          f"{args.batch_size}...")
    model = build_model(keras)
    logs = ([keras.callbacks.TensorBoard(os.path.join(args.tensorboard, "final"))]
            if args.tensorboard else [])
    model.fit(trainData, trainTargets, epochs=args.epochs, batch_size=args.batch_size,
              verbose=fit_verbosity(), callbacks=logs)
    (testMSE, testMAE) = model.evaluate(testData, testTargets, verbose=0)

    # a few predicted prices beside the real ones
    preds = model.predict(testData[:5], verbose=0)[:, 0]
    for (p, t) in zip(preds, testTargets[:5]):
        print(f"[INFO] predicted ${p * 1000:,.0f}, actual ${t * 1000:,.0f}")

    # the K-fold curve, written with the results once the run has succeeded
    # (an interrupted run leaves the last run's picture as it was)
    plot_kfold_curve(averageMAE, smoothed, bestEpoch, args.folds,
                     os.path.join(args.output, "kfold_mae.png"))

    save_results(os.path.join(args.output, "results.json"), {
        "folds": args.folds, "kfold_epochs": args.kfold_epochs,
        "kfold_batch_size": args.kfold_batch_size, "kfold_loop": args.kfold_loop,
        "seed": args.seed, "kfold_seconds": seconds,
        "fold_val_mae": foldMAE, "kfold_val_mae": float(np.mean(foldMAE)),
        "val_mae_per_epoch": averageMAE.tolist(), "smoothed_val_mae": smoothed.tolist(),
        "stops_improving_epoch": bestEpoch, "test_mse": testMSE, "test_mae": testMAE})
    print(f"[INFO] test MAE: {testMAE:.2f}")


if __name__ == "__main__":
    run_main(main)
