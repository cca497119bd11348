"""Train SmallVGGNet, with data augmentation, on a folder-per-class image set.

    python train_vgg.py --dataset animals --model output/smallvggnet.model \\
        --label-bin output/smallvggnet_lb.pickle --plot output/smallvggnet_plot.png
"""

from pyimagesearch import classification, recipes, training
from pyimagesearch.cli import run_main


def main(argv=None):
    args = classification.parse_args(__doc__.splitlines()[0],
                                     recipes.DEFAULTS["smallvggnet"], argv)
    training.setup(args)

    # Keras (and TensorFlow) load only once the flags are known to be good
    # Keras' SGD, each step applied by one fused kernel (optimizers.py)
    from pyimagesearch.optimizers import SGD
    from sklearn.model_selection import train_test_split

    from pyimagesearch.smallvggnet import SmallVGGNet

    # grab the image paths and randomly shuffle them, then load each image,
    # resize it to 64x64 pixels (ignoring aspect ratio), scale the pixel
    # intensities to [0, 1], and take its class label from its folder
    print("[INFO] loading images...")
    (data, labels) = classification.load_dataset(args.dataset, 64, 64, flatten=False,
                                                 seed=args.seed)

    # partition the data into training and testing splits using 75% of
    # the data for training and the remaining 25% for testing
    (trainX, testX, trainY, testY) = train_test_split(
        data, labels, test_size=0.25, random_state=42)

    # convert the labels from integers to vectors (one column per class,
    # also when there are only two classes)
    lb = classification.fit_label_binarizer(labels)
    trainY = classification.one_hot(lb, trainY)
    testY = classification.one_hot(lb, testY)

    # construct the image augmentation applied to the training batches
    aug = classification.augmentation()

    # initialize our VGG-like Convolutional Neural Network
    model = SmallVGGNet.build(width=64, height=64, depth=3, classes=len(lb.classes_))

    # initialize our initial learning rate, # of epochs to train for,
    # and batch size
    INIT_LR = 0.01
    EPOCHS = args.epochs
    BS = args.batch_size

    # initialize the model and optimizer (the post's time-based decay of
    # INIT_LR / EPOCHS per step, as a learning-rate schedule)
    print("[INFO] training network...")
    opt = SGD(learning_rate=training.time_based_decay(INIT_LR, INIT_LR / EPOCHS))
    loss = "categorical_crossentropy"
    if args.recipe == "improved":
        # Adam with warm-up and cosine decay, label smoothing (recipes.py)
        (opt, loss) = recipes.smallvggnet(max(1, len(trainX) // BS), EPOCHS)
    model.compile(loss=loss, optimizer=opt, metrics=["accuracy"])

    # train the network on augmented batches
    H = training.fit(model, trainX, trainY, (testX, testY), args, augment=aug,
                     steps_per_epoch=max(1, len(trainX) // BS), steps_per_execution=1)

    # evaluate the network
    print("[INFO] evaluating network...")
    evaluation = classification.report(model, testX, testY, [str(c) for c in lb.classes_])

    # plot the training loss and accuracy (and the confusion matrix), then
    # save the model, the label binarizer and the results to disk
    classification.save_outputs(args, "train_vgg.py", model, lb, H,
                                "Training Loss and Accuracy (SmallVGGNet)", evaluation)


if __name__ == "__main__":
    run_main(main)
