"""SmallVGGNet: a compact VGG-style network for small images (part 4)."""

from keras import Input, Sequential
from keras.layers import (Activation, Conv2D, Dense, Dropout, Flatten,
                          MaxPooling2D)

# Keras' BatchNormalization, trained with TensorFlow's fused kernel (fast.py);
# saved models hold Keras' own layer (storage.save_model)
from .fast import BatchNormalization


class SmallVGGNet:
    @staticmethod
    def build(width, height, depth, classes):
        """(CONV => RELU => BN) blocks of 32, 64x2 and 128x3 filters, each
        block followed by 2x2 pooling and 25% dropout, then FC 512 => softmax.
        """
        chanDim = -1  # channels last
        model = Sequential(name="smallvggnet")
        model.add(Input(shape=(height, width, depth)))

        # CONV => RELU => POOL layer set
        _conv_block(model, 32, repeats=1, chanDim=chanDim)
        # (CONV => RELU) * 2 => POOL layer set
        _conv_block(model, 64, repeats=2, chanDim=chanDim)
        # (CONV => RELU) * 3 => POOL layer set
        _conv_block(model, 128, repeats=3, chanDim=chanDim)

        # first (and only) set of FC => RELU layers
        model.add(Flatten())
        model.add(Dense(512))
        model.add(Activation("relu"))
        model.add(BatchNormalization())
        model.add(Dropout(0.5))

        # softmax classifier
        model.add(Dense(classes))
        model.add(Activation("softmax"))
        return model


def _conv_block(model, filters, repeats, chanDim):
    for _ in range(repeats):
        model.add(Conv2D(filters, (3, 3), padding="same"))
        model.add(Activation("relu"))
        model.add(BatchNormalization(axis=chanDim))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))
