"""The behaviours keras-io's guide "Making new layers and models via subclassing"
(guides/making_new_layers_and_models_via_subclassing.py) demonstrates, section by section, with the
calls a reader makes. Only the imports change: ``import keras`` -> ``import pitfall as keras``,
``from keras import layers, ops`` -> ``from pitfall import layers, ops``, ``tf.GradientTape`` ->
``keras.GradientTape``, ``tf.data.Dataset`` -> ``keras.data.Dataset`` and other ``tf.X`` calls ->
their ``keras.ops`` equivalents (tf.matmul -> ops.matmul, tf.nn.relu -> ops.relu, tf.reduce_sum ->
ops.sum). Data: Fashion-MNIST subsets (the guide's MNIST has the same shapes) and small generated
arrays."""
import numpy as np
import pytest

import pitfall as keras
from pitfall import layers, ops


class Linear(keras.layers.Layer):
    """The guide's first layer: weights created in __init__ for a known input_dim."""

    def __init__(self, units=32, input_dim=32):
        super().__init__()
        self.w = self.add_weight(shape=(input_dim, units), initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


class LazyLinear(keras.layers.Layer):
    """The guide's best practice: weights created in build() once the input shape is known."""

    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


def test_a_layer_holds_weights_and_computes_its_call():
    keras.utils.set_random_seed(0)
    x = ops.ones((2, 2))
    linear_layer = Linear(4, 2)
    y = linear_layer(x)
    assert tuple(y.shape) == (2, 4)
    w, b = np.asarray(linear_layer.w), np.asarray(linear_layer.b)
    np.testing.assert_allclose(np.asarray(y), np.ones((2, 2)) @ w + b, rtol=1e-6)
    # The weights are tracked as they are set as attributes: the very objects add_weight returned.
    assert linear_layer.weights == [linear_layer.w, linear_layer.b]
    assert w.shape == (2, 4) and np.all(b == 0) and np.std(w) > 0


class ComputeSum(keras.layers.Layer):
    def __init__(self, input_dim):
        super().__init__()
        self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

    def call(self, inputs):
        self.total.assign_add(ops.sum(inputs, axis=0))
        return self.total


def test_a_non_trainable_weight_accumulates_and_is_not_trained():
    x = ops.ones((2, 2))
    my_sum = ComputeSum(2)
    np.testing.assert_array_equal(np.asarray(my_sum(x)), [2.0, 2.0])
    np.testing.assert_array_equal(np.asarray(my_sum(x)), [4.0, 4.0])
    assert len(my_sum.weights) == 1
    assert len(my_sum.non_trainable_weights) == 1
    assert my_sum.trainable_weights == []


def test_weights_are_created_lazily_on_the_first_call():
    linear_layer = LazyLinear(32)
    assert linear_layer.weights == [] and not linear_layer.built
    y = linear_layer(ops.ones((2, 7)))
    assert linear_layer.built and tuple(y.shape) == (2, 32)
    assert [tuple(w.shape) for w in linear_layer.weights] == [(7, 32), (32,)]
    # Later calls reuse the same weights.
    before = list(linear_layer.weights)
    linear_layer(ops.ones((5, 7)))
    assert all(a is b for a, b in zip(before, linear_layer.weights))


class MLPBlock(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.linear_1 = LazyLinear(32)
        self.linear_2 = LazyLinear(32)
        self.linear_3 = LazyLinear(1)

    def call(self, inputs):
        x = self.linear_1(inputs)
        x = ops.relu(x)
        x = self.linear_2(x)
        x = ops.relu(x)
        return self.linear_3(x)


def test_layers_are_recursively_composable():
    mlp = MLPBlock()
    y = mlp(ops.ones(shape=(3, 64)))  # the first call creates the weights of every sublayer
    assert tuple(y.shape) == (3, 1)
    assert len(mlp.weights) == 6 and len(mlp.trainable_weights) == 6
    inner = [w for layer in (mlp.linear_1, mlp.linear_2, mlp.linear_3) for w in layer.weights]
    assert all(a is b for a, b in zip(mlp.weights, inner))
    x = np.ones((3, 64), "float32")
    h = np.maximum(x @ np.asarray(mlp.linear_1.w) + np.asarray(mlp.linear_1.b), 0)
    h = np.maximum(h @ np.asarray(mlp.linear_2.w) + np.asarray(mlp.linear_2.b), 0)
    np.testing.assert_allclose(np.asarray(y), h @ np.asarray(mlp.linear_3.w) + np.asarray(mlp.linear_3.b),
                               rtol=1e-4, atol=1e-5)


class ActivityRegularizationLayer(keras.layers.Layer):
    """A layer that creates an activity regularization loss."""

    def __init__(self, rate=1e-2):
        super().__init__()
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.mean(inputs))
        return inputs


class OuterLayer(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.activity_reg = ActivityRegularizationLayer(1e-2)

    def call(self, inputs):
        return self.activity_reg(inputs)


def test_add_loss_collects_the_losses_of_the_last_forward_pass():
    layer = OuterLayer()
    assert len(layer.losses) == 0  # never called: no losses yet
    _ = layer(ops.zeros((1, 1)))
    assert len(layer.losses) == 1  # one loss value, created by the inner layer
    # layer.losses is reset at the start of each top-level call.
    _ = layer(ops.ones((2, 3)) * 5.0)
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(layer.losses[0]), 1e-2 * 5.0, rtol=1e-6)


class TwiceRegularized(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.activity_reg = ActivityRegularizationLayer(1e-2)

    def call(self, inputs):
        return self.activity_reg(self.activity_reg(inputs) * 2.0)


def test_a_sublayer_called_twice_in_one_pass_keeps_both_losses():
    # Keras resets losses only when the top-level layer is called (keras/src/layers/layer.py
    # _maybe_build / _clear_losses on the entry layer); inner calls add to them.
    layer = TwiceRegularized()
    layer(ops.ones((1, 2)))
    assert sorted(round(float(v), 6) for v in layer.losses) == [0.01, 0.02]


def test_add_loss_refuses_values_that_are_not_tensors_of_a_call():
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, layers.Dense(2)(inputs))
    # Keras 3: a functional model's extra loss cannot be added from symbolic tensors.
    with pytest.raises(ValueError, match=r"add_loss\(\)` can only be called from inside `build\(\)` or `call\(\)`"):
        model.add_loss(model.outputs[0])
    with pytest.raises(ValueError, match="Received invalid value: 3.0"):
        ActivityRegularizationLayer().add_loss(3.0)


class OuterLayerWithKernelRegularizer(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(32, kernel_regularizer=keras.regularizers.l2(1e-3))

    def call(self, inputs):
        return self.dense(inputs)


def test_losses_include_the_regularization_penalties_of_inner_layers():
    layer = OuterLayerWithKernelRegularizer()
    _ = layer(ops.zeros((1, 1)))
    assert len(layer.losses) == 1
    kernel = np.asarray(layer.dense.kernel)
    # This is 1e-3 * sum(layer.dense.kernel ** 2), created by the kernel_regularizer.
    np.testing.assert_allclose(float(layer.losses[0]), 1e-3 * np.sum(kernel ** 2), rtol=1e-5)


def test_a_training_loop_adds_the_extra_losses_of_the_forward_pass():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((8,)), OuterLayerWithKernelRegularizer(), layers.Dense(3)])
    optimizer = keras.optimizers.SGD(learning_rate=1e-1)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0)
    totals = []
    for step in range(30):
        with keras.GradientTape() as tape:
            logits = model(x)
            loss_value = loss_fn(y, logits)
            extra = sum(model.losses)  # the kernel penalty created during this forward pass
            loss_value += extra
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        totals.append(float(loss_value))
        assert len(model.losses) == 1
    assert totals[-1] < 0.7 * totals[0]


