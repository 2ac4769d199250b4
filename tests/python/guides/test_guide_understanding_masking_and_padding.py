"""The behaviours keras-io's guide "Understanding masking & padding"
(guides/understanding_masking_and_padding.py) demonstrates, section by section, with the calls a
reader makes. Only the imports change: ``import keras`` -> ``import pitfall as keras``,
``from keras import ops, layers`` -> ``from pitfall import ops, layers``. Data: the guide's token
lists and generated integer sequences."""
import numpy as np
import pytest

import pitfall as keras
from pitfall import layers, ops

RAW_INPUTS = [
    [711, 632, 71],
    [73, 8, 3215, 55, 927],
    [83, 91, 1, 645, 1253, 927],
]


def padded():
    return keras.utils.pad_sequences(RAW_INPUTS, padding="post")


def test_pad_sequences_pads_and_truncates_to_a_common_length():
    np.testing.assert_array_equal(padded(), [[711, 632, 71, 0, 0, 0],
                                             [73, 8, 3215, 55, 927, 0],
                                             [83, 91, 1, 645, 1253, 927]])
    assert padded().dtype == np.int32
    # The default pads (and truncates) at the start; `value` sets the placeholder.
    np.testing.assert_array_equal(keras.utils.pad_sequences(RAW_INPUTS)[0], [0, 0, 0, 711, 632, 71])
    np.testing.assert_array_equal(keras.utils.pad_sequences(RAW_INPUTS, maxlen=4, value=-1),
                                  [[-1, 711, 632, 71], [8, 3215, 55, 927], [1, 645, 1253, 927]])
    np.testing.assert_array_equal(keras.utils.pad_sequences(RAW_INPUTS, maxlen=4, truncating="post")[2],
                                  [83, 91, 1, 645])


def test_embedding_and_masking_layers_attach_a_mask_to_their_output():
    padded_inputs = padded()
    embedding = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
    masked_output = embedding(padded_inputs)
    assert tuple(masked_output.shape) == (3, 6, 16)
    mask = np.asarray(masked_output._keras_mask)
    assert mask.dtype == np.bool_ and mask.shape == (3, 6)  # (batch_size, sequence_length)
    np.testing.assert_array_equal(mask, padded_inputs != 0)

    masking_layer = layers.Masking()
    unmasked_embedding = ops.cast(ops.tile(ops.expand_dims(padded_inputs, axis=-1), [1, 1, 10]), dtype="float32")
    assert tuple(unmasked_embedding.shape) == (3, 6, 10)
    masked_embedding = masking_layer(unmasked_embedding)
    np.testing.assert_array_equal(np.asarray(masked_embedding._keras_mask), padded_inputs != 0)
    # A timestep is masked when every feature equals mask_value (0.0 by default).
    np.testing.assert_array_equal(np.asarray(masked_embedding), np.asarray(unmasked_embedding))


def final_lstm_outputs_match_the_unpadded_sequences(model):
    padded_inputs = padded()
    outputs = np.asarray(model(padded_inputs))
    assert outputs.shape == (3, 32)
    embedding = next(l for l in model.layers if isinstance(l, layers.Embedding))
    lstm = next(l for l in model.layers if isinstance(l, layers.LSTM))
    for row, sequence in enumerate(RAW_INPUTS):
        alone = np.asarray(lstm(embedding(np.array([sequence], np.int32))))
        np.testing.assert_allclose(outputs[row], alone[0], rtol=1e-5, atol=1e-6)
    return embedding, lstm


def test_the_mask_propagates_to_the_lstm_in_sequential_and_functional_models():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True), layers.LSTM(32)])
    final_lstm_outputs_match_the_unpadded_sequences(model)
    assert [type(l).__name__ for l in model.layers] == ["Embedding", "LSTM"]
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(inputs)
    outputs = layers.LSTM(32)(x)
    model = keras.Model(inputs, outputs)
    # Without the mask the padding steps change the final state.
    embedding, lstm = final_lstm_outputs_match_the_unpadded_sequences(model)
    unmasked = ops.convert_to_tensor(np.asarray(embedding(padded())))
    assert unmasked._keras_mask is None
    alone = np.asarray(lstm(embedding(np.array([RAW_INPUTS[0]], np.int32))))
    assert not np.allclose(np.asarray(lstm(unmasked))[0], alone[0], atol=1e-6)


