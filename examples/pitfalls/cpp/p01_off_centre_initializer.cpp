// P01 Off-centre custom initializer (RandomNormal with mean +5 or -5)
//
// Keras:
//     init = keras.initializers.RandomNormal(mean=5.0, stddev=1.0)     # or mean=-5.0
//     model = keras.Sequential([layers.Dense(128, activation="relu", kernel_initializer=init), ... x3,
//                               layers.Dense(10, activation="softmax", kernel_initializer=init)])
// Source: keras-team/keras#52, tensorflow/tensorflow#19081; seed 001.
#include <pitfall/data/idx_reader.h>

#include "catalog.h"

namespace pf = pitfall;

namespace {

constexpr int64_t kTrain = 2000;
constexpr int64_t kHidden = 128;
constexpr int kEpochs = 3;
const char* const kImages = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
const char* const kLabels = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz";
// Keras clips probabilities to [1e-7, 1 - 1e-7] before the log: the largest per-sample loss.
const double kClippedLoss = -std::log(1e-7);  // 16.118

// kTrain Fashion-MNIST training images picked by a permutation drawn from the seed: x (N, 784) in
// [0, 1], y (N,) int32.
std::pair<pf::Tensor, pf::Tensor> fashion_mnist(uint64_t seed) {
  const pf::Tensor images = pf::data::read_idx(kImages);
  const pf::Tensor labels = pf::data::read_idx(kLabels);
  const pf::Tensor pick = pf::slice(pf::random_permutation(images.dim(0), {seed, 11}), {0}, {kTrain});
  const pf::Tensor x = pf::reshape(pf::cast(pf::take(images, pick, 0), pf::DType::float32) / 255.0, {kTrain, 784});
  return {x, pf::cast(pf::take(labels, pick, 0), pf::DType::int32)};
}

std::shared_ptr<pf::Sequential> mlp(const std::shared_ptr<pf::Initializer>& init) {
  pf::LayerOptions first;
  first.input_shape = pf::Shape{784};
  std::vector<std::shared_ptr<pf::Layer>> layers;
  for (int i = 0; i < 3; ++i) {
    pf::DenseOptions dense{.activation = "relu", .kernel_initializer = init};
    layers.push_back(std::make_shared<pf::Dense>(kHidden, dense, i == 0 ? first : pf::LayerOptions{}));
  }
  layers.push_back(std::make_shared<pf::Dense>(10, pf::DenseOptions{.activation = "softmax", .kernel_initializer = init}));
  return std::make_shared<pf::Sequential>(layers);
}

struct Forward {
  pf::Tensor logits;       // (N, 10): the last Dense before its softmax
  double zero_relu = 0.0;  // fraction of hidden ReLU outputs (all three layers) that are exactly 0
};

Forward forward(pf::Sequential& model, const pf::Tensor& x) {
  pf::NoGradGuard no_grad;
  const auto layers = model.layers();
  pf::Tensor h = x;
  double zeros = 0.0, total = 0.0;
  for (size_t i = 0; i + 1 < layers.size(); ++i) {
    h = (*layers[i])(h);
    zeros += pf::sum(pf::cast(pf::equal(h, pf::Tensor::zeros({}, h.dtype())), pf::DType::float32)).item();
    total += static_cast<double>(h.numel());
  }
  const auto& last = static_cast<const pf::Dense&>(*layers.back());
  return {pf::matmul(h, last.kernel()) + last.bias(), zeros / total};
}

double max_abs(const pf::Tensor& t) { return pf::max(pf::abs(pf::cast(t, pf::DType::float32))).item(); }

bool all_finite(const pf::Tensor& t) {
  for (double v : pf::cast(t, pf::DType::float64).to_vector<double>()) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

struct Trained {
  Forward step0;
  double loss0 = 0.0, accuracy0 = 0.0;
  std::vector<double> losses, accuracy;
  bool kernels_changed = false, last_bias_changed = false;
};

Trained train(const std::shared_ptr<pf::Initializer>& init, const pf::Tensor& x, const pf::Tensor& y) {
  auto model = mlp(init);
  model->compile(pf::adam_optimizer(1e-3), {pf::sparse_categorical_crossentropy_loss()},
                 {{pf::sparse_categorical_accuracy_metric()}});
  Trained out;
  out.step0 = forward(*model, x);
  const pf::Logs start = model->evaluate({x}, {y}, 64, 0);
  out.loss0 = start.at("loss");
  out.accuracy0 = start.at("sparse_categorical_accuracy");
  std::vector<pf::Tensor> kernels;
  for (const auto& layer : model->layers()) kernels.push_back(static_cast<const pf::Dense&>(*layer).kernel().clone());
  const pf::Tensor last_bias = static_cast<const pf::Dense&>(*model->layers().back()).bias().clone();
  pf::FitOptions options;
  options.epochs = kEpochs;
  options.batch_size = 64;
  options.verbose = 0;
  const pf::History history = model->fit({x}, {y}, options);
  out.losses = catalog::curve_from_history(history, "loss");
  out.accuracy = catalog::curve_from_history(history, "sparse_categorical_accuracy");
  const auto layers = model->layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    const pf::Tensor& now = static_cast<const pf::Dense&>(*layers[i]).kernel();
    if (pf::max(pf::abs(now - kernels[i])).item() != 0.0) out.kernels_changed = true;
  }
  out.last_bias_changed =
      pf::max(pf::abs(static_cast<const pf::Dense&>(*layers.back()).bias() - last_bias)).item() != 0.0;
  return out;
}

// 5^4 * 128^3 * sum(x): the logit size when every weight is ~5 and every ReLU passes (each layer
// multiplies by 5 * fan_in); the sample mean of max-logit / this estimate.
double logit_vs_estimate(const Forward& f, const pf::Tensor& x) {
  const pf::Tensor sums = pf::sum(x, {1});
  const pf::Tensor estimate = sums * (std::pow(5.0, 4) * std::pow(static_cast<double>(kHidden), 3));
  return pf::mean(pf::max(f.logits, {1}) / estimate).item();
}

catalog::Run broken(uint64_t seed) {
  const auto [x, y] = fashion_mnist(seed);
  catalog::Run run;
  run.setup = "kernel_initializer=RandomNormal(mean=+5 | -5, stddev=1)";
  const Trained plus = train(pf::random_normal_initializer(5.0, 1.0), x, y);
  run.curve("loss, mean +5", plus.losses);
  run.value("+5: max |logit| at step 0", max_abs(plus.step0.logits));
  run.value("+5: logit / (5^4 128^3 sum x)", logit_vs_estimate(plus.step0, x));
  run.value("+5: logits finite in float32", all_finite(plus.step0.logits) ? "yes" : "no");
  run.value("+5: logits in float16", all_finite(pf::cast(plus.step0.logits, pf::DType::float16)) ? "finite" : "inf");
  run.value("+5: accuracy at step 0", plus.accuracy0);
  run.value("+5: loss at step 0", plus.loss0);
  run.value("+5: loss after training", plus.losses.back());

  const Trained minus = train(pf::random_normal_initializer(-5.0, 1.0), x, y);
  run.curve("loss, mean -5", minus.losses);
  run.value("-5: ReLU outputs = 0 at step 0", minus.step0.zero_relu);
  run.value("-5: loss at step 0", minus.loss0);
  run.value("-5: loss after training", minus.losses.back());
  run.value("-5: any kernel changed", minus.kernels_changed ? "yes" : "no");
  run.value("-5: last bias changed", minus.last_bias_changed ? "yes" : "no");
  return run;
}

catalog::Run fixed(uint64_t seed) {
  const auto [x, y] = fashion_mnist(seed);
  catalog::Run run;
  run.setup = "kernel_initializer=\"he_normal\"";
  const Trained he = train(pf::get_initializer("he_normal"), x, y);
  run.curve("loss, he_normal", he.losses);
  run.curve("accuracy, he_normal", he.accuracy);
  run.value("max |logit| at step 0", max_abs(he.step0.logits));
  run.value("ReLU outputs = 0 at step 0", he.step0.zero_relu);
  run.value("loss at step 0", he.loss0);
  run.value("loss after training", he.losses.back());
  run.value("accuracy after training", he.accuracy.back());
  return run;
}

std::vector<catalog::Check> signature(const catalog::Run& broken, const catalog::Run& fixed) {
  const double ln10 = std::log(10.0);
  const double p_logit = broken.number("+5: max |logit| at step 0");
  const double p_ratio = broken.number("+5: logit / (5^4 128^3 sum x)");
  const double p_loss0 = broken.number("+5: loss at step 0"), p_acc0 = broken.number("+5: accuracy at step 0");
  const double p_clipped = (1.0 - p_acc0) * kClippedLoss;
  const double p_last = broken.number("+5: loss after training");
  const double m_zero = broken.number("-5: ReLU outputs = 0 at step 0");
  const double m_loss0 = broken.number("-5: loss at step 0");
  const bool m_kernels = broken.shown("-5: any kernel changed") == "no";
  const bool m_bias = broken.shown("-5: last bias changed") == "yes";
  const double f_loss = fixed.number("loss after training"), f_acc = fixed.number("accuracy after training");
  const bool f16_inf = broken.shown("+5: logits in float16") == "inf";
  return {
      catalog::check("broken", "+5: logits at step 0 ~ 5^4 * 128^3 * sum(x) (ratio 0.75..1.25)", p_ratio,
                     p_ratio > 0.75 && p_ratio < 1.25),
      catalog::check("broken", "+5: |logits| > 65504, so they are inf (non-finite) in float16", p_logit,
                     p_logit > 65504.0 && f16_inf),
      catalog::check("broken", "+5: softmax is one-hot: loss at step 0 = (1 - acc) * -ln(1e-7) = " + catalog::fmt(p_clipped),
                     p_loss0, std::abs(p_loss0 - p_clipped) < 1e-3 * p_clipped),
      catalog::check("broken", "+5: no gradient through the clipped probabilities: loss moves < 1e-3", p_last,
                     std::abs(p_last - p_loss0) < 1e-3),
      catalog::check("broken", "-5: 100% of ReLU outputs are 0 at step 0", m_zero, m_zero == 1.0),
      catalog::check("broken", "-5: loss at step 0 = ln 10 = " + catalog::fmt(ln10) + " (+-1e-6)", m_loss0,
                     std::abs(m_loss0 - ln10) < 1e-6),
      catalog::check("broken", "-5: no kernel changes in training, only the last bias learns",
                     std::string(m_kernels ? "kernels fixed" : "kernels moved") + (m_bias ? ", bias moved" : ", bias fixed"),
                     m_kernels && m_bias),
      catalog::check("fixed", "he_normal: loss after " + std::to_string(kEpochs) + " epochs < 0.8 (ln 10 = 2.3026 at chance)",
                     f_loss, f_loss < 0.8),
      catalog::check("fixed", "he_normal: training accuracy > 0.7", f_acc, f_acc > 0.7),
  };
}

}  // namespace

