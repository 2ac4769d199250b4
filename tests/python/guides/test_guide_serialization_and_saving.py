"""The behaviours keras-io's guide "Save, serialize, and export models"
(guides/serialization_and_saving.py) demonstrates for models and custom objects, section by
section, with the calls a reader makes. Only the imports change: ``import keras`` -> ``import
pitfall as keras``, ``from keras import ops`` -> ``from pitfall import ops``; ``tf.random.uniform``
-> ``keras.random.uniform``. Files keep the guide's names (``.keras``, ``.weights.h5``); their
contents are pitfall's own container format (docs/file-format.md), which load_model and
load_weights read back whatever the name. Data: small generated arrays of the guide's shapes."""
import json

import numpy as np
import pytest

import pitfall as keras
from pitfall import ops


def get_model():
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(), loss="mean_squared_error")
    return model


def test_whole_model_saving_restores_predictions_and_the_optimizer_state(tmp_path):
    keras.utils.set_random_seed(0)
    model = get_model()
    test_input = np.random.random((128, 32))
    test_target = np.random.random((128, 1))
    model.fit(test_input, test_target, verbose=0)
    path = str(tmp_path / "my_model.keras")
    model.save(path)
    reconstructed_model = keras.models.load_model(path)
    np.testing.assert_allclose(model.predict(test_input, verbose=0), reconstructed_model.predict(test_input, verbose=0))
    # Compiled, with the optimizer where it stopped: one more epoch of each gives the same weights.
    assert reconstructed_model.optimizer.get_config() == model.optimizer.get_config()
    keras.utils.set_random_seed(1)
    model.fit(test_input, test_target, verbose=0)
    keras.utils.set_random_seed(1)
    reconstructed_model.fit(test_input, test_target, verbose=0)
    for a, b in zip(model.get_weights(), reconstructed_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # keras.models.save_model is the same as model.save; overwrite=False keeps an existing file.
    keras.models.save_model(model, path)
    with pytest.raises(FileExistsError):
        keras.models.save_model(model, path, overwrite=False)


def registered_classes(package):
    @keras.saving.register_keras_serializable(package=package)
    class CustomLayer(keras.layers.Layer):
        def __init__(self, factor):
            super().__init__()
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {"factor": self.factor}

    # Registering a second object under a taken name raises (as in Keras): one package per call.
    @keras.saving.register_keras_serializable(package="my_package" if package == "MyLayers" else package,
                                              name="custom_fn")
    def custom_fn(x):
        return x ** 2

    return CustomLayer, custom_fn


def custom_model(CustomLayer, square):
    inputs = keras.Input(shape=(4,))
    mid = CustomLayer(0.5)(inputs)
    outputs = keras.layers.Dense(1)(keras.layers.Lambda(square)(mid))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="mean_squared_error")
    model.fit(np.random.random((4, 4)), np.random.random((4, 1)), verbose=0)
    return model


def test_registered_custom_objects_load_without_custom_objects(tmp_path):
    keras.utils.set_random_seed(2)
    CustomLayer, custom_fn = registered_classes("MyLayers")
    assert keras.saving.get_custom_objects()["MyLayers>CustomLayer"] is CustomLayer
    assert keras.saving.get_custom_objects()["my_package>custom_fn"] is custom_fn
    assert keras.saving.get_registered_name(custom_fn) == "my_package>custom_fn"
    model = custom_model(CustomLayer, custom_fn)
    path = str(tmp_path / "custom_model.keras")
    model.save(path)
    reconstructed_model = keras.models.load_model(path, safe_mode=True)
    test_input = np.random.random((4, 4))
    np.testing.assert_allclose(model.predict(test_input, verbose=0), reconstructed_model.predict(test_input, verbose=0))
    assert type(reconstructed_model.layers[1]) is CustomLayer and reconstructed_model.layers[1].factor == 0.5


def test_a_registered_function_as_an_activation():
    _, custom_fn = registered_classes("MyLayersActivation")
    layer = keras.layers.Dense(1, activation=custom_fn, kernel_initializer="ones", bias_initializer="zeros")
    # (1 + 1 + 0) ** 2: the function runs as the activation, and gradients flow through it.
    x = keras.Variable(np.ones((1, 2), "float32"))
    with keras.GradientTape() as tape:
        out = layer(x)
    np.testing.assert_allclose(np.asarray(out), [[4.0]])
    np.testing.assert_allclose(np.asarray(tape.gradient(out, layer.weights[0])), [[4.0], [4.0]])
    assert layer.get_config()["activation"] == "MyLayersActivation>custom_fn"
    # A model using it saves the name and loads once the function is registered (it is).
    inputs = keras.Input(shape=(2,))
    model = keras.Model(inputs, layer(inputs))
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(np.ones((1, 2), "float32"), verbose=0), [[4.0]])


