"""pyimagesearch/plots.py: the book's smoothing of a curve."""

import pytest

from pyimagesearch.plots import smooth_curve


def test_smooth_curve_is_the_books_moving_average():
    points = list(range(10)) + [10.0, 20.0, 0.0]
    epochs, smoothed = smooth_curve(points)
    assert list(epochs) == [11, 12, 13]
    assert smoothed == pytest.approx([10.0, 11.0, 9.9])
