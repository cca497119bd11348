"""Predict house prices from pictures of the house with a CNN (part 2).

    python cnn_regression.py --dataset "Houses-dataset/Houses Dataset/"
"""

import os
import time

import numpy as np

from pyimagesearch import cli, datasets, splits
from pyimagesearch.reports import HouseReport, format_price

# the post's training: 200 epochs on batches of 8 houses (--recipe
# improved: batches of 32, which cost a CPU far less per house)
EPOCHS = 200
BATCH_SIZE = 8


def main(argv=None):
    start = time.perf_counter()
    args = cli.parse_house_args(__doc__.splitlines()[0], argv, epochs=EPOCHS,
                                batch_size=BATCH_SIZE, improved={"batch_size": 32})

    # construct the path to the input .txt file that contains information
    # on each house in the dataset and then load the dataset
    print("[INFO] loading house attributes...")
    inputPath = os.path.sep.join([args.dataset, "HousesInfo.txt"])
    df = datasets.load_house_attributes(inputPath)

    # load the house images and then scale the pixel intensities to the
    # range [0, 1] (houses with a damaged picture are left out, with a warning)
    print("[INFO] loading house images...")
    df = datasets.drop_houses_with_bad_images(df, args.dataset)
    images = datasets.load_house_images(df, args.dataset)
    images = images / 255.0

    # TensorFlow loads only now, once the flags and the data are known
    # to be good
    from keras.optimizers import Adam
    from sklearn.model_selection import train_test_split

    from pyimagesearch import fast, models, recipes, training

    training.setup(args.seed, args.mixed_precision)

    # partition the data into training and testing splits using 75% of
    # the data for training and the remaining 25% for testing (or, with
    # --folds K, K splits in which every house is tested once)
    print("[INFO] processing data...")
    splits.check_enough_houses(df, args.folds)
    if args.folds:
        folds = splits.kfold(args.folds, df, images)
    else:
        folds = [train_test_split(df, images, test_size=0.25, random_state=42)]

    report = HouseReport("cnn_regression.py", df, args.folds, args.val_split,
                         record={"recipe": args.recipe, "seed": args.seed,
                                 "epochs": args.epochs})
    for (trainAttrX, testAttrX, trainImagesX, testImagesX) in folds:
        # find the largest house price in the training set and use it to
        # scale our house prices to the range [0, 1] (will lead to better
        # training and convergence)
        maxPrice = trainAttrX["price"].max()
        trainY = (trainAttrX["price"] / maxPrice).to_numpy("float32")
        testY = (testAttrX["price"] / maxPrice).to_numpy("float32")

        # validate on the test split as the post does, or (--val-split) on
        # training houses held out, so the test split stays unseen
        (trainImagesX, trainY, valX, valY) = splits.validation_data(
            trainImagesX, trainY, testImagesX, testY, args.val_split, args.seed)

        # fit's callbacks: Ctrl-C stops after the current step; with --val-split
        # the weights of the best epoch are kept (--patience: stop early)
        callbacks = training.callbacks(args.val_split is not None, args.patience,
                                       args.resume_dir)
        print("[INFO] training model...")
        if args.recipe == "improved":
            # this repository's recipe: four CNNs, their mean is the price
            (model, H) = recipes.train_improved(
                "cnn", lambda: models.create_cnn(64, 64, 3, regress=True),
                (trainImagesX, trainY), (valX, valY), args.epochs,
                args.batch_size, args.seed, callbacks)
        else:
            # create our Convolutional Neural Network and then compile the
            # model using mean absolute percentage error as our loss,
            # implying that we seek to minimize the absolute percentage
            # difference between our price *predictions* and the *actual
            # prices* (a whole epoch per graph call: the same steps, less
            # overhead)
            model = models.create_cnn(64, 64, 3, regress=True)
            opt = Adam(learning_rate=training.time_based_decay(1e-3, decay=1e-3 / 200))
            model.compile(loss="mean_absolute_percentage_error", optimizer=opt,
                          steps_per_execution=training.steps_per_epoch(len(trainImagesX),
                                                                       args.batch_size))
            # batch norm's training step on one fused kernel: 26% faster (bench/README)
            fast.use_fused_kernels(model, optimizer=False)

            # train the model on batches of 8 houses; the houses come from
            # in-memory pipelines, the training ones reshuffled every epoch
            # (Keras would wrap NumPy arrays anew every epoch), the
            # validation ones in batches of 256 (only evaluated: the same
            # mean in fewer steps)
            trainData = training.batches(trainImagesX, trainY, args.batch_size,
                                         shuffle=True, seed=args.seed)
            valData = training.batches(valX, valY, batch_size=256)
            H = model.fit(trainData, validation_data=valData, epochs=args.epochs,
                          verbose=cli.fit_verbosity(),
                          callbacks=callbacks)

        # make predictions on the testing data
        print("[INFO] predicting house prices...")
        preds = model.predict(testImagesX, verbose=0)

        # compute the difference between the *predicted* house prices and the
        # *actual* house prices, then compute the percentage difference and
        # the absolute percentage difference
        diff = preds.flatten() - testY
        percentDiff = (diff / testY) * 100
        absPercentDiff = np.abs(percentDiff)
        report.add(absPercentDiff, testAttrX, preds.flatten() * maxPrice, H, model)

    # save what a learner looks at (--output)
    if args.output:
        report.save(args.output, seconds=time.perf_counter() - start)

    # compute the mean and standard deviation of the absolute percentage
    # difference (with --folds, of the folds' means), then show some
    # statistics on our model
    (mean, std) = report.figure
    print("[INFO] avg. house price: {}, std house price: {}".format(
        format_price(df["price"].mean()), format_price(df["price"].std())))
    print("[INFO] mean: {:.2f}%, std: {:.2f}%{}".format(mean, std, report.over_folds))


if __name__ == "__main__":
    cli.run_main(main)
