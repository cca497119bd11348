"""Train part 4's networks with this repository's improved recipes.

    python train_improved_classifier.py --network smallvggnet --dataset animals \\
        --model output/smallvggnet_improved.model \\
        --label-bin output/smallvggnet_improved_lb.pickle \\
        --plot output/smallvggnet_improved_plot.png --mixed-precision

The same pictures, split as train_simple_nn.py and train_vgg.py split
them, trained from scratch with what worked better here (README, "Beyond
the posts"), and the same outputs, so predict.py classifies with the model:

* ``--network simple_nn``: the post's 3072-1024-512-C shape with ReLU units
  and 30% dropout after each hidden layer (sigmoid units saturate and learn
  slowly; dropout keeps a 3.7-million-weight network from memorising 2,250
  images), AdamW at 1e-4 with a 2-epoch warm-up and a cosine decay, every
  training batch randomly mirrored (a mirrored cat is still a cat, and a
  flattened network cannot learn that by itself); 80 epochs.
* ``--network smallvggnet``: the post's SmallVGGNet and augmentation, with
  Adam, a 5-epoch warm-up and a cosine decay over twice the post's epochs
  (150) instead of SGD's slow time-based decay, and label smoothing 0.1,
  which keeps the network from becoming over-confident on 2,250 pictures.

``--resume-dir DIR`` keeps the training state after every epoch: after a
crash or Ctrl-C the same command continues from the last finished epoch.
"""

import math
import time

from pyimagesearch import cli, datasets, storage

# network -> (picture side, flattened, epochs); batches of 32 for both
RECIPES = {"simple_nn": (32, True, 80), "smallvggnet": (64, False, 150)}
BS = 32

# the curves of the training plot: history key -> legend label
CURVES = {"loss": "train_loss", "val_loss": "val_loss",
          "accuracy": "train_acc", "val_accuracy": "val_acc"}


def parse_args(argv):
    ap = cli.classifier_parser(__doc__.splitlines()[0], epochs=None, batch_size=BS,
                               whose="the improved recipes'")
    ap.add_argument("--network", choices=RECIPES, required=True,
                    help="simple_nn (80 epochs) or smallvggnet (150 epochs)")
    ap.add_argument("--resume-dir", default=None, metavar="DIR",
                    help="keep per-epoch training state in DIR; rerunning the same "
                         "command after an interruption resumes at the last epoch")
    args = cli.check_classifier_args(ap, ap.parse_args(argv))
    if args.resume_dir is not None:
        storage.ensure_writable_folder(args.resume_dir, "--resume-dir")
    args.epochs = args.epochs or RECIPES[args.network][2]
    return args


def create_relu_dropout_nn(inputs, classes):
    """The simple NN's shape with ReLU units and 30% dropout."""
    from keras import Input, Sequential
    from keras.layers import Dense, Dropout

    model = Sequential(name="simple_nn")
    model.add(Input(shape=(inputs,)))
    for units in (1024, 512):
        model.add(Dense(units, activation="relu"))
        model.add(Dropout(0.3))
    model.add(Dense(classes, activation="softmax"))
    return model


def flip_flattened(images, labels, shape):
    """Random left-right mirror images of a batch of flattened pictures."""
    import tensorflow as tf

    batch = tf.image.random_flip_left_right(tf.reshape(images, (-1,) + shape))
    return tf.reshape(batch, (-1, math.prod(shape))), labels


