"""Plain SGD with TensorFlow's fused update kernel.

Keras 3 applies an SGD step as two operations per weight tensor: multiply
the gradient by the learning rate (a new tensor as large as the weights),
then subtract it from the weights. For the posts' large dense layers (the
simple NN's 3072x1024 kernel, SmallVGGNet's 8192x512) those are two extra
passes over many megabytes every step. TensorFlow's
``ResourceApplyGradientDescent`` kernel computes ``w -= lr * g`` in one
pass, with the same float32 rounding, so training gives bit-identical
weights (tests/test_optimizers.py checks this) about 5% faster.

``SGD`` below is Keras' optimizer with that kernel for its plain steps;
momentum and sparse gradients run Keras' own code. Saved models name this
class: load them after importing ``pyimagesearch.optimizers``
(``storage.load_model``, and so predict.py, does).
"""

from . import backend  # noqa: F401  (quiet TensorFlow import)
import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="pyimagesearch")
class SGD(keras.optimizers.SGD):
    """``keras.optimizers.SGD`` whose momentum-free steps use one fused kernel."""

    def update_step(self, gradient, variable, learning_rate):
        if self.momentum != 0 or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        weights = variable.value if isinstance(variable, keras.Variable) else variable
        tf.raw_ops.ResourceApplyGradientDescent(
            var=weights.handle, alpha=tf.cast(learning_rate, weights.dtype),
            delta=tf.cast(gradient, weights.dtype))
