"""Classify an image (or a folder of images) with a model trained by
train_simple_nn.py or train_vgg.py.

    python predict.py --image images/cat.jpg --model output/simple_nn.model \\
        --label-bin output/simple_nn_lb.pickle --width 32 --height 32 --flatten 1
    python predict.py --image images/panda.jpg --model output/smallvggnet.model \\
        --label-bin output/smallvggnet_lb.pickle --width 64 --height 64

--width, --height and --flatten default to what the model expects.
"""

import argparse
import csv
import math
import os
import sys

import numpy as np

from pyimagesearch.cli import run_main, warn
from pyimagesearch.errors import UserError
from pyimagesearch.datasets import preprocess_image, read_image
from pyimagesearch.storage import atomic_output

IMAGE_OUTPUTS = (".png", ".jpg", ".jpeg", ".bmp")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-i", "--image", required=True,
                    help="path to input image we are going to classify (or a folder of them)")
    ap.add_argument("-m", "--model", required=True,
                    help="path to trained Keras model")
    ap.add_argument("-l", "--label-bin", required=True,
                    help="path to label binarizer")
    ap.add_argument("-w", "--width", type=int, default=None,
                    help="target spatial dimension width (default: the model's)")
    ap.add_argument("-e", "--height", type=int, default=None,
                    help="target spatial dimension height (default: the model's)")
    ap.add_argument("-f", "--flatten", type=int, default=None, choices=(-1, 1),
                    help="1 to flatten the image (simple NN), -1 not to (CNN); "
                         "default: what the model expects")
    ap.add_argument("-o", "--output", default=None,
                    help="write the annotated image here (for a folder of images: "
                         "a CSV of path, label, probability) instead of showing it")
    args = ap.parse_args(argv)

    if not os.path.exists(args.image):
        raise UserError(f"--image {args.image!r} does not exist")
    if args.output:
        ext = os.path.splitext(args.output)[1].lower()
        wanted = (".csv",) if os.path.isdir(args.image) else IMAGE_OUTPUTS
        if ext not in wanted:
            raise UserError(f"--output {args.output!r} must end in {' or '.join(wanted)}")
    return args


def input_geometry(shape, width, height, flatten):
    """(width, height, flatten) a model whose input is ``shape`` (one
    picture's, without the batch) expects, checked against the flags.

    A CNN's input says its height and width; a flattened model's input is
    width * height * 3 values, taken to be square unless told otherwise.
    """
    shape = tuple(shape)
    if len(shape) == 3:
        (modelH, modelW, depth) = shape
        if flatten == 1:
            raise UserError(f"--flatten 1 contradicts the model, which takes "
                            f"{modelW}x{modelH} images, not flat vectors")
        for flag, given, expected in (("--width", width, modelW), ("--height", height, modelH)):
            if given is not None and given != expected:
                raise UserError(f"{flag} {given} contradicts the model, which takes "
                                f"{modelW}x{modelH} images")
        if depth != 3:
            raise UserError(f"the model takes {depth}-channel images; these scripts use 3")
        return modelW, modelH, False

    if len(shape) != 1 or shape[0] % 3:
        raise UserError(f"the model's input shape {shape} is not an image")
    if flatten == -1:
        raise UserError(f"--flatten -1 contradicts the model, which takes flat vectors "
                        f"of {shape[0]} values (use --flatten 1)")
    pixels = shape[0] // 3
    if width is None and height is None:
        side = math.isqrt(pixels)
        if side * side != pixels:
            raise UserError(f"the model takes {shape[0]} values; give --width and --height")
        width = height = side
    elif width is None:
        width = pixels // height if pixels % height == 0 else 0
    elif height is None:
        height = pixels // width if pixels % width == 0 else 0
    if width * height != pixels:
        raise UserError(f"--width/--height contradict the model, which takes "
                        f"{shape[0]} values (width x height x 3)")
    return width, height, True


