"""Helpers for the Keras tutorial scripts: dataset loaders and model builders.

Importing the package is cheap on purpose: TensorFlow is only imported by the
modules that build or train models, so generating sample data or parsing
flags stays fast.
"""

import os

# TensorFlow prints several lines of C++ start-up chatter (oneDNN, CUDA
# probing) before the first [INFO] line. Readers should see the posts' output,
# so hide it unless the user asked for it explicitly.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
