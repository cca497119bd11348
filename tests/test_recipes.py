"""The improved recipes (recipes.py): the learning-rate schedule ends
exactly when training ends, also with --val-split; the house ensemble
trains independent copies and predicts their mean; the simple NN's flips
mirror images, not vectors."""

import keras
import numpy as np
import pytest

from conftest import load_script


@pytest.mark.parametrize("script", ["train_simple_nn.py", "train_vgg.py"])
def test_schedule_reaches_its_end_when_training_ends_with_val_split(script, shapes3, tmp_path,
                                                                    monkeypatch, capsys):
    # the schedule must count the steps of the training left after
    # --val-split holds data out; counted on the whole training split it
    # stops short of its end (issue 15). Batches of 4 make the two counts
    # differ: 54 training images, 43 after the hold-out.
    fitted = []
    fit = keras.Model.fit

    def recording_fit(self, *args, **kwargs):
        history = fit(self, *args, **kwargs)
        fitted.append(self)
        return history

    monkeypatch.setattr(keras.Model, "fit", recording_fit)
    epochs = 2
    load_script(script).main([
        "--dataset", str(shapes3), "--model", str(tmp_path / "net.model"),
        "--label-bin", str(tmp_path / "lb.pickle"), "--plot", str(tmp_path / "plot.png"),
        "--recipe", "improved", "--val-split", "0.2", "--epochs", str(epochs),
        "--batch-size", "4"])
    assert "holding out 11 of the 54 training examples" in capsys.readouterr().out

    [model] = fitted
    optimizer = model.optimizer
    schedule = optimizer._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    config = schedule.get_config()
    steps = int(optimizer.iterations.numpy())
    stepsPerEpoch = 43 // 4 if script == "train_vgg.py" else -(-43 // 4)  # as the post counts
    assert steps == epochs * stepsPerEpoch
    assert config["warmup_steps"] + config["decay_steps"] == steps
    # the last step's learning rate is the end of the cosine: zero
    assert float(optimizer.learning_rate) == pytest.approx(0.0, abs=1e-6 * config["warmup_target"])
    assert float(schedule(steps // 2)) > 0.1 * config["warmup_target"]


def test_house_ensemble_trains_independent_copies_and_predicts_their_mean(capsys):
    from pyimagesearch import models, recipes, training

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((40, 5)).astype("float32")
    y = (1.0 + x.sum(axis=1) / 5).astype("float32")
    (model, history) = recipes.train_improved(
        "mlp", lambda: models.create_mlp(5, regress=True), (x, y), (x[:8], y[:8]),
        epochs=1, batchSize=8, seed=0, callbacks=training.callbacks())
    assert len(history.history["loss"]) == 1
    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    assert len(members) == recipes.HOUSE_MEMBERS["mlp"]
    prices = np.stack([np.asarray(m(x))[:, 0] for m in members], axis=1)
    assert not np.allclose(prices[:, 0], prices[:, 1])  # each copy its own weights
    np.testing.assert_allclose(np.asarray(model(x))[:, 0], prices.mean(axis=1),
                               rtol=1e-5)


def test_flip_flattened_mirrors_rows_only():
    import tensorflow as tf

    from pyimagesearch import recipes

    image = np.arange(2 * 3 * 3, dtype="float32").reshape(1, 2, 3, 3)
    flat = tf.constant(np.repeat(image.reshape(1, -1), 64, axis=0))
    flipped, _ = recipes._flip_flattened(flat, tf.zeros((64, 1)), shape=(2, 3, 3))
    mirrored = image[:, :, ::-1, :].reshape(-1)
    rows = [tuple(r) for r in flipped.numpy()]
    assert set(rows) == {tuple(image.reshape(-1)), tuple(mirrored)}
