"""The pictures a run saves: training curves, predicted-vs-actual prices,
the K-fold comparison of the house models, Boston's K-fold validation
curve, the confusion matrix, a grid of test images with their predictions. All drawn with matplotlib's file-only backend (no
display needed) in the posts' ggplot style, and written atomically.
"""

import numpy as np

from .storage import atomic_output


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # write files; never needs a display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    _pyplot().close(fig)


def smooth_curve(points, factor=0.9, skip=10):
    """Exponential moving average of a per-epoch curve, first ``skip`` points
    dropped (Deep Learning with Python, ch. 3): the first epochs' losses are
    on another scale, and the average shows the trend the noise hides.
    Returns ``(epochs, smoothed)`` with 1-based epoch numbers.
    """
    points = list(points)[skip:]
    smoothed = []
    for p in points:
        smoothed.append(smoothed[-1] * factor + p * (1 - factor) if smoothed else p)
    return np.arange(skip + 1, skip + 1 + len(smoothed)), np.array(smoothed)


def plot_history(history, path, title, metrics, smooth=False):
    """Plot per-epoch curves from a Keras History's ``history`` dict.

    ``metrics`` maps a history key to its legend label, e.g.
    ``{"loss": "train_loss", "val_loss": "val_loss"}``. With ``smooth`` the
    validation loss is drawn a second time, smoothed (``smooth_curve``), to
    show where it stops improving.
    """
    plt = _pyplot()
    epochs = np.arange(1, len(history["loss"]) + 1)
    with plt.style.context("ggplot"):
        fig, ax = plt.subplots(figsize=(8, 6))
        for key, label in metrics.items():
            if key in history:
                ax.plot(epochs, history[key], label=label)
        if smooth and len(history.get("val_loss", [])) > 10:
            ax.plot(*smooth_curve(history["val_loss"]), label="val_loss (smoothed)",
                    linewidth=2.5)
        ax.set_title(title)
        ax.set_xlabel("Epoch #")
        ax.set_ylabel(" / ".join(sorted({_axis_name(k) for k in metrics})))
        ax.legend()
        _save(fig, path)


def plot_kfold_curve(average_mae, smoothed, best_epoch, folds, path):
    """Deep Learning with Python's two K-fold pictures side by side: the
    per-epoch validation MAE (mean of the folds), and its smoothed curve
    (``smooth_curve``) from epoch 11 on, with the epoch where it stops
    improving marked."""
    plt = _pyplot()
    average_mae = np.asarray(average_mae)
    epochs = np.arange(1, len(average_mae) + 1)
    with plt.style.context("ggplot"):
        (fig, (raw, smooth)) = plt.subplots(1, 2, figsize=(12, 5))
        raw.plot(epochs, average_mae, label=f"validation MAE, mean of {folds} folds")
        if len(average_mae) > 10:
            # the first epochs' errors would squash the rest into a flat line
            raw.set_ylim(0.9 * average_mae[10:].min(), 1.5 * average_mae[10:].max())
            smooth.plot(epochs[10:], smoothed, color="tab:blue",
                        label="smoothed (EMA 0.9, first 10 epochs dropped)")
            smooth.axvline(best_epoch, color="black", linewidth=1, linestyle="--",
                           label=f"lowest at epoch {best_epoch}")
            smooth.legend()
        else:
            smooth.text(0.5, 0.5, "drawn from 11 epochs on", ha="center", va="center",
                        transform=smooth.transAxes)
        raw.legend()
        for ax in (raw, smooth):
            ax.set_xlabel("Epoch #")
            ax.set_ylabel("Validation MAE ($1000s)")
        raw.set_title("Validation MAE per epoch")
        smooth.set_title("Smoothed")
        _save(fig, path)