def unregistered_classes():
    class CustomLayer(keras.layers.Layer):
        def __init__(self, factor, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    def custom_fn(x):
        return x ** 2

    return CustomLayer, custom_fn


def test_custom_objects_passed_to_load_model_or_opened_in_a_scope(tmp_path):
    keras.utils.set_random_seed(3)
    CustomLayer, custom_fn = unregistered_classes()
    model = custom_model(CustomLayer, custom_fn)
    path = str(tmp_path / "custom_model.keras")
    model.save(path)
    test_input = np.random.random((4, 4))
    expected = model.predict(test_input, verbose=0)
    # Without the classes, loading names what it cannot find (Keras: TypeError).
    with pytest.raises(TypeError, match="Could not locate class 'CustomLayer'"):
        keras.models.load_model(path)
    reconstructed_model = keras.models.load_model(path, custom_objects={"CustomLayer": CustomLayer,
                                                                        "custom_fn": custom_fn})
    np.testing.assert_allclose(reconstructed_model.predict(test_input, verbose=0), expected)
    # The objects given to one load are not remembered by the next.
    with pytest.raises(TypeError, match="Could not locate class 'CustomLayer'"):
        keras.models.load_model(path)
    custom_objects = {"CustomLayer": CustomLayer, "custom_fn": custom_fn}
    with keras.saving.custom_object_scope(custom_objects):
        reconstructed_model = keras.models.load_model(path)
    np.testing.assert_allclose(reconstructed_model.predict(test_input, verbose=0), expected)
    with keras.utils.custom_object_scope(custom_objects):
        assert type(keras.models.load_model(path).layers[1]) is CustomLayer


def test_clone_model_makes_a_fresh_copy_of_the_architecture():
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    new_model = keras.models.clone_model(model)
    assert new_model is not model and not new_model.compiled
    assert [type(l) for l in new_model.layers] == [type(l) for l in model.layers]
    assert [w.shape for w in new_model.get_weights()] == [w.shape for w in model.get_weights()]
    assert not np.array_equal(new_model.get_weights()[0], model.get_weights()[0])  # freshly initialized
    # A functional model with a custom layer clones too.
    CustomLayer, _ = unregistered_classes()
    inputs = keras.Input((4,))
    functional = keras.Model(inputs, keras.layers.Dense(2)(CustomLayer(3.0)(inputs)))
    clone = keras.models.clone_model(functional)
    assert type(clone.layers[1]) is CustomLayer and clone.layers[1].factor == 3.0
    clone.set_weights(functional.get_weights())
    x = np.random.random((5, 4)).astype("float32")
    np.testing.assert_allclose(clone.predict(x, verbose=0), functional.predict(x, verbose=0), rtol=1e-6)


def test_get_config_and_from_config_for_layers_and_models():
    layer = keras.layers.Dense(3, activation="relu")
    layer_config = layer.get_config()
    assert layer_config["units"] == 3 and layer_config["activation"] == "relu"
    new_layer = keras.layers.Dense.from_config(layer_config)
    assert type(new_layer) is keras.layers.Dense and new_layer.get_config() == layer_config

    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(1)])
    config = model.get_config()
    new_model = keras.Sequential.from_config(config)
    assert isinstance(new_model, keras.Sequential) and new_model.count_params() == 33

    inputs = keras.Input((32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = keras.Model(inputs, outputs)
    config = model.get_config()
    new_model = keras.Model.from_config(config)
    assert new_model.output_shape == (None, 1) and new_model.count_params() == 33
    assert new_model.get_config()["layers"][1]["config"] == config["layers"][1]["config"]


def test_to_json_and_model_from_json():
    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(1)])
    json_config = model.to_json()
    entry = json.loads(json_config)
    assert entry["class_name"] == "Sequential" and entry["config"]["layers"][-1]["class_name"] == "Dense"
    new_model = keras.models.model_from_json(json_config)
    assert isinstance(new_model, keras.Sequential) and new_model.count_params() == model.count_params()
    assert json.loads(new_model.to_json())["config"]["layers"] == entry["config"]["layers"]
    # Keyword arguments go to json.dumps.
    assert model.to_json(indent=2).startswith("{\n  ")


