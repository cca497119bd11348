"""Search for an image regressor automatically (the AutoKeras chapter, on KerasTuner).

    python search_image_regressor.py --dataset "Houses-dataset/Houses Dataset/"
    python search_image_regressor.py --dataset faces   # faces/targets.csv: file,target

--dataset is the Houses dataset (each house the 64x64 montage of its four
pictures, as cnn_regression.py builds it; price divided by the largest
training price; the post's split and MAPE report), or any folder of images
with a targets.csv of ``file,target`` rows (e.g. faces and ages, the
chapter's example; test MAE reported; --grayscale --image-size 128 is the
chapter's face-age setting). Successive halving, resume, --time-limit (the
whole command) and the distributed search work as in
search_image_classifier.py.
"""

import argparse
import csv
import math
import os
import time

import numpy as np

from pyimagesearch.cli import (FLOAT32_MAX, existing_folder, fit_verbosity, positive_int,
                               run_main)
from pyimagesearch.errors import UserError
from pyimagesearch.search import flags, project

TARGETS_FILE = "targets.csv"
HOUSES_FILE = "HousesInfo.txt"
MIN_IMAGES = 8
COPIES = 4          # of the winner, retrained and averaged...
SMALL_SPLIT = 2000  # ...when it has at most this many training pictures


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-d", "--dataset", required=True,
                    help="the Houses dataset folder (with HousesInfo.txt), or a folder "
                         f"of images with a {TARGETS_FILE} (file,target)")
    ap.add_argument("--image-size", type=positive_int, default=64,
                    help="images (house montages) are resized to this many pixels "
                         "square (default: 64, the montage's own size)")
    ap.add_argument("--grayscale", action="store_true",
                    help="grey pictures, one channel (the chapter's faces: "
                         "--grayscale --image-size 128)")
    flags.add_search_flags(ap, "search_regressor")
    args = ap.parse_args(argv)

    existing_folder(args.dataset)
    if args.image_size < 8:
        raise UserError(f"--image-size {args.image_size} is too small; use 8 or more")
    if os.path.isfile(os.path.join(args.dataset, HOUSES_FILE)):
        args.kind, args.rows = "houses", None
    elif os.path.isfile(os.path.join(args.dataset, TARGETS_FILE)):
        args.kind, args.rows = "csv", read_targets(args.dataset)
    else:
        raise UserError(f"--dataset {args.dataset!r} has neither {HOUSES_FILE} (the Houses "
                        f"dataset) nor {TARGETS_FILE} (file,target rows)")
    count = len(args.rows) if args.rows else 0
    args.settings = flags.settings_from(args, args.image_size, data=args.kind,
                                        samples=int(count * 0.75))
    return flags.check_output_flags(args)


def read_targets(folder):
    """The (image path, target) rows of ``folder/targets.csv``, checked: a
    header ``file,target``, files inside ``folder`` that exist, numeric
    targets that float32 holds."""
    path = os.path.join(folder, TARGETS_FILE)
    try:
        # utf-8-sig: a spreadsheet's "CSV UTF-8" starts with a byte-order mark
        with open(path, newline="", encoding="utf-8-sig") as f:
            lines = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path} cannot be read: {error}") from None
    lines = [(n, line) for n, line in enumerate(lines, start=1) if any(c.strip() for c in line)]
    if not lines or [c.strip().lower() for c in lines[0][1]] != ["file", "target"]:
        raise UserError(f"{path}: the first line must be the header 'file,target'")
    rows = []
    for number, line in lines[1:]:
        if len(line) != 2:
            raise UserError(f"{path}, line {number}: expected 'file,target', "
                            f"found {len(line)} field(s)")
        (name, text) = (line[0].strip(), line[1].strip())
        try:
            target = float(text)
        except ValueError:
            target = math.nan
        if not math.isfinite(target):
            raise UserError(f"{path}, line {number}: target {text!r} is not a number")
        if abs(target) > FLOAT32_MAX:
            raise UserError(f"{path}, line {number}: target {text!r} is beyond float32's "
                            f"range (+-{FLOAT32_MAX:.2e}), which the network computes in")
        imagePath = os.path.join(folder, name)
        if os.path.isabs(name) or os.path.normpath(name).split(os.sep)[0] == os.pardir:
            raise UserError(f"{path}, line {number}: {name!r} is outside {folder}; "
                            f"targets.csv names files inside its own folder")
        if not os.path.isfile(imagePath):
            raise UserError(f"{path}, line {number}: {name!r} not found in {folder}")
        rows.append((imagePath, target))
    if len(rows) < MIN_IMAGES:
        raise UserError(f"{path} names {len(rows)} image(s); a 75/25 split with "
                        f"validation needs at least {MIN_IMAGES}")
    return rows


