"""Training on TensorFlow's fused kernels: the same arithmetic, less time.

The posts' models are small, so on a CPU a training step is dominated by
chains of small operations rather than by the convolutions and products
themselves. Two of those chains have a single TensorFlow kernel that does
the same arithmetic in one pass:

* Batch normalization. Keras 3 computes it from primitive operations (mean,
  variance, subtract, divide, ...) and their gradients; that took 43% of a
  SmallVGGNet training step and about 30% of the house CNN's.
  ``FusedBatchNormV3`` computes the same outputs, gradients and moving
  averages, to float rounding (tests/test_fast.py).
* Optimizer steps. Keras 3 writes an Adam step as about twenty small
  operations per weight tensor; ``ResourceApplyAdam`` does it in one pass
  (the same formula in the same order; ``1 - b1`` is rounded once in
  float32, so weights agree to float rounding). SGD without momentum has
  ``ResourceApplyGradientDescent``, which gives bit-identical weights.

``use_fused_kernels(model)`` is the one line a script adds after
``model.compile``. It changes no class and no configuration: the model
keeps Keras' own ``BatchNormalization`` layers and optimizer, each of which
only gets, on that one object, a training step that calls the fused kernel.
So what the script builds is the post's model, ``model.save`` writes a
plain Keras file, and ``keras.models.load_model`` opens it anywhere.
Inference, frozen layers and anything the kernels do not cover run Keras'
own code.
"""

import types

import keras
import tensorflow as tf


def use_fused_kernels(model, batch_norm=True, optimizer=True):
    """Train ``model`` with the fused kernels; returns ``model``.

    Call it after ``compile``: every ``BatchNormalization`` layer (nested
    models included) and the compiled optimizer, if it is SGD, Adam or
    AdamW, get the fused training step (``batch_norm=False`` or
    ``optimizer=False`` leaves that half as Keras has it).
    """
    if batch_norm:
        for layer in _all_layers(model):
            if isinstance(layer, keras.layers.BatchNormalization):
                _replace_method(layer, "call", _fused_batch_norm_call)
    if not optimizer:
        return model
    optimizer = getattr(model, "optimizer", None)
    if isinstance(optimizer, (keras.optimizers.Adam, keras.optimizers.AdamW)):
        _replace_method(optimizer, "update_step", _fused_adam_step)
    elif isinstance(optimizer, keras.optimizers.SGD):
        _replace_method(optimizer, "update_step", _fused_sgd_step)
    return model


def stock_steps(model):
    """Undo what was bound on ``model``'s own objects for training (here,
    and airbench's ``scale_bias_steps`` and ``muon_steps``): its layers and
    its optimizer run Keras' own code again (Muon's filters still left out
    of weight decay); returns ``model``."""
    for layer in _all_layers(model):
        vars(layer).pop("call", None)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        for name in ("update_step", "apply"):
            vars(optimizer).pop(name, None)
    if getattr(model, "train_function", None) is not None:
        model.train_function = None   # fit's graph was traced with the bound steps
    return model


def _all_layers(model):
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _all_layers(layer)


def _replace_method(obj, name, function):
    """Bind ``function`` as ``obj.name`` on this object alone (its class,
    and so every other object and what is saved, stay Keras' own)."""
    object.__setattr__(obj, name, types.MethodType(function, obj))


# --------------------------------------------------------------------------
# Batch normalization


def _fusable(layer, inputs, mask):
    return (mask is None and not layer.renorm and not layer.synchronized
            and inputs.shape.rank in (2, 4)
            and layer.axis in (-1, inputs.shape.rank - 1)
            and inputs.dtype in (tf.float32, tf.bfloat16, tf.float16))


def _fused_batch_norm_call(self, inputs, training=None, mask=None):
    """``BatchNormalization.call`` with its training step on one kernel."""
    stock = keras.layers.BatchNormalization.call
    if not (training and self.trainable) or not _fusable(self, inputs, mask):
        return stock(self, inputs, training=training, mask=mask)

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


# --------------------------------------------------------------------------
# Optimizer steps


def _tf_variable(variable):
    """The ``tf.Variable`` behind a Keras variable (TensorFlow backend)."""
    return variable.value if isinstance(variable, keras.Variable) else variable


def _fused_sgd_step(self, gradient, variable, learning_rate):
    """SGD's step; without momentum on one kernel."""
    if self.momentum != 0 or isinstance(gradient, tf.IndexedSlices):
        return type(self).update_step(self, gradient, variable, learning_rate)
    weights = _tf_variable(variable)
    tf.raw_ops.ResourceApplyGradientDescent(
        var=weights.handle, alpha=tf.cast(learning_rate, weights.dtype),
        delta=tf.cast(gradient, weights.dtype))


def _fused_adam_step(self, gradient, variable, learning_rate):
    """Adam's step on one kernel, for Adam and AdamW (whose weight decay
    Keras applies before the step, unchanged)."""
    if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
        return type(self).update_step(self, gradient, variable, learning_rate)
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