def test_serialize_and_deserialize_an_arbitrary_object():
    my_reg = keras.regularizers.L1(0.005)
    config = keras.saving.serialize_keras_object(my_reg)
    assert config["class_name"] == "L1" and config["registered_name"] is None
    assert config["module"] == "pitfall.regularizers"
    np.testing.assert_allclose(config["config"]["l1"], 0.005)
    new_reg = keras.saving.deserialize_keras_object(config)
    assert type(new_reg) is type(my_reg) and new_reg.get_config() == my_reg.get_config()
    w = np.array([[1.0, -2.0]], "float32")
    np.testing.assert_allclose(float(new_reg(keras.ops.convert_to_tensor(w))), 0.005 * 3.0, rtol=1e-6)


def create_layer():
    layer = keras.layers.Dense(64, activation="relu", name="dense_2")
    layer.build((None, 784))
    return layer


def create_functional_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x = keras.layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = keras.layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = keras.layers.Dense(10, name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs, name="3_layer_mlp")


class SubclassedModel(keras.Model):
    def __init__(self, output_dim, name=None):
        super().__init__(name=name)
        self.output_dim = output_dim
        self.dense_1 = keras.layers.Dense(64, activation="relu", name="dense_1")
        self.dense_2 = keras.layers.Dense(64, activation="relu", name="dense_2")
        self.dense_3 = keras.layers.Dense(output_dim, name="predictions")

    def call(self, inputs):
        x = self.dense_1(inputs)
        x = self.dense_2(x)
        x = self.dense_3(x)
        return x

    def get_config(self):
        return {"output_dim": self.output_dim, "name": self.name}


def test_weights_transfer_in_memory_between_layers_and_models():
    layer_1 = create_layer()
    layer_2 = create_layer()
    layer_2.set_weights(layer_1.get_weights())
    for a, b in zip(layer_1.get_weights(), layer_2.get_weights()):
        np.testing.assert_array_equal(a, b)

    functional_model = create_functional_model()
    subclassed_model = SubclassedModel(10)
    subclassed_model(np.ones((1, 784)))  # call it once to create the weights
    subclassed_model.set_weights(functional_model.get_weights())
    assert len(functional_model.weights) == len(subclassed_model.weights) == 6
    for a, b in zip(functional_model.weights, subclassed_model.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy())
    x = np.random.default_rng(5).random((3, 784)).astype("float32")
    np.testing.assert_allclose(np.asarray(subclassed_model(x)), functional_model.predict(x, verbose=0), rtol=1e-5)

    # A stateless layer (Dropout) changes neither the number nor the order of the weights.
    inputs = keras.Input(shape=(784,), name="digits")
    x_ = keras.layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x_ = keras.layers.Dense(64, activation="relu", name="dense_2")(x_)
    x_ = keras.layers.Dropout(0.5)(x_)
    outputs = keras.layers.Dense(10, name="predictions")(x_)
    functional_model_with_dropout = keras.Model(inputs=inputs, outputs=outputs, name="3_layer_mlp")
    functional_model_with_dropout.set_weights(functional_model.get_weights())
    np.testing.assert_allclose(functional_model_with_dropout.predict(x, verbose=0),
                               functional_model.predict(x, verbose=0), rtol=1e-5)


def test_weights_save_to_disk_and_load_back(tmp_path):
    sequential_model = keras.Sequential([
        keras.Input(shape=(784,), name="digits"),
        keras.layers.Dense(64, activation="relu", name="dense_1"),
        keras.layers.Dense(64, activation="relu", name="dense_2"),
        keras.layers.Dense(10, name="predictions"),
    ])
    path = str(tmp_path / "my_model.weights.h5")
    sequential_model.save_weights(path)
    saved = sequential_model.get_weights()
    sequential_model.set_weights([np.zeros_like(w) for w in saved])
    sequential_model.load_weights(path)
    for a, b in zip(saved, sequential_model.get_weights()):
        np.testing.assert_array_equal(a, b)


class NestedDenseLayer(keras.layers.Layer):
    def __init__(self, units, name=None):
        super().__init__(name=name)
        self.dense_1 = keras.layers.Dense(units, name="dense_1")
        self.dense_2 = keras.layers.Dense(units, name="dense_2")

    def call(self, inputs):
        return self.dense_2(self.dense_1(inputs))


