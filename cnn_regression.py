"""Predict house prices from pictures of the house with a CNN (part 2).

    python cnn_regression.py --dataset "Houses-dataset/Houses Dataset/"
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

    from pyimagesearch import fast, models, training

    training.setup(args.seed, args.mixed_precision)

    # partition the data into training and testing splits using 75% of
    # the data for training and the remaining 25% for testing
    print("[INFO] processing data...")
    splits.check_enough_houses(df)
    split = train_test_split(df, images, test_size=0.25, random_state=42)
    (trainAttrX, testAttrX, trainImagesX, testImagesX) = split

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

    # create our Convolutional Neural Network and then compile the model
    # using mean absolute percentage error as our loss, implying that we
    # seek to minimize the absolute percentage difference between our
    # price *predictions* and the *actual prices* (a whole epoch per graph
    # call: the same steps, less overhead)
    model = models.create_cnn(64, 64, 3, regress=True)
    opt = Adam(learning_rate=training.time_based_decay(1e-3, decay=1e-3 / 200))
    model.compile(loss="mean_absolute_percentage_error", optimizer=opt,
                  steps_per_execution=training.steps_per_epoch(len(trainImagesX),
                                                               args.batch_size))
    # batch norm's training step on one fused kernel: 26% less time (bench/README)
    fast.use_fused_kernels(model, optimizer=False)

    # train the model on batches of 8 houses; the houses come from
    # in-memory pipelines, the training ones reshuffled every epoch (Keras
    # would wrap NumPy arrays anew every epoch), the validation ones in
    # batches of 256 (only evaluated: the same mean in fewer steps); Ctrl-C
    # stops after the current step, and with --val-split the weights of the
    # best epoch are kept (--patience: stop early)
    print("[INFO] training model...")
    trainData = training.batches(trainImagesX, trainY, args.batch_size, shuffle=True,
                                 seed=args.seed)
    valData = training.batches(valX, valY, batch_size=256)
    H = model.fit(trainData, validation_data=valData, epochs=args.epochs,
                  verbose=cli.fit_verbosity(),
                  callbacks=training.callbacks(args.val_split, args.patience))

    # make predictions on the testing data
    print("[INFO] predicting house prices...")
    preds = model.predict(testImagesX, verbose=0)

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
        save_house_run(args.output, "cnn_regression.py", model, H, testAttrX,
                       preds.flatten() * maxPrice, absPercentDiff,
                       {"recipe": "posts", "seed": args.seed, "epochs": args.epochs,
                        "val_split": args.val_split}, time.perf_counter() - start)

    # finally, show some statistics on our model
    print("[INFO] avg. house price: {}, std house price: {}".format(
        format_price(df["price"].mean()), format_price(df["price"].std())))
    print("[INFO] mean: {:.2f}%, std: {:.2f}%".format(mean, std))


if __name__ == "__main__":
    cli.run_main(main)
