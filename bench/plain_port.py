"""The baseline the benchmark compares against: the posts' code ported plainly.

    python bench/plain_port.py mlp_regression --dataset "Houses-dataset/Houses Dataset/"
    python bench/plain_port.py train_vgg --dataset animals

Issue #5 measured "a plain port of the posts' code to TensorFlow 2.21" on
one machine; figures from another machine (or another hour of a shared one)
say little about a speed-up measured here. This script is that port, so that
``bench/run.py`` can time it beside the real scripts, on the same machine
and at the same time. Same data, split, architectures, optimizers,
schedules, losses, epochs and batch sizes as the scripts' default
("posts") recipe, but trained the way a line-by-line port does it:

* pictures decoded one after another, as the posts' loaders do;
* Keras' own ``BatchNormalization``, ``Adam`` and ``SGD``;
* NumPy arrays handed to ``model.fit``, one graph call per batch;
* SmallVGGNet's augmentation (the post's ``ImageDataGenerator``, gone from
  Keras 3) as Keras' preprocessing layers, applied to every batch in a
  Python generator (the post's 0.2-degree shear is below a pixel at 64x64
  and left out).

It prints the posts' result lines (the house scripts' mean error, the
classifiers' report) and writes the classifiers' model and plot, as the
posts' scripts do. Not a tool for readers: only the benchmark runs it.
"""

import argparse
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SCRIPTS = ("mlp_regression", "cnn_regression", "mixed_regression", "train_simple_nn",
           "train_vgg")


def plain_package():
    """The package's loaders with this repository's speed-up (decoding
    pictures on several threads) turned back into the posts' plain loop.
    (The builders are Keras' own layers already.)"""
    from pyimagesearch import datasets

    datasets._LOAD_WORKERS = 1


def house_prices(script, datasetPath, epochs=200):
    """Parts 1-3: MLP, CNN or both, trained with Keras' Adam on NumPy arrays."""
    import numpy as np
    from keras import Model
    from keras.layers import Dense, concatenate
    from keras.optimizers import Adam
    from sklearn.model_selection import train_test_split

    from pyimagesearch import datasets, models, training

    df = datasets.load_house_attributes(os.path.join(datasetPath, "HousesInfo.txt"))
    images = None
    if script != "mlp_regression":
        images = datasets.load_house_images(df, datasetPath) / 255.0
    rows = np.arange(len(df))
    (trainIdx, testIdx) = train_test_split(rows, test_size=0.25, random_state=42)
    (train, test) = (df.iloc[trainIdx], df.iloc[testIdx])
    maxPrice = train["price"].max()
    (trainY, testY) = (train["price"] / maxPrice, test["price"] / maxPrice)
    (trainX, testX) = datasets.process_house_attributes(df, train, test)

    if script == "mlp_regression":
        model = models.create_mlp(trainX.shape[1], regress=True)
    elif script == "cnn_regression":
        model = models.create_cnn(64, 64, 3, regress=True)
        (trainX, testX) = (images[trainIdx], images[testIdx])
    else:
        mlp = models.create_mlp(trainX.shape[1], regress=False)
        cnn = models.create_cnn(64, 64, 3, regress=False)
        x = Dense(4, activation="relu")(concatenate([mlp.output, cnn.output]))
        model = Model(inputs=[mlp.input, cnn.input], outputs=Dense(1, activation="linear")(x))
        (trainX, testX) = ([trainX, images[trainIdx]], [testX, images[testIdx]])

    opt = Adam(learning_rate=training.time_based_decay(1e-3, 1e-3 / 200))
    model.compile(loss="mean_absolute_percentage_error", optimizer=opt)
    model.fit(x=trainX, y=trainY, validation_data=(testX, testY), epochs=epochs,
              batch_size=8)

    preds = model.predict(testX)
    absPercentDiff = np.abs((preds.flatten() - testY) / testY * 100)
    print("[INFO] mean: {:.2f}%, std: {:.2f}%".format(np.mean(absPercentDiff),
                                                      np.std(absPercentDiff)))


def image_classifier(script, datasetPath, outputDir, epochs=None):
    """Part 4: the simple NN or SmallVGGNet, trained with Keras' SGD."""
    import keras
    import matplotlib
    import numpy as np
    from keras import layers
    from keras.optimizers import SGD
    from sklearn.metrics import classification_report
    from sklearn.model_selection import train_test_split

    from pyimagesearch import datasets, training
    from pyimagesearch.smallvggnet import SmallVGGNet

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vgg = script == "train_vgg"
    size = 64 if vgg else 32
    (data, labels) = datasets.load_image_dataset(datasetPath, size, size, flatten=not vgg,
                                                 seed=42)
    (trainX, testX, trainY, testY) = train_test_split(data, labels, test_size=0.25,
                                                      random_state=42)
    lb = datasets.fit_label_binarizer(labels)
    (trainY, testY) = (datasets.one_hot(lb, trainY), datasets.one_hot(lb, testY))

    if vgg:
        model = SmallVGGNet.build(width=64, height=64, depth=3, classes=len(lb.classes_))
        opt = SGD(learning_rate=training.time_based_decay(0.01, 0.01 / 75))
        (epochs, bs) = (epochs or 75, 32)
    else:
        model = keras.Sequential([keras.Input((3072,)),
                                  layers.Dense(1024, activation="sigmoid"),
                                  layers.Dense(512, activation="sigmoid"),
                                  layers.Dense(len(lb.classes_), activation="softmax")])
        opt = SGD(learning_rate=0.01)
        (epochs, bs) = (epochs or 80, 32)
    model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])

    if vgg:
        aug = keras.Sequential([layers.RandomRotation(30 / 360, fill_mode="nearest"),
                                layers.RandomTranslation(0.1, 0.1, fill_mode="nearest"),
                                layers.RandomZoom(0.2, fill_mode="nearest"),
                                layers.RandomFlip("horizontal")])

        def batches():
            rng = np.random.default_rng(42)
            while True:
                order = rng.permutation(len(trainX))
                for i in range(0, len(order) - bs + 1, bs):
                    b = order[i:i + bs]
                    yield aug(trainX[b], training=True).numpy(), trainY[b]

        H = model.fit(batches(), validation_data=(testX, testY),
                      steps_per_epoch=len(trainX) // bs, epochs=epochs)
    else:
        H = model.fit(trainX, trainY, validation_data=(testX, testY), epochs=epochs,
                      batch_size=bs)

    predictions = model.predict(testX, batch_size=32)
    print(classification_report(testY.argmax(axis=1), predictions.argmax(axis=1),
                                target_names=[str(c) for c in lb.classes_]))

    plt.style.use("ggplot")
    plt.figure()
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        plt.plot(np.arange(0, epochs), H.history[key], label=key)
    plt.legend()
    plt.savefig(os.path.join(outputDir, "plot.png"))
    model.save(os.path.join(outputDir, "model.keras"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("script", choices=SCRIPTS)
    ap.add_argument("-d", "--dataset", required=True)
    ap.add_argument("--epochs", type=int, default=None,
                    help="fewer epochs than the post's, for a quick look")
    args = ap.parse_args()

    import keras

    keras.utils.set_random_seed(42)
    plain_package()
    if args.script.endswith("regression"):
        house_prices(args.script, args.dataset, args.epochs or 200)
    else:
        with tempfile.TemporaryDirectory() as out:
            image_classifier(args.script, args.dataset, out, args.epochs)


if __name__ == "__main__":
    main()
