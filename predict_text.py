"""Classify raw text with a model saved by train_text.py.

    python predict_text.py --model output/text.keras --text "A wonderful film."
    python predict_text.py --model output/text.keras --file review.txt
    python predict_text.py --model output/text.keras --folder reviews/
    python predict_text.py --model output/text.keras --evaluate aclImdb/test

Prints "[INFO] <class>: xx.xx%" per text; --evaluate takes a folder with one
sub-folder per class and prints the accuracy.
"""

import argparse
import os

import numpy as np

from pyimagesearch.cli import existing_folder, run_main, warn
from pyimagesearch.errors import UserError
from pyimagesearch.storage import beside, find_model, load_labels, model_file, model_inputs
from pyimagesearch.textfolders import list_text_files, load_text_folder, read_text_file


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a model saved by train_text.py")
    ap.add_argument("--labels", default=None,
                    help="its class names (default: beside the model, M_labels.pickle)")
    ap.add_argument("--text", action="append", default=[], help="a text to classify "
                    "(may be repeated)")
    ap.add_argument("--file", action="append", default=[], help="a .txt file to classify "
                    "(may be repeated)")
    ap.add_argument("--folder", default=None, help="classify every .txt file in FOLDER")
    ap.add_argument("--evaluate", default=None,
                    type=lambda p: existing_folder(p, "--evaluate"),
                    help="a folder with one sub-folder of .txt files per class: "
                         "print the accuracy")
    ap.add_argument("--batch-size", type=int, default=256, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if not (args.text or args.file or args.folder or args.evaluate):
        raise UserError("nothing to classify: give --text, --file, --folder or --evaluate")
    for t in args.text:
        if not t.strip():
            raise UserError("--text is empty")
    for f in args.file:
        if not os.path.isfile(f):
            raise UserError(f"--file {f!r} does not exist")
    if not any(os.path.isfile(p) for p in (args.model, model_file(args.model))):
        raise UserError(f"--model {args.model!r} not found")
    return args


def main(argv=None):
    args = parse_args(argv)
    classNames = load_labels(args.labels or beside(model_file(args.model), "_labels.pickle"),
                             "--labels")

    # the texts to classify, each with where it came from
    (texts, sources) = ([t for t in args.text], [repr(t[:40]) for t in args.text])
    files = list(args.file) + (list_text_files(args.folder) if args.folder else [])
    for path in files:
        (content, problem) = read_text_file(path)
        if problem:
            warn(f"skipped {path}: {problem}")
            continue
        texts.append(content)
        sources.append(path)
    if args.evaluate:
        (evalTexts, evalLabels, evalNames) = load_text_folder(
            args.evaluate, "--evaluate", min_classes=1)
        unknown = [n for n in evalNames if n not in classNames]
        if unknown:
            raise UserError(f"--evaluate {args.evaluate!r}: class {unknown[0]!r} is not "
                            f"one of the model's classes {classNames}")
    if not texts and not args.evaluate:
        raise UserError("no readable text to classify")

    # a text model takes raw strings: checked in its config, before TensorFlow loads
    (found, config) = find_model(args.model)
    inputs = model_inputs(config)
    if inputs and (len(inputs) != 1 or inputs[0][1] != "string"):
        shapes = ", ".join(f"{tuple(shape[1:])} {dtype}" for (shape, dtype) in inputs)
        raise UserError(f"--model {found!r} takes {shapes} inputs, not text: give a model "
                        f"saved by train_text.py")

    # TensorFlow loads only once the flags and the inputs are known to be good
    from pyimagesearch.storage import load_model

    print("[INFO] loading the model...")
    model = load_model(found)
    outputs = model.output_shape[-1]
    if outputs != (1 if len(classNames) == 2 else len(classNames)):
        raise UserError(f"--labels: {len(classNames)} class names do not fit a model "
                        f"with {outputs} outputs")

    # class probabilities of each text: the model takes raw strings
    def classify(batch):
        probs = model.predict(np.array(batch, dtype=object), batch_size=args.batch_size,
                              verbose=0)
        return np.column_stack([1 - probs[:, 0], probs[:, 0]]) if outputs == 1 else probs

    if texts:
        for (probs, source) in zip(classify(texts), sources):
            k = int(np.argmax(probs))
            print(f"[INFO] {classNames[k]}: {probs[k] * 100:.2f}%  ({source})")

    if args.evaluate:
        print(f"[INFO] classifying {len(evalTexts)} texts of {args.evaluate}...")
        predicted = classify(evalTexts).argmax(axis=1)
        truth = np.array([classNames.index(evalNames[i]) for i in evalLabels])
        for (k, name) in enumerate(classNames):
            if np.any(truth == k):
                print(f"[INFO] {name}: {np.mean(predicted[truth == k] == k):.4f} of "
                      f"{np.sum(truth == k)} recognised")
        print(f"[INFO] accuracy: {np.mean(predicted == truth):.4f}")


if __name__ == "__main__":
    run_main(main)
