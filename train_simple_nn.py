"""Train a simple fully-connected network on a folder-per-class image set.

    python train_simple_nn.py --dataset animals --model output/simple_nn.model \\
        --label-bin output/simple_nn_lb.pickle --plot output/simple_nn_plot.png
"""

import time

from pyimagesearch import cli, datasets

# initialize our initial learning rate, # of epochs to train for, and
# batch size
INIT_LR = 0.01
EPOCHS = 80
BS = 32

# the curves of the training plot: history key -> legend label
CURVES = {"loss": "train_loss", "val_loss": "val_loss",
          "accuracy": "train_acc", "val_accuracy": "val_acc"}


def create_simple_nn(classes):
    """The post's 3072-1024-512-C network of sigmoid units."""
    from keras import Input, Sequential
    from keras.layers import Dense

    model = Sequential(name="simple_nn")
    model.add(Input(shape=(3072,)))
    model.add(Dense(1024, activation="sigmoid"))
    model.add(Dense(512, activation="sigmoid"))
    model.add(Dense(classes, activation="softmax"))
    return model


def main(argv=None):
    start = time.perf_counter()
    args = cli.parse_classifier_args(__doc__.splitlines()[0], argv, epochs=EPOCHS,
                                     batch_size=BS)

    # grab the image paths and randomly shuffle them, then load each image,
    # resize it to 32x32 pixels (ignoring aspect ratio), flatten it into
    # 32x32x3=3072 pixel intensities in [0, 1], and take its class label
    # from the folder it is in
    print("[INFO] loading images...")
    (data, labels) = datasets.load_image_dataset(args.dataset, 32, 32, flatten=True,
                                                 seed=args.seed)

    # TensorFlow loads only now, once the flags and the data are known
    # to be good
    from keras.optimizers import SGD
    from sklearn.metrics import classification_report, confusion_matrix
    from sklearn.model_selection import train_test_split

    from pyimagesearch import plots, reports, splits, storage, training

    training.setup(args.seed, args.mixed_precision)

    # partition the data into training and testing splits using 75% of
    # the data for training and the remaining 25% for testing
    (trainX, testX, trainY, testY) = train_test_split(
        data, labels, test_size=0.25, random_state=42)

    # convert the labels from class names to one-hot vectors (one column
    # per class, also for two classes, where scikit-learn's LabelBinarizer
    # alone would return a single column)
    lb = datasets.fit_label_binarizer(labels)
    trainY = datasets.one_hot(lb, trainY)
    testY = datasets.one_hot(lb, testY)

    # validate on the test split as the post does, or (--val-split) on
    # training images held out, so the test split stays unseen
    (trainX, trainY, valX, valY) = splits.validation_data(
        trainX, trainY, testX, testY, args.val_split, args.seed)

    # define the 3072-1024-512-C architecture using Keras
    model = create_simple_nn(len(lb.classes_))

    # initialize our initial learning rate and # of epochs to train for
    # (INIT_LR and EPOCHS, above), then compile the model using SGD as our
    # optimizer and categorical cross-entropy loss (one graph call runs a
    # whole epoch of steps: the same steps, less overhead)
    print("[INFO] training network...")
    opt = SGD(learning_rate=INIT_LR)
    model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"],
                  steps_per_execution=training.steps_per_epoch(len(trainX), args.batch_size))

    # train the neural network on batches of BS images; the images come
    # from in-memory pipelines, the training ones reshuffled every epoch
    # (Keras would wrap NumPy arrays anew every epoch), the validation ones
    # in batches of 256 (only evaluated: the same mean in fewer steps);
    # Ctrl-C stops after the current step, and with --val-split the weights
    # of the best epoch are kept (--patience: stop early)
    trainData = training.batches(trainX, trainY, args.batch_size, shuffle=True,
                                 seed=args.seed)
    valData = training.batches(valX, valY, batch_size=256)
    H = model.fit(trainData, validation_data=valData, epochs=args.epochs,
                  verbose=cli.fit_verbosity(),
                  callbacks=training.callbacks(args.val_split, args.patience))

    # evaluate the network
    print("[INFO] evaluating network...")
    predictions = model.predict(testX, batch_size=256, verbose=0)
    (trueIdx, predIdx) = (testY.argmax(axis=1), predictions.argmax(axis=1))
    classNames = [str(c) for c in lb.classes_]
    print(classification_report(trueIdx, predIdx, labels=range(len(classNames)),
                                target_names=classNames, zero_division=0))

    # plot the training loss and accuracy, and the confusion matrix
    plots.plot_history(H.history, args.plot, "Training Loss and Accuracy (Simple NN)", CURVES,
                       smooth=bool(args.val_split))
    confusion = confusion_matrix(trueIdx, predIdx, labels=range(len(classNames)))
    accuracy = (trueIdx == predIdx).mean()
    plots.plot_confusion_matrix(confusion, classNames,
                                storage.beside(args.plot, "_confusion.png"),
                                f"Confusion matrix on the test split ({accuracy:.0%} accuracy)")

    # save the model and label binarizer to disk, and what the run measured
    print("[INFO] serializing network and label binarizer...")
    modelPath = storage.save_model(model, args.model)
    storage.save_labels(lb, args.label_bin)
    record = {"recipe": "posts", "seed": args.seed, "epochs": args.epochs,
              "val_split": args.val_split, "mixed_precision": args.mixed_precision}
    storage.save_results(storage.beside(args.model, "_results.json"),
                         reports.classifier_results("train_simple_nn.py", record, accuracy,
                                                    classNames, confusion,
                                                    time.perf_counter() - start))
    print(f"[INFO] wrote {modelPath}, {args.label_bin} and {args.plot}")


if __name__ == "__main__":
    cli.run_main(main)
