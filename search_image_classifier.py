"""Search for an image classifier automatically (the AutoKeras chapter, on KerasTuner).

    python search_image_classifier.py --dataset animals --max-trials 2

Tries --max-trials candidate networks on a folder with one sub-folder per
class (what train_vgg.py takes), keeps the one with the lowest validation
loss (averaged over 5 epochs), retrains it on the whole training split,
tests it once and exports it as a plain Keras model that predict.py
classifies with.

Distributed (KerasTuner's own): run the same command in every process with
KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT and KERASTUNER_TUNER_ID=chief
(holds the search, exports the best) or tuner0, tuner1, ... (train trials).
"""

import argparse

from pyimagesearch import search
from pyimagesearch.cli import UserError, existing_folder, fit_verbosity, positive_int, run_main


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-d", "--dataset", required=True,
                    help="folder with one sub-folder of images per class")
    ap.add_argument("--image-size", type=positive_int, default=64,
                    help="images are resized to this many pixels square (default: 64)")
    ap.add_argument("--label-bin", default="output/search_classifier_lb.pickle",
                    help="the class names, for predict.py "
                         "(default: output/search_classifier_lb.pickle)")
    search.add_search_flags(ap, "search_classifier")
    args = ap.parse_args(argv)

    existing_folder(args.dataset)
    if args.image_size < 8:
        raise UserError(f"--image-size {args.image_size} is too small; use 8 or more")
    search.fill_training_defaults(args)
    return search.check_output_flags(args)


def main(argv=None):
    args = parse_args(argv)
    role = search.distributed_role()
    identity = search.identity_of(args, "search_image_classifier.py",
                                  image_size=args.image_size)
    recorded = search.check_project(args.project_dir, identity, args.overwrite, role)

    # Keras, TensorFlow and KerasTuner load only once the flags are known to be good
    import keras
    import numpy as np
    from sklearn.metrics import classification_report
    from sklearn.model_selection import train_test_split

    from pyimagesearch import datasets, plots, splits
    from pyimagesearch.datasets import load_image_folder
    from pyimagesearch.storage import save_labels, save_model, save_results

    keras.utils.set_random_seed(args.seed)

    # load every image, resized to --image-size and scaled to [0, 1], its
    # class taken from its folder (damaged files are skipped with a warning)
    print("[INFO] loading images...")
    size = args.image_size
    (data, labels, paths) = load_image_folder(args.dataset, size, size, seed=args.seed)
    classNames = sorted(set(labels.tolist()))
    if len(classNames) < 2:
        raise UserError(f"--dataset {args.dataset!r} has {len(data)} usable image(s) in "
                        f"{len(classNames)} class folder(s); a classifier needs two or more")
    print(f"[INFO] {len(data)} images of {len(classNames)} classes: {', '.join(classNames)}")

    # the same 75/25 train/test split as train_vgg.py; the test images are
    # looked at once, at the end
    (trainX, testX, trainLabels, testLabels, trainPaths, testPaths) = train_test_split(
        data, labels, paths, test_size=0.25, random_state=42)
    # one-hot labels, as train_vgg.py makes them (the loss smooths them)
    lb = datasets.fit_label_binarizer(labels)
    trainY = datasets.one_hot(lb, trainLabels)
    testY = datasets.one_hot(lb, testLabels).argmax(axis=1)  # class numbers, for the report

    # the trials are scored on a part of the training split
    (fitX, fitY, valX, valY) = splits.hold_out(trainX, trainY, args.val_split, args.seed,
                                               stratify=True)
    print(f"[INFO] {len(fitX)} images train the trials, {len(valX)} score them, "
          f"{len(testX)} test the winner")

    # define the search: the space of networks (ImageBlock) and KerasTuner's
    # tuner over it, kept in --project-dir
    classes = len(lb.classes_)
    hypermodel = search.make_hypermodel(
        (size, size, 3), {"kind": "classification", "classes": classes},
        block=args.block, augment=args.augment, seed=args.seed, epochs=args.epochs,
        maxEpochs=args.max_epochs, patience=args.patience, batchSize=args.batch_size,
        schedule=args.schedule, samples=len(fitX), verbose=fit_verbosity(),
        deadline=search.deadline(args.time_limit))
    tuner = search.make_tuner(hypermodel, args.project_dir, args.max_trials, args.seed,
                              args.overwrite, search.seconds(args.time_limit), role)
    search.announce(args, role, recorded, identity)

    # run the search: every trial trains a candidate and is scored on the
    # held-out pictures (in a distributed search, the chief serves the
    # trials to the workers and waits here until they are all done)
    tuner.search(fitX, fitY, validation_data=(valX, valY))
    if role == "worker":
        print("[INFO] no trials left; the chief retrains and exports the best model")
        return 0

    # report the trials and pick the best one
    (best, rows) = search.report_trials(tuner.oracle)

    # export: rebuild the best network and retrain it, as the chapter's
    # searcher does, on the whole training split for its best epoch count
    # (the learning rate annealed to zero over those epochs)
    epochs = int(search.metric(best, "best_epoch"))
    print(f"[INFO] retraining trial {int(best.trial_id) + 1} on all {len(trainX)} "
          f"training images for {epochs} epoch(s)...")
    keras.utils.set_random_seed(args.seed)
    model = hypermodel.build_for_retraining(best.hyperparameters, epochs, len(trainX))
    model.summary()
    # (batches of --batch-size, shuffled and augmented as in its trial)
    model.fit(hypermodel.batches(best.hyperparameters, trainX, trainY),
              epochs=epochs, shuffle=False, verbose=fit_verbosity())

    # evaluate the exported model, once, on the test split
    print("[INFO] evaluating network...")
    preds = model.predict(testX, batch_size=256, verbose=0).argmax(axis=1)
    report = classification_report(testY, preds, labels=list(range(len(lb.classes_))),
                                   target_names=[str(c) for c in lb.classes_],
                                   zero_division=0)
    print(report)
    accuracy = float(np.mean(preds == testY))
    print(f"[INFO] test accuracy: {accuracy * 100:.2f}%")

    # the chapter's figure: test images titled with predicted and real labels
    show = search.grid_indices(len(testX), args.seed)
    titles = [f"Predicted: {lb.classes_[preds[i]]}, Real: {lb.classes_[testY[i]]}"
              for i in show]
    plots.plot_prediction_grid(testX[show], titles, args.plot)

    # save the model, the class names and the figures
    save_model(model, args.model)
    save_labels(lb, args.label_bin)
    save_results(args.results, {
        "script": "search_image_classifier.py", "dataset": args.dataset,
        "image_size": size, "classes": [str(c) for c in lb.classes_],
        "train_images": len(trainX), "test_images": len(testX),
        "trials": rows, "best_trial": int(best.trial_id) + 1,
        "best_hyperparameters": dict(best.hyperparameters.values),
        "retrain_epochs": epochs, "test_accuracy": accuracy,
        "model": args.model, "label_bin": args.label_bin, "plot": args.plot,
    })
    print(f"[INFO] wrote {args.model}, {args.label_bin}, {args.plot}, {args.results}")
    return 0


if __name__ == "__main__":
    run_main(main)
