"""Training on TensorFlow's fused kernels: the same arithmetic, less time.

The posts' models are small, so on a CPU a training step is dominated by
chains of small operations rather than by the convolutions and products
themselves. Two of those chains have a single TensorFlow kernel that does
the same arithmetic in one pass:

* Batch normalization. Keras 3 computes it from primitive operations (mean,
  variance, subtract, divide, ...) and their gradients; that took 43% of a
  SmallVGGNet training step and about 30% of the house CNN's. The layer
  below trains with ``FusedBatchNormV3`` and computes the same outputs,
  gradients and moving averages, to float rounding (tests/test_fast.py);
  inference and anything the kernel does not cover run Keras' own code.
* Optimizer steps. Keras 3 writes an Adam step as about twenty small
  operations per weight tensor; ``ResourceApplyAdam`` does it in one pass
  (the same formula in the same order; ``1 - b1`` is rounded once in float32,
  so weights agree to float rounding). SGD's ``ResourceApplyGradientDescent``
  gives bit-identical weights. The MLP's training epoch went from about 60
  to about 32 ms with it.

These classes are Keras' own with those kernels; they live only while a
script trains (the optimizers are registered with Keras so that a compiled
model can be cloned in the same process). ``storage.save_model`` writes the same architecture with
Keras' own classes and the trained weights, so a saved model never needs
this module: ``keras.models.load_model`` opens it anywhere.
"""

import keras
import tensorflow as tf


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


def _tf_variable(variable):
    """The ``tf.Variable`` behind a Keras variable (TensorFlow backend)."""
    return variable.value if isinstance(variable, keras.Variable) else variable


@keras.saving.register_keras_serializable(package="pyimagesearch")
class SGD(keras.optimizers.SGD):
    """``keras.optimizers.SGD`` whose momentum-free steps use one fused kernel."""

    def update_step(self, gradient, variable, learning_rate):
        if self.momentum != 0 or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        weights = _tf_variable(variable)
        tf.raw_ops.ResourceApplyGradientDescent(
            var=weights.handle, alpha=tf.cast(learning_rate, weights.dtype),
            delta=tf.cast(gradient, weights.dtype))


class _FusedAdamStep:
    """Adam's step on one fused kernel, for Adam and AdamW (whose weight
    decay Keras applies before the step, unchanged)."""

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        weights = _tf_variable(variable)
        index = self._get_variable_index(variable)
        m = _tf_variable(self._momentums[index])
        v = _tf_variable(self._velocities[index])

        def cast(value):
            return tf.cast(value, weights.dtype)

        # Keras counts steps from 0; the bias corrections use t = step + 1
        t = cast(self.iterations + 1)
        tf.raw_ops.ResourceApplyAdam(
            var=weights.handle, m=m.handle, v=v.handle,
            beta1_power=tf.pow(cast(self.beta_1), t), beta2_power=tf.pow(cast(self.beta_2), t),
            lr=cast(learning_rate), beta1=cast(self.beta_1), beta2=cast(self.beta_2),
            epsilon=cast(self.epsilon), grad=cast(gradient))


@keras.saving.register_keras_serializable(package="pyimagesearch")
class Adam(_FusedAdamStep, keras.optimizers.Adam):
    """``keras.optimizers.Adam`` whose steps use one fused kernel per tensor."""


@keras.saving.register_keras_serializable(package="pyimagesearch")
class AdamW(_FusedAdamStep, keras.optimizers.AdamW):
    """``keras.optimizers.AdamW`` whose steps use one fused kernel per tensor."""
