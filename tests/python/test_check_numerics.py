"""pf.debug.check_numerics and pf.callbacks.CheckNumerics: the first layer and op that turn finite
values into inf/NaN, in the forward pass, the backward pass or the optimizer, with the training step.

Each failure is planted where a NumPy computation in the test says the first overflow happens."""
import threading

import numpy as np
import pytest

import pitfall as pf

F32_MAX = np.finfo(np.float32).max


class RowNorm(pf.layers.Layer):
    """The L2 norm of each row of x * scale. On a row of exact zeros the forward sqrt(0) = 0 is
    finite, but sqrt's gradient 0.5 / sqrt(0) is inf and square's 2 * 0 makes it NaN: the scale's
    gradient, then the scale, become NaN (tf.norm's classic pitfall). sqrt(relu(x)) would not do:
    relu's gradient masks the inf at 0 out again."""

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

    def call(self, inputs):
        return pf.ops.sqrt(pf.ops.sum(pf.ops.square(inputs * self.scale), axis=-1, keepdims=True))


def five_dense(d3_value, learning_rate=1e-6):
    """Dense(4) x5 named d1..d5 in model "net", linear. Kernels: d1, d2 0.5; d3 `d3_value`;
    d4 +0.5 on even rows and -0.5 on odd rows (an inf coming in becomes inf - inf = NaN); d5 0.5."""
    layers = [pf.layers.Dense(4, name=f"d{i}") for i in range(1, 6)]
    model = pf.Sequential([pf.Input((4,))] + layers, name="net")
    weights = []
    for i in range(1, 6):
        kernel = np.full((4, 4), 0.5, np.float32)
        if i == 3:
            kernel[:] = d3_value
        if i == 4:
            kernel[1::2] = -0.5
        weights += [kernel, np.zeros(4, np.float32)]
    model.set_weights(weights)
    model.compile(optimizer=pf.optimizers.SGD(learning_rate), loss="mse")
    return model


def forward_numpy(model, x):
    """The model's forward pass in float64, layer by layer (the reference for where it overflows)."""
    h = np.asarray(x, np.float64)
    outs = []
    for layer in model.layers:
        kernel, bias = (np.asarray(w, np.float64) for w in layer.get_weights())
        h = h @ kernel + bias
        outs.append(h)
    return outs


def first_overflowing_layer(model, x):
    for i, h in enumerate(forward_numpy(model, x), start=1):
        if np.any(np.abs(h) > F32_MAX):
            return i
    return None


OTHER_LAYERS = ["net/d1", "net/d2", "net/d4", "net/d5"]


def test_overflow_in_layer_3_of_5_names_layer_3_and_matmul():
    x = np.ones((8, 4), np.float32)
    y = np.zeros((8, 4), np.float32)
    model = five_dense(1e38)
    assert first_overflowing_layer(model, x) == 3
    pf.debug.check_numerics(model)
    assert model.check_numerics
    with pytest.raises(FloatingPointError) as info:
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    message = str(info.value)
    assert message.startswith("training step 1 (epoch 1, batch 1): layer 'net/d3': matmul produced a non-finite value")
    assert "Likely cause and fix" in message
    assert not any(other in message for other in OTHER_LAYERS)
    pf.debug.check_numerics(model, enabled=False)
    assert not model.check_numerics


def test_callback_report_and_loss_nan_without_the_check(capfd):
    x = np.ones((8, 4), np.float32)
    y = np.zeros((8, 4), np.float32)
    # Off: nothing raised, the loss is NaN (inf - inf in d4), so the check is what found layer 3.
    plain = five_dense(1e38)
    history = plain.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    assert np.isnan(history.history["loss"][0])

    model = five_dense(1e38)
    check = pf.callbacks.CheckNumerics(raise_error=False)
    assert check.report is None
    history = model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=[check])
    assert history.epoch == [0]  # stopped after the first epoch
    report = check.report
    assert report["step"] == 1 and report["epoch"] == 1 and report["batch"] == 1
    assert report["phase"] == "forward"
    assert report["layer"] == "net/d3"
    assert report["op"] == "matmul"
    assert report["message"].startswith("training step 1 (epoch 1, batch 1): layer 'net/d3': matmul produced")
    assert not model.check_numerics  # restored after training
    printed = capfd.readouterr().out
    assert report["line"] in printed
    assert printed.count("CheckNumerics:") == 1
    assert "CheckNumerics: training step 1 (epoch 1, batch 1), forward pass: layer 'net/d3', op 'matmul'" in printed

    # A finite run leaves no report.
    fine = five_dense(0.5)
    check = pf.callbacks.CheckNumerics(raise_error=False)
    fine.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[check])
    assert check.report is None


def backward_model():
    model = pf.Sequential([pf.Input((4,)), RowNorm(name="row_norm"), pf.layers.Dense(1, name="d2")], name="net")
    model.set_weights([np.ones(4, np.float32), np.full((1, 1), 0.5, np.float32), np.zeros(1, np.float32)])
    model.compile(optimizer=pf.optimizers.SGD(0.01), loss="mse")
    return model


