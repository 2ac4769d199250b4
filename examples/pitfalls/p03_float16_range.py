"""P03 float16 range: overflow to inf and gradients flushed to zero

Symptom: Under float16 (or mixed precision without loss scaling) the loss is NaN from the first step
when the model computes its own softmax, or training simply stalls: some weights never move although
their gradients in float32 are small but not zero.
Cause: float16's largest value is 65504, so exp(x) is inf for x > ln 65504 = 11.09: a hand-written
softmax exp(z) / sum(exp(z)) of the logits [12, 0] computes inf / inf = NaN. At the other end the
smallest positive float16 is 2^-24 = 6e-8: a gradient of 1e-8 rounds to exactly 0 and the weight
never learns.
Fix: Use the built-in softmax (it subtracts the max first, and under a mixed policy it and the loss
compute in float32), and scale the loss before differentiating: LossScaleOptimizer (added by compile()
under mixed_float16) multiplies the loss by 2^15, so a 1e-8 gradient becomes 3.3e-4 in float16 and is
divided back in float32 before the update.
Keras:
    keras.mixed_precision.set_global_policy("float16")            # or mixed_float16 in a custom loop
    probabilities = tf.exp(logits) / tf.reduce_sum(tf.exp(logits), axis=-1, keepdims=True)
    grads = tape.gradient(loss, model.trainable_variables)        # no LossScaleOptimizer.scale_loss
Source: TensorFlow mixed precision guide (tensorflow.org/guide/mixed_precision), sections "Loss
scaling" and "Ensuring the output is float32"; Micikevicius et al., "Mixed Precision Training" (2018).
"""
import math

import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, main

FLOAT16_MAX = 65504.0
OVERFLOW_AT = math.log(FLOAT16_MAX)       # 11.09: exp(x) is inf in float16 above this
SMALLEST_SUBNORMAL = 2.0 ** -24           # 5.96e-8: anything below half of it rounds to 0
TINY = 1e-8                               # the gradient scale of the loss below
SCALE = 2.0 ** 15                         # the LossScaleOptimizer's initial dynamic scale
LOGITS = [12.0, 0.0]


def inputs():
    return np.array([[0.5, -1.25, 3.0]], dtype="float16")


def tiny_gradient(scale, optimizer=None):
    """d(1e-8 * sum(x @ w)) / dw = 1e-8 * x, computed in float16 and unscaled in float32."""
    x = inputs()
    layer = pf.layers.Dense(1, use_bias=False, kernel_initializer="ones", dtype="mixed_float16")
    layer(x)
    with pf.GradientTape() as tape:
        loss = pf.ops.sum(pf.ops.cast(layer(x), "float32")) * TINY
        scaled = optimizer.scale_loss(loss) if optimizer is not None else loss * scale
    grad = tape.gradient(scaled, layer.kernel)
    return grad.dtype, grad.numpy().astype(np.float64).ravel() / scale


def softmax_values(z, hand_written):
    if hand_written:
        e = pf.ops.exp(z)
        return e.numpy(), (e / pf.ops.sum(e)).numpy()
    return None, pf.ops.softmax(z).numpy()


def broken(seed):
    z = pf.tensor(LOGITS, dtype="float16")
    e, p = softmax_values(z, hand_written=True)
    dtype, g = tiny_gradient(1.0)
    return Run(setup="float16: exp(z)/sum(exp(z)) by hand; gradient of 1e-8 * loss without scaling",
               values={"exp(12) in float16": float(e[0]), "hand-written softmax([12, 0])[0]": float(p[0]),
                       "hand-written softmax([12, 0])[1]": float(p[1]),
                       "kernel gradient dtype (float32 weights, float16 compute)": dtype,
                       "gradient of x = 0.5 (want 5e-9)": float(g[0]), "gradient of x = 3.0 (want 3e-8)": float(g[2]),
                       "gradient entries exactly 0": int(np.sum(g == 0)), "gradient entries": len(g)})


def fixed(seed):
    z = pf.tensor(LOGITS, dtype="float16")
    _, p = softmax_values(z, hand_written=False)
    dtype, g = tiny_gradient(SCALE)
    optimizer = pf.optimizers.LossScaleOptimizer(pf.optimizers.SGD(1.0))
    _, g_optimizer = tiny_gradient(optimizer.dynamic_scale, optimizer)
    return Run(setup="built-in softmax (max subtracted); loss scaled by 2^15 (LossScaleOptimizer)",
               values={"built-in softmax([12, 0])[0]": float(p[0]), "built-in softmax([12, 0])[1]": float(p[1]),
                       "softmax output dtype": str(p.dtype),
                       "kernel gradient dtype (float32 weights, float16 compute)": dtype,
                       "gradient of x = 0.5 (want 5e-9)": float(g[0]), "gradient of x = 3.0 (want 3e-8)": float(g[2]),
                       "gradient entries exactly 0": int(np.sum(g == 0)),
                       "largest relative error of the gradient": float(np.max(np.abs(g / (TINY * inputs().astype(np.float64).ravel()) - 1))),
                       "LossScaleOptimizer initial scale": optimizer.dynamic_scale,
                       "largest relative error via LossScaleOptimizer.scale_loss": float(np.max(np.abs(
                           g_optimizer / (TINY * inputs().astype(np.float64).ravel()) - 1)))})


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    exact = 1.0 / (1.0 + math.exp(-12.0))   # softmax([12, 0])[0] = 0.99999386
    half_ulp = 2.0 ** -11                   # float16 keeps 11 significant bits
    return [
        check("broken", f"exp(12) is inf in float16 (12 > ln 65504 = {OVERFLOW_AT:.2f})", b["exp(12) in float16"],
              math.isinf(b["exp(12) in float16"])),
        check("broken", "the hand-written softmax of [12, 0] is NaN (inf / inf)", b["hand-written softmax([12, 0])[0]"],
              math.isnan(b["hand-written softmax([12, 0])[0]"])),
        check("broken", f"a 1e-8 gradient (< 2^-24 = {SMALLEST_SUBNORMAL:.3g}) flushes to exactly 0",
              f"{b['gradient entries exactly 0']} of {b['gradient entries']} entries 0",
              b["gradient entries exactly 0"] == b["gradient entries"]),
        check("fixed", f"the built-in softmax is finite and equals 1/(1+e^-12) = {exact:.6f} to float16 precision",
              f["built-in softmax([12, 0])[0]"], abs(f["built-in softmax([12, 0])[0]"] - exact) <= half_ulp),
        check("fixed", "scaled by 2^15 the gradient is 1e-8 * x to float16 precision (relative error < 2^-10)",
              f["largest relative error of the gradient"], f["largest relative error of the gradient"] < 2.0 ** -10),
        check("fixed", "LossScaleOptimizer starts at 2^15 and recovers the same gradient",
              f["largest relative error via LossScaleOptimizer.scale_loss"],
              f["LossScaleOptimizer initial scale"] == SCALE
              and f["largest relative error via LossScaleOptimizer.scale_loss"] < 2.0 ** -10),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
