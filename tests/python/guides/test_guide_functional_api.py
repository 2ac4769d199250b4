"""The behaviours keras-io's guide "The Functional API" (guides/functional_api.py) demonstrates,
section by section, with the calls a reader makes (only the import changes). Data: Fashion-MNIST
subsets and generated arrays of the guide's shapes, small enough for seconds per test."""
import numpy as np
import pytest

import pitfall as keras
from pitfall import layers


def first_model():
    inputs = keras.Input(shape=(784,))
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10)(x)
    return inputs, keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")


def test_inputs_layers_and_the_model_summary():
    inputs, model = first_model()
    assert tuple(inputs.shape) == (None, 784) and inputs.dtype == "float32"
    assert tuple(keras.Input(shape=(32, 32, 3)).shape) == (None, 32, 32, 3)
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "mnist_model" in text
    # 784*64+64, 64*64+64, 64*10+10 parameters.
    assert model.count_params() == 50240 + 4160 + 650
    for count in ("50,240", "4,160", "650", "55,050"):
        assert count in text


def fashion(n_train=6000, n_test=1000):
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    x_train = x_train[:n_train].reshape(n_train, 784).astype("float32") / 255
    x_test = x_test[:n_test].reshape(n_test, 784).astype("float32") / 255
    return x_train, y_train[:n_train], x_test, y_test[:n_test]


def test_training_evaluation_and_inference_then_save_and_reload(tmp_path):
    keras.utils.set_random_seed(0)
    _, model = first_model()
    x_train, y_train, x_test, y_test = fashion()
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.RMSprop(), metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_split=0.2, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history.history["loss"][1] < history.history["loss"][0]
    test_scores = model.evaluate(x_test, y_test, verbose=0)
    assert len(test_scores) == 2 and test_scores[1] > 0.7
    path = str(tmp_path / "path_to_my_model.pitfall")
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(x_test, verbose=0), model.predict(x_test, verbose=0))
    assert reloaded.evaluate(x_test, y_test, verbose=0) == test_scores


def encoder_layers(encoder_input):
    x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    return layers.GlobalMaxPooling2D()(x)


