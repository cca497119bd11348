"""Search for an image regressor automatically (the AutoKeras chapter, on KerasTuner).

    python search_image_regressor.py --dataset "Houses-dataset/Houses Dataset/"
    python search_image_regressor.py --dataset faces   # faces/targets.csv: file,target

--dataset is the Houses dataset (each house the 64x64 montage of its four
pictures, as cnn_regression.py builds it; the post's split, a percentage
error on prices and the post's report) or any folder of pictures with a
targets.csv of ``file,target`` rows (e.g. faces and ages, the chapter's
example: --grayscale --image-size 128; squared error, test MAE reported).
The chapter's steps: ImageRegressor(max_trials=...), fit, evaluate,
predict, export_model (pyimagesearch/search); --time-limit, resume and the
distributed search work as in search_image_classifier.py.
"""

import argparse
import os
import time

from pyimagesearch import cli, imagesets
from pyimagesearch.cli import existing_folder, fit_verbosity, positive_int, run_main
from pyimagesearch.errors import UserError
from pyimagesearch.search import project


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-d", "--dataset", required=True,
                    help="the Houses dataset folder (with HousesInfo.txt), or a folder "
                         f"of images with a {imagesets.TARGETS_FILE} (file,target)")
    ap.add_argument("--image-size", type=positive_int, default=64,
                    help="pictures (house montages) are resized to this many pixels "
                         "square (default: 64, the montage's own size)")
    ap.add_argument("--grayscale", action="store_true",
                    help="grey pictures, one channel (the chapter's faces: "
                         "--grayscale --image-size 128)")
    cli.add_search_flags(ap, "search_regressor")
    args = ap.parse_args(argv)

    existing_folder(args.dataset)
    if args.image_size < 8:
        raise UserError(f"--image-size {args.image_size} is too small; use 8 or more")
    cli.check_block_side(args.block, args.image_size)
    if os.path.isfile(os.path.join(args.dataset, imagesets.HOUSES_FILE)):
        (args.kind, args.rows) = ("houses", None)
    elif os.path.isfile(os.path.join(args.dataset, imagesets.TARGETS_FILE)):
        (args.kind, args.rows) = ("csv", imagesets.read_targets(args.dataset))
    else:
        raise UserError(f"--dataset {args.dataset!r} has neither {imagesets.HOUSES_FILE} (the "
                        f"Houses dataset) nor {imagesets.TARGETS_FILE} (file,target rows)")
    return cli.check_output_flags(args)


def search_options(args):
    """The searcher's settings from the flags; the houses train as the post
    (conv stacks like its CNN, batches of 8, up to its 200 epochs)."""
    options = cli.search_options(args)
    if args.kind == "houses":
        options.update(block_type=args.block or "vanilla", batch_size=args.batch_size or 8,
                       max_epochs=args.max_epochs or 200)
    return options


