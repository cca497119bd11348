"""Train a text classifier on your own folders of .txt files (Deep Learning with Python, ch. 3).

    python train_text.py --dataset aclImdb/train --model output/text.keras --plot output/text.png

--dataset holds one sub-folder of .txt files per class (aclImdb/train has
pos/ and neg/). The saved model takes raw strings: its first layer is the
TextVectorization that turns a text into the chapter's multi-hot vector.
The class names go beside it for predict_text.py (M_labels.pickle: a
pickled LabelBinarizer, the label file of the posts).
"""

import argparse
import os

import numpy as np

from pyimagesearch.cli import (existing_folder, fit_verbosity, fraction, positive_int,
                               run_main, word_count)
from pyimagesearch.errors import UserError
from pyimagesearch.storage import beside, ensure_writable_folder, model_file
from pyimagesearch.textfolders import load_text_folder, make_vectorizer, vectorize_texts


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", required=True, type=existing_folder,
                    help="folder with one sub-folder of .txt files per class")
    ap.add_argument("--model", required=True, help="where to save the model (.keras)")
    ap.add_argument("--plot", required=True,
                    help="where to save the training curves (.png); the confusion "
                         "matrix goes beside it (<plot>_confusion.png)")
    ap.add_argument("--num-words", type=word_count, default=10000,
                    help="vocabulary: the N most frequent training words (default: 10000)")
    ap.add_argument("--units", type=positive_int, default=None,
                    help="units per hidden layer (default: 16 for two classes, "
                         "64 for more, as the chapter)")
    ap.add_argument("--epochs", type=positive_int, default=4,
                    help="training epochs (default: 4, the chapter's IMDB model)")
    ap.add_argument("--batch-size", type=positive_int, default=512,
                    help="batch size (default: 512)")
    ap.add_argument("--test-size", type=fraction, default=0.25,
                    help="fraction of the texts held out for testing (default: 0.25)")
    ap.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    args = ap.parse_args(argv)
    if not args.plot.lower().endswith(".png"):
        raise UserError(f"--plot {args.plot!r} must end in .png")
    for (flag, path) in (("--model", model_file(args.model)), ("--plot", args.plot)):
        if os.path.isdir(path):
            raise UserError(f"{flag} {path!r} is a folder, expected a file name")
        ensure_writable_folder(os.path.dirname(path), flag)
    return args


def main(argv=None):
    args = parse_args(argv)

    # read the texts before TensorFlow loads: a bad folder fails in a second
    print("[INFO] loading texts...")
    (texts, labels, classNames) = load_text_folder(args.dataset)
    counts = ", ".join(f"{n}: {np.sum(labels == i)}" for (i, n) in enumerate(classNames))
    print(f"[INFO] {len(texts)} texts in {len(classNames)} classes ({counts})")

    # TensorFlow loads only once the flags and the data are known to be good
    import keras
    from sklearn.metrics import classification_report, confusion_matrix
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer

    from pyimagesearch.plots import plot_confusion_matrix, plot_history
    from pyimagesearch.storage import save_labels, save_model

    keras.utils.set_random_seed(args.seed)

    # 75% of the texts for training, 25% for testing, every class in both
    try:
        (trainTexts, testTexts, trainY, testY) = train_test_split(
            texts, labels, test_size=args.test_size, stratify=labels, random_state=args.seed)
    except ValueError as error:
        raise UserError(f"--dataset {args.dataset!r}: too few texts per class to split "
                        f"({error})") from None

    # the vocabulary of the training texts; each text becomes a multi-hot
    # vector (1.0 for every vocabulary word it uses)
    print("[INFO] building the vocabulary and vectorizing...")
    adapted = make_vectorizer(args.num_words, "multi_hot")
    adapted.adapt(np.array(trainTexts, dtype=object), batch_size=512)
    vocabulary = [str(w) for w in adapted.get_vocabulary()]
    # the same layer with its vocabulary in its configuration, so a saved
    # copy of the model carries it
    vectorizer = keras.layers.TextVectorization(max_tokens=args.num_words,
                                                output_mode="multi_hot",
                                                vocabulary=vocabulary)
    trainX = vectorize_texts(vectorizer, trainTexts)
    testX = vectorize_texts(vectorizer, testTexts)
    print(f"[INFO] vocabulary: {len(vocabulary)} words")

    # the chapter's network: two hidden relu layers, then sigmoid for two
    # classes (binary cross-entropy) or softmax for more
    binary = len(classNames) == 2
    units = args.units or (16 if binary else 64)
    model = keras.Sequential([
        keras.Input(shape=(trainX.shape[1],)),
        keras.layers.Dense(units, activation="relu"),
        keras.layers.Dense(units, activation="relu"),
        keras.layers.Dense(1 if binary else len(classNames),
                           activation="sigmoid" if binary else "softmax"),
    ])
    loss = "binary_crossentropy" if binary else "sparse_categorical_crossentropy"
    model.compile(optimizer="rmsprop", loss=loss, metrics=["accuracy"])

    # train, watching the held-out texts
    print(f"[INFO] training {args.epochs} epochs at batch {args.batch_size}...")
    history = model.fit(trainX, trainY, epochs=args.epochs, batch_size=args.batch_size,
                        validation_data=(testX, testY), verbose=fit_verbosity())

    # evaluate on the held-out texts
    print("[INFO] evaluating...")
    probs = model.predict(testX, batch_size=args.batch_size, verbose=0)
    predY = (probs[:, 0] > 0.5).astype("int64") if binary else probs.argmax(axis=1)
    print(classification_report(testY, predY, labels=range(len(classNames)),
                                target_names=classNames, zero_division=0))
    matrix = confusion_matrix(testY, predY, labels=range(len(classNames)))

    # the end-to-end model: raw strings in, class probabilities out
    inputs = keras.Input(shape=(), dtype="string")
    endToEnd = keras.Model(inputs, model(vectorizer(inputs)))

    # save the curves, the confusion matrix, the model and the class names
    print("[INFO] saving...")
    plot_history(history.history, args.plot, "Training loss and accuracy",
                 {"loss": "train_loss", "val_loss": "val_loss",
                  "accuracy": "train_acc", "val_accuracy": "val_acc"})
    confusionPath = beside(args.plot, "_confusion.png")
    plot_confusion_matrix(matrix, classNames, confusionPath, "Confusion matrix (held-out texts)")
    modelPath = save_model(endToEnd, args.model)
    # the class names as the posts keep them, a LabelBinarizer fitted on
    # them: its classes_ are sorted, the order load_text_folder numbers the
    # classes in, so class k is the model's output k (with two classes the
    # sigmoid gives the probability of the second)
    lb = LabelBinarizer().fit(classNames)
    labelsPath = beside(modelPath, "_labels.pickle")
    save_labels(lb, labelsPath)
    print(f"[INFO] model: {modelPath}; class names: {labelsPath}; "
          f"plots: {args.plot}, {confusionPath}")
    print(f"[INFO] test accuracy: {np.mean(predY == testY):.4f}")


if __name__ == "__main__":
    run_main(main)
