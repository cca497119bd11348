"""Helpers for the Keras tutorial scripts: dataset loaders and model builders.

Importing the package is cheap on purpose: TensorFlow is only imported by the
modules that build or train models, so generating sample data or parsing
flags stays fast.
"""
