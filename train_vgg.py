"""Train SmallVGGNet, with data augmentation, on a folder-per-class image set.

    python train_vgg.py --dataset animals --model output/smallvggnet.model \\
        --label-bin output/smallvggnet_lb.pickle --plot output/smallvggnet_plot.png
"""

import time

from pyimagesearch import cli, datasets

# initialize our initial learning rate, # of epochs to train for, and
# batch size
INIT_LR = 0.01
EPOCHS = 75
BS = 32

# the curves of the training plot: history key -> legend label
CURVES = {"loss": "train_loss", "val_loss": "val_loss",
          "accuracy": "train_acc", "val_accuracy": "val_acc"}


def main(argv=None):
    start = time.perf_counter()
    args = cli.parse_classifier_args(__doc__.splitlines()[0], argv, epochs=EPOCHS,
                                     batch_size=BS)

    # grab the image paths and randomly shuffle them, then load each image,
    # resize it to 64x64 pixels (ignoring aspect ratio), scale the pixel
    # intensities to [0, 1], and take its class label from its folder
    print("[INFO] loading images...")
    (data, labels) = datasets.load_image_dataset(args.dataset, 64, 64, flatten=False,
                                                 seed=args.seed)

    # TensorFlow loads only now, once the flags and the data are known
    # to be good
    from keras.optimizers import SGD
    from sklearn.metrics import classification_report, confusion_matrix
    from sklearn.model_selection import train_test_split

    from pyimagesearch import fast, plots, reports, splits, storage, training
    from pyimagesearch.augmentation import image_data_generator
    from pyimagesearch.smallvggnet import SmallVGGNet

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

    # construct the image generator for data augmentation: the post's
    # ImageDataGenerator, drawn for each training batch in the input
    # pipeline and applied in one resampling pass
    aug = image_data_generator(rotation_range=30, width_shift_range=0.1,
                               height_shift_range=0.1, shear_range=0.2, zoom_range=0.2,
                               horizontal_flip=True, fill_mode="nearest")

    # initialize our VGG-like Convolutional Neural Network
    model = SmallVGGNet.build(width=64, height=64, depth=3, classes=len(lb.classes_))

    # initialize the model and optimizer (the post's decay of INIT_LR /
    # EPOCHS per step, as a learning-rate schedule)
    print("[INFO] training network...")
    opt = SGD(learning_rate=training.time_based_decay(INIT_LR, decay=INIT_LR / args.epochs))
    model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
    # batch norm's training step on one fused kernel (Keras builds it from
    # primitive operations; bench/README)
    fast.use_fused_kernels(model, optimizer=False)

    # train the network on augmented batches of BS images: the post's
    # aug.flow(trainX, trainY, batch_size=BS), as an endless in-memory
    # pipeline reshuffled on every pass, an epoch len(trainX) // BS of its
    # batches; the validation images in batches of 256 (only evaluated);
    # Ctrl-C stops after the current step, and with --val-split the weights
    # of the best epoch are kept (--patience: stop early)
    trainData = training.batches(trainX, trainY, args.batch_size, shuffle=True,
                                 seed=args.seed, augment=aug, repeat=True)
    valData = training.batches(valX, valY, batch_size=256)
    H = model.fit(trainData, validation_data=valData,
                  steps_per_epoch=max(1, len(trainX) // args.batch_size),
                  epochs=args.epochs, verbose=cli.fit_verbosity(),
                  callbacks=training.callbacks(args.val_split, args.patience))

    # evaluate the network
    print("[INFO] evaluating network...")
    predictions = model.predict(testX, batch_size=256, verbose=0)
    (trueIdx, predIdx) = (testY.argmax(axis=1), predictions.argmax(axis=1))
    classNames = [str(c) for c in lb.classes_]
    print(classification_report(trueIdx, predIdx, labels=range(len(classNames)),
                                target_names=classNames, zero_division=0))

    # plot the training loss and accuracy, and the confusion matrix
    plots.plot_history(H.history, args.plot, "Training Loss and Accuracy (SmallVGGNet)", CURVES,
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
                         reports.classifier_results("train_vgg.py", record, accuracy,
                                                    classNames, confusion,
                                                    time.perf_counter() - start))
    print(f"[INFO] wrote {modelPath}, {args.label_bin} and {args.plot}")


if __name__ == "__main__":
    cli.run_main(main)