class MyLayer(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.embedding = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
        self.lstm = layers.LSTM(32)

    def call(self, inputs):
        x = self.embedding(inputs)
        mask = self.embedding.compute_mask(inputs)
        output = self.lstm(x, mask=mask)  # The layer will ignore the masked values
        return output


def test_passing_a_mask_to_a_layer_by_hand():
    keras.utils.set_random_seed(2)
    layer = MyLayer()
    x = np.random.random((32, 10)) * 100
    x = x.astype("int32")
    x[:, :7] = np.maximum(x[:, :7], 1)
    x[:, 7:] = 0  # padding
    out = np.asarray(layer(x))
    assert out.shape == (32, 32)
    np.testing.assert_array_equal(np.asarray(layer.embedding.compute_mask(x)), x != 0)
    # The LSTM skipped the padded steps: the same as on the first 7 steps alone.
    np.testing.assert_allclose(out, np.asarray(layer.lstm(layer.embedding(x[:, :7]))), rtol=1e-5, atol=1e-6)
    vectors = ops.convert_to_tensor(np.asarray(layer.embedding(x)))  # no mask attached
    hand_mask = np.ones((32, 10), bool)
    hand_mask[:, 7:] = False  # "you could also prepare a mask tensor manually"
    np.testing.assert_allclose(np.asarray(layer.lstm(vectors, mask=hand_mask)), out, rtol=1e-6)
    assert vectors._keras_mask is None  # the mask went with the call, not onto the caller's tensor
    assert not np.allclose(np.asarray(layer.lstm(vectors)), out, atol=1e-6)


class TemporalSplit(keras.layers.Layer):
    """Split the input tensor into 2 tensors along the time dimension."""

    def call(self, inputs):
        return ops.split(inputs, 2, axis=1)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        return ops.split(mask, 2, axis=1)


def test_a_layer_that_splits_time_splits_the_mask_too():
    padded_inputs = padded()
    masked_embedding = layers.Masking()(
        ops.cast(ops.tile(ops.expand_dims(padded_inputs, axis=-1), [1, 1, 10]), dtype="float32"))
    first_half, second_half = TemporalSplit()(masked_embedding)
    assert tuple(first_half.shape) == tuple(second_half.shape) == (3, 3, 10)
    np.testing.assert_array_equal(np.asarray(first_half._keras_mask), padded_inputs[:, :3] != 0)
    np.testing.assert_array_equal(np.asarray(second_half._keras_mask), padded_inputs[:, 3:] != 0)
    assert TemporalSplit().compute_mask(masked_embedding, None) is None


class CustomEmbedding(keras.layers.Layer):
    def __init__(self, input_dim, output_dim, mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.mask_zero = mask_zero

    def build(self, input_shape):
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim), initializer="random_normal",
                                          dtype="float32")

    def call(self, inputs):
        inputs = ops.cast(inputs, "int32")
        return ops.take(self.embeddings, inputs)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)


def test_a_custom_layer_generates_a_mask_from_its_inputs():
    keras.utils.set_random_seed(3)
    layer = CustomEmbedding(10, 32, mask_zero=True)
    x = np.random.random((3, 10)) * 9
    x = x.astype("int32")
    y = layer(x)
    # ops.take without axis indexes the flattened embeddings (NumPy's and Keras 3's rule), so the
    # guide's layer returns one value per token: shape (3, 10).
    assert tuple(y.shape) == (3, 10)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(layer.embeddings).reshape(-1)[x])
    per_row = ops.take(layer.embeddings, x, axis=0)
    assert tuple(per_row.shape) == (3, 10, 32)
    mask = layer.compute_mask(x)
    np.testing.assert_array_equal(np.asarray(mask), x != 0)
    np.testing.assert_array_equal(np.asarray(y._keras_mask), x != 0)
    assert CustomEmbedding(10, 32)(x)._keras_mask is None


