"""Model builders: output shapes and parameter counts computed from the
architectures described in the posts."""

import pytest

from pyimagesearch.models import create_cnn, create_mlp
from pyimagesearch.smallvggnet import SmallVGGNet


def dense(n_in, n_out):
    return n_in * n_out + n_out


def conv(c_in, c_out):
    return 3 * 3 * c_in * c_out + c_out


def bn(c):
    return 4 * c  # gamma, beta, moving mean, moving variance


@pytest.mark.parametrize("regress", [False, True])
def test_mlp(regress):
    model = create_mlp(10, regress=regress)
    assert tuple(model.output.shape) == (None, 1 if regress else 4)
    expected = dense(10, 8) + dense(8, 4) + (dense(4, 1) if regress else 0)
    assert model.count_params() == expected


@pytest.mark.parametrize("regress", [False, True])
def test_cnn(regress):
    model = create_cnn(64, 64, 3, regress=regress)
    assert tuple(model.input.shape) == (None, 64, 64, 3)
    assert tuple(model.output.shape) == (None, 1 if regress else 4)
    expected = (conv(3, 16) + bn(16) + conv(16, 32) + bn(32) + conv(32, 64) + bn(64)
                + dense(8 * 8 * 64, 16) + bn(16) + dense(16, 4)
                + (dense(4, 1) if regress else 0))
    assert model.count_params() == expected


def test_cnn_custom_filters():
    model = create_cnn(32, 32, 3, filters=(8,), regress=True)
    expected = conv(3, 8) + bn(8) + dense(16 * 16 * 8, 16) + bn(16) + dense(16, 4) + dense(4, 1)
    assert model.count_params() == expected


@pytest.mark.parametrize("classes", [2, 3])
def test_smallvggnet(classes):
    model = SmallVGGNet.build(width=64, height=64, depth=3, classes=classes)
    assert tuple(model.outputs[0].shape) == (None, classes)
    expected = (conv(3, 32) + bn(32)
                + conv(32, 64) + bn(64) + conv(64, 64) + bn(64)
                + conv(64, 128) + bn(128) + 2 * (conv(128, 128) + bn(128))
                + dense(8 * 8 * 128, 512) + bn(512) + dense(512, classes))
    assert model.count_params() == expected
    # the last layer is a softmax: each prediction sums to one
    import numpy as np
    out = model.predict(np.random.default_rng(0).random((2, 64, 64, 3)), verbose=0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