def load_houses(args):
    """The Houses dataset as cnn_regression.py loads it: montages in [0, 1]."""
    import cv2

    from pyimagesearch import datasets

    print("[INFO] loading house attributes...")
    df = datasets.load_house_attributes(os.path.join(args.dataset, HOUSES_FILE))
    print("[INFO] loading house images...")
    df = datasets.drop_houses_with_bad_images(df, args.dataset)
    if len(df) < MIN_IMAGES:
        raise UserError(f"only {len(df)} house(s) left to train on; need at least "
                        f"{MIN_IMAGES} for a 75/25 split with validation")
    images = datasets.load_house_images(df, args.dataset)
    if args.image_size != images.shape[1]:
        images = [cv2.resize(m, (args.image_size, args.image_size)) for m in images]
    images = np.asarray(images, dtype="uint8")
    if args.grayscale:
        images = np.stack([cv2.cvtColor(m, cv2.COLOR_BGR2GRAY) for m in images])[..., None]
    return df, images


def load_csv_images(args):
    """The images named in targets.csv, resized, uint8 (grey with
    --grayscale); damaged files are skipped with a warning, as the
    classifier's loader does."""
    import cv2

    from pyimagesearch.cli import warn
    from pyimagesearch.datasets import image_file_problem, read_image

    print("[INFO] loading images...")
    images, targets, names = [], [], []
    for (imagePath, target) in args.rows:
        image = read_image(imagePath)
        if image is None:
            warn(f"skipping {imagePath}: {image_file_problem(imagePath) or 'not a readable image'}")
            continue
        image = cv2.resize(image, (args.image_size, args.image_size))
        if args.grayscale:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[..., None]
        images.append(image)
        targets.append(target)
        names.append(imagePath)
    if len(images) < MIN_IMAGES:
        raise UserError(f"only {len(images)} usable image(s) in --dataset {args.dataset!r}; "
                        f"need at least {MIN_IMAGES}")
    return (np.asarray(images, dtype="uint8"), np.asarray(targets, dtype="float32"), names)


