"""Keras' SGD and Adam, each step applied by one TensorFlow kernel.

Keras 3 writes an optimizer step as a chain of small operations per weight
tensor: SGD multiplies the gradient by the learning rate (a new tensor as
large as the weights) and then subtracts it; Adam needs about twenty
operations (casts, powers, the two moment updates, square roots, the
division) for every weight and bias. The posts' models are small, so on a
CPU that chain is a large share of a step: the house-price CNN has 20 weight
tensors, 440 optimizer operations a step, and the MLP spends about half of its
training time in them. TensorFlow's ``ResourceApplyGradientDescent`` and
``ResourceApplyAdam`` kernels compute the same update in one pass over each
tensor:

* SGD, ``w -= lr * g``: the same float32 rounding, so training gives
  bit-identical weights (tests/test_optimizers.py checks this);
* Adam: the same formula in the same order (``alpha = lr * sqrt(1 - b2^t) /
  (1 - b1^t)``, ``m += (g - m)(1 - b1)``, ``v += (g^2 - v)(1 - b2)``, ``w -=
  m alpha / (sqrt(v) + eps)``); only ``1 - b1`` is rounded once in float32
  instead of in double precision, so weights agree to float rounding, not
  bit for bit.

The classes below are Keras' optimizers with these kernels for their plain
steps (AdamW too: Keras applies its weight decay before the step, as
always); momentum (SGD), AMSGrad (Adam) and sparse gradients run Keras' own
code. Saved models name these classes: load them after importing
``pyimagesearch.optimizers`` (``storage.load_model``, and so predict.py,
does).
"""

from . import backend  # noqa: F401  (quiet TensorFlow import)
import keras
import tensorflow as tf


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
