// P13 Adam epsilon and its placement (Keras vs PyTorch)
//
// Keras:
//     keras.optimizers.Adam()          # epsilon=1e-7, added to sqrt(v) BEFORE bias correction
// PyTorch:
//     torch.optim.Adam(params)         # eps=1e-8, added to sqrt(v_hat) AFTER bias correction
// Source: keras/src/optimizers/adam.py (epsilon "hat" from Kingma & Ba, section 2), torch/optim/adam.py;
// seed 003.
#include "catalog.h"

namespace pf = pitfall;

namespace {

constexpr double kLearningRate = 1e-3;
constexpr double kBeta1 = 0.9, kBeta2 = 0.999;
constexpr double kKerasEpsilon = 1e-7, kTorchEpsilon = 1e-8;
constexpr int kSteps = 100;

// The step each convention takes, in units of the learning rate, at each of kSteps updates with the
// same constant gradient on one scalar weight starting at 0.
std::vector<double> steps_over_lr(pf::Convention convention, double gradient) {
  const std::shared_ptr<pf::Optimizer> adam =
      pf::make_optimizer("adam", pf::Json(pf::Json::Object{{"learning_rate", kLearningRate}}), convention);
  const pf::Tensor weight = pf::Tensor::zeros({1});
  const pf::Tensor grad = pf::Tensor::full({1}, gradient);
  std::vector<double> steps;
  double before = 0.0;
  for (int t = 0; t < kSteps; ++t) {
    adam->apply_gradients({grad}, {weight});
    const double after = weight.value_at(0);
    steps.push_back((before - after) / kLearningRate);
    before = after;
  }
  return steps;
}

// First steps / lr from the two update rules (constant gradient g, m and v start at 0):
//   Keras:   lr * sqrt(1 - b2) / (1 - b1) * m1 / (sqrt(v1) + eps),  m1 = (1 - b1) g, v1 = (1 - b2) g^2
//   PyTorch: lr * m1_hat / (sqrt(v1_hat) + eps),                      m1_hat = g, v1_hat = g^2
double keras_first_step(double g) {
  const double m1 = (1 - kBeta1) * g, v1 = (1 - kBeta2) * g * g;
  return std::sqrt(1 - kBeta2) / (1 - kBeta1) * m1 / (std::sqrt(v1) + kKerasEpsilon);
}
double torch_first_step(double g) { return g / (std::abs(g) + kTorchEpsilon); }

catalog::Run variant(double gradient, const std::string& setup) {
  catalog::Run run;
  run.x_label = "step";
  run.setup = setup;
  const std::vector<double> keras = steps_over_lr(pf::Convention::keras, gradient);
  const std::vector<double> torch = steps_over_lr(pf::Convention::torch, gradient);
  run.curve("Keras Adam step / lr", keras);
  run.curve("PyTorch Adam step / lr", torch);
  run.value("gradient", gradient);
  run.value("Keras first step / lr", keras.front());
  run.value("PyTorch first step / lr", torch.front());
  run.value("Keras / PyTorch first step", keras.front() / torch.front());
  run.value("Keras / PyTorch step 100", keras.back() / torch.back());
  return run;
}

bool relatively_near(double got, double want, double tolerance) {
  return std::abs(got - want) <= tolerance * std::abs(want);
}

std::vector<catalog::Check> signature(const catalog::Run& broken, const catalog::Run& fixed) {
  const double g_broken = broken.number("gradient"), g_fixed = fixed.number("gradient");
  const double keras_want = keras_first_step(g_broken), torch_want = torch_first_step(g_broken);
  const double ratio_want = keras_want / torch_want;
  const double b_keras = broken.number("Keras first step / lr"), b_torch = broken.number("PyTorch first step / lr");
  const double b_ratio = broken.number("Keras / PyTorch first step");
  const double f_ratio = fixed.number("Keras / PyTorch first step");
  const double f_ratio_last = fixed.number("Keras / PyTorch step 100");
  const double f_keras = fixed.number("Keras first step / lr");
  // float32 weights and Keras's float32 learning rate: agree with the double formulas to ~1e-6.
  return {
      catalog::check("broken",
                     "Keras first step = sqrt(1-b2)/(1-b1) * 0.1g / (sqrt(0.001)g + 1e-7) = " +
                         catalog::fmt(keras_want) + " lr",
                     b_keras, relatively_near(b_keras, keras_want, 1e-4)),
      catalog::check("broken", "PyTorch first step = g / (g + 1e-8) = " + catalog::fmt(torch_want) + " lr", b_torch,
                     relatively_near(b_torch, torch_want, 1e-4)),
      catalog::check("broken", "same gradient, Keras steps " + catalog::fmt(ratio_want) + " x PyTorch's", b_ratio,
                     relatively_near(b_ratio, ratio_want, 1e-4)),
      catalog::check("fixed", "|g| = " + catalog::fmt(g_fixed) + " >> eps: Keras first step = lr (+-1e-3)", f_keras,
                     std::abs(f_keras - 1.0) < 1e-3),
      catalog::check("fixed", "Keras / PyTorch first step = 1 (+-1e-3)", f_ratio, std::abs(f_ratio - 1.0) < 1e-3),
      catalog::check("fixed", "Keras / PyTorch step 100 = 1 (+-1e-3)", f_ratio_last, std::abs(f_ratio_last - 1.0) < 1e-3),
  };
}

}  // namespace

int main(int argc, char** argv) {
  catalog::Entry entry;
  entry.id = "P13";
  entry.title = "Adam epsilon and its placement (Keras vs PyTorch)";
  entry.symptom =
      "The same model, data and Adam learning rate train fine in PyTorch but barely move in Keras (or the other "
      "way round after a port), typically when the loss is tiny in scale so its gradients are around 1e-8.";
  entry.cause =
      "Keras adds epsilon = 1e-7 to sqrt(v) of the uncorrected second moment and folds the bias corrections "
      "into the learning rate; PyTorch adds eps = 1e-8 after bias correction. For a constant gradient g = 1e-8 "
      "Keras's first step is lr * 0.316 * 1e-9 / (3.16e-10 + 1e-7) = 0.00315 lr, PyTorch's is lr * g / (g + "
      "1e-8) = 0.5 lr: 159 times larger. Epsilon only vanishes from the update when |g| is far above it.";
  entry.fix =
      "Keep gradients well above epsilon (scale the loss, e.g. sum instead of a mean over a huge tensor, or "
      "standardize targets), or lower Keras's epsilon; when porting, reproduce the other framework's rule, not "
      "just its number (pitfall: make_optimizer(\"adam\", ..., Convention::torch)).";
  entry.keras = "keras.optimizers.Adam()  vs  torch.optim.Adam(params)";
  entry.source = "keras/src/optimizers/adam.py, torch/optim/adam.py";
  entry.broken = [](uint64_t) { return variant(1e-8, "constant gradient 1e-8 (|g| ~ eps), lr 1e-3"); };
  entry.fixed = [](uint64_t) { return variant(1e-2, "constant gradient 1e-2 (|g| >> eps), lr 1e-3"); };
  entry.signature = signature;
  return catalog::run_entry(entry, argc, argv);
}
