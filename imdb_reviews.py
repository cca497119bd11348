"""Classify movie reviews as positive or negative (Deep Learning with Python, ch. 3).

    python imdb_reviews.py --dataset aclImdb/
    python imdb_reviews.py --dataset imdb.npz

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
                    help="the original release's folder (aclImdb/ with train|test/neg|pos) "
                         "or Keras' imdb.npz; default: keras.datasets.imdb.load_data()")
    add_chapter_flags(ap, "reviews", validation_size=10000, epochs=4, output="output/imdb")
    ap.add_argument("--hidden-layers", type=int, choices=[1, 2, 3], default=2,
                    help="hidden Dense layers (default: 2)")
    ap.add_argument("--units", type=positive_int, default=16,
                    help="units per hidden layer (default: 16)")
    ap.add_argument("--activation", choices=["relu", "tanh"], default="relu",
                    help="activation of the hidden layers (default: relu)")
    ap.add_argument("--loss", choices=["binary_crossentropy", "mse"],
                    default="binary_crossentropy", help="loss (default: binary_crossentropy)")
    args = ap.parse_args(argv)
    check_chapter_paths(args.dataset, args.output, args.tensorboard)
    return args


def build_model(keras, args):
    """The chapter's network: hidden Dense layers, one sigmoid output."""
    model = keras.Sequential([keras.Input(shape=(args.num_words,))])
    for _ in range(args.hidden_layers):
        model.add(keras.layers.Dense(args.units, activation=args.activation))
    model.add(keras.layers.Dense(1, activation="sigmoid"))
    return model


def main(argv=None):
    args = parse_args(argv)

    from pyimagesearch.chapter3_datasets import load_chapter_text, multi_hot
    from pyimagesearch.plots import plot_history
    from pyimagesearch.storage import save_results

    # load the reviews as lists of word indices (the num_words most frequent words)
    print("[INFO] loading IMDB reviews...")
    data = load_chapter_text("imdb", args.dataset, args.num_words)
    print(f"[INFO] {len(data.train_seqs)} training / {len(data.test_seqs)} test reviews")
    if len(data.train_seqs) <= args.validation_size:
        raise UserError(f"--validation-size {args.validation_size} leaves no training "
                        f"review out of {len(data.train_seqs)}")
    print(f"[INFO] first review, decoded: {data.decode(data.train_seqs[0])[:300]}")
    print(f"[INFO] its label: {data.class_names[int(data.train_labels[0])]}")

    # TensorFlow loads only now, once the flags and the data are known
    # to be good
    import keras

    keras.utils.set_random_seed(args.seed)

    # turn each review into a multi-hot vector: 1.0 for every word it uses
    print("[INFO] vectorizing...")
    xTrain = multi_hot(data.train_seqs, args.num_words)
    xTest = multi_hot(data.test_seqs, args.num_words)
    yTrain = data.train_labels.astype("float32")
    yTest = data.test_labels.astype("float32")

    # first run: hold out the first reviews and watch the validation loss
    print(f"[INFO] training with {args.validation_size} reviews held out, "
          f"{args.validation_epochs} epochs at batch {args.batch_size}...")
    (xVal, partialX) = (xTrain[:args.validation_size], xTrain[args.validation_size:])
    (yVal, partialY) = (yTrain[:args.validation_size], yTrain[args.validation_size:])
    model = build_model(keras, args)
    model.compile(optimizer="rmsprop", loss=args.loss, metrics=["accuracy"])
    # with --tensorboard DIR, TensorBoard logs this run in DIR/holdout
    logs = ([keras.callbacks.TensorBoard(os.path.join(args.tensorboard, "holdout"))]
            if args.tensorboard else [])
    history = model.fit(partialX, partialY, epochs=args.validation_epochs,
                        batch_size=args.batch_size, validation_data=(xVal, yVal),
                        verbose=fit_verbosity(), callbacks=logs)

    # the epoch of the lowest validation loss is where overfitting starts
    # (the curves are drawn at the end)
    h = history.history
    bestEpoch = int(np.argmin(h["val_loss"])) + 1
    print(f"[INFO] lowest validation loss at epoch {bestEpoch}: "
          f"{h['val_loss'][bestEpoch - 1]:.4f} (accuracy {h['val_accuracy'][bestEpoch - 1]:.4f})")

    # a fresh model trained on all training reviews for --epochs, then tested
    print(f"[INFO] training a fresh model on all {len(xTrain)} reviews, "
          f"{args.epochs} epochs at batch {args.batch_size}...")
    model = build_model(keras, args)
    model.compile(optimizer="rmsprop", loss=args.loss, metrics=["accuracy"])
    # with --tensorboard DIR, TensorBoard logs this run in DIR/final
    logs = ([keras.callbacks.TensorBoard(os.path.join(args.tensorboard, "final"))]
            if args.tensorboard else [])
    model.fit(xTrain, yTrain, epochs=args.epochs, batch_size=args.batch_size,
              verbose=fit_verbosity(), callbacks=logs)
    (testLoss, testAccuracy) = model.evaluate(xTest, yTest, batch_size=args.batch_size,
                                              verbose=0)
    print(f"[INFO] test loss: {testLoss:.4f}")

    # the probability of a positive review, for a few test reviews
    probs = model.predict(xTest[:5], verbose=0)[:, 0]
    for (p, y) in zip(probs, yTest[:5]):
        print(f"[INFO] P(positive) = {p:.4f} (actual: {data.class_names[int(y)]})")

    # the first run's training and validation curves, written with the
    # results once the run has succeeded (an interrupted run leaves the
    # last run's pictures as they were)
    plot_history(h, os.path.join(args.output, "imdb_loss.png"),
                 "Training and validation loss", {"loss": "train_loss", "val_loss": "val_loss"})
    plot_history(h, os.path.join(args.output, "imdb_accuracy.png"),
                 "Training and validation accuracy",
                 {"accuracy": "train_acc", "val_accuracy": "val_acc"})

    save_results(os.path.join(args.output, "results.json"), {
        "seed": args.seed, "train_reviews": len(xTrain), "test_reviews": len(xTest),
        "history": {k: [float(v) for v in vals] for (k, vals) in h.items()},
        "lowest_val_loss_epoch": bestEpoch, "epochs": args.epochs,
        "test_loss": testLoss, "test_accuracy": testAccuracy})
    print(f"[INFO] test accuracy: {testAccuracy:.4f}")


if __name__ == "__main__":
    run_main(main)
