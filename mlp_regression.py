"""Predict house prices from their attributes with a small MLP (part 1).

    python mlp_regression.py --dataset "Houses-dataset/Houses Dataset/"
"""

import os
import time

import numpy as np

from pyimagesearch import cli, datasets, splits
from pyimagesearch.reports import format_price, save_house_run

# the post's training: 200 epochs on batches of 8 houses
EPOCHS = 200
BATCH_SIZE = 8


def main(argv=None):
    start = time.perf_counter()
    args = cli.parse_house_args(__doc__.splitlines()[0], argv, epochs=EPOCHS,
                                batch_size=BATCH_SIZE)

    # construct the path to the input .txt file that contains information
    # on each house in the dataset and then load the dataset
    print("[INFO] loading house attributes...")
    inputPath = os.path.sep.join([args.dataset, "HousesInfo.txt"])
    df = datasets.load_house_attributes(inputPath)

    # TensorFlow loads only now, once the flags and the data are known
    # to be good
    from keras.optimizers import Adam
    from sklearn.model_selection import train_test_split

    from pyimagesearch import models, training

    training.setup(args.seed, args.mixed_precision)

    # construct a training and testing split with 75% of the data used
    # for training and the remaining 25% for evaluation
    print("[INFO] constructing training/testing split...")
    splits.check_enough_houses(df)
    (train, test) = train_test_split(df, test_size=0.25, random_state=42)

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
    (trainX, trainY, valX, valY) = splits.validation_data(
        trainX, trainY, testX, testY, args.val_split, args.seed)

    # create our MLP and then compile the model using mean absolute
    # percentage error as our loss, implying that we seek to minimize
    # the absolute percentage difference between our price *predictions*
    # and the *actual prices* (one graph call runs a whole epoch of steps:
    # the same steps, less overhead)
    model = models.create_mlp(trainX.shape[1], regress=True)
    opt = Adam(learning_rate=training.time_based_decay(1e-3, decay=1e-3 / 200))
    model.compile(loss="mean_absolute_percentage_error", optimizer=opt,
                  steps_per_execution=training.steps_per_epoch(len(trainX), args.batch_size))

    # train the model on batches of 8 houses; the houses come from
    # in-memory pipelines, the training ones reshuffled every epoch (Keras
    # would wrap NumPy arrays anew every epoch: 2.5x slower), the validation
    # ones in batches of 256 (only evaluated: the same mean in fewer steps);
    # Ctrl-C stops after the current step, and with --val-split the weights
    # of the best epoch are kept (--patience: stop early)
    print("[INFO] training model...")
    trainData = training.batches(trainX, trainY, args.batch_size, shuffle=True,
                                 seed=args.seed)
    valData = training.batches(valX, valY, batch_size=256)
    H = model.fit(trainData, validation_data=valData, epochs=args.epochs,
                  verbose=cli.fit_verbosity(),
                  callbacks=training.callbacks(args.val_split, args.patience))

    # make predictions on the testing data
    print("[INFO] predicting house prices...")
    preds = model.predict(testX, verbose=0)

    # compute the difference between the *predicted* house prices and the
    # *actual* house prices, then compute the percentage difference and
    # the absolute percentage difference
    diff = preds.flatten() - testY
    percentDiff = (diff / testY) * 100
    absPercentDiff = np.abs(percentDiff)

    # compute the mean and standard deviation of the absolute percentage
    # difference
    mean = np.mean(absPercentDiff)
    std = np.std(absPercentDiff)

    # save what a learner looks at (--output): the model, its loss curves,
    # the test houses' predicted prices
    if args.output:
        save_house_run(args.output, "mlp_regression.py", model, H, test,
                       preds.flatten() * maxPrice, absPercentDiff,
                       {"recipe": "posts", "seed": args.seed, "epochs": args.epochs,
                        "val_split": args.val_split}, time.perf_counter() - start)

    # finally, show some statistics on our model
    print("[INFO] avg. house price: {}, std house price: {}".format(
        format_price(df["price"].mean()), format_price(df["price"].std())))
    print("[INFO] mean: {:.2f}%, std: {:.2f}%".format(mean, std))


if __name__ == "__main__":
    cli.run_main(main)