def has_display():
    """Whether a window can be opened (OpenCV aborts the process if not)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def main(argv=None):
    args = parse_args(argv)

    import cv2
    import imutils
    from imutils import paths

    from pyimagesearch.storage import find_model, load_labels, load_model, model_inputs

    # load the model and label binarizer, and check they belong together
    # (the model file and the pictures it takes first, from its config,
    # before TensorFlow loads)
    print("[INFO] loading network and label binarizer...")
    classes = load_labels(args.label_bin)
    (found, config) = find_model(args.model)
    inputs = model_inputs(config)
    if inputs and inputs[0][1] == "string":
        raise UserError(f"--model {found!r} classifies text (train_text.py's); "
                        f"use predict_text.py")
    if inputs:
        (width, height, flatten) = input_geometry(inputs[0][0][1:], args.width, args.height,
                                                  args.flatten)
    model = load_model(found)
    outputs = model.outputs[0].shape[-1]
    if outputs != len(classes):
        raise UserError(f"--label-bin {args.label_bin!r} names {len(classes)} classes but "
                        f"the model predicts {outputs}; were they trained together?")
    if not inputs:
        (width, height, flatten) = input_geometry(model.inputs[0].shape[1:], args.width,
                                                  args.height, args.flatten)

    if os.path.isdir(args.image):
        return classify_folder(args, model, classes, width, height, flatten,
                               sorted(paths.list_images(args.image)))

    # load the input image, keep a copy for the output, and prepare it the
    # way the training script prepared its images
    image = read_image(args.image)
    if image is None:
        raise UserError(f"--image {args.image!r} is not a readable image")
    output = image.copy()
    image = preprocess_image(image, width, height, flatten)

    # add the batch dimension, then make a prediction on the image
    preds = model.predict(image[np.newaxis], verbose=0)

    # find the class label index with the largest corresponding probability
    i = preds.argmax(axis=1)[0]
    label = classes[i]

    # draw the class label + probability on the output image, first
    # enlarging a picture too small to hold the text (32-64 pixel ones)
    text = "{}: {:.2f}%".format(label, preds[0][i] * 100)
    (textWidth, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.7, 2)
    if output.shape[1] < textWidth + 20:
        output = imutils.resize(output, width=textWidth + 20)
    cv2.putText(output, text, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 255), 2)
    print(f"[INFO] {text}")

    # save the output image, or show it when there is a screen to show it on
    if args.output:
        with atomic_output(args.output) as tmp:
            if not cv2.imwrite(tmp, output):
                raise UserError(f"--output {args.output!r} could not be written")
        print(f"[INFO] wrote {args.output}")
    elif has_display():
        cv2.imshow("Image", output)
        cv2.waitKey(0)
    else:
        print("[INFO] no display found; pass --output result.png to save the picture")
    return 0


def classify_folder(args, model, classes, width, height, flatten, imagePaths):
    """Classify every image in a folder: one line per image, optional CSV."""
    batch, kept = [], []
    for imagePath in imagePaths:
        image = read_image(imagePath)
        if image is None:
            warn(f"skipping {imagePath}: not a readable image")
            continue
        batch.append(preprocess_image(image, width, height, flatten))
        kept.append(imagePath)
    if not kept:
        raise UserError(f"--image {args.image!r} holds no readable images")

    preds = model.predict(np.array(batch), batch_size=256, verbose=0)
    rows = []
    for imagePath, p in zip(kept, preds):
        i = int(p.argmax())
        rows.append((imagePath, classes[i], p[i] * 100))
        print(f"[INFO] {imagePath}: {classes[i]}: {p[i] * 100:.2f}%")

    if args.output:
        with atomic_output(args.output) as tmp:
            with open(tmp, "w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["path", "label", "probability"])
                writer.writerows((path, label, f"{prob:.2f}") for path, label, prob in rows)
        print(f"[INFO] wrote {args.output}")
    return 0


if __name__ == "__main__":
    run_main(main)