def decoder_layers(code):
    x = layers.Reshape((4, 4, 1))(code)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
    x = layers.UpSampling2D(3)(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    return layers.Conv2DTranspose(1, 3, activation="relu")(x)


def test_one_graph_of_layers_defines_an_encoder_and_an_autoencoder():
    encoder_input = keras.Input(shape=(28, 28, 1), name="img")
    encoder_output = encoder_layers(encoder_input)
    encoder = keras.Model(encoder_input, encoder_output, name="encoder")
    autoencoder = keras.Model(encoder_input, decoder_layers(encoder_output), name="autoencoder")
    assert encoder.output_shape == (None, 16)
    assert autoencoder.output_shape == (None, 28, 28, 1)  # strictly symmetrical to the encoder
    images = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
    assert autoencoder.predict(images, verbose=0).shape == (2, 28, 28, 1)
    # The encoder's weights are the autoencoder's first weights (same layer objects).
    assert all(a is b for a, b in zip(encoder.weights, autoencoder.weights[:len(encoder.weights)]))


def test_models_are_callable_like_layers_and_nest():
    encoder_input = keras.Input(shape=(28, 28, 1), name="original_img")
    encoder = keras.Model(encoder_input, encoder_layers(encoder_input), name="encoder")
    decoder_input = keras.Input(shape=(16,), name="encoded_img")
    decoder = keras.Model(decoder_input, decoder_layers(decoder_input), name="decoder")
    autoencoder_input = keras.Input(shape=(28, 28, 1), name="img")
    autoencoder = keras.Model(autoencoder_input, decoder(encoder(autoencoder_input)), name="autoencoder")
    assert [l.name for l in autoencoder.layers] == ["img", "encoder", "decoder"]
    images = np.random.default_rng(1).random((3, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(autoencoder.predict(images, verbose=0),
                               decoder.predict(encoder.predict(images, verbose=0), verbose=0), rtol=1e-5)
    assert autoencoder.count_params() == encoder.count_params() + decoder.count_params()


def test_an_ensemble_averages_its_models():
    def get_model():
        inputs = keras.Input(shape=(128,))
        outputs = layers.Dense(1)(inputs)
        return keras.Model(inputs, outputs)

    model1, model2, model3 = get_model(), get_model(), get_model()
    inputs = keras.Input(shape=(128,))
    outputs = layers.average([model1(inputs), model2(inputs), model3(inputs)])
    ensemble_model = keras.Model(inputs=inputs, outputs=outputs)
    x = np.random.default_rng(2).normal(size=(5, 128)).astype("float32")
    expected = (model1.predict(x, verbose=0) + model2.predict(x, verbose=0) + model3.predict(x, verbose=0)) / 3
    np.testing.assert_allclose(ensemble_model.predict(x, verbose=0), expected, rtol=1e-5)


def ticket_model(num_tags=12, num_words=1000, num_departments=4):
    title_input = keras.Input(shape=(None,), name="title")
    body_input = keras.Input(shape=(None,), name="body")
    tags_input = keras.Input(shape=(num_tags,), name="tags")
    title_features = layers.LSTM(16)(layers.Embedding(num_words, 8)(title_input))
    body_features = layers.LSTM(8)(layers.Embedding(num_words, 8)(body_input))
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(num_departments, name="department")(x)
    return keras.Model(inputs=[title_input, body_input, tags_input], outputs=[priority_pred, department_pred])


@pytest.mark.parametrize("by_name", [False, True])
def test_multiple_inputs_and_outputs_with_per_output_losses_and_weights(by_name):
    keras.utils.set_random_seed(3)
    model = ticket_model()
    if by_name:
        model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                      loss={"priority": keras.losses.BinaryCrossentropy(from_logits=True),
                            "department": keras.losses.CategoricalCrossentropy(from_logits=True)},
                      loss_weights={"priority": 1.0, "department": 0.2})
    else:
        model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                      loss=[keras.losses.BinaryCrossentropy(from_logits=True),
                            keras.losses.CategoricalCrossentropy(from_logits=True)],
                      loss_weights=[1.0, 0.2])
    rng = np.random.default_rng(4)
    title_data = rng.integers(1000, size=(128, 10))
    body_data = rng.integers(1000, size=(128, 20))
    tags_data = rng.integers(2, size=(128, 12)).astype("float32")
    priority_targets = rng.random(size=(128, 1))
    dept_targets = rng.integers(2, size=(128, 4))
    history = model.fit({"title": title_data, "body": body_data, "tags": tags_data},
                        {"priority": priority_targets, "department": dept_targets}, epochs=2, batch_size=32,
                        verbose=0)
    assert sorted(history.history) == ["department_loss", "loss", "priority_loss"]
    result = model.evaluate([title_data, body_data, tags_data], [priority_targets, dept_targets], verbose=0,
                            return_dict=True)
    assert result["loss"] == pytest.approx(result["priority_loss"] + 0.2 * result["department_loss"], rel=1e-5)
    # A Dataset of (dict, dict) pairs trains the same way.
    dataset = keras.data.Dataset.from_tensor_slices(
        ({"title": title_data, "body": body_data, "tags": tags_data},
         {"priority": priority_targets.astype("float32"), "department": dept_targets.astype("float32")})).batch(32)
    assert len(model.fit(dataset, epochs=1, verbose=0).history["loss"]) == 1


def test_a_toy_resnet_with_residual_connections():
    inputs = keras.Input(shape=(32, 32, 3), name="img")
    x = layers.Conv2D(8, 3, activation="relu")(inputs)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(block_2_output)
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(x)
    block_3_output = layers.add([x, block_2_output])
    x = layers.Conv2D(16, 3, activation="relu")(block_3_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(32, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs, outputs, name="toy_resnet")
    assert block_1_output.shape == block_2_output.shape == (None, 9, 9, 16)
    rng = np.random.default_rng(5)
    x_train = rng.random((64, 32, 32, 3)).astype("float32")
    y_train = keras.utils.to_categorical(rng.integers(0, 10, 64), 10)
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["acc"])
    history = model.fit(x_train, y_train, batch_size=16, epochs=1, validation_split=0.2, verbose=0)
    assert sorted(history.history) == ["acc", "loss", "val_acc", "val_loss"]


def test_shared_layers_encode_two_inputs_with_one_set_of_weights():
    shared_embedding = layers.Embedding(1000, 128)
    text_input_a = keras.Input(shape=(None,), dtype="int32")
    text_input_b = keras.Input(shape=(None,), dtype="int32")
    encoded_input_a = shared_embedding(text_input_a)
    encoded_input_b = shared_embedding(text_input_b)
    model = keras.Model([text_input_a, text_input_b], [encoded_input_a, encoded_input_b])
    assert len(model.weights) == 1
    ids = np.array([[1, 2, 3]], dtype="int32")
    a, b = model.predict([ids, ids], verbose=0)
    np.testing.assert_array_equal(a, b)


def test_extract_and_reuse_nodes_of_the_graph():
    inputs = keras.Input(shape=(16, 16, 3))
    x = layers.Conv2D(4, 3, activation="relu", name="block1_conv")(inputs)
    x = layers.MaxPooling2D(2, name="block1_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    net = keras.Model(inputs, layers.Dense(5, name="predictions")(x))
    features_list = [layer.output for layer in net.layers]
    feat_extraction_model = keras.Model(inputs=net.input, outputs=features_list)
    img = np.random.default_rng(6).random((1, 16, 16, 3)).astype("float32")
    extracted_features = feat_extraction_model(img)
    assert [tuple(f.shape) for f in extracted_features] == [(1, 16, 16, 3), (1, 14, 14, 4), (1, 7, 7, 4), (1, 196),
                                                            (1, 5)]
    np.testing.assert_allclose(np.asarray(extracted_features[-1]), net.predict(img, verbose=0), rtol=1e-5)


class CustomDense(layers.Layer):
    def __init__(self, units=32):
        super(CustomDense, self).__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

    def call(self, inputs):
        return keras.ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {"units": self.units}


def test_custom_layers_in_the_functional_api_serialize_through_get_config():
    inputs = keras.Input((4,))
    outputs = CustomDense(10)(inputs)
    model = keras.Model(inputs, outputs)
    assert model.output_shape == (None, 10)
    config = model.get_config()
    new_model = keras.Model.from_config(config, custom_objects={"CustomDense": CustomDense})
    # The same graph (CustomDense's config has no name, so the rebuilt layer is named afresh).
    assert [type(l).__name__ for l in new_model.layers] == ["InputLayer", "CustomDense"]
    assert new_model.output_shape == (None, 10)
    assert new_model.layers[-1].units == 10 and len(new_model.weights) == 2


def test_a_functional_model_inside_a_subclassed_layer():
    units, timesteps, input_dim = 32, 10, 5
    inputs = keras.Input((None, units))
    x = layers.GlobalAveragePooling1D()(inputs)
    outputs = layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)

    class CustomRNN(layers.Layer):
        def __init__(self):
            super(CustomRNN, self).__init__()
            self.units = units
            self.projection_1 = layers.Dense(units=units, activation="tanh")
            self.projection_2 = layers.Dense(units=units, activation="tanh")
            self.classifier = model

        def call(self, inputs):
            outputs = []
            state = keras.ops.zeros(shape=(inputs.shape[0], self.units))
            for t in range(inputs.shape[1]):
                x = inputs[:, t, :]
                h = self.projection_1(x)
                y = h + self.projection_2(state)
                state = y
                outputs.append(y)
            features = keras.ops.stack(outputs, axis=1)
            return self.classifier(features)

    rnn_model = CustomRNN()
    result = rnn_model(keras.ops.zeros((1, timesteps, input_dim)))
    assert tuple(result.shape) == (1, 1)
    assert len(rnn_model.weights) == 2 + 2 + 2  # both projections and the classifier's Dense
