"""Search for an image classifier automatically (the AutoKeras chapter, on KerasTuner).

    python search_image_classifier.py --time-limit 60          # CIFAR-10, as the chapter
    python search_image_classifier.py --dataset cifar10 --time-limit 20
    python search_image_classifier.py --dataset animals --max-trials 2

Without --dataset it searches CIFAR-10 (keras.datasets.cifar10, downloaded
once). --dataset is a folder with train/ and test/ (one sub-folder per
class in each; that split is kept) or a folder with one sub-folder per
class (what train_vgg.py takes; split 75/25). The chapter's steps:
ImageClassifier(max_trials=...), fit, evaluate, predict, export_model
(pyimagesearch/search). Distributed (KerasTuner's own): the same command
in every process, with KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT and
KERASTUNER_TUNER_ID=chief (holds the search, exports the best) or tuner0,
tuner1, ... (train trials).
"""

import argparse
import time

from pyimagesearch import cli, imagesets
from pyimagesearch.cli import existing_folder, fit_verbosity, positive_int, run_main
from pyimagesearch.errors import UserError
from pyimagesearch.search import project


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-d", "--dataset", default=None,
                    help="folder with train/ and test/ (one sub-folder per class in each), "
                         "or with one sub-folder of images per class (default: CIFAR-10 "
                         "from keras.datasets)")
    ap.add_argument("--image-size", type=positive_int, default=None,
                    help="pictures are resized to this many pixels square (default: their "
                         "own size when they share one, e.g. 32 for CIFAR-10, else 64)")
    ap.add_argument("--label-bin", default="output/search_classifier_lb.pickle",
                    help="the class names, for predict.py "
                         "(default: output/search_classifier_lb.pickle)")
    cli.add_search_flags(ap, "search_classifier")
    args = ap.parse_args(argv)

    if args.dataset is not None:
        existing_folder(args.dataset)
    args.layout = imagesets.layout(args.dataset)
    if args.image_size is not None and args.image_size < 8:
        raise UserError(f"--image-size {args.image_size} is too small; use 8 or more")
    args.image_size = args.image_size or imagesets.image_side(args.dataset, args.layout) or 64
    cli.check_block_side(args.block, args.image_size)
    return cli.check_output_flags(args)


def main(argv=None):
    started = time.monotonic()
    args = parse_args(argv)
    project.check_project(args.project_dir, None, args.overwrite, project.distributed_role())

    # load the pictures at --image-size, kept as uint8, their classes taken
    # from their folders, and count them per class
    print("[INFO] loading images...")
    (trainX, trainY, testX, testY, classNames) = imagesets.load(
        args.dataset, args.layout, args.image_size, args.seed)
    imagesets.check_classes(args.dataset or "cifar10", trainY, testY, classNames)
    size = args.image_size
    print(f"[INFO] {len(trainX)} training and {len(testX)} test pictures of "
          f"{len(classNames)} classes, {size}x{size}")

    # Keras, TensorFlow and KerasTuner load only now, the flags and files
    # known to be good
    from sklearn.metrics import classification_report

    from pyimagesearch import datasets, plots, reports
    from pyimagesearch.search import ImageClassifier
    from pyimagesearch.reports import cpu_info, network_values
    from pyimagesearch.storage import beside, save_labels, save_model, save_results

    trainCounts = reports.class_counts(classNames, trainY)
    testCounts = reports.class_counts(classNames, testY)
    for (what, counts) in (("training", trainCounts), ("test", testCounts)):
        print(f"[INFO] {what} pictures per class: "
              + ", ".join(f"{k} {v}" for (k, v) in counts.items()))

    # initialize the image classifier and search for the best model: the
    # candidates are scored on pictures held out of the training split, the
    # best learns all of it (--time-limit bounds the whole command: the
    # search gets what loading and the saving leave, and keeps the test's
    # time at the speed its winner predicts)
    clf = ImageClassifier(time_limit=cli.search_minutes(args.time_limit, started),
                          **cli.search_options(args))
    clf.fit(trainX, trainY, epochs=args.epochs, validation_split=args.val_split,
            verbose=fit_verbosity(), test_pictures=len(testX))
    if clf.role == "worker":
        print("[INFO] no trials left; the chief exports the best model")
        return 0

    # export the best model (a plain Keras model) and summarize it
    model = clf.export_model()
    model.summary()

    # evaluate the best model on the test pictures, once: the chapter's
    # [loss, accuracy], then the predictions' classification report
    print("[INFO] evaluating network...")
    views = clf.test_views()
    if len(views) > 1:
        print(f"[INFO] each test picture's prediction is the average of {len(views)} views: "
              f"{reports.describe_views(views)}")
    (loss, accuracy) = clf.evaluate(testX, testY)
    print(f"[INFO] test loss: {loss:.4f}")
    preds = clf.predict(testX)
    print(classification_report(testY, preds, labels=list(range(len(classNames))),
                                target_names=classNames, zero_division=0))
    print(f"[INFO] test accuracy: {accuracy * 100:.2f}%")

    # the chapter's figures: test pictures titled with predicted and real
    # labels, and the histogram of the training and test labels
    show = reports.seeded_indices(len(testX), args.seed)
    titles = [f"Predicted: {classNames[preds[i]]}, Real: {classNames[testY[i]]}" for i in show]
    plots.plot_prediction_grid(testX[show], titles, args.plot)
    histogram = plots.plot_class_histogram(trainCounts, testCounts,
                                           beside(args.plot, "_classes.png"))

    # save the model and the class names (for predict.py), and the figures
    save_model(model, args.model)
    save_labels(datasets.fit_label_binarizer(classNames), args.label_bin)
    seconds = time.monotonic() - started
    print(f"[INFO] {reports.format_seconds(seconds)} in all, peak memory "
          f"{reports.peak_memory():.2f} GB")
    save_results(args.results, {
        "script": "search_image_classifier.py", "dataset": args.dataset or "keras:cifar10",
        "image_size": size, "classes": classNames, "precision": clf.hypermodel.settings.precision,
        "cpu": cpu_info(), "train_images": len(trainX), "test_images": len(testX),
        "train_counts": trainCounts, "test_counts": testCounts, "trials": clf.trials(),
        "best_trial": int(clf.best.trial_id) + 1,
        "best_hyperparameters": network_values(clf.best.hyperparameters.values),
        "retrained": clf.retrained, "epochs": clf.epochs, "test_views": len(views),
        "test_loss": loss, "test_accuracy": accuracy,
        "seconds": round(seconds, 1), "peak_memory_gb": round(reports.peak_memory(), 2),
        "model": args.model, "label_bin": args.label_bin, "plot": args.plot,
        "histogram": histogram})
    print(f"[INFO] wrote {args.model}, {args.label_bin}, {args.plot}, {histogram}, "
          f"{args.results}")
    return 0


if __name__ == "__main__":
    run_main(main)