class MyActivation(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # Signal that the layer is safe for mask propagation

    def call(self, inputs):
        return ops.relu(inputs)


def test_opting_in_to_mask_propagation():
    keras.utils.set_random_seed(4)
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(inputs)
    x = MyActivation()(x)  # Will pass the mask along
    outputs = layers.LSTM(32)(x)  # Will receive the mask
    model = keras.Model(inputs, outputs)
    ids = np.random.randint(1, 5000, size=(32, 100))
    ids[:, 60:] = 0
    y = np.asarray(model(ids))
    assert y.shape == (32, 32)
    np.testing.assert_allclose(y, np.asarray(model(ids[:, :60])), rtol=1e-5, atol=1e-6)
    # Eagerly the activation's output carries the embedding's mask.
    embedded = layers.Embedding(input_dim=10, output_dim=4, mask_zero=True)(np.array([[3, 0, 5]]))
    np.testing.assert_array_equal(np.asarray(MyActivation()(embedded)._keras_mask), [[True, False, True]])


def test_a_custom_layer_without_supports_masking_destroys_the_mask():
    class NoMasking(keras.layers.Layer):
        def call(self, inputs):
            return ops.relu(inputs)

    embedded = layers.Embedding(input_dim=10, output_dim=4, mask_zero=True)(np.array([[3, 0, 5]]))
    with pytest.warns(UserWarning, match="does not support masking and will therefore destroy the mask"):
        assert NoMasking()(embedded)._keras_mask is None


def test_a_symbolic_tensor_shows_its_mask():
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(inputs)
    x = MyActivation()(x)
    assert x._keras_mask is not None  # the guide prints "Mask found: <KerasTensor ...>"
    assert tuple(x._keras_mask.shape) == (None, None) and x._keras_mask.dtype == "bool"


class TemporalSoftmax(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        assert mask is not None
        broadcast_float_mask = ops.expand_dims(ops.cast(mask, "float32"), -1)
        inputs_exp = ops.exp(inputs) * broadcast_float_mask
        inputs_sum = ops.sum(inputs_exp * broadcast_float_mask, axis=-1, keepdims=True)
        return inputs_exp / inputs_sum


def test_a_layer_that_consumes_the_mask_in_call():
    keras.utils.set_random_seed(5)
    embedding, dense = layers.Embedding(input_dim=10, output_dim=32, mask_zero=True), layers.Dense(1)
    ids = np.random.randint(0, 10, size=(32, 100))
    ids[:, 0] = 1
    y = np.asarray(TemporalSoftmax()(dense(embedding(ids))))  # Dense passes the mask on to the softmax
    assert y.shape == (32, 100, 1)
    # The guide's softmax runs over the last axis (of size 1): kept steps give 1, masked steps 0 / 0.
    keep = ids != 0
    np.testing.assert_allclose(y[keep][:, 0], 1.0, rtol=1e-6)
    assert np.isnan(y[~keep]).all()
    # The layer receives None when no mask reaches it, so the guide's assert fires.
    with pytest.raises(AssertionError):
        TemporalSoftmax()(np.ones((2, 3, 1), np.float32))


def test_a_mask_consuming_layer_in_a_functional_model():
    keras.utils.set_random_seed(5)
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(input_dim=10, output_dim=32, mask_zero=True)(inputs)
    x = layers.Dense(1)(x)
    outputs = TemporalSoftmax()(x)
    model = keras.Model(inputs, outputs)
    ids = np.random.randint(0, 10, size=(32, 100))
    y = np.asarray(model(ids))
    assert y.shape == (32, 100, 1)
    # The guide's softmax runs over the last axis (of size 1): kept steps give 1, masked steps 0 / 0.
    keep = ids != 0
    np.testing.assert_allclose(y[keep][:, 0], 1.0, rtol=1e-6)
    assert np.isnan(y[~keep]).all()
