"""Every built-in layer on the GPU against the CPU: the same seed builds the same weights on both
devices; a forward pass (inference and training mode) and a training step must agree within float32
tolerance. Runs only where a GPU exists (scripts/test-gpu.sh); skipped elsewhere."""
import numpy as np
import pytest

import pitfall as pf

pytestmark = pytest.mark.skipif(not pf.config.list_physical_devices("GPU"),
                                reason="no GPU on this machine (pf.config.list_physical_devices('GPU') is empty)")

RNG = np.random.default_rng(7)

# name: (input shape without the batch axis, input dtype, layers after the input)
MODELS = {
    "Dense": ((12,), "float32", lambda: [pf.layers.Dense(8, activation="relu"), pf.layers.Dense(3)]),
    "Conv2D+pooling": ((10, 10, 3), "float32", lambda: [
        pf.layers.Conv2D(4, 3, padding="same", activation="relu"), pf.layers.MaxPooling2D(2),
        pf.layers.Conv2D(5, 3, strides=2), pf.layers.AveragePooling2D(2, padding="same"),
        pf.layers.GlobalAveragePooling2D(), pf.layers.Dense(3)]),
    "BatchNormalization": ((6,), "float32", lambda: [pf.layers.Dense(6), pf.layers.BatchNormalization(),
                                                    pf.layers.Activation("tanh"), pf.layers.Dense(3)]),
    "LayerNormalization": ((6,), "float32", lambda: [pf.layers.Dense(6), pf.layers.LayerNormalization(),
                                                    pf.layers.Dense(3)]),
    "Dropout": ((12,), "float32", lambda: [pf.layers.Dense(16), pf.layers.Dropout(0.4), pf.layers.Dense(3)]),
    "Embedding": ((5,), "int32", lambda: [pf.layers.Embedding(20, 4), pf.layers.Flatten(), pf.layers.Dense(3)]),
    "SimpleRNN": ((7, 4), "float32", lambda: [pf.layers.SimpleRNN(6), pf.layers.Dense(3)]),
    "LSTM": ((7, 4), "float32", lambda: [pf.layers.LSTM(6, return_sequences=True), pf.layers.LSTM(5),
                                         pf.layers.Dense(3)]),
    "Reshape+softmax": ((12,), "float32", lambda: [pf.layers.Reshape((3, 4)), pf.layers.Flatten(),
                                                   pf.layers.Dense(3), pf.layers.Activation("softmax")]),
    "activation layers": ((12,), "float32", lambda: [
        pf.layers.Dense(8), pf.layers.PReLU(alpha_initializer="random_uniform"), pf.layers.LeakyReLU(),
        pf.layers.Dense(6), pf.layers.ReLU(max_value=2.0, negative_slope=0.1, threshold=0.1), pf.layers.ELU(),
        pf.layers.Dense(3), pf.layers.Softmax()]),
    "reshaping layers": ((6, 4), "float32", lambda: [
        pf.layers.ZeroPadding1D(1), pf.layers.Cropping1D((0, 1)), pf.layers.UpSampling1D(2), pf.layers.Permute((2, 1)),
        pf.layers.Reshape((4, 14, 1)), pf.layers.UpSampling2D(2, interpolation="bilinear"), pf.layers.ZeroPadding2D(1),
        pf.layers.Cropping2D(1), pf.layers.Flatten(), pf.layers.Dense(3)]),
    "regularization layers": ((12,), "float32", lambda: [
        pf.layers.Dense(8), pf.layers.GaussianNoise(0.1, seed=1), pf.layers.GaussianDropout(0.1, seed=2),
        pf.layers.Reshape((4, 2)), pf.layers.SpatialDropout1D(0.2, seed=3), pf.layers.Flatten(),
        pf.layers.ActivityRegularization(l2=0.01), pf.layers.UnitNormalization(), pf.layers.RepeatVector(2),
        pf.layers.Flatten(), pf.layers.Dense(3)]),
    "preprocessing layers": ((5,), "int32", lambda: [
        pf.layers.CategoryEncoding(20, output_mode="count"), pf.layers.Rescaling(0.5, offset=0.1),
        pf.layers.Normalization(axis=None, mean=1.0, variance=4.0), pf.layers.Dense(3)]),
}


def data(shape, dtype):
    if dtype == "int32":
        return RNG.integers(0, 20, size=(32, *shape)).astype(np.int32)
    return RNG.normal(size=(32, *shape)).astype(np.float32)


def build(device, shape, dtype, make_layers):
    pf.utils.set_random_seed(3)
    with pf.device(device):
        model = pf.Sequential([pf.Input(shape, dtype=dtype), *make_layers()])
    model.compile(optimizer=pf.optimizers.Adam(1e-2),
                  loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_layer_matches_the_cpu(name):
    shape, dtype, make_layers = MODELS[name]
    x = data(shape, dtype)
    y = RNG.integers(0, 3, size=32)
    cpu, gpu = build("cpu", shape, dtype, make_layers), build("gpu", shape, dtype, make_layers)
    assert all(w.device == "cuda:0" for w in gpu.weights)
    for a, b in zip(cpu.get_weights(), gpu.get_weights()):
        np.testing.assert_array_equal(a, b)  # drawn on the CPU, then placed
    np.testing.assert_allclose(gpu.predict(x, verbose=0), cpu.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    pf.utils.set_random_seed(5)
    cpu_loss = cpu.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False).history["loss"]
    pf.utils.set_random_seed(5)
    gpu_loss = gpu.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False).history["loss"]
    np.testing.assert_allclose(gpu_loss, cpu_loss, rtol=1e-4)
    for a, b in zip(cpu.get_weights(), gpu.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_fashion_mnist_cnn_reaches_the_cpu_accuracy():
    (x, y), (x_test, y_test) = pf.datasets.fashion_mnist.load_data()
    x, y = x[:12000].reshape(-1, 28, 28, 1), y[:12000]
    x_test = x_test.reshape(-1, 28, 28, 1)

    def accuracy(device):
        pf.utils.set_random_seed(0)
        with pf.device(device):
            model = pf.Sequential([pf.Input((28, 28, 1)), pf.layers.Conv2D(32, 3, activation="relu"),
                                   pf.layers.MaxPooling2D(2), pf.layers.Flatten(), pf.layers.Dense(10)])
        model.compile("adam", pf.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        model.fit(x / np.float32(255), y, batch_size=128, epochs=2, verbose=0)
        return model.evaluate(x_test / np.float32(255), y_test, verbose=0, return_dict=True)["accuracy"]

    cpu, gpu = accuracy("cpu"), accuracy("gpu")
    assert gpu > 0.8
    assert abs(gpu - cpu) < 0.01