def main(argv=None):
    start = time.perf_counter()
    args = parse_args(argv)
    (side, flatten, _) = RECIPES[args.network]

    # load the pictures as the post's script does: resized, scaled to [0, 1]
    # and labelled by their folder (flattened for the simple NN)
    print("[INFO] loading images...")
    (data, labels) = datasets.load_image_dataset(args.dataset, side, side, flatten=flatten,
                                                 seed=args.seed)

    # TensorFlow loads only now, once the flags and the data are known
    # to be good
    from functools import partial

    from keras.losses import CategoricalCrossentropy
    from keras.optimizers import Adam, AdamW
    from sklearn.metrics import classification_report, confusion_matrix
    from sklearn.model_selection import train_test_split

    from pyimagesearch import fast, plots, reports, splits, training
    from pyimagesearch.augmentation import image_data_generator
    from pyimagesearch.smallvggnet import SmallVGGNet

    training.setup(args.seed, args.mixed_precision)

    # the post's split and one-hot labels, and the validation data
    # (the test split, or --val-split held out of the training split)
    (trainX, testX, trainY, testY) = train_test_split(
        data, labels, test_size=0.25, random_state=42)
    lb = datasets.fit_label_binarizer(labels)
    trainY = datasets.one_hot(lb, trainY)
    testY = datasets.one_hot(lb, testY)
    (trainX, trainY, valX, valY) = splits.validation_data(
        trainX, trainY, testX, testY, args.val_split, args.seed)

    # the recipe: its network, optimizer and schedule, loss and training
    # batches; the schedules count the steps that really train (after any
    # hold-out), so they end when training ends
    print("[INFO] training network...")
    classes = len(lb.classes_)
    if args.network == "simple_nn":
        model = create_relu_dropout_nn(trainX.shape[1], classes)
        steps = training.steps_per_epoch(len(trainX), args.batch_size)
        opt = AdamW(learning_rate=training.warmup_cosine(1e-4, steps * args.epochs, steps * 2))
        # (one graph call runs a whole epoch of steps: the same steps, less overhead)
        model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"],
                      steps_per_execution=steps)
        # AdamW's step on its fused kernel: 29% less time (bench/README)
        fast.use_fused_kernels(model)
        trainData = training.batches(trainX, trainY, args.batch_size, shuffle=True,
                                     seed=args.seed,
                                     mix=partial(flip_flattened, shape=(side, side, 3)))
        epochSteps = None
    else:
        model = SmallVGGNet.build(width=side, height=side, depth=3, classes=classes)
        steps = training.steps_per_epoch(len(trainX), args.batch_size, full_batches=True)
        opt = Adam(learning_rate=training.warmup_cosine(1e-3, steps * args.epochs, steps * 5))
        model.compile(loss=CategoricalCrossentropy(label_smoothing=0.1), optimizer=opt,
                      metrics=["accuracy"])
        # batch norm's training step on one fused kernel: 12% less time (bench/README)
        fast.use_fused_kernels(model, optimizer=False)
        aug = image_data_generator(rotation_range=30, width_shift_range=0.1,
                                   height_shift_range=0.1, shear_range=0.2, zoom_range=0.2,
                                   horizontal_flip=True, fill_mode="nearest")
        trainData = training.batches(trainX, trainY, args.batch_size, shuffle=True,
                                     seed=args.seed, augment=aug, repeat=True)
        epochSteps = steps
    # train; Ctrl-C stops after the current step, --val-split keeps the best
    # epoch's weights (--patience: stop early), --resume-dir keeps the state
    valData = training.batches(valX, valY, batch_size=256)
    H = model.fit(trainData, validation_data=valData, steps_per_epoch=epochSteps,
                  epochs=args.epochs, verbose=cli.fit_verbosity(),
                  callbacks=training.callbacks(args.val_split, args.patience,
                                               args.resume_dir))

    # evaluate the network on the test split, as the post's scripts do
    print("[INFO] evaluating network...")
    predictions = model.predict(testX, batch_size=256, verbose=0)
    (trueIdx, predIdx) = (testY.argmax(axis=1), predictions.argmax(axis=1))
    classNames = [str(c) for c in lb.classes_]
    print(classification_report(trueIdx, predIdx, labels=range(len(classNames)),
                                target_names=classNames, zero_division=0))

    # plot the training loss and accuracy, and the confusion matrix
    plots.plot_history(H.history, args.plot,
                       f"Training Loss and Accuracy ({args.network}, improved recipe)",
                       CURVES, smooth=bool(args.val_split))
    confusion = confusion_matrix(trueIdx, predIdx, labels=range(len(classNames)))
    accuracy = (trueIdx == predIdx).mean()
    plots.plot_confusion_matrix(confusion, classNames,
                                storage.beside(args.plot, "_confusion.png"),
                                f"Confusion matrix on the test split ({accuracy:.0%} accuracy)")

    # save the model and label binarizer to disk, and what the run measured
    print("[INFO] serializing network and label binarizer...")
    modelPath = storage.save_model(model, args.model)
    storage.save_labels(lb, args.label_bin)
    record = {"recipe": "improved", "network": args.network, "seed": args.seed,
              "epochs": args.epochs, "val_split": args.val_split,
              "mixed_precision": args.mixed_precision}
    storage.save_results(storage.beside(args.model, "_results.json"),
                         reports.classifier_results("train_improved_classifier.py", record,
                                                    accuracy, classNames, confusion,
                                                    time.perf_counter() - start))
    print(f"[INFO] wrote {modelPath}, {args.label_bin} and {args.plot}")


if __name__ == "__main__":
    cli.run_main(main)
