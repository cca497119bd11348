"""Random affine augmentation of image batches in one resampling pass.

The post's ``ImageDataGenerator`` draws, for every image, a rotation, a
shift, a shear and a zoom (and a coin for the horizontal flip), composes
them into one affine matrix and resamples the image once. Chaining Keras'
RandomRotation, RandomTranslation and RandomZoom layers instead resamples
three times (three passes of bilinear interpolation, three times the work
and three times the blur). ``random_affine`` composes, as the post does,
and resamples once with TensorFlow's ``ImageProjectiveTransformV3``.

It is a function of a batch and a seed (stateless random numbers): a seeded
run augments the same way every time, also in a parallel ``tf.data`` map.
"""

import math
from functools import partial

import tensorflow as tf


def random_affine(images, seed, rotation=0.0, width_shift=0.0, height_shift=0.0,
                  shear=0.0, zoom=0.0, horizontal_flip=False, fill_mode="NEAREST"):
    """Augment a batch ``(n, height, width, channels)`` of float images.

    The ranges read as ``ImageDataGenerator``'s: ``rotation`` and ``shear``
    in degrees (uniform in [-r, r]), shifts as fractions of the width and
    height, ``zoom`` as a range [1 - z, 1 + z] drawn for each axis (a factor
    above 1 shows more of the scene, smaller), ``horizontal_flip`` a mirror
    image half of the time. ``seed`` is a pair of integers.
    """
    shape = tf.shape(images)
    n = shape[0]
    h = tf.cast(shape[1], tf.float32)
    w = tf.cast(shape[2], tf.float32)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=7)

    def uniform(i, low, high):
        return tf.random.stateless_uniform((n,), seeds[i], low, high)

    theta = uniform(0, -rotation, rotation) * (math.pi / 180)
    tx = uniform(1, -width_shift, width_shift) * w
    ty = uniform(2, -height_shift, height_shift) * h
    phi = uniform(3, -shear, shear) * (math.pi / 180)
    zx = uniform(4, 1 - zoom, 1 + zoom)
    zy = uniform(5, 1 - zoom, 1 + zoom)
    flip = tf.ones((n,))
    if horizontal_flip:
        flip = tf.where(uniform(6, 0.0, 1.0) < 0.5, -1.0, 1.0)

    # M maps an output pixel, relative to the image centre, to the input
    # pixel it is read from: rotation . shear . zoom (and the mirror), as
    # ImageDataGenerator composes them; then the shift.
    cos, sin = tf.cos(theta), tf.sin(theta)
    a, b = zx * flip, -tf.sin(phi) * zy  # shear . zoom . mirror, first row
    d = tf.cos(phi) * zy                 # second row (its first entry is 0)
    m00, m01 = cos * a, cos * b - sin * d
    m10, m11 = sin * a, sin * b + cos * d
    cx, cy = (w - 1) / 2, (h - 1) / 2
    transforms = tf.stack([
        m00, m01, cx + tx - m00 * cx - m01 * cy,
        m10, m11, cy + ty - m10 * cx - m11 * cy,
        tf.zeros((n,)), tf.zeros((n,)),
    ], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=shape[1:3],
        fill_value=0.0, interpolation="BILINEAR", fill_mode=fill_mode)


def image_data_generator(rotation_range=0.0, width_shift_range=0.0, height_shift_range=0.0,
                         shear_range=0.0, zoom_range=0.0, horizontal_flip=False,
                         fill_mode="nearest"):
    """What Keras' old ``ImageDataGenerator`` with these arguments did to a
    training batch, as a function of a batch and a seed, for
    ``training.batches(augment=...)`` (``random_affine``: one resampling)."""
    return partial(random_affine, rotation=rotation_range, width_shift=width_shift_range,
                   height_shift=height_shift_range, shear=shear_range, zoom=zoom_range,
                   horizontal_flip=horizontal_flip, fill_mode=fill_mode.upper())
