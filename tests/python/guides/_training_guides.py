"""Data and models the tests of the two custom-training guides share ("Writing a training loop from
scratch" and "Customizing what happens in fit()"): Fashion-MNIST subsets in the guides' layouts, and
the guides' GAN (the discriminator and generator both build), at the guides' width or a narrower one
that trains a few steps in seconds on a CPU."""
import functools

import numpy as np

import pitfall as keras
from pitfall import layers


@functools.lru_cache(maxsize=None)
def _fashion_mnist():
    return keras.datasets.fashion_mnist.load_data()


def flat_digits(n_train, n_val):
    """(x_train, y_train, x_val, y_val): rows of 784 uint8 pixels, as the custom-loop guide feeds them
    (no rescaling), the validation rows taken from the end of the training set."""
    (x_train, y_train), _ = _fashion_mnist()
    x = np.reshape(x_train, (-1, 784))
    return x[:n_train], y_train[:n_train], x[-n_val:], y_train[-n_val:]


def images(n):
    """n images of shape (28, 28, 1) scaled to [0, 1], from the training and test sets as the GAN
    sections take them."""
    (x_train, _), (x_test, _) = _fashion_mnist()
    all_images = np.concatenate([x_train[:n // 2], x_test[:n - n // 2]])
    return np.reshape(all_images.astype("float32") / 255.0, (-1, 28, 28, 1))


def discriminator(width=64):
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(width, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(2 * width, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.GlobalMaxPooling2D(),
            layers.Dense(1),
        ],
        name="discriminator",
    )


def generator(latent_dim=128, width=128):
    return keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            layers.Dense(7 * 7 * width),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Reshape((7, 7, width)),
            layers.Conv2DTranspose(width, (4, 4), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2DTranspose(width, (4, 4), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(1, (7, 7), padding="same", activation="sigmoid"),
        ],
        name="generator",
    )


# Parameters of the guides' GAN, layer by layer: kernel + bias.
DISCRIMINATOR_PARAMS = [3 * 3 * 1 * 64 + 64, 3 * 3 * 64 * 128 + 128, 128 + 1]
GENERATOR_PARAMS = [128 * 6272 + 6272, 4 * 4 * 128 * 128 + 128, 4 * 4 * 128 * 128 + 128, 7 * 7 * 128 + 1]


def summary_text(model):
    lines = []
    model.summary(print_fn=lines.append)
    return "\n".join(lines)


def binary_crossentropy_from_logits(labels, logits):
    """The mean of max(z, 0) - z * y + log(1 + exp(-|z|)) (keras's numerically stable form)."""
    z, y = np.asarray(logits, np.float64), np.asarray(labels, np.float64)
    return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))
