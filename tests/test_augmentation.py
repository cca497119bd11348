"""The post's augmentation in one affine pass: what each range does, the
nearest fill, and seeded repeatability in the training pipeline."""

import numpy as np
import tensorflow as tf

from pyimagesearch import training
from pyimagesearch.augmentation import image_data_generator, random_affine

SEED = tf.constant([3, 4], tf.int64)


def post_augmentation():
    """train_vgg.py's augmentation: the post's ImageDataGenerator ranges."""
    return image_data_generator(rotation_range=30, width_shift_range=0.1,
                                height_shift_range=0.1, shear_range=0.2, zoom_range=0.2,
                                horizontal_flip=True, fill_mode="nearest")


def images(n=16, size=12):
    return np.random.default_rng(0).random((n, size, size, 3)).astype("float32")


def test_no_ranges_is_the_identity():
    x = images()
    np.testing.assert_allclose(random_affine(x, SEED), x, atol=1e-6)


def test_flip_mirrors_about_half_of_the_images():
    x = images(n=64)
    y = random_affine(x, SEED, horizontal_flip=True).numpy()
    mirrored = [np.allclose(b, a[:, ::-1], atol=1e-6) for a, b in zip(x, y)]
    same = [np.allclose(b, a, atol=1e-6) for a, b in zip(x, y)]
    assert all(m or s for m, s in zip(mirrored, same))
    assert 16 < sum(mirrored) < 48


def test_rotation_turns_about_the_centre_within_its_range():
    # a bright bar from the centre to the right edge, 7 pixels high
    x = np.zeros((32, 33, 33, 1), "float32")
    x[:, 13:20, 16:] = 1.0
    y = random_affine(x, SEED, rotation=30).numpy()
    assert (y[:, 16, 16, 0] > 0.99).all()  # the centre stays
    angles = []
    for img in y[..., 0]:
        rows, cols = np.nonzero(img > 0.5)
        angles.append(np.degrees(np.arctan2(-(rows - 16).mean(), (cols - 16).mean())))
    assert max(abs(a) for a in angles) <= 31
    assert np.std(angles) > 5  # it does turn, by different angles


def test_shift_moves_by_at_most_its_fraction():
    x = np.zeros((32, 40, 40, 1), "float32")
    x[:, 20, 20] = 1.0
    y = random_affine(x, SEED, width_shift=0.1, height_shift=0.1, fill_mode="CONSTANT").numpy()
    for img in y[..., 0]:
        rows, cols = np.nonzero(img > 0)
        assert (abs(rows - 20) <= 5).all() and (abs(cols - 20) <= 5).all()
    assert len({np.argmax(img) for img in y[..., 0]}) > 1


def test_nearest_fill_leaves_no_empty_corners():
    x = np.full((8, 16, 16, 3), 0.7, "float32")
    y = random_affine(x, SEED, rotation=30, width_shift=0.1, height_shift=0.1, zoom=0.2)
    np.testing.assert_allclose(y, 0.7, atol=1e-5)


def test_same_seed_same_images_other_seed_other_images():
    aug, x = post_augmentation(), images()
    np.testing.assert_array_equal(aug(x, SEED), aug(x, SEED))
    assert not np.allclose(aug(x, SEED), aug(x, tf.constant([3, 5], tf.int64)))


def test_pipeline_augments_every_batch_differently_and_repeats_with_its_seed():
    x, y = images(n=8), np.zeros((8, 3), "float32")

    def two_epochs(seed):
        ds = training.batches(x, y, 8, augment=post_augmentation(), seed=seed,
                              repeat=True)
        return [batch[0].numpy() for batch in ds.take(2)]

    first, second = two_epochs(7)
    assert not np.allclose(first, second)
    np.testing.assert_array_equal(two_epochs(7)[0], first)


def test_finite_pipeline_draws_anew_every_epoch():
    # Keras iterates a finite pipeline (the search's) afresh each epoch: the
    # same pictures in the same order still get new transforms, and the
    # seed repeats the whole sequence
    x, y = images(n=8), np.zeros((8, 3), "float32")

    def two_epochs(seed):
        ds = training.batches(x, y, 8, augment=post_augmentation(), seed=seed)
        return [next(iter(ds))[0].numpy() for _ in range(2)]

    first, second = two_epochs(7)
    assert not np.allclose(first, second)
    again = two_epochs(7)
    np.testing.assert_array_equal(again[0], first)
    np.testing.assert_array_equal(again[1], second)
