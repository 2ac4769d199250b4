"""P31 Vanishing gradients in a deep sigmoid network

Symptom: A ten-layer network with sigmoid activations does not learn: the loss stays at ln 10 = 2.30
(the loss of guessing uniformly among 10 classes) epoch after epoch, while a two-layer version of
the same model trains. The first layers' weights barely move.
Cause: Backpropagation multiplies the gradient by sigmoid'(z) <= 1/4 at every layer (and by a
Glorot-scaled weight matrix that does not make up for it), so the gradient reaching the first layer is
more than a thousand times smaller than at the tenth: ||dW1|| / ||dW10|| < 1e-3. With the same
learning rate for every layer, the early layers effectively do not train, and the late ones see
features that carry almost nothing about the input.
Fix: Use relu (derivative 1 where active) with he_normal initialization, which keeps the variance of
activations and gradients roughly constant through depth: the ratio stays of order 1 and the same
ten-layer network trains. (Batch normalization or residual connections help too.)
Keras:
    model = keras.Sequential([layers.Dense(64, activation="sigmoid") for _ in range(10)]
                             + [layers.Dense(10)])
Source: Glorot & Bengio 2010, "Understanding the difficulty of training deep feedforward neural
networks"; seed 001 (initialization that does not match the activation gives vanishing gradients).
"""
import math

import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, main

DEPTH, WIDTH, CLASSES, FEATURES = 10, 64, 10, 20
EPOCHS, BATCH, LEARNING_RATE = 10, 64, 0.1
CHANCE_LOSS = math.log(CLASSES)  # 2.3026: uniform guessing
# Ten sigmoid derivatives alone (each <= 1/4) shrink a gradient by up to 4^-9 between layer 10 and layer 1.
REFERENCES = {"log10 ||dW|| relative to layer 10": [(0.0, "layer 10"), (-3.0, "1e-3 of layer 10")]}


def blobs(seed, n=2000):
    """Ten separated Gaussian clusters: a sound network reaches near-zero loss quickly."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 2.0, size=(CLASSES, FEATURES)).astype(np.float32)
    y = rng.integers(0, CLASSES, size=n).astype(np.int32)
    x = centres[y] + rng.normal(0.0, 1.0, size=(n, FEATURES)).astype(np.float32)
    return x, y


def deep_model(activation, initializer):
    hidden = [pf.layers.Dense(WIDTH, activation=activation, kernel_initializer=initializer, name=f"hidden_{i + 1}")
              for i in range(DEPTH)]
    return pf.Sequential([pf.Input((FEATURES,))] + hidden + [pf.layers.Dense(CLASSES, name="logits")])


def gradient_norms(model, loss, x, y):
    """||dL/dW_k|| for the kernel of each hidden layer, on one batch, at initialization."""
    kernels = [model.get_layer(f"hidden_{i + 1}").kernel for i in range(DEPTH)]
    with pf.GradientTape() as tape:
        value = loss(y, model(x, training=True))
    grads = tape.gradient(value, kernels)
    return [float(np.linalg.norm(np.asarray(g, dtype=np.float64))) for g in grads]


def train(seed, activation, initializer):
    x, y = blobs(seed)
    model = deep_model(activation, initializer)
    loss = pf.losses.SparseCategoricalCrossentropy(from_logits=True)
    norms = gradient_norms(model, loss, x[:BATCH], y[:BATCH])
    model.compile(optimizer=pf.optimizers.SGD(learning_rate=LEARNING_RATE), loss=loss, metrics=["accuracy"])
    history = model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    relative = [math.log10(n / norms[-1]) for n in norms]
    return Run(setup=f"{DEPTH} x Dense({WIDTH}, {activation}), {initializer}, SGD lr={LEARNING_RATE}",
               curves={"log10 ||dW|| relative to layer 10": relative}, x_label="hidden layer",
               values={"||dW1|| / ||dW10||": norms[0] / norms[-1], "||dW10||": norms[-1],
                       "loss after epoch 1": history.history["loss"][0],
                       f"loss after epoch {EPOCHS}": history.history["loss"][-1],
                       f"accuracy after epoch {EPOCHS}": history.history["accuracy"][-1]})


def broken(seed):
    return train(seed, "sigmoid", "glorot_uniform")


def fixed(seed):
    return train(seed, "relu", "he_normal")


def signature(broken, fixed):
    final = f"loss after epoch {EPOCHS}"
    return [
        check("broken", "||dW1|| / ||dW10|| < 1e-3", broken.values["||dW1|| / ||dW10||"],
              broken.values["||dW1|| / ||dW10||"] < 1e-3),
        check("broken", f"loss stays near ln 10 = {CHANCE_LOSS:.4f} (> 0.9 ln 10)", broken.values[final],
              broken.values[final] > 0.9 * CHANCE_LOSS),
        check("fixed", "||dW1|| / ||dW10|| of order 1 (between 0.1 and 10)", fixed.values["||dW1|| / ||dW10||"],
              0.1 < fixed.values["||dW1|| / ||dW10||"] < 10),
        check("fixed", "trains: loss < 0.1 ln 10", fixed.values[final], fixed.values[final] < 0.1 * CHANCE_LOSS),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