def plot_comparison(errors, path, title):
    """The K-fold comparison: a row per model, best at the top, each fold's
    error a dot in that fold's colour (the same fold in every row, so a
    model better fold by fold shows as dots to the left in every colour),
    the mean a black bar and the standard deviation a line either side."""
    plt = _pyplot()
    order = sorted(errors, key=lambda name: np.mean(errors[name]), reverse=True)
    folds = len(errors[order[0]])
    with plt.style.context("ggplot"):
        fig, ax = plt.subplots(figsize=(9, 1.2 + 0.6 * len(order)))
        for (row, name) in enumerate(order):
            values = np.asarray(errors[name])
            ax.errorbar(values.mean(), row, xerr=values.std(), color="black", capsize=4,
                        marker="|", markersize=18, linewidth=1.2, zorder=2)
            ax.scatter(values, np.full(folds, row), c=[f"C{k}" for k in range(folds)], s=30,
                       zorder=3, label=None)
        for k in range(folds):
            ax.scatter([], [], color=f"C{k}", s=30, label=f"fold {k + 1}")
        ax.set_yticks(range(len(order)), order)
        ax.set_xlabel("Mean absolute percentage error on the fold's test houses (%)")
        ax.set_title(title, fontsize=11)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
        _save(fig, path)


def plot_predictions(true_prices, predicted_prices, path, title):
    """Predicted against actual price, log-log, with the line of perfect
    predictions: a house's distance from it is its percentage error."""
    plt = _pyplot()
    true_prices = np.asarray(true_prices, dtype="float64")
    predicted = np.clip(np.asarray(predicted_prices, dtype="float64"), 1.0, None)
    low = min(true_prices.min(), predicted.min())
    high = max(true_prices.max(), predicted.max())
    with plt.style.context("ggplot"):
        fig, ax = plt.subplots(figsize=(7, 7))
        ax.scatter(true_prices, predicted, s=14, alpha=0.7)
        ax.plot([low, high], [low, high], color="black", linewidth=1,
                label="prediction = actual")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("Actual price ($)")
        ax.set_ylabel("Predicted price ($)")
        ax.set_title(title, fontsize=11)
        ax.legend()
        _save(fig, path)


def plot_confusion_matrix(matrix, class_names, path, title):
    """Counts of (true class, predicted class) over the test images."""
    plt = _pyplot()
    matrix = np.asarray(matrix)
    size = max(4, 1.2 * len(class_names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    ax.set_title(title, fontsize=11)
    threshold = matrix.max() / 2 if matrix.size else 0
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                    color="white" if matrix[i, j] > threshold else "black")
    ax.grid(False)
    _save(fig, path)


def plot_prediction_grid(images, titles, path, columns=4):
    """The chapter's figure: test images, each titled
    ``Predicted: x, Real: y`` (images are OpenCV BGR, uint8 or in [0, 1])."""
    plt = _pyplot()
    count = len(images)
    rows = max(1, int(np.ceil(count / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.4 * rows),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles):
        image = np.asarray(image)
        if image.dtype != np.uint8:
            image = np.clip(image * 255.0, 0, 255).astype("uint8")
        if image.ndim == 3 and image.shape[-1] == 1:
            ax.imshow(image[..., 0], cmap="gray", interpolation="nearest")
        else:
            ax.imshow(image[..., ::-1], interpolation="nearest")  # BGR -> RGB
        ax.set_title(title, fontsize=9)
    _save(fig, path)
    return path


def plot_class_histogram(train_counts, test_counts, path):
    """The chapter's histogram of the training and test labels: a bar per
    class and split (``*Counts``: ``{class name: pictures}``)."""
    plt = _pyplot()
    names = list(train_counts)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(names) + 2), 4))
    ax.bar(x - 0.2, [train_counts[n] for n in names], width=0.4, label="training")
    ax.bar(x + 0.2, [test_counts.get(n, 0) for n in names], width=0.4, label="test")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=45, ha="right")
    ax.set_ylabel("Pictures")
    ax.set_title("Labels of the training and test pictures")
    ax.legend()
    _save(fig, path)
    return path


def _axis_name(key):
    return "Accuracy" if key.endswith("accuracy") else "Loss"
