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
    add_chapter_flags(ap, "newswires", validation_size=1000, epochs=9, output="output/reuters")
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
    topics = len(data.class_names)
    print(f"[INFO] {len(data.train_seqs) + len(data.test_seqs)} newswires, {topics} topics: "
          f"{len(data.train_seqs)} training / {len(data.test_seqs)} test")
    if len(data.train_seqs) <= args.validation_size:
        raise UserError(f"--validation-size {args.validation_size} leaves no training "
                        f"newswire out of {len(data.train_seqs)}")
    print(f"[INFO] first newswire, decoded: {data.decode(data.train_seqs[0])[:300]}")
    print(f"[INFO] its topic: {data.class_names[int(data.train_labels[0])]}")

    # TensorFlow loads only now, once the flags and the data are known
    # to be good
    import keras

    keras.utils.set_random_seed(args.seed)

    # multi-hot vectors; one-hot labels (categorical cross-entropy) or the
    # integers themselves (sparse categorical cross-entropy: the same loss)
    print("[INFO] vectorizing...")
    xTrain = multi_hot(data.train_seqs, args.num_words)
    xTest = multi_hot(data.test_seqs, args.num_words)
    if args.labels == "onehot":
        yTrain = keras.utils.to_categorical(data.train_labels, topics)
        yTest = keras.utils.to_categorical(data.test_labels, topics)
        loss = "categorical_crossentropy"
    else:
        (yTrain, yTest) = (data.train_labels, data.test_labels)
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
    shuffled = np.random.RandomState(args.seed).permutation(data.test_labels)
    randomAccuracy = float(np.mean(shuffled == data.test_labels))
    print(f"[INFO] test loss: {testLoss:.4f}; a random classifier's accuracy: "
          f"{randomAccuracy:.4f}")

    # the predicted topic of a few test newswires: 'topics' probabilities summing to 1
    probs = model.predict(xTest[:5], verbose=0)
    for (p, y) in zip(probs, data.test_labels[:5]):
        print(f"[INFO] predicted {data.class_names[int(np.argmax(p))]} "
              f"({p.max() * 100:.2f}%, probabilities sum to {p.sum():.3f}), "
              f"actual {data.class_names[int(y)]}")

    # the first run's training and validation curves, written with the
    # results once the run has succeeded (an interrupted run leaves the
    # last run's pictures as they were)
    plot_history(h, os.path.join(args.output, "reuters_loss.png"),
                 "Training and validation loss", {"loss": "train_loss", "val_loss": "val_loss"})
    plot_history(h, os.path.join(args.output, "reuters_accuracy.png"),
                 "Training and validation accuracy",
                 {"accuracy": "train_acc", "val_accuracy": "val_acc"})

    save_results(os.path.join(args.output, "results.json"), {
        "seed": args.seed, "topics": data.class_names, "train_newswires": len(xTrain),
        "test_newswires": len(xTest), "labels": args.labels, "units": args.units,
        "history": {k: [float(v) for v in vals] for (k, vals) in h.items()},
        "lowest_val_loss_epoch": bestEpoch, "epochs": args.epochs,
        "test_loss": testLoss, "test_accuracy": testAccuracy,
        "random_classifier_accuracy": randomAccuracy})
    print(f"[INFO] test accuracy: {testAccuracy:.4f}")


if __name__ == "__main__":
    run_main(main)
