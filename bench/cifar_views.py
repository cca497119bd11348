"""What the test-time steps of the CIFAR-10 search add to a saved network.

    python bench/cifar_views.py --dataset /tmp/cifar10 --model output/search_classifier.keras

Loads a model the search exported (or a trial's ``model.keras``) and the
``train/`` and ``test/`` folders, and prints its test accuracy on the
pictures alone, averaged with their mirror images, after recomputing its
batch-norm statistics on 10,000 training pictures
(``airbench.recalibrate_batch_norm``), and with the pictures moved a pixel
up-left and down-right averaged in too (``ImageHyperModel.predict(...,
test=True)``'s views). The search itself does the last two since
2026-12-02; on a model saved before, this shows what they were worth
(bench/README.md).
"""

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def accuracy(model, x, y, mirrored, shifted):
    """Test accuracy of ``model``, each picture's probabilities averaged over
    the search's test views (``airbench.views``)."""
    import numpy as np

    from pyimagesearch import airbench

    probs = airbench.averaged(model, x, airbench.views(mirrored, shifted))
    return float(np.mean(probs.argmax(axis=1) == y))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", required=True, help="CIFAR-10's train/ and test/ folders")
    ap.add_argument("--model", required=True, help="a .keras file the search saved")
    args = ap.parse_args()
    sys.path.insert(0, ROOT)
    import keras

    from pyimagesearch import imagesets
    from pyimagesearch import airbench

    (trainX, _, testX, testY, _) = imagesets.load(args.dataset, "split", 32, seed=42)
    model = keras.models.load_model(args.model)
    print(f"pictures alone:           {accuracy(model, testX, testY, False, False):.2%}")
    print(f"with their mirror images: {accuracy(model, testX, testY, True, False):.2%}")
    airbench.recalibrate_batch_norm(model, trainX, seed=42)
    print(f"batch norm recomputed:    {accuracy(model, testX, testY, True, False):.2%}")
    print(f"and shifted views:        {accuracy(model, testX, testY, True, True):.2%}")


if __name__ == "__main__":
    main()