def test_backward_only_failure_names_the_layer_and_the_backward_op():
    # Batch 3 (rows 4, 5) holds a row of zeros.
    x = np.array([[1, 2, 3, 4], [2, 1, 1, 3], [1, 1, 2, 2], [3, 1, 2, 1], [0, 0, 0, 0], [1, 0, 1, 1]], np.float32)
    y = np.ones((6, 1), np.float32)
    model = backward_model()
    # Reference: the forward is finite (sqrt(0) = 0); the gradient 0.5 / sqrt(0) is not.
    norms = np.sqrt(np.sum(x.astype(np.float64) ** 2, axis=-1))
    assert np.all(np.isfinite(norms)) and norms[4] == 0
    with np.errstate(divide="ignore"):
        assert np.isinf(0.5 / norms[4])
    with pf.debug.check_numerics():
        assert np.all(np.isfinite(np.asarray(model.predict(x, verbose=0))))

    check = pf.callbacks.CheckNumerics(raise_error=False)
    history = model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0, callbacks=[check])
    assert history.epoch == [0]
    report = check.report
    assert report["phase"] == "backward"
    assert report["layer"] == "net/row_norm"
    assert report["op"] == "backward of sqrt > divide"
    assert (report["step"], report["epoch"], report["batch"]) == (3, 1, 3)
    assert report["message"].startswith(
        "training step 3 (epoch 1, batch 3): layer 'net/row_norm', op 'backward of sqrt > divide': divide produced")

    # raise_error=True (the default) raises the same text.
    model = backward_model()
    with pytest.raises(FloatingPointError, match=r"^training step 3 \(epoch 1, batch 3\): layer 'net/row_norm', "
                                                 r"op 'backward of sqrt > divide'"):
        model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0,
                  callbacks=[pf.callbacks.CheckNumerics()])
    assert not model.check_numerics

    # Off: nothing raised; the scale becomes NaN and so does the loss.
    plain = backward_model()
    history = plain.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])  # step 3's own loss is still finite
    assert np.isnan(history.history["loss"][1])
    assert np.isnan(plain.get_weights()[0]).all()


def test_step_number_and_earlier_batches_trained():
    # Batch 3 (rows 4, 5; batch_size 2) holds 1e36: d1 0.5e36, d2 1e36, d3 (kernel 100) 4e38 > max.
    x = (np.arange(32, dtype=np.float32) % 7 * 0.01).reshape(8, 4)
    x[4, 0] = 1e36
    y = np.ones((8, 4), np.float32)  # not the model's initial output 0, so the weights move
    model = five_dense(100.0)
    assert first_overflowing_layer(model, x[4:6]) == 3
    assert first_overflowing_layer(model, x[:4]) is None
    initial = model.get_weights()
    losses = []
    recorder = pf.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: losses.append(logs["loss"]))
    with pytest.raises(FloatingPointError, match=r"^training step 3 \(epoch 1, batch 3\): layer 'net/d3': matmul"):
        with pf.debug.check_numerics(model):
            model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0, callbacks=[recorder])
    assert not model.check_numerics  # the with block restored it
    assert len(losses) == 2 and all(np.isfinite(losses))
    after = model.get_weights()
    assert all(np.all(np.isfinite(w)) for w in after)
    assert not np.array_equal(after[6], initial[6])  # batches 1 and 2 updated d4's kernel


def test_context_manager_in_a_gradient_tape_loop_and_restores_state():
    model = backward_model()
    x = pf.tensor(np.zeros((1, 4), np.float32))
    assert not pf.debug.check_numerics_enabled()
    with pf.debug.check_numerics():
        assert pf.debug.check_numerics_enabled()
        with pytest.raises(FloatingPointError) as info:
            with pf.GradientTape() as tape:
                loss = pf.ops.mean(pf.ops.square(model(x, training=True) - 1.0))
            tape.gradient(loss, model.trainable_weights)
        # Nested: off inside, back on after.
        with pf.debug.check_numerics(enabled=False):
            assert not pf.debug.check_numerics_enabled()
        assert pf.debug.check_numerics_enabled()
    assert not pf.debug.check_numerics_enabled()
    assert str(info.value).startswith("layer 'net/row_norm', op 'backward of sqrt > divide': divide produced")

    # Off: the same loop gives non-finite gradients silently.
    with pf.GradientTape() as tape:
        loss = pf.ops.mean(pf.ops.square(model(x, training=True) - 1.0))
    grads = tape.gradient(loss, model.trainable_weights)
    assert not all(np.all(np.isfinite(np.asarray(g))) for g in grads)

    # An exception leaving the block restores the previous state.
    with pytest.raises(KeyError):
        with pf.debug.check_numerics():
            raise KeyError("boom")
    assert not pf.debug.check_numerics_enabled()

    # The switch is per thread.
    seen = []
    with pf.debug.check_numerics():
        worker = threading.Thread(target=lambda: seen.append(pf.debug.check_numerics_enabled()))
        worker.start()
        worker.join()
    assert seen == [False]


def test_engine_wide_switch():
    pf.debug.enable_check_numerics()
    try:
        assert pf.debug.check_numerics_enabled()
        with pytest.raises(FloatingPointError, match="divide"):
            pf.ops.divide(pf.tensor([1.0]), pf.tensor([0.0]))
    finally:
        pf.debug.disable_check_numerics()
    assert not pf.debug.check_numerics_enabled()
    assert np.isinf(np.asarray(pf.ops.divide(pf.tensor([1.0]), pf.tensor([0.0])))[0])
