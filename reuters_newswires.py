"""Classify newswires by topic (Deep Learning with Python, ch. 3).

    python reuters_newswires.py --dataset reuters21578/
    python reuters_newswires.py --dataset reuters.npz

Without --dataset, Keras' own copy is loaded (downloaded once by Keras).
"""

import argparse
import os

import numpy as np

from pyimagesearch.cli import (add_chapter_flags, check_chapter_paths, fit_verbosity,
                               positive_int, run_main)
from pyimagesearch.errors import UserError


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default=None,
                    help="the Reuters-21578 folder (reut2-*.sgm) or Keras' reuters.npz; "
                         "default: keras.datasets.reuters.load_data()")
    add_chapter_flags(ap, "newswires", validationSize=1000, epochs=9, output="output/reuters")
    ap.add_argument("--units", type=positive_int, default=64,
                    help="units of the middle layer (default: 64; 4 shows the "
                         "information bottleneck)")
    ap.add_argument("--labels", choices=["onehot", "sparse"], default="onehot",
                    help="one-hot labels with categorical_crossentropy, or integer "
                         "labels with sparse_categorical_crossentropy (default: onehot)")
    args = ap.parse_args(argv)
    check_chapter_paths(args.dataset, args.output, args.tensorboard)
    return args


def build_model(keras, args, topics):
    """The chapter's network: 64 units, a middle layer of --units, and a
    softmax over the topics."""
    return keras.Sequential([
        keras.Input(shape=(args.num_words,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(args.units, activation="relu"),
        keras.layers.Dense(topics, activation="softmax"),
    ])


def main(argv=None):
    args = parse_args(argv)

    from pyimagesearch.chapter3_datasets import load_chapter_text, multi_hot
    from pyimagesearch.plots import plot_history
    from pyimagesearch.storage import save_results

    # load the newswires as lists of word indices, each with one topic
    print("[INFO] loading Reuters newswires...")
    data = load_chapter_text("reuters", args.dataset, args.num_words)
    topics = len(data.classNames)
    print(f"[INFO] {len(data.trainSeqs) + len(data.testSeqs)} newswires, {topics} topics: "
          f"{len(data.trainSeqs)} training / {len(data.testSeqs)} test")
    if len(data.trainSeqs) <= args.validation_size:
        raise UserError(f"--validation-size {args.validation_size} leaves no training "
                        f"newswire out of {len(data.trainSeqs)}")
    print(f"[INFO] first newswire, decoded: {data.decode(data.trainSeqs[0])[:300]}")
    print(f"[INFO] its topic: {data.classNames[int(data.trainLabels[0])]}")

    # TensorFlow loads only now, once the flags and the data are known
    # to be good
    import keras

    keras.utils.set_random_seed(args.seed)

    # multi-hot vectors; one-hot labels (categorical cross-entropy) or the
    # integers themselves (sparse categorical cross-entropy: the same loss)
    print("[INFO] vectorizing...")
    xTrain = multi_hot(data.trainSeqs, args.num_words)
    xTest = multi_hot(data.testSeqs, args.num_words)
    if args.labels == "onehot":
        yTrain = keras.utils.to_categorical(data.trainLabels, topics)
        yTest = keras.utils.to_categorical(data.testLabels, topics)
        loss = "categorical_crossentropy"
    else:
        (yTrain, yTest) = (data.trainLabels, data.testLabels)
        loss = "sparse_categorical_crossentropy"

    # first run: hold out the first newswires and watch the validation loss
    print(f"[INFO] training with {args.validation_size} newswires held out, "
          f"{args.validation_epochs} epochs at batch {args.batch_size}...")
    (xVal, partialX) = (xTrain[:args.validation_size], xTrain[args.validation_size:])
    (yVal, partialY) = (yTrain[:args.validation_size], yTrain[args.validation_size:])
    model = build_model(keras, args, topics)
    model.compile(optimizer="rmsprop", loss=loss, metrics=["accuracy"])
    # with --tensorboard DIR, TensorBoard logs this run in DIR/holdout
    logs = ([keras.callbacks.TensorBoard(os.path.join(args.tensorboard, "holdout"))]
            if args.tensorboard else [])
    history = model.fit(partialX, partialY, epochs=args.validation_epochs,
                        batch_size=args.batch_size, validation_data=(xVal, yVal),
                        verbose=fit_verbosity(), callbacks=logs)

    # where overfitting starts (the curves are drawn at the end)
    h = history.history
    bestEpoch = int(np.argmin(h["val_loss"])) + 1
    print(f"[INFO] lowest validation loss at epoch {bestEpoch}: "
          f"{h['val_loss'][bestEpoch - 1]:.4f} (accuracy {h['val_accuracy'][bestEpoch - 1]:.4f})")

    # a fresh model trained on all training newswires for --epochs, then tested
    print(f"[INFO] training a fresh model on all {len(xTrain)} newswires, "
          f"{args.epochs} epochs at batch {args.batch_size}...")
    model = build_model(keras, args, topics)
    model.compile(optimizer="rmsprop", loss=loss, metrics=["accuracy"])
    # with --tensorboard DIR, TensorBoard logs this run in DIR/final
    logs = ([keras.callbacks.TensorBoard(os.path.join(args.tensorboard, "final"))]
            if args.tensorboard else [])
    model.fit(xTrain, yTrain, epochs=args.epochs, batch_size=args.batch_size,
              verbose=fit_verbosity(), callbacks=logs)
    (testLoss, testAccuracy) = model.evaluate(xTest, yTest, batch_size=args.batch_size,
                                              verbose=0)

    # what a random classifier scores: the test labels against a shuffled copy
    shuffled = np.random.RandomState(args.seed).permutation(data.testLabels)
    randomAccuracy = float(np.mean(shuffled == data.testLabels))
    print(f"[INFO] test loss: {testLoss:.4f}; a random classifier's accuracy: "
          f"{randomAccuracy:.4f}")

    # the predicted topic of a few test newswires: 'topics' probabilities summing to 1
    probs = model.predict(xTest[:5], verbose=0)
    for (p, y) in zip(probs, data.testLabels[:5]):
        print(f"[INFO] predicted {data.classNames[int(np.argmax(p))]} "
              f"({p.max() * 100:.2f}%, probabilities sum to {p.sum():.3f}), "
              f"actual {data.classNames[int(y)]}")

    # the first run's training and validation curves, written with the
    # results once the run has succeeded (an interrupted run leaves the
    # last run's pictures as they were)
    plot_history(h, os.path.join(args.output, "reuters_loss.png"),
                 "Training and validation loss", {"loss": "train_loss", "val_loss": "val_loss"})
    plot_history(h, os.path.join(args.output, "reuters_accuracy.png"),
                 "Training and validation accuracy",
                 {"accuracy": "train_acc", "val_accuracy": "val_acc"})

    save_results(os.path.join(args.output, "results.json"), {
        "seed": args.seed, "topics": data.classNames, "train_newswires": len(xTrain),
        "test_newswires": len(xTest), "labels": args.labels, "units": args.units,
        "history": {k: [float(v) for v in vals] for (k, vals) in h.items()},
        "lowest_val_loss_epoch": bestEpoch, "epochs": args.epochs,
        "test_loss": testLoss, "test_accuracy": testAccuracy,
        "random_classifier_accuracy": randomAccuracy})
    print(f"[INFO] test accuracy: {testAccuracy:.4f}")


if __name__ == "__main__":
    run_main(main)