def test_fit_adds_layer_losses_to_the_compiled_loss_or_trains_on_them_alone():
    keras.utils.set_random_seed(2)
    inputs = keras.Input(shape=(3,))
    outputs = ActivityRegularizationLayer()(inputs)
    model = keras.Model(inputs, outputs)
    x = np.random.random((2, 3)).astype("float32")
    y = np.random.random((2, 3)).astype("float32")
    # With a loss in compile, the regularization loss is added to it.
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, verbose=0)
    mse = np.mean((x - y) ** 2)
    np.testing.assert_allclose(history.history["loss"][0], mse + 1e-2 * x.mean(), rtol=1e-5)
    # Without one, the add_loss term is the loss to minimize.
    model.compile(optimizer="adam")
    history = model.fit(x, y, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], 1e-2 * x.mean(), rtol=1e-5)


def test_get_config_and_from_config_recreate_a_layer():
    class BareLinear(LazyLinear):
        def __init__(self, units=32):
            super().__init__(units)

        def get_config(self):
            return {"units": self.units}

    layer = BareLinear(64)
    config = layer.get_config()
    assert config == {"units": 64}
    new_layer = BareLinear.from_config(config)
    assert isinstance(new_layer, BareLinear) and new_layer.units == 64

    # Passing **kwargs to the base class: the config also has its name, trainable and dtype.
    layer = LazyLinear(64, name="projection")
    config = layer.get_config()
    assert config["units"] == 64 and config["name"] == "projection"
    assert config["trainable"] is True and "dtype" in config
    new_layer = LazyLinear.from_config(config)
    assert new_layer.name == "projection" and new_layer.units == 64
    assert new_layer.get_config() == config


