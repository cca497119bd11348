"""Automated model search for images (part 5, the AutoKeras chapter) on KerasTuner.

The chapter hands pictures to AutoKeras' ``ImageClassifier`` /
``ImageRegressor``, which tries ``max_trials`` candidate networks, keeps the
best, retrains it and exports it as a Keras model. AutoKeras is a layer of
search spaces over KerasTuner; this package is that layer, for the scripts
``search_image_classifier.py`` and ``search_image_regressor.py``:

* ``flags``: the flags both scripts share, and ``SearchSettings``;
* ``project``: the project folder (resume, refuse a foreign one) and the
  distributed roles;
* ``data``: CIFAR-10 and the classifier's picture folders;
* ``space``: the networks searched (``ImageHyperModel``); ``airbench``:
  the fast CIFAR-10 family in it; ``trials``: how one trial is fed,
  scheduled, timed and scored;
* ``engine``: successive halving on KerasTuner's oracle, the tuner;
  ``clock``: the whole command's time (``--time-limit``); ``workers``: a
  distributed search's heartbeats, so that a dead worker's trial goes to
  another, and a worker whose chief is gone stops; ``export``: retrain the
  winner (or its copies) or keep it;
* ``reporting``: progress lines, the trials table, class counts.

``flags``, ``project``, ``data`` and ``reporting`` do not import TensorFlow,
so the scripts check their flags and files first; the others do.
"""
