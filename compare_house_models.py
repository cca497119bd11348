"""Which house-price model is best, by how much, and how sure can we be?

    python compare_house_models.py --dataset "Houses-dataset/Houses Dataset/"
    python compare_house_models.py --dataset "Houses-dataset/Houses Dataset/" \\
        --models mlp mlp-improved --folds 5

Parts 1-3 each test one model on one split: 91 of the 362 houses, and the
figure moves by several points with the seed alone. Here every model is
trained and tested K times (K-fold validation, as Deep Learning with Python
evaluates its Boston model): each fold of the houses is tested once, by a
model trained on the other folds, and every model sees the same folds. It
ends with a table, best model first: each model's mean error over the
folds, their spread, the error of each fold, and how much worse than the
best it is fold by fold, with a 95% interval. The same figures are drawn in
``comparison.png``.

The models: the posts' three, trained as their scripts train them, their
improved recipes (several copies of the post's network, each trained on
its own from its own random start, their mean price the prediction: much of
one network's error is the luck of its first weights), and two yardsticks
without a network: the training houses' mean price, and gradient boosting
on the MLP's features.
"""

import argparse
import os
import time

import numpy as np

from pyimagesearch import cli, datasets, splits, storage

# the posts' training: 200 epochs (each network's batches are its own)
EPOCHS = 200

# network -> (what it is fed, copies averaged, batch size, Adam's step on its
# fused kernel where that saved 10% of the run: bench/README.md). The posts'
# models train as their scripts train them; the improved ones average
# copies joined side by side in one model (models.side_by_side), the CNN's
# on batches of 32, which cost a CPU far less per house, the others' on 16
# (the attributes' branch lost at 32).
NETWORKS = {
    "mlp": ("attributes", 1, 8, False),
    "cnn": ("pictures", 1, 8, False),
    "mixed": ("both", 1, 8, True),
    "mlp-improved": ("attributes", 8, 16, True),
    "cnn-improved": ("pictures", 4, 32, True),
    "mixed-improved": ("both", 4, 16, False),
}
# and the yardsticks, which train in a second
YARDSTICKS = ("mean-price", "boosting")
MODELS = (*NETWORKS, *YARDSTICKS)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-d", "--dataset", required=True,
                    help="path to the Houses dataset folder (holds HousesInfo.txt)")
    ap.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS),
                    metavar="MODEL", help=f"the models to compare (default: all of "
                                          f"{', '.join(MODELS)})")
    ap.add_argument("--folds", type=cli.positive_int, default=5, metavar="K",
                    help="K of the K-fold validation (default: 5)")
    ap.add_argument("--epochs", type=cli.positive_int, default=EPOCHS,
                    help=f"training epochs of every network (default: {EPOCHS}, as the posts)")
    cli.add_seed_flag(ap)
    ap.add_argument("--output", default="output/compare_house_models", metavar="DIR",
                    help="folder for comparison.png, results.json and predictions.csv "
                         "(default: output/compare_house_models)")
    args = ap.parse_args(argv)
    if args.folds < 2:
        ap.error("--folds needs at least 2 folds (each fold is tested by a model "
                 "trained on the others)")
    cli.existing_folder(args.dataset)
    storage.ensure_writable_folder(args.output, "--output")
    # each model once, in the order given
    args.models = list(dict.fromkeys(args.models))
    return args


def fold_inputs(fed, df, images, train, test):
    """What a network of kind ``fed`` trains and is tested on, for one fold:
    the post's processed attributes, the montages, or both."""
    if fed == "pictures":
        return images[train], images[test]
    (trainAttrX, testAttrX) = datasets.process_house_attributes(df, df.iloc[train],
                                                                df.iloc[test])
    if fed == "attributes":
        return trainAttrX, testAttrX
    return [trainAttrX, images[train]], [testAttrX, images[test]]


def train_network(name, trainX, trainY, testX, testY, epochs, seed):
    """Train network ``name`` as its recipe says; return the model that
    predicts the scaled price."""
    from keras.optimizers import Adam

    from mixed_regression import create_mixed_model
    from pyimagesearch import fast, models, training

    (fed, copies, batchSize, fusedAdam) = NETWORKS[name]
    build = {"attributes": lambda: models.create_mlp(trainX.shape[1], regress=True),
             "pictures": lambda: models.create_cnn(64, 64, 3, regress=True),
             "both": lambda: create_mixed_model(trainX[0].shape[1])}[fed]
    if copies == 1:
        model = predictor = build()
    else:
        # one output column per copy; the post's loss compares each column
        # with the price (a column too) and averages them, so each copy
        # trains as if alone, all in the same steps; the predictor is their mean
        (model, predictor) = models.side_by_side([build() for _ in range(copies)],
                                                  name.split("-")[0])
        (trainY, testY) = (trainY.reshape(-1, 1), testY.reshape(-1, 1))

    # the posts' loss, optimizer and decay, a whole epoch per graph call
    opt = Adam(learning_rate=training.time_based_decay(1e-3, decay=1e-3 / 200))
    model.compile(loss="mean_absolute_percentage_error", optimizer=opt,
                  steps_per_execution=training.steps_per_epoch(len(trainY), batchSize))
    fast.use_fused_kernels(model, optimizer=fusedAdam)
    model.fit(training.batches(trainX, trainY, batchSize, shuffle=True, seed=seed),
              validation_data=training.batches(testX, testY, batch_size=256),
              epochs=epochs, verbose=0, callbacks=training.callbacks())
    return predictor


