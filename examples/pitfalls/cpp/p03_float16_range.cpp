// P03 float16 range: overflow above 65504, underflow below 2^-24
//
// Keras:
//     keras.mixed_precision.set_global_policy("mixed_float16")
//     e = ops.exp(logits); probs = e / ops.sum(e, axis=-1, keepdims=True)   # hand-written softmax
//     # and a custom training loop without LossScaleOptimizer
// Source: TensorFlow mixed precision guide ("Loss scaling"); NVIDIA's mixed precision training guide.
#include "catalog.h"

namespace pf = pitfall;

namespace {

constexpr double kFloat16Max = 65504.0;
const double kSmallestSubnormal = std::ldexp(1.0, -24);  // 5.96e-8: anything below half of it rounds to 0
constexpr double kLossScale = 32768.0;                    // 2^15, LossScaleOptimizer's initial scale
constexpr double kFactor = 1e-4;                          // the gradient is kFactor * kFactor = 1e-8

// A float16 weight w = 1 and loss = (w * 1e-4) * 1e-4 * scale: dloss/dw = 1e-8 * scale, computed by
// the engine's float16 backward pass, then divided by the scale in float32.
double gradient_through_float16(double scale) {
  pf::Tensor w = pf::Tensor::ones({1}, pf::DType::float16);
  w.set_requires_grad(true);
  const pf::Tensor x = pf::Tensor::full({1}, kFactor, pf::DType::float16);
  const pf::Tensor loss = pf::sum(w * x * kFactor) * scale;
  loss.backward();
  return (pf::cast(w.grad(), pf::DType::float32) / scale).item();
}

catalog::Run broken(uint64_t) {
  catalog::Run run;
  run.setup = "float16: exp/sum softmax by hand, loss not scaled";
  const pf::Tensor x = pf::cast(pf::Tensor::from_vector<float>({12.0f, 0.0f}, {1, 2}), pf::DType::float16);
  const pf::Tensor e = pf::exp(x);
  const pf::Tensor naive = e / pf::sum(e, {-1}, true);
  run.value("exp(12)", e.value_at(0));
  run.value("softmax([12, 0])[0]", naive.value_at(0));
  run.value("softmax([12, 0])[1]", naive.value_at(1));
  run.value("gradient 1e-8 arrives as", gradient_through_float16(1.0));
  return run;
}

catalog::Run fixed(uint64_t) {
  catalog::Run run;
  run.setup = "exp in float32, built-in softmax, loss scale 2^15";
  const pf::Tensor x32 = pf::Tensor::from_vector<float>({12.0f, 0.0f}, {1, 2});
  const pf::Tensor x16 = pf::cast(x32, pf::DType::float16);
  const pf::Tensor stable = pf::softmax(x16);  // max-subtracted: exp(x - 12) never overflows
  run.value("exp(12)", pf::exp(x32).value_at(0));
  run.value("softmax([12, 0])[0]", stable.value_at(0));
  run.value("softmax([12, 0])[1]", stable.value_at(1));
  run.value("gradient 1e-8 arrives as", gradient_through_float16(kLossScale));
  return run;
}

std::vector<catalog::Check> signature(const catalog::Run& broken, const catalog::Run& fixed) {
  const double b_exp = broken.number("exp(12)"), f_exp = fixed.number("exp(12)");
  const double b_p0 = broken.number("softmax([12, 0])[0]");
  const double f_p0 = fixed.number("softmax([12, 0])[0]"), f_p1 = fixed.number("softmax([12, 0])[1]");
  const double b_grad = broken.number("gradient 1e-8 arrives as"), f_grad = fixed.number("gradient 1e-8 arrives as");
  // Reference values from the formats: 1e-4 rounded to float16, then the exact product.
  const double factor16 = pf::Tensor::full({1}, kFactor, pf::DType::float16).value_at(0);
  const double true_gradient = factor16 * factor16;
  const double small = std::exp(-12.0) / (1.0 + std::exp(-12.0));
  const double overflow_at = std::log(kFloat16Max);
  return {
      catalog::check("broken", "exp(12) = inf in float16 (12 > ln 65504 = " + catalog::fmt(overflow_at) + ")", b_exp,
                     std::isinf(b_exp) && 12.0 > overflow_at),
      catalog::check("broken", "hand-written softmax of [12, 0] in float16 is NaN (inf / inf)", b_p0, std::isnan(b_p0)),
      catalog::check("broken", "gradient " + catalog::fmt(true_gradient) + " < 2^-25 = " +
                                   catalog::fmt(kSmallestSubnormal / 2) + " becomes exactly 0 in float16",
                     b_grad, b_grad == 0.0 && true_gradient < kSmallestSubnormal / 2),
      catalog::check("fixed", "exp(12) in float32 = e^12 = " + catalog::fmt(std::exp(12.0)) + " (rel 1e-6)", f_exp,
                     std::abs(f_exp - std::exp(12.0)) < 1e-6 * std::exp(12.0)),
      catalog::check("fixed", "built-in softmax in float16 is finite and sums to 1 (+-1e-3)", f_p0 + f_p1,
                     std::isfinite(f_p0) && std::isfinite(f_p1) && std::abs(f_p0 + f_p1 - 1.0) < 1e-3),
      catalog::check("fixed", "its small entry is e^-12 / (1 + e^-12) = " + catalog::fmt(small) + " (+-1%)", f_p1,
                     std::abs(f_p1 - small) < 0.01 * small),
      catalog::check("fixed", "with loss scale 2^15 the gradient survives: " + catalog::fmt(true_gradient) + " (+-0.2%)",
                     f_grad, std::abs(f_grad - true_gradient) < 2e-3 * true_gradient),
  };
}

}  // namespace

int main(int argc, char** argv) {
  catalog::Entry entry;
  entry.id = "P03";
  entry.title = "float16 range: overflow above 65504, underflow below 2^-24";
  entry.symptom =
      "With mixed precision (float16) the loss is NaN from the first step, or training silently stalls: small "
      "gradients come out as exactly 0 and the weights never change.";
  entry.cause =
      "float16's largest value is 65504, so exp(x) is inf for x > ln 65504 = 11.09; a hand-written exp(x) / "
      "sum(exp(x)) softmax of [12, 0] is inf / inf = NaN. Its smallest positive value is 2^-24 = 5.96e-8, so a "
      "gradient of 1e-8 rounds to 0 in the float16 backward pass.";
  entry.fix =
      "Use the built-in softmax (it subtracts the max first) and keep softmax and the loss in float32 (the "
      "mixed_float16 policy does this); multiply the loss by a scale such as 2^15 before backward and divide "
      "the gradients after (LossScaleOptimizer does it, with a dynamic scale).";
  entry.keras = "set_global_policy(\"mixed_float16\"); ops.exp(x) / ops.sum(ops.exp(x)); no LossScaleOptimizer";
  entry.source = "TensorFlow mixed precision guide";
  entry.broken = broken;
  entry.fixed = fixed;
  entry.signature = signature;
  return catalog::run_entry(entry, argc, argv);
}
