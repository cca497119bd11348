"""Batch normalization with TensorFlow's fused kernel.

Keras 3 computes batch normalization from primitive operations (mean,
variance, subtract, divide, ...), and their gradients are as many more
passes over every activation. On a CPU that costs as much as the
convolutions themselves: 43% of a SmallVGGNet training step here.
TensorFlow's ``FusedBatchNormV3`` kernel does the same arithmetic in one
pass forward and one backward.

``BatchNormalization`` below is Keras' layer with that kernel in training:
same weights, same moving averages, same outputs (to float rounding), same
saved configuration; anything the fused kernel does not cover (another
axis, masks, renormalization, a synchronized layer) runs Keras' own code, and
so does inference. Saved models name this class: load them after importing
``pyimagesearch.layers`` (``storage.load_model``, and so predict.py, does).
"""

from . import backend  # noqa: F401  (quiet TensorFlow import)
import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="pyimagesearch")
class BatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` that trains with one fused kernel."""

    def _fusable(self, inputs, mask):
        return (mask is None and not self.renorm and not self.synchronized
                and inputs.shape.rank in (2, 4)
                and self.axis in (-1, inputs.shape.rank - 1)
                and inputs.dtype in (tf.float32, tf.bfloat16, tf.float16))

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable) or not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)

        # the kernel wants NHWC: a dense layer's (batch, units) becomes
        # (batch, 1, 1, units), the same statistics over the batch
        x = inputs if inputs.shape.rank == 4 else inputs[:, None, None, :]
        channels = x.shape[-1]
        ones = tf.ones((channels,), tf.float32)
        zeros = tf.zeros((channels,), tf.float32)
        gamma = tf.cast(self.gamma, tf.float32) if self.scale else ones
        beta = tf.cast(self.beta, tf.float32) if self.center else zeros
        y, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=gamma, offset=beta, mean=zeros, variance=zeros,
            epsilon=self.epsilon, exponential_avg_factor=1.0,
            data_format="NHWC", is_training=True)

        # the kernel returns the unbiased (n - 1) batch variance for the
        # moving average, Keras averages the biased one
        n = tf.cast(tf.size(x) // channels, tf.float32)
        variance = variance * (n - 1.0) / tf.maximum(n, 2.0)
        momentum = self.momentum
        self.moving_mean.assign(
            self.moving_mean * momentum + tf.cast(mean, self.moving_mean.dtype) * (1 - momentum))
        self.moving_variance.assign(
            self.moving_variance * momentum
            + tf.cast(variance, self.moving_variance.dtype) * (1 - momentum))

        y = tf.cast(y, self.compute_dtype)
        return y if inputs.shape.rank == 4 else y[:, 0, 0, :]
