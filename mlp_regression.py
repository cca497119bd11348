"""Predict house prices from their attributes with a small MLP (part 1).

    python mlp_regression.py --dataset "Houses-dataset/Houses Dataset/"
"""

import os

import numpy as np

from pyimagesearch import datasets, regression
from pyimagesearch.cli import DEFAULTS, fit_verbosity, run_main
from pyimagesearch.regression import format_price


def main(argv=None):
    args = regression.parse_args(__doc__.splitlines()[0], DEFAULTS["mlp"], argv)

    # TensorFlow loads only now, once the flags are known to be good
    from pyimagesearch import models, recipes, training
    from pyimagesearch.fast import Adam  # Keras' Adam, one fused kernel per step

    training.setup(args.seed, args.mixed_precision)

    # construct the path to the input .txt file that contains information
    # on each house in the dataset and then load the dataset
    print("[INFO] loading house attributes...")
    inputPath = os.path.sep.join([args.dataset, "HousesInfo.txt"])
    df = datasets.load_house_attributes(inputPath)

    # construct a training and testing split with 75% of the data used
    # for training and the remaining 25% for evaluation (or, with --folds K,
    # K splits in which every house is tested once)
    print("[INFO] constructing training/testing split...")
    report = regression.Results("mlp_regression.py", args, df)
    for (trainIdx, testIdx) in regression.splits(df, args.folds):
        (train, test) = (df.iloc[trainIdx], df.iloc[testIdx])

        # find the largest house price in the training set and use it to
        # scale our house prices to the range [0, 1] (leads to better
        # training and convergence)
        maxPrice = train["price"].max()
        trainY = (train["price"] / maxPrice).to_numpy("float32")
        testY = (test["price"] / maxPrice).to_numpy("float32")

        # process the house attributes data by performing min-max scaling
        # on continuous features, one-hot encoding on categorical features,
        # and then finally concatenating them together
        print("[INFO] processing data...")
        (trainX, testX) = datasets.process_house_attributes(df, train, test)

        # validate on the test split as the post does, or (--val-split) on
        # training houses held out, so the test split stays unseen
        (trainX, trainY, valX, valY) = training.validation_data(
            trainX, trainY, testX, testY, args.val_split, args.seed)

        print("[INFO] training model...")
        if args.recipe == "improved":
            # this repository's recipe: eight MLPs, their mean is the price
            (model, H) = recipes.train_improved(
                "mlp", lambda: models.create_mlp(trainX.shape[1], regress=True),
                (trainX, trainY), (valX, valY), args)
        else:
            # create our MLP and then compile the model using mean absolute
            # percentage error as our loss, implying that we seek to minimize
            # the absolute percentage difference between our price
            # *predictions* and the *actual prices* (a whole epoch per
            # graph call: the same steps, less overhead)
            model = models.create_mlp(trainX.shape[1], regress=True)
            opt = Adam(learning_rate=training.time_based_decay(1e-3, 1e-3 / 200))
            model.compile(loss="mean_absolute_percentage_error", optimizer=opt,
                          steps_per_execution=training.steps_per_epoch(len(trainX), args.batch_size))

            # train the model on batches of args.batch_size houses (8 in the
            # post), which the pipeline reshuffles every epoch
            H = model.fit(training.batches(trainX, trainY, args.batch_size, shuffle=True,
                                           seed=args.seed),
                          validation_data=training.validation_batches(valX, valY),
                          epochs=args.epochs, shuffle=False, verbose=fit_verbosity(),
                          callbacks=training.callbacks(args.val_split, args.patience,
                                                       args.resume_dir))

        # make predictions on the testing data
        print("[INFO] predicting house prices...")
        preds = model.predict(testX, verbose=0)

        # compute the difference between the *predicted* house prices and the
        # *actual* house prices, then compute the percentage difference and
        # the absolute percentage difference
        diff = preds.flatten() - testY
        percentDiff = (diff / testY) * 100
        absPercentDiff = np.abs(percentDiff)
        report.add(absPercentDiff, test, preds.flatten() * maxPrice, H, model)

    # save what a learner looks at (--output)
    if args.output:
        report.save(args.output)

    # compute the mean and standard deviation of the absolute percentage
    # difference (with --folds, of the folds' means), then show some
    # statistics on our model
    (mean, std) = report.figure
    print("[INFO] avg. house price: {}, std house price: {}".format(
        format_price(df["price"].mean()), format_price(df["price"].std())))
    print("[INFO] mean: {:.2f}%, std: {:.2f}%{}".format(mean, std, report.over_folds))


if __name__ == "__main__":
    run_main(main)