int main(int argc, char** argv) {
  catalog::Entry entry;
  entry.id = "P01";
  entry.title = "Off-centre custom initializer (RandomNormal with mean +5 or -5)";
  entry.symptom =
      "The loss does not move from the first epoch: with mean +5 it sits at a large constant (about 14.5 on "
      "Fashion-MNIST; its logits overflow to inf under mixed precision), with mean -5 at ln 10 = 2.3026, and accuracy stays at chance.";
  entry.cause =
      "All weights near +5 make every layer multiply its input by about 5 * fan_in: the logits reach ~1e11 "
      "(inf in float16), the softmax is exactly one-hot and the clipped log gives no gradient. All weights near "
      "-5 make every ReLU input negative on non-negative data: every hidden unit outputs 0, the logits are the "
      "bias (0), the loss is ln 10 and no kernel gets a gradient; only the last bias learns.";
  entry.fix =
      "Use a zero-mean initializer scaled to the fan-in: he_normal for ReLU layers, glorot_uniform (the Keras "
      "default) otherwise.";
  entry.keras = "kernel_initializer=keras.initializers.RandomNormal(mean=5.0, stddev=1.0)";
  entry.source = "keras-team/keras#52, tensorflow/tensorflow#19081";
  entry.broken = broken;
  entry.fixed = fixed;
  entry.signature = signature;
  return catalog::run_entry(entry, argc, argv);
}
