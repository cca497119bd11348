"""Search for an image classifier automatically (the AutoKeras chapter, on KerasTuner).

    python search_image_classifier.py --time-limit 60          # CIFAR-10, as the chapter
    python search_image_classifier.py --dataset cifar10 --time-limit 20
    python search_image_classifier.py --dataset animals --max-trials 2

Without --dataset it searches CIFAR-10 (keras.datasets.cifar10, downloaded
once). --dataset is a folder with train/ and test/ (one sub-folder per
class in each; that split is kept) or a folder with one sub-folder per
class (what train_vgg.py takes; split 75/25). The --max-trials candidate
networks are trained briefly, the best third of them longer, until one is
trained in full (successive halving); each is scored on pictures held out
of the training split. The best is retrained on the whole training split
when time allows, tested once and exported as a plain Keras model that
predict.py classifies with.

Distributed (KerasTuner's own): run the same command in every process with
KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT and KERASTUNER_TUNER_ID=chief
(holds the search, exports the best) or tuner0, tuner1, ... (train trials).
"""

import argparse
import time

from pyimagesearch.cli import existing_folder, fit_verbosity, positive_int, run_main
from pyimagesearch.errors import UserError
from pyimagesearch.search import data, flags, project


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
    flags.add_search_flags(ap, "search_classifier")
    args = ap.parse_args(argv)

    if args.dataset is not None:
        existing_folder(args.dataset)
    args.layout = data.layout(args.dataset)
    if args.image_size is not None and args.image_size < 8:
        raise UserError(f"--image-size {args.image_size} is too small; use 8 or more")
    args.image_size = args.image_size or data.image_side(args.dataset, args.layout) or 64
    args.settings = flags.settings_from(args, args.image_size,
                                        samples=data.count_pictures(args.dataset, args.layout))
    return flags.check_output_flags(args)