def test_freezing_a_nested_layer_keeps_the_order_of_the_weights():
    nested_model = keras.Sequential([keras.Input((784,)), NestedDenseLayer(10, "nested")])
    variable_names = [v.name for v in nested_model.weights]
    assert [name.split("/")[-1] for name in variable_names] == ["kernel", "bias", "kernel", "bias"]
    weights = list(nested_model.weights)
    nested_model.get_layer("nested").dense_1.trainable = False
    # Keras 3 lists a layer's weights in creation order whatever their trainable flag (the guide's
    # output: "variable ordering changed: False"); only trainable_weights loses dense_1's.
    assert [v.name for v in nested_model.weights] == variable_names
    assert all(a is b for a, b in zip(nested_model.weights, weights))
    assert [tuple(w.shape) for w in nested_model.trainable_weights] == [(10, 10), (10,)]
    assert len(nested_model.non_trainable_weights) == 2


def test_transfer_learning_extracts_layers_of_a_loaded_model(tmp_path):
    keras.utils.set_random_seed(6)
    functional_model = create_functional_model()
    path = str(tmp_path / "pretrained.weights.h5")
    functional_model.save_weights(path)
    pretrained_model = create_functional_model()  # "in a separate program"
    pretrained_model.load_weights(path)
    for a, b in zip(functional_model.get_weights(), pretrained_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    extracted_layers = pretrained_model.layers[:-1]
    extracted_layers.append(keras.layers.Dense(5, name="dense_3"))
    model = keras.Sequential(extracted_layers)
    lines = []
    model.summary(print_fn=lines.append)
    assert model.output_shape == (None, 5)
    assert model.count_params() == 50240 + 4160 + 325 and "dense_3" in "\n".join(lines)
    assert model.layers[0] is pretrained_model.layers[1]


@keras.saving.register_keras_serializable(package="MyLayers", name="KernelMult")
class MyDense(keras.layers.Layer):
    def __init__(self, units, *, kernel_regularizer=None, kernel_initializer=None, nested_model=None, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = units
        self.kernel_regularizer = kernel_regularizer
        self.kernel_initializer = kernel_initializer
        self.nested_model = nested_model

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.hidden_units, "kernel_regularizer": self.kernel_regularizer,
                       "kernel_initializer": self.kernel_initializer, "nested_model": self.nested_model})
        return config

    def build(self, input_shape):
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], self.hidden_units),
                                      regularizer=self.kernel_regularizer, initializer=self.kernel_initializer)

    def call(self, inputs):
        return ops.matmul(inputs, self.kernel)


def test_config_methods_serialize_nested_objects_and_the_registered_name():
    layer = MyDense(units=16, kernel_regularizer="l1", kernel_initializer="ones")
    layer3 = MyDense(units=64, nested_model=layer)
    config = keras.layers.serialize(layer3)
    assert config["class_name"] == "MyDense" and config["registered_name"] == "MyLayers>KernelMult"
    assert config["config"]["units"] == 64
    nested = config["config"]["nested_model"]
    assert nested["registered_name"] == "MyLayers>KernelMult" and nested["config"]["units"] == 16
    assert nested["config"]["kernel_regularizer"] == "l1"
    new_layer = keras.layers.deserialize(config)
    assert type(new_layer) is MyDense and new_layer.hidden_units == 64

    # A built-in object in the config is stored with its own config and class.
    layer = MyDense(units=16, kernel_regularizer=keras.regularizers.L1L2(l1=1e-5, l2=1e-4), kernel_initializer="ones")
    config = keras.layers.serialize(layer)
    regularizer = config["config"]["kernel_regularizer"]
    assert regularizer["class_name"] == "L1L2" and regularizer["module"] == "pitfall.regularizers"
    assert regularizer["registered_name"] is None
    np.testing.assert_allclose([regularizer["config"]["l1"], regularizer["config"]["l2"]], [1e-5, 1e-4])
    assert config["module"] == __name__  # a custom object's module is where it is defined
    # The deserialized layer builds with that regularizer and initializer.
    new_layer = keras.layers.deserialize(config)
    new_layer(np.ones((1, 3), "float32"))
    np.testing.assert_array_equal(np.asarray(new_layer.kernel), np.ones((3, 16)))
    np.testing.assert_allclose(float(new_layer.losses[0]), 1e-5 * 48 + 1e-4 * 48, rtol=1e-5)


@keras.saving.register_keras_serializable(package="ComplexModels")
class CustomModel(keras.layers.Layer):
    def __init__(self, first_layer, second_layer=None, **kwargs):
        super().__init__(**kwargs)
        self.first_layer = first_layer
        if second_layer is not None:
            self.second_layer = second_layer
        else:
            self.second_layer = keras.layers.Dense(8)

    def get_config(self):
        config = super().get_config()
        config.update({"first_layer": self.first_layer, "second_layer": self.second_layer})
        return config

    @classmethod
    def from_config(cls, config):
        config["first_layer"] = keras.layers.deserialize(config["first_layer"])
        config["second_layer"] = keras.layers.deserialize(config["second_layer"])
        return cls(**config)

    def call(self, inputs):
        return self.first_layer(self.second_layer(inputs))