class CustomDropout(keras.layers.Layer):
    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs, training=None):
        if training:
            return keras.random.dropout(inputs, rate=self.rate, seed=self.seed_generator)
        return inputs


def test_the_training_argument_switches_behaviour_between_fit_and_inference():
    layer = CustomDropout(0.5)
    x = np.ones((200, 10), "float32")
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    first = np.asarray(layer(x, training=True))
    assert set(np.unique(first)) == {0.0, 2.0}  # kept entries scaled by 1 / (1 - rate)
    assert 0.4 < (first == 0).mean() < 0.6
    second = np.asarray(layer(x, training=True))
    assert not np.array_equal(first, second)  # the seed generator moves on at each draw

    # fit passes training=True, predict training=False.
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((10,)), CustomDropout(0.5), layers.Dense(1, kernel_initializer="ones",
                                                                                 use_bias=False)])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    np.testing.assert_allclose(model.predict(x, verbose=0), np.full((200, 1), 10.0))
    target = np.full((200, 1), 10.0, "float32")
    # Without dropout the loss would be exactly 0; with it the outputs scatter around 10.
    assert model.evaluate(x, target, verbose=0) == 0.0
    assert model.fit(x, target, batch_size=200, verbose=0).history["loss"][0] > 1.0


class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class Encoder(layers.Layer):
    """Maps digits to a triplet (z_mean, z_log_var, z)."""

    def __init__(self, latent_dim=32, intermediate_dim=64, name="encoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_mean = layers.Dense(latent_dim)
        self.dense_log_var = layers.Dense(latent_dim)
        self.sampling = Sampling()

    def call(self, inputs):
        x = self.dense_proj(inputs)
        z_mean = self.dense_mean(x)
        z_log_var = self.dense_log_var(x)
        z = self.sampling((z_mean, z_log_var))
        return z_mean, z_log_var, z


class Decoder(layers.Layer):
    """Converts z, the encoded digit vector, back into a readable digit."""

    def __init__(self, original_dim, intermediate_dim=64, name="decoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_output = layers.Dense(original_dim, activation="sigmoid")

    def call(self, inputs):
        x = self.dense_proj(inputs)
        return self.dense_output(x)


class VariationalAutoEncoder(keras.Model):
    """Combines the encoder and decoder into an end-to-end model for training."""

    def __init__(self, original_dim, intermediate_dim=64, latent_dim=32, name="autoencoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.original_dim = original_dim
        self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
        self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

    def call(self, inputs):
        z_mean, z_log_var, z = self.encoder(inputs)
        reconstructed = self.decoder(z)
        # Add KL divergence regularization loss.
        kl_loss = -0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1)
        self.add_loss(kl_loss)
        return reconstructed


def fashion_digits(n=2048):
    (x_train, _), _ = keras.datasets.fashion_mnist.load_data()
    return x_train[:n].reshape(n, 784).astype("float32") / 255


def test_the_vae_model_tracks_its_parts_and_its_kl_loss():
    keras.utils.set_random_seed(4)
    vae = VariationalAutoEncoder(784, 64, 32)
    x = fashion_digits(8)
    reconstructed = vae(x)
    assert tuple(reconstructed.shape) == (8, 784)
    assert 0.0 <= float(ops.min(reconstructed)) and float(ops.max(reconstructed)) <= 1.0
    # encoder: 784*64+64, 64*32+32 (mean), 64*32+32 (log var); decoder: 32*64+64, 64*784+784.
    assert vae.count_params() == 50240 + 2080 + 2080 + 2112 + 50960
    assert len(vae.trainable_weights) == 10
    assert len(vae.losses) == 1 and float(vae.losses[0]) >= 0.0


def test_the_vae_trains_in_a_custom_loop_with_its_kl_loss():
    keras.utils.set_random_seed(5)
    vae = VariationalAutoEncoder(784, 64, 32)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    mse_loss_fn = keras.losses.MeanSquaredError()
    loss_metric = keras.metrics.Mean()
    train_dataset = keras.data.Dataset.from_tensor_slices(fashion_digits(1024)).shuffle(buffer_size=1024).batch(64)
    epoch_means = []
    for epoch in range(2):
        loss_metric.reset_state()
        for step, x_batch_train in enumerate(train_dataset):
            with keras.GradientTape() as tape:
                reconstructed = vae(x_batch_train)
                loss = mse_loss_fn(x_batch_train, reconstructed)
                loss += sum(vae.losses)  # add the KL divergence regularization loss
            grads = tape.gradient(loss, vae.trainable_weights)
            optimizer.apply_gradients(zip(grads, vae.trainable_weights))
            loss_metric(loss)
        epoch_means.append(float(loss_metric.result()))
    assert step == 1024 // 64 - 1
    assert epoch_means[1] < epoch_means[0]


def test_the_vae_trains_with_fit_with_and_without_a_compiled_loss():
    keras.utils.set_random_seed(6)
    x_train = fashion_digits(2048)
    vae = VariationalAutoEncoder(784, 64, 32)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    vae.compile(optimizer, loss=keras.losses.MeanSquaredError())
    history = vae.fit(x_train, x_train, epochs=2, batch_size=64, verbose=0)
    losses = history.history["loss"]
    assert list(history.history) == ["loss"] and losses[1] < losses[0]
    # The logged loss is the reconstruction error plus the KL term of each step.
    reconstruction = float(np.mean((vae.predict(x_train, verbose=0) - x_train) ** 2))
    assert losses[1] > reconstruction * 0.5

    # compile(optimizer) alone: the KL term added in call() is the whole loss, and training drives
    # it towards 0 (the codes' distribution towards the prior).
    keras.utils.set_random_seed(7)
    vae = VariationalAutoEncoder(784, 64, 32)
    vae.compile(keras.optimizers.Adam(learning_rate=1e-3))
    history = vae.fit(x_train, x_train, epochs=2, batch_size=64, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0] < 0.05
    vae(x_train[:256])
    assert float(vae.losses[0]) < history.history["loss"][0]