def main(argv=None):
    started = time.monotonic()
    args = parse_args(argv)
    settings = args.settings
    role = project.distributed_role()
    identity = project.identity(settings, "search_image_classifier.py", args.dataset,
                                image_size=args.image_size)
    recorded = project.check_project(args.project_dir, identity, args.overwrite, role)

    # Keras, TensorFlow and KerasTuner load only once the flags are known to be good
    import keras
    import numpy as np
    from sklearn.metrics import classification_report

    from pyimagesearch import datasets, plots, splits
    from pyimagesearch.search import engine, export, reporting, space
    from pyimagesearch.storage import beside, save_labels, save_model, save_results

    keras.utils.set_random_seed(settings.seed)
    keras.mixed_precision.set_global_policy(settings.precision)
    print(f"[INFO] precision: {settings.precision} "
          f"({flags.describe_precision(settings, args.precision)})")

    # load the pictures at --image-size, kept as uint8 (the pipeline scales
    # each batch), their classes taken from their folders
    print("[INFO] loading images...")
    size = args.image_size
    (trainX, trainY, testX, testY, classNames) = data.load(args.dataset, args.layout, size,
                                                           settings.seed)
    data.check_classes(args.dataset or "cifar10", trainY, testY, classNames)
    print(f"[INFO] {len(trainX)} training and {len(testX)} test pictures of "
          f"{len(classNames)} classes, {size}x{size}")

    # the classes' counts in the training and test pictures (the chapter's
    # histogram of them is saved with the other outputs, at the end)
    trainCounts = reporting.class_counts(classNames, trainY)
    testCounts = reporting.class_counts(classNames, testY)
    reporting.print_class_counts("training pictures", trainCounts)
    reporting.print_class_counts("test pictures", testCounts)

    # the trials are scored on pictures held out of the training split; the
    # test pictures are looked at once, at the end
    lb = datasets.fit_label_binarizer(classNames)
    (fitX, fitY, valX, valY) = splits.hold_out(trainX, trainY, settings.val_split,
                                               settings.seed, stratify=True)
    print(f"[INFO] {len(fitX)} pictures train the trials, {len(valX)} score them, "
          f"{len(testX)} test the winner")

    # define the search: the space of networks and KerasTuner's tuner over
    # it (successive halving against the clock), kept in --project-dir
    head = {"kind": "classification", "classes": len(classNames)}
    hypermodel = space.ImageHyperModel(settings, (size, size, 3), head, sample=fitX[:5000])
    clock = engine.Clock(settings.time_limit, started, role=role,
                         testSeconds=hypermodel.scoring_seconds(len(testX), shifted=True))
    tuner = engine.make_tuner(hypermodel, settings, args.project_dir, args.overwrite, clock,
                              role, verbose=fit_verbosity())
    project.announce(settings, args.project_dir, role, recorded, identity)

    # run the search (in a distributed search the chief serves the trials
    # to the workers and waits here until they are all done)
    tuner.search(fitX, fitY, validation_data=(valX, valY))
    if role == "worker":
        print("[INFO] no trials left; the chief exports the best model")
        return 0

    # report the trials and pick the best of the highest rung
    best = export.check_search_left_a_model(tuner.oracle)
    rows = reporting.trial_rows(tuner.oracle)
    reporting.print_trial_table(rows, int(best.trial_id) + 1)

    # export: retrain the best network on the whole training split, as the
    # chapter's searcher does, when time allows; otherwise keep its weights
    # from the search
    (model, retrain, epochs, _) = export.export_model(tuner, best, settings, trainX, trainY,
                                                   clock, verbose=fit_verbosity())
    model.summary()

    # evaluate the exported model, once, on the test split
    print("[INFO] evaluating network...")
    flipped = hypermodel.flip_averaged(best.hyperparameters)
    shifted = hypermodel.shift_averaged(best.hyperparameters)
    if shifted:
        print("[INFO] each test picture's prediction is averaged with its mirror image's "
              "and with both moved a pixel up-left and down-right")
    elif flipped:
        print("[INFO] each test picture's prediction is averaged with its mirror image's")
    preds = hypermodel.predict(best.hyperparameters, model, testX, shifted=True).argmax(axis=1)
    print(classification_report(testY, preds, labels=list(range(len(classNames))),
                                target_names=classNames, zero_division=0))
    accuracy = float(np.mean(preds == testY))
    print(f"[INFO] test accuracy: {accuracy * 100:.2f}%")

    # the chapter's figure: test images titled with predicted and real labels
    show = reporting.seeded_indices(len(testX), settings.seed)
    titles = [f"Predicted: {classNames[preds[i]]}, Real: {classNames[testY[i]]}"
              for i in show]
    plots.plot_prediction_grid(testX[show], titles, args.plot)

    # save the model, the class names and the figures (the grid above, and
    # the chapter's histogram of the training and test labels)
    histogram = plots.plot_class_histogram(trainCounts, testCounts,
                                           beside(args.plot, "_classes.png"))
    save_model(model, args.model)
    save_labels(lb, args.label_bin)
    seconds = clock.elapsed()
    print(f"[INFO] {reporting.format_seconds(seconds)} in all, peak memory "
          f"{reporting.peak_memory():.2f} GB")
    save_results(args.results, {
        "script": "search_image_classifier.py", "dataset": args.dataset or "keras:cifar10",
        "image_size": size, "classes": classNames, "precision": settings.precision,
        "cpu": flags.cpu_name(),
        "train_images": len(trainX), "test_images": len(testX),
        "train_counts": trainCounts, "test_counts": testCounts,
        "trials": rows, "best_trial": int(best.trial_id) + 1,
        "best_hyperparameters": reporting.network_values(best.hyperparameters.values),
        "retrained": retrain, "epochs": epochs, "flip_averaged": flipped,
        "shift_averaged": shifted,
        "test_accuracy": accuracy, "seconds": round(seconds, 1),
        "peak_memory_gb": round(reporting.peak_memory(), 2),
        "model": args.model, "label_bin": args.label_bin, "plot": args.plot,
        "histogram": histogram,
    })
    print(f"[INFO] wrote {args.model}, {args.label_bin}, {args.plot}, {histogram}, "
          f"{args.results}")
    return 0


if __name__ == "__main__":
    run_main(main)
