"""Train a simple fully-connected network on a folder-per-class image set.

    python train_simple_nn.py --dataset animals --model output/simple_nn.model \\
        --label-bin output/simple_nn_lb.pickle --plot output/simple_nn_plot.png
"""

from pyimagesearch import classification, recipes, training
from pyimagesearch.cli import run_main


def main(argv=None):
    args = classification.parse_args(__doc__.splitlines()[0],
                                     recipes.DEFAULTS["simple_nn"], argv)
    training.setup(args)

    # Keras (and TensorFlow) load only once the flags are known to be good
    from keras import Input, Sequential
    from keras.layers import Dense
    # Keras' SGD, each step applied by one fused kernel (optimizers.py)
    from pyimagesearch.optimizers import SGD
    from sklearn.model_selection import train_test_split

    # grab the image paths and randomly shuffle them, then load each image,
    # resize it to 32x32 pixels (ignoring aspect ratio), flatten it into
    # 32x32x3=3072 pixel intensities in [0, 1], and take its class label
    # from the folder it is in
    print("[INFO] loading images...")
    (data, labels) = classification.load_dataset(args.dataset, 32, 32, flatten=True,
                                                 seed=args.seed)

    # partition the data into training and testing splits using 75% of
    # the data for training and the remaining 25% for testing
    (trainX, testX, trainY, testY) = train_test_split(
        data, labels, test_size=0.25, random_state=42)

    # convert the labels from class names to one-hot vectors (one column
    # per class, also for two classes, where scikit-learn's LabelBinarizer
    # alone would return a single column)
    lb = classification.fit_label_binarizer(labels)
    trainY = classification.one_hot(lb, trainY)
    testY = classification.one_hot(lb, testY)

    # define the 3072-1024-512-C architecture using Keras
    model = Sequential(name="simple_nn")
    model.add(Input(shape=(3072,)))
    model.add(Dense(1024, activation="sigmoid"))
    model.add(Dense(512, activation="sigmoid"))
    model.add(Dense(len(lb.classes_), activation="softmax"))

    # initialize our initial learning rate and # of epochs to train for
    INIT_LR = 0.01
    EPOCHS = args.epochs

    # compile the model using SGD as our optimizer and categorical
    # cross-entropy loss (two classes get two softmax units, so this
    # loss serves them too)
    print("[INFO] training network...")
    opt = SGD(learning_rate=INIT_LR)
    mix = None
    if args.recipe == "improved":
        # ReLU and dropout, AdamW with a cosine decay, mirrored images
        # (recipes.py)
        steps = -(-len(trainX) // args.batch_size)
        (model, opt, mix) = recipes.simple_nn(32, 32, 3, len(lb.classes_), steps, EPOCHS)
    model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])

    # train the neural network
    H = training.fit(model, trainX, trainY, (testX, testY), args, mix=mix)

    # evaluate the network
    print("[INFO] evaluating network...")
    evaluation = classification.report(model, testX, testY, [str(c) for c in lb.classes_])

    # plot the training loss and accuracy (and the confusion matrix), then
    # save the model, the label binarizer and the results to disk
    classification.save_outputs(args, "train_simple_nn.py", model, lb, H,
                                "Training Loss and Accuracy (Simple NN)", evaluation)


if __name__ == "__main__":
    run_main(main)