def test_a_layer_taking_layers_overrides_from_config(tmp_path):
    keras.utils.set_random_seed(7)
    layer = MyDense(units=16, kernel_regularizer="l1", kernel_initializer="ones")
    inputs = keras.Input((32,))
    outputs = CustomModel(first_layer=layer)(inputs)
    model = keras.Model(inputs, outputs)
    config = model.get_config()
    new_model = keras.Model.from_config(config)
    rebuilt = new_model.layers[1]
    assert type(rebuilt) is CustomModel and type(rebuilt.first_layer) is MyDense
    assert type(rebuilt.second_layer) is keras.layers.Dense and rebuilt.second_layer.units == 8
    assert new_model.output_shape == (None, 16) and new_model.count_params() == model.count_params()
    # Saved and loaded with its weights.
    path = str(tmp_path / "complex.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    x = np.random.default_rng(7).random((2, 32)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


class HiddenUnitsModel(keras.Model):
    def __init__(self, hidden_units):
        super().__init__()
        self.hidden_units = hidden_units
        self.dense_layers = [keras.layers.Dense(u) for u in hidden_units]

    def call(self, inputs):
        x = inputs
        for layer in self.dense_layers:
            x = layer(x)
        return x

    def get_config(self):
        return {"hidden_units": self.hidden_units}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def test_a_subclassed_model_saves_its_config_and_loads_with_custom_objects(tmp_path):
    keras.utils.set_random_seed(8)
    model = HiddenUnitsModel([16, 16, 10])
    input_arr = keras.random.uniform((1, 5))
    outputs = model(input_arr)  # builds the model
    path = str(tmp_path / "my_model.keras")
    model.save(path)
    loaded_1 = keras.models.load_model(path, custom_objects={"HiddenUnitsModel": HiddenUnitsModel})
    assert type(loaded_1) is HiddenUnitsModel and loaded_1.hidden_units == [16, 16, 10]
    np.testing.assert_allclose(np.asarray(loaded_1(input_arr)), np.asarray(outputs), rtol=1e-6)
    # Keras 3 keeps no traced call: without the class, the model cannot be re-created.
    with pytest.raises(TypeError, match="Could not locate class 'HiddenUnitsModel'"):
        keras.models.load_model(path)
    # Trained, compiled and saved: it comes back compiled with the same predictions.
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(8).random((32, 5)).astype("float32")
    model.fit(x, np.zeros((32, 10), "float32"), verbose=0)
    model.save(path)
    loaded = keras.models.load_model(path, custom_objects={"HiddenUnitsModel": HiddenUnitsModel})
    assert loaded.compiled
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert loaded.get_build_config() == {"input_shape": (None, 5)}
    # clone_model rebuilds a subclassed model from its config too, built, with fresh weights.
    clone = keras.models.clone_model(model)
    assert type(clone) is HiddenUnitsModel and clone.count_params() == model.count_params()


def test_saving_a_subclassed_model_needs_its_config_and_a_call(tmp_path):
    class NoConfig(keras.Model):
        def __init__(self, units):
            super().__init__()
            self.dense = keras.layers.Dense(units)

        def call(self, inputs):
            return self.dense(inputs)

    model = NoConfig(3)
    model(np.ones((1, 2), "float32"))
    with pytest.raises(NotImplementedError, match="has no get_config"):
        model.save(str(tmp_path / "no_config.keras"))
    with pytest.raises(ValueError, match="has not been called yet"):
        HiddenUnitsModel([4]).save(str(tmp_path / "unbuilt.keras"))


class FunctionalSubclass(keras.Model):
    """A Model subclass built the functional way (Model's own __init__ takes inputs and outputs)."""


def test_a_functional_model_subclass_round_trips_through_save(tmp_path):
    keras.utils.set_random_seed(9)
    inputs = keras.Input((6,))
    model = FunctionalSubclass(inputs, keras.layers.Dense(2)(keras.layers.Dense(4, activation="relu")(inputs)))
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(9).random((8, 6)).astype("float32")
    model.fit(x, np.zeros((8, 2), "float32"), verbose=0)
    path = str(tmp_path / "functional_subclass.keras")
    model.save(path)
    loaded = keras.models.load_model(path, custom_objects={"FunctionalSubclass": FunctionalSubclass})
    assert type(loaded) is FunctionalSubclass and loaded.is_functional
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
