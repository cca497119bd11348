"""Predict house prices from pictures of the house with a CNN (part 2).

    python cnn_regression.py --dataset "Houses-dataset/Houses Dataset/"
"""

import os

from pyimagesearch import datasets, models, regression, training
from pyimagesearch.cli import run_main


def main(argv=None):
    args = regression.parse_args(__doc__.splitlines()[0], argv)
    training.setup(args)

    # Keras (and TensorFlow) load only once the flags are known to be good
    from keras.optimizers import Adam
    from sklearn.model_selection import train_test_split

    # construct the path to the input .txt file that contains information
    # on each house in the dataset and then load the dataset
    print("[INFO] loading house attributes...")
    inputPath = os.path.sep.join([args.dataset, "HousesInfo.txt"])
    df = datasets.load_house_attributes(inputPath)

    # load the house images and then scale the pixel intensities to the
    # range [0, 1]
    print("[INFO] loading house images...")
    df = datasets.drop_houses_with_bad_images(df, args.dataset)
    images = datasets.load_house_images(df, args.dataset)
    images = images / 255.0

    # partition the data into training and testing splits using 75% of
    # the data for training and the remaining 25% for testing
    print("[INFO] processing data...")
    regression.check_enough_houses(df)
    split = train_test_split(df, images, test_size=0.25, random_state=42)
    (trainAttrX, testAttrX, trainImagesX, testImagesX) = split

    # find the largest house price in the training set and use it to
    # scale our house prices to the range [0, 1] (will lead to better
    # training and convergence)
    (trainY, testY, maxPrice) = regression.scale_prices(trainAttrX, testAttrX)

    # create our Convolutional Neural Network and then compile the model
    # using mean absolute percentage error as our loss, implying that we
    # seek to minimize the absolute percentage difference between our
    # price *predictions* and the *actual prices*
    model = models.create_cnn(64, 64, 3, regress=True)
    opt = Adam(learning_rate=training.time_based_decay(1e-3, 1e-3 / 200))
    model.compile(loss="mean_absolute_percentage_error", optimizer=opt)

    # train the model
    print("[INFO] training model...")
    history = training.fit(model, trainImagesX, trainY,
                           validation_data=(testImagesX, testY),
                           epochs=args.epochs, batch_size=args.batch_size,
                           seed=args.seed, resume_dir=args.resume_dir)

    # make predictions on the testing data
    print("[INFO] predicting house prices...")
    preds = training.predict(model, testImagesX)
    if args.output:
        regression.save_outputs(args.output, model, history, testAttrX, preds, maxPrice)

    # the absolute percentage difference between the predicted and the
    # actual house prices, and its mean and standard deviation
    absPercentDiff = regression.absolute_percentage_errors(preds, testY)
    regression.report(df, absPercentDiff)


if __name__ == "__main__":
    run_main(main)
