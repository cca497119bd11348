"""Predict house prices from attributes and pictures together (part 3).

    python mixed_regression.py --dataset "Houses-dataset/Houses Dataset/"
"""

import os
import time

import numpy as np

from pyimagesearch import cli, datasets, splits
from pyimagesearch.reports import format_price, save_house_run

# the post's training: 200 epochs on batches of 8 houses
EPOCHS = 200
BATCH_SIZE = 8


def create_mixed_model(attributeDim):
    """The post's two branches, an MLP on the attributes and a CNN on the
    pictures, joined into one model with a regression head."""
    from keras import Model
    from keras.layers import Dense, concatenate

    from pyimagesearch import models

    # create the MLP and CNN models, without their regression heads
    mlp = models.create_mlp(attributeDim, regress=False)
    cnn = models.create_cnn(64, 64, 3, regress=False)

    # create the input to our final set of layers as the *output* of both
    # the MLP and CNN
    combinedInput = concatenate([mlp.output, cnn.output])

    # our final FC layer head will have two dense layers, the final one
    # being our regression head
    x = Dense(4, activation="relu")(combinedInput)
    x = Dense(1, activation="linear")(x)

    # our final model will accept categorical/numerical data on the MLP
    # input and images on the CNN input, outputting a single value (the
    # predicted price of the house)
    return Model(inputs=[mlp.input, cnn.input], outputs=x, name="mixed")


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

    from pyimagesearch import fast, training

    # this model's operations are too small to share out between cores:
    # each runs on one core, its two branches side by side (16% less time,
    # bench/README)
    training.one_core_per_op()
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

    # process the house attributes data by performing min-max scaling
    # on continuous features, one-hot encoding on categorical features,
    # and then finally concatenating them together
    (trainAttrX, testAttrX) = datasets.process_house_attributes(df, trainAttrX, testAttrX)

    # validate on the test split as the post does, or (--val-split) on
    # training houses held out, so the test split stays unseen
    (trainX, trainY, valX, valY) = splits.validation_data(
        [trainAttrX, trainImagesX], trainY, [testAttrX, testImagesX], testY,
        args.val_split, args.seed)

    # create the mixed model, then compile it using mean absolute
    # percentage error as our loss, implying that we seek to minimize the
    # absolute percentage difference between our price *predictions* and
    # the *actual prices* (a whole epoch per graph call: the same steps,
    # less overhead)
    model = create_mixed_model(trainAttrX.shape[1])
    opt = Adam(learning_rate=training.time_based_decay(1e-3, decay=1e-3 / 200))
    model.compile(loss="mean_absolute_percentage_error", optimizer=opt,
                  steps_per_execution=training.steps_per_epoch(len(trainY), args.batch_size))
    # batch norm's and Adam's training steps on one fused kernel each:
    # 28% and 13% less time (bench/README)
    fast.use_fused_kernels(model)

    # train the model on batches of 8 houses; the houses come from
    # in-memory pipelines, the training ones reshuffled every epoch (Keras
    # would wrap NumPy arrays anew every epoch), the validation ones in
    # batches of 256 (only evaluated: the same mean in fewer steps); Ctrl-C
    # stops after the current step, and with --val-split the weights of the
    # best epoch are kept (--patience: stop early)
    print("[INFO] training model...")
    trainData = training.batches(trainX, trainY, args.batch_size, shuffle=True,
                                 seed=args.seed)
    valData = training.batches(valX, valY, batch_size=256)
    H = model.fit(trainData, validation_data=valData, epochs=args.epochs,
                  verbose=cli.fit_verbosity(),
                  callbacks=training.callbacks(args.val_split, args.patience))

    # make predictions on the testing data
    print("[INFO] predicting house prices...")
    preds = model.predict([testAttrX, testImagesX], verbose=0)

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
        save_house_run(args.output, "mixed_regression.py", model, H, split[1],
                       preds.flatten() * maxPrice, absPercentDiff,
                       {"recipe": "posts", "seed": args.seed, "epochs": args.epochs,
                        "val_split": args.val_split}, time.perf_counter() - start)

    # finally, show some statistics on our model
    print("[INFO] avg. house price: {}, std house price: {}".format(
        format_price(df["price"].mean()), format_price(df["price"].std())))
    print("[INFO] mean: {:.2f}%, std: {:.2f}%".format(mean, std))


if __name__ == "__main__":
    cli.run_main(main)
