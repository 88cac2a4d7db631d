"""Model registry: a name -> a builder of an uncompiled ``keras.Model``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from optsearch import errors
from optsearch.trainers._keras import import_keras

__all__ = ["MODELS", "ModelBuilder", "get_model"]

# Keras objects are typed as Any: annotating with keras classes would import
# TensorFlow when this module is imported.
ModelBuilder = Callable[[tuple[int, ...], int], Any]


def small_cnn(input_shape: tuple[int, ...], num_classes: int) -> Any:
    """A three-convolution network for small grey images (8x8 digits, 28x28 MNIST).

    Small on purpose: a digits trial of 8 epochs takes a few seconds on a CPU, so a
    study of hundreds of trials fits on a laptop.

    Args:
        input_shape: Shape of one image, e.g. ``(8, 8, 1)``.
        num_classes: Number of output classes.

    Returns:
        An uncompiled ``keras.Model`` ending in a softmax.
    """
    keras = import_keras()
    layers = keras.layers
    inputs = keras.Input(shape=tuple(input_shape))
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def resnet20(input_shape: tuple[int, ...], num_classes: int) -> Any:
    """ResNet-20 for 32x32 colour images (He et al. 2016, section 4.2).

    Three stages of three basic blocks with 16, 32 and 64 filters; each block is
    two 3x3 convolutions with batch normalisation. Stages 2 and 3 halve the
    resolution with a stride-2 convolution and a 1x1 projection shortcut.

    Args:
        input_shape: Shape of one image, e.g. ``(32, 32, 3)``.
        num_classes: Number of output classes.

    Returns:
        An uncompiled ``keras.Model`` ending in a softmax.
    """
    keras = import_keras()
    layers = keras.layers

    def conv(filters: int, strides: int = 1, kernel_size: int = 3) -> Any:
        # He initialisation and no bias (batch norm follows), as in the paper.
        return layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
        )

    inputs = keras.Input(shape=tuple(input_shape))
    x = conv(16)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(3):
            strides = 2 if stage > 0 and block == 0 else 1
            shortcut = x
            y = conv(filters, strides)(x)
            y = layers.BatchNormalization()(y)
            y = layers.Activation("relu")(y)
            y = conv(filters)(y)
            y = layers.BatchNormalization()(y)
            if strides != 1:
                shortcut = conv(filters, strides, kernel_size=1)(shortcut)
                shortcut = layers.BatchNormalization()(shortcut)
            x = layers.Activation("relu")(layers.Add()([y, shortcut]))
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="resnet20")


MODELS: Mapping[str, ModelBuilder] = MappingProxyType(
    {"small_cnn": small_cnn, "resnet20": resnet20}
)


def get_model(name: str) -> ModelBuilder:
    """Return the builder of the model called ``name``.

    Args:
        name: One of ``MODELS``: "small_cnn", "resnet20".

    Returns:
        ``builder(input_shape, num_classes) -> keras.Model`` (uncompiled).

    Raises:
        UnknownNameError: ``name`` is not a model; the message lists the valid ones.
    """
    try:
        return MODELS[name]
    except KeyError:
        raise errors.UnknownNameError("model", name, tuple(MODELS)) from None