def main(argv=None):
    started = time.monotonic()
    args = parse_args(argv)
    project.check_project(args.project_dir, None, args.overwrite, project.distributed_role())

    # load the pictures and their targets, then split them 75/25 into
    # training and test data (for the houses, the post's split)
    from sklearn.model_selection import train_test_split

    if args.kind == "houses":
        (df, images) = imagesets.load_houses(args.dataset, args.image_size, args.grayscale)
        (trainAttrX, testAttrX, trainX, testX) = train_test_split(
            df, images, test_size=0.25, random_state=42)
        (trainY, testY) = (trainAttrX["price"].to_numpy("float32"),
                           testAttrX["price"].to_numpy("float32"))
    else:
        (images, targets) = imagesets.load_targets(args.dataset, args.rows, args.image_size,
                                                   args.grayscale)
        (trainX, testX, trainY, testY) = train_test_split(images, targets, test_size=0.25,
                                                          random_state=42)
    print(f"[INFO] {len(trainX)} training and {len(testX)} test pictures")

    # Keras, TensorFlow and KerasTuner load only now
    import numpy as np

    from pyimagesearch import plots, reports
    from pyimagesearch.search import ImageRegressor
    from pyimagesearch.reports import cpu_info, network_values
    from pyimagesearch.storage import save_model, save_results

    # initialize the image regressor and search for the best model: the
    # houses on the post's loss, the mean absolute percentage error, other
    # targets on the squared error; the exported model predicts in the
    # targets' own units
    loss = "mean_absolute_percentage_error" if args.kind == "houses" else "mean_squared_error"
    reg = ImageRegressor(loss=loss, time_limit=cli.search_minutes(args.time_limit, started),
                         **search_options(args))
    reg.fit(trainX, trainY, epochs=args.epochs, validation_split=args.val_split,
            verbose=fit_verbosity(), test_pictures=len(testX))
    if reg.role == "worker":
        print("[INFO] no trials left; the chief exports the best model")
        return 0

    # export the best model (a plain Keras model) and summarize it
    model = reg.export_model()
    model.summary()

    # evaluate it on the test pictures, once
    print("[INFO] predicting on the test split...")
    views = reg.test_views()
    if len(views) > 1:
        print(f"[INFO] each test picture's prediction is the average of {len(views)} views: "
              f"{reports.describe_views(views)}")
    (testLoss, mae) = reg.evaluate(testX, testY)
    preds = reg.predict(testX).flatten()
    if not np.all(np.isfinite(preds)):
        raise UserError("the exported network predicts values that are not finite numbers "
                        "(nan or inf): the targets are too large for a float32 network; "
                        "scale them down; nothing was saved")
    results = {"script": "search_image_regressor.py", "dataset": args.dataset,
               "kind": args.kind, "image_size": args.image_size, "grayscale": args.grayscale,
               "train_images": len(trainX), "test_images": len(testX), "test_views": len(views),
               "test_loss": testLoss, "test_mae": mae}
    if args.kind == "houses":
        # the post's report: the absolute percentage error over the test houses
        absPercentDiff = np.abs((preds - testY) / testY) * 100
        print("[INFO] avg. house price: {}, std house price: {}".format(
            reports.format_price(df["price"].mean()), reports.format_price(df["price"].std())))
        (meanErr, stdErr) = (float(np.mean(absPercentDiff)), float(np.std(absPercentDiff)))
        print("[INFO] mean: {:.2f}%, std: {:.2f}%".format(meanErr, stdErr))
        results.update({"test_mape_mean": meanErr, "test_mape_std": stdErr})
        label = "${:,.0f}".format
    else:
        print(f"[INFO] test MAE: {mae:.2f}")
        label = "{:.1f}".format

    # the chapter's figure: test pictures titled with predicted and real values
    show = reports.seeded_indices(len(testX), args.seed)
    titles = [f"Predicted: {label(preds[i])}, Real: {label(testY[i])}" for i in show]
    plots.plot_prediction_grid(testX[show], titles, args.plot)

    # save the model and what the run measured
    save_model(model, args.model)
    seconds = time.monotonic() - started
    print(f"[INFO] {reports.format_seconds(seconds)} in all, peak memory "
          f"{reports.peak_memory():.2f} GB")
    results.update({
        "trials": reg.trials(), "best_trial": int(reg.best.trial_id) + 1,
        "best_hyperparameters": network_values(reg.best.hyperparameters.values),
        "retrained": reg.retrained, "copies": reg.copies, "epochs": reg.epochs,
        "seconds": round(seconds, 1), "precision": reg.hypermodel.settings.precision,
        "cpu": cpu_info(), "peak_memory_gb": round(reports.peak_memory(), 2),
        "model": args.model, "plot": args.plot})
    save_results(args.results, results)
    print(f"[INFO] wrote {args.model}, {args.plot}, {args.results}")
    return 0


if __name__ == "__main__":
    run_main(main)