def yardstick_prices(name, df, train, test):
    """The prices a yardstick predicts for the test houses: the training
    houses' mean price, or gradient boosting on the MLP's features (the log
    of the price: prices span a factor of a hundred)."""
    if name == "mean-price":
        return np.full(len(test), df["price"].iloc[train].mean())
    from sklearn.ensemble import HistGradientBoostingRegressor

    (trainX, testX) = datasets.process_house_attributes(df, df.iloc[train], df.iloc[test])
    model = HistGradientBoostingRegressor(random_state=42)
    model.fit(trainX, np.log(df["price"].iloc[train].to_numpy()))
    return np.exp(model.predict(testX))


def main(argv=None):
    args = parse_args(argv)

    # the houses, and their montages if a network looks at pictures (houses
    # with a damaged picture are then left out of every model's folds)
    print("[INFO] loading house attributes...")
    df = datasets.load_house_attributes(os.path.join(args.dataset, "HousesInfo.txt"))
    images = None
    if any(NETWORKS.get(name, ("attributes",))[0] != "attributes" for name in args.models):
        print("[INFO] loading house images...")
        df = datasets.drop_houses_with_bad_images(df, args.dataset)
        images = datasets.load_house_images(df, args.dataset) / 255.0
    splits.check_enough_houses(df, args.folds)

    # TensorFlow loads only now, once the flags and the data are known
    # to be good
    from pyimagesearch import plots, reports, training

    # the mixed models' operations are too small to share out between
    # cores (training.one_core_per_op); it holds for the whole process, so
    # the other networks' sums round otherwise than in their own scripts
    training.one_core_per_op()

    # the folds: row numbers of df, the same for every model
    folds = list(splits.kfold(args.folds, np.arange(len(df))))
    print(f"[INFO] {args.folds} folds of {len(df)} houses, every house tested once")

    errors = {}
    rows = []
    seconds = {}
    for name in args.models:
        start = time.perf_counter()
        # each model from the seed: its figures do not depend on the others
        training.setup(args.seed)
        errors[name] = []
        for (k, (train, test)) in enumerate(folds, start=1):
            # the post's target: the price scaled by the largest training price
            maxPrice = df["price"].iloc[train].max()
            trainY = (df["price"].iloc[train] / maxPrice).to_numpy("float32")
            testY = (df["price"].iloc[test] / maxPrice).to_numpy("float32")
            if name in YARDSTICKS:
                preds = (yardstick_prices(name, df, train, test) / maxPrice).astype("float32")
            else:
                (trainX, testX) = fold_inputs(NETWORKS[name][0], df, images, train, test)
                model = train_network(name, trainX, trainY, testX, testY, args.epochs,
                                      args.seed)
                preds = model.predict(testX, verbose=0).flatten()
            # the posts' figure: the mean absolute percentage error
            absPercentDiff = np.abs((preds - testY) / testY) * 100
            errors[name].append(float(np.mean(absPercentDiff)))
            rows += zip((df.index[test] + 1).tolist(), [k] * len(test), [name] * len(test),
                        df["price"].iloc[test].tolist(), (preds * maxPrice).tolist())
            print(f"[INFO] {name}, fold {k}/{args.folds}: mean: {errors[name][-1]:.2f}%, "
                  f"std: {np.std(absPercentDiff):.2f}%")
        seconds[name] = time.perf_counter() - start
        print(f"[INFO] {name}: mean: {np.mean(errors[name]):.2f}%, std over folds: "
              f"{np.std(errors[name]):.2f}% ({seconds[name]:.0f} s)")

    # what a run keeps: the picture, each fold's predictions, the figures
    title = (f"Mean absolute percentage error of the house models, "
             f"{args.folds} folds of {len(df)} houses")
    picture = os.path.join(args.output, "comparison.png")
    plots.plot_comparison(errors, picture, title)
    predictions = reports.write_predictions(
        os.path.join(args.output, "predictions.csv"),
        ["house", "fold", "model", "true_price", "predicted_price"], sorted(rows))
    results = storage.save_results(os.path.join(args.output, "results.json"), {
        "script": "compare_house_models.py", "folds": args.folds, "epochs": args.epochs,
        "seed": args.seed, "houses": int(len(df)),
        "metric": "mean absolute percentage error (%)",
        "models": {name: {"per_fold": [round(e, 4) for e in errors[name]],
                          "mean": round(float(np.mean(errors[name])), 4),
                          "std": round(float(np.std(errors[name])), 4),
                          "seconds": round(seconds[name], 1)} for name in errors}})
    print(f"[INFO] wrote {picture}, {predictions} and {results}")

    # the answer: best first, each model against the best fold by fold
    print(f"[INFO] {title}, best first:")
    for line in reports.comparison_lines(errors):
        print(line)


if __name__ == "__main__":
    cli.run_main(main)
