"""Automated model search for pictures (the AutoKeras chapter) on KerasTuner:
``ImageClassifier(max_trials=2).fit(x, y)``, then ``evaluate``, ``predict``,
``export_model``. The classes load TensorFlow when first used."""

EXPORTS = {"ImageClassifier": "tasks", "ImageRegressor": "tasks", "AutoModel": "tasks",
           "ImageInput": "tasks", "ImageBlock": "blocks", "ClassificationHead": "heads",
           "RegressionHead": "heads"}
__all__ = list(EXPORTS)


def __getattr__(name):
    if name not in EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{EXPORTS[name]}", __name__), name)