def main(argv=None):
    started = time.monotonic()
    args = parse_args(argv)
    settings = args.settings
    role = project.distributed_role()
    identity = project.identity(settings, "search_image_regressor.py", args.dataset,
                                kind=args.kind, image_size=args.image_size)
    recorded = project.check_project(args.project_dir, identity, args.overwrite, role)

    # Keras, TensorFlow and KerasTuner load only once the flags are known to be good
    import keras
    from sklearn.model_selection import train_test_split

    from pyimagesearch import plots, splits
    from pyimagesearch.search import engine, export, reporting, space
    from pyimagesearch.storage import save_model, save_results

    keras.utils.set_random_seed(settings.seed)
    keras.mixed_precision.set_global_policy(settings.precision)
    print(f"[INFO] precision: {settings.precision} "
          f"({flags.describe_precision(settings, args.precision)})")

    # load the images and their targets, then split them 75/25 into training
    # and test data: for the houses, the post's split (random_state=42) and
    # prices divided by the largest training price, which the model's last
    # layer multiplies back, so the exported model predicts dollars
    if args.kind == "houses":
        (df, images) = load_houses(args)
        (trainAttrX, testAttrX, trainX, testX) = train_test_split(
            df, images, test_size=0.25, random_state=42)
        maxPrice = float(trainAttrX["price"].max())
        trainY = trainAttrX["price"].to_numpy("float32")
        testY = testAttrX["price"].to_numpy("float32")
        head = {"kind": "regression", "loss": "mean_absolute_percentage_error",
                "mean": 0.0, "std": maxPrice, "start": float(np.median(trainY)) / maxPrice}
    else:
        (images, targets, names) = load_csv_images(args)
        (trainX, testX, trainY, testY) = train_test_split(images, targets, test_size=0.25,
                                                          random_state=42)
        # standardised with the training targets; the last layer undoes it
        # (in float64: float32 overflows for targets past about 1e19)
        (mean, std) = (float(np.mean(trainY, dtype="float64")),
                       float(np.std(trainY, dtype="float64")) or 1.0)
        head = {"kind": "regression", "loss": "mean_squared_error", "mean": mean, "std": std}

    # the trials are scored on a part of the training split
    (fitX, fitY, valX, valY) = splits.hold_out(trainX, trainY, settings.val_split,
                                               settings.seed)
    print(f"[INFO] {len(fitX)} images train the trials, {len(valX)} score them, "
          f"{len(testX)} test the winner")

    # define the search: the space of networks and KerasTuner's tuner over
    # it (successive halving against the clock), kept in --project-dir
    hypermodel = space.ImageHyperModel(settings, trainX.shape[1:], head, sample=fitX[:5000])
    clock = engine.Clock(settings.time_limit, started, role=role,
                         testSeconds=hypermodel.scoring_seconds(len(testX)))
    tuner = engine.make_tuner(hypermodel, settings, args.project_dir, args.overwrite, clock,
                              role, verbose=fit_verbosity())
    project.announce(settings, args.project_dir, role, recorded, identity)

    # run the search (a distributed chief serves the trials and waits here)
    tuner.search(fitX, fitY, validation_data=(valX, valY))
    if role == "worker":
        print("[INFO] no trials left; the chief exports the best model")
        return 0

    # report the trials and pick the best of the highest rung
    best = export.check_search_left_a_model(tuner.oracle)
    rows = reporting.trial_rows(tuner.oracle)
    reporting.print_trial_table(rows, int(best.trial_id) + 1)

    # export: retrain the best network on the whole training split, as the
    # chapter's searcher does, when time allows (an adaptive trial for the
    # epochs of its lowest averaged loss); on a small split COPIES times
    # from their own random starts, predicting their mean (on a few hundred
    # pictures one retraining's luck moves the test error by points);
    # otherwise keep the search's weights
    copies = COPIES if len(trainX) <= SMALL_SPLIT else 1
    (model, retrain, epochs, copies) = export.export_model(
        tuner, best, settings, trainX, trainY, clock, copies=copies, verbose=fit_verbosity())
    model.summary()

    # evaluate the exported model, once, on the test split
    print("[INFO] predicting on the test split...")
    preds = hypermodel.predict(best.hyperparameters, model, testX).flatten()
    if not np.all(np.isfinite(preds)):
        raise UserError("the exported network predicts values that are not finite numbers "
                        "(nan or inf): the targets are too large for a float32 network; "
                        "scale them down; nothing was saved")

    results = {"script": "search_image_regressor.py", "dataset": args.dataset,
               "kind": args.kind, "image_size": args.image_size,
               "grayscale": settings.grayscale, "train_images": len(trainX),
               "test_images": len(testX)}
    if args.kind == "houses":
        # the post's report: the absolute percentage error over the test houses
        absPercentDiff = np.abs((preds - testY) / testY) * 100
        print("[INFO] avg. house price: ${:,.2f}, std house price: ${:,.2f}".format(
            df["price"].mean(), df["price"].std()))
        (meanErr, stdErr) = (float(np.mean(absPercentDiff)), float(np.std(absPercentDiff)))
        print("[INFO] mean: {:.2f}%, std: {:.2f}%".format(meanErr, stdErr))
        results.update({"test_mape_mean": meanErr, "test_mape_std": stdErr})
        label = lambda v: f"${v:,.0f}"  # noqa: E731
    else:
        mae = float(np.mean(np.abs(preds - testY)))
        print(f"[INFO] test MAE: {mae:.2f}")
        results.update({"test_mae": mae})
        label = lambda v: f"{v:.4g}"  # noqa: E731

    # the chapter's figure: test images titled with predicted and real values
    show = reporting.seeded_indices(len(testX), settings.seed)
    titles = [f"Predicted: {label(preds[i])}, Real: {label(testY[i])}" for i in show]
    plots.plot_prediction_grid(testX[show], titles, args.plot)

    # save the model and the figures
    save_model(model, args.model)
    seconds = clock.elapsed()
    print(f"[INFO] {reporting.format_seconds(seconds)} in all, peak memory "
          f"{reporting.peak_memory():.2f} GB")
    results.update({
        "trials": rows, "best_trial": int(best.trial_id) + 1,
        "best_hyperparameters": reporting.network_values(best.hyperparameters.values),
        "retrained": retrain, "copies": copies, "epochs": epochs,
        "seconds": round(seconds, 1),
        "precision": settings.precision, "cpu": flags.cpu_name(),
        "peak_memory_gb": round(reporting.peak_memory(), 2), "model": args.model,
        "plot": args.plot})
    save_results(args.results, results)
    print(f"[INFO] wrote {args.model}, {args.plot}, {args.results}")
    return 0


if __name__ == "__main__":
    run_main(main)
