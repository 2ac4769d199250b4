"""P30 Shape errors that don't name the layer

Symptom: A model with a custom layer fails with "Incompatible shapes: [32,5] vs. [32,2]
[Op:AddV2]". The message names an op and two shapes, but not which of the model's layers ran the op,
so finding the line means reading a long traceback or bisecting the model by hand. A layer fed
data of the wrong width fails the same way deep inside a matmul.
Cause: TensorFlow raises from the kernel, which knows the op and its operands; the layer that called
it is only in the traceback (or, in graph mode, in a node path such as sequential/custom_layer/add).
Here the custom layer adds matmul(inputs, w), of shape (batch, units), to inputs[:, :2], of shape
(batch, 2): the sizes differ, so the add cannot broadcast.
Fix: Make the operands agree (here: slice the skip connection to `units` columns, inputs[:, :units]),
and feed each layer the width it was built for. The engine's errors say where: the layer's name and
class, its input shape, the op, both operand shapes and the dimension that differs.
Keras:
    class CustomLayer(layers.Layer):
        def call(self, inputs):
            return tf.matmul(inputs, self.w) + inputs[:, :2]    # (32, 5) + (32, 2)
    # tensorflow.python.framework.errors_impl.InvalidArgumentError:
    #     Incompatible shapes: [32,5] vs. [32,2] [Op:AddV2]
Source: seeds 002 and 004 (Keras errors "often refer to shapes or data types without clearly
indicating where the mismatch occurred within the network").
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, error_message, main

BATCH, FEATURES, UNITS = 32, 10, 5


class CustomLayer(pf.layers.Layer):
    """Seed 002's layer: a projection plus a skip connection taken from the first columns of the input."""

    def __init__(self, units, skip_columns, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.skip_columns = skip_columns

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal",
                                 trainable=True, name="w")

    def call(self, inputs):
        return pf.ops.matmul(inputs, self.w) + inputs[:, :self.skip_columns]


def regression_data(seed, features):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, size=(256, features)).astype(np.float32)
    y = (x[:, :1] * 0.5 + 0.1).astype(np.float32)
    return x, y


def model_with(layer, features):
    return pf.Sequential([pf.Input((features,)), layer, pf.layers.Dense(1, name="head")])


def broken(seed):
    inputs = pf.random.normal((BATCH, FEATURES), seed=seed)
    wrong_skip = CustomLayer(UNITS, skip_columns=2, name="residual_block")
    # The same pair of mistakes, seen where users meet them: calling the layer, building the model,
    # and feeding a trained model data of another width.
    layer_error = error_message(wrong_skip, inputs)
    model_error = error_message(model_with, CustomLayer(UNITS, skip_columns=2, name="residual_block"), FEATURES)
    model = model_with(CustomLayer(UNITS, skip_columns=UNITS, name="residual_block"), FEATURES)
    wide_x, _ = regression_data(seed, FEATURES + 2)
    width_error = error_message(model.predict, wide_x, verbose=0)
    shared = pf.layers.Dense(8, name="shared_encoder")
    shared(pf.Input((FEATURES,), name="query"))
    shared_error = error_message(shared, pf.Input((FEATURES + 2,), name="document"))
    return Run(setup="matmul(inputs, w) + inputs[:, :2]; data 2 columns wider than the model",
               texts={"calling the layer": layer_error, "building the model": model_error,
                      "predict on 12-column data": width_error, "shared Dense on a 12-wide input": shared_error},
               values={"errors raised": sum(bool(e) for e in (layer_error, model_error, width_error, shared_error))})


def fixed(seed):
    inputs = pf.random.normal((BATCH, FEATURES), seed=seed)
    layer = CustomLayer(UNITS, skip_columns=UNITS, name="residual_block")
    output_shape = tuple(layer(inputs).shape)
    x, y = regression_data(seed, FEATURES)
    model = model_with(CustomLayer(UNITS, skip_columns=UNITS, name="residual_block"), FEATURES)
    model.compile(optimizer=pf.optimizers.Adam(learning_rate=0.01), loss="mse")
    history = model.fit(x, y, epochs=10, batch_size=BATCH, verbose=0)
    losses = curve_from_history(history)
    return Run(setup="matmul(inputs, w) + inputs[:, :units]; data as wide as the model",
               curves={"loss": losses},
               values={"layer output shape": str(output_shape), "first loss": losses[0], "final loss": losses[-1]})


def _names_everything(text, *parts):
    return bool(text) and all(part in text for part in parts)


def signature(broken, fixed):
    t = broken.texts
    add_parts = ("residual_block", "CustomLayer", "add", f"({BATCH}, {UNITS})", f"({BATCH}, 2)")
    wide = f"{FEATURES + 2})"
    return [
        check("broken", "calling the layer: error names layer, class, op 'add' and both shapes (32, 5), (32, 2)",
              t["calling the layer"].split(":")[0] or "no error", _names_everything(t["calling the layer"], *add_parts)),
        check("broken", "building the model: the same error, naming layer, op and the sizes 5 vs 2",
              t["building the model"].split(":")[0] or "no error",
              _names_everything(t["building the model"], "residual_block", "CustomLayer", "add", "5 vs 2")),
        check("broken", "12-column data: error names the model input, expected (None, 10) and got (..., 12)",
              t["predict on 12-column data"].split(":")[0] or "no error",
              _names_everything(t["predict on 12-column data"], "(None, 10)", wide)),
        check("broken", "shared Dense: error names 'shared_encoder', expected (None, 10) and got (None, 12)",
              t["shared Dense on a 12-wide input"].split(":")[0] or "no error",
              _names_everything(t["shared Dense on a 12-wide input"], "shared_encoder", "Dense", "(None, 10)",
                                "(None, 12)")),
        check("fixed", f"the layer returns ({BATCH}, {UNITS})", fixed.values["layer output shape"],
              fixed.values["layer output shape"] == str((BATCH, UNITS))),
        check("fixed", "the model trains: final loss < first loss / 10", fixed.values["final loss"],
              fixed.values["final loss"] < fixed.values["first loss"] / 10),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
