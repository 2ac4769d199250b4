// P14 BatchNorm momentum convention (Keras vs PyTorch)
//
// Keras:
//     layers.BatchNormalization()                 # momentum=0.99: moving = 0.99*moving + 0.01*batch
// PyTorch port, mis-read:
//     nn.BatchNorm1d(4, momentum=0.99)            # running = 0.01*running + 0.99*batch
// Source: pytorch/examples#289, pytorch/vision#8250.
#include "catalog.h"

namespace pf = pitfall;

namespace {

constexpr double kDataMean = 5.0;
constexpr int64_t kChannels = 4;
constexpr int kSteps = 50;

// A batch of 64 rows whose per-channel mean is kDataMean (noise with its own mean removed).
pf::Tensor batch(uint64_t seed, int step) {
  const pf::Tensor noise =
      pf::random_normal({64, kChannels}, 0.0, 2.0, pf::DType::float32, {seed, 200 + static_cast<uint64_t>(step)});
  return noise - pf::mean(noise, {0}, true) + kDataMean;
}

// The layer's moving mean (channel 0) after each of kSteps training-mode calls, from 0.
std::vector<double> moving_mean_curve(uint64_t seed, pf::Convention convention, std::optional<double> momentum) {
  pf::BatchNormalizationOptions options;
  options.convention = convention;
  options.momentum = momentum;
  pf::BatchNormalization layer(options);
  std::vector<double> curve;
  for (int step = 0; step < kSteps; ++step) {
    layer(batch(seed, step), /*training=*/true);
    curve.push_back(layer.moving_mean().value_at(0));
  }
  return curve;
}

std::string convention_setup(pf::Convention convention, std::optional<double> momentum) {
  return (convention == pf::Convention::keras ? "keras" : "torch") + std::string(" momentum ") +
         (momentum ? catalog::fmt(*momentum) : "default");
}

// Both runs also record the two frameworks' defaults, for reference.
void add_defaults(catalog::Run& run, uint64_t seed) {
  const std::vector<double> keras = moving_mean_curve(seed, pf::Convention::keras, std::nullopt);
  const std::vector<double> torch = moving_mean_curve(seed, pf::Convention::torch, std::nullopt);
  run.curve("keras default (0.99) moving mean", keras);
  run.value("keras default 0.99: mean after 1 step", keras.front());
  run.value("torch default 0.1: mean after 1 step", torch.front());
}

catalog::Run variant(uint64_t seed, double torch_momentum) {
  catalog::Run run;
  run.x_label = "step";
  run.setup = "Keras BN(momentum=0.99) as " + convention_setup(pf::Convention::torch, torch_momentum);
  add_defaults(run, seed);
  const std::vector<double> ported = moving_mean_curve(seed, pf::Convention::torch, torch_momentum);
  run.curve("torch port moving mean", ported);
  run.value("torch port: mean after 1 step", ported.front());
  const std::vector<double>& keras = run.points("keras default (0.99) moving mean");
  double gap = 0.0;
  for (size_t i = 0; i < keras.size(); ++i) gap = std::max(gap, std::abs(ported[i] - keras[i]));
  run.value("max |port - keras| over 50 steps", gap);
  return run;
}

std::vector<catalog::Check> signature(const catalog::Run& broken, const catalog::Run& fixed) {
  // One step from 0 on data of mean m: Keras moving = 0.99*0 + (1-0.99)*m; PyTorch running = (1-p)*0 + p*m.
  const double keras_one = (1 - 0.99) * kDataMean;    // 0.05
  const double torch_one = 0.1 * kDataMean;           // 0.5
  const double misport_one = 0.99 * kDataMean;        // 4.95
  const double keras_fifty = kDataMean * (1 - std::pow(0.99, kSteps));  // 1.97: still far from 5 after 50 steps
  const auto near = [](double got, double want) { return std::abs(got - want) <= 1e-5 * std::max(1.0, std::abs(want)); };
  const double b_keras = broken.number("keras default 0.99: mean after 1 step");
  const double b_torch = broken.number("torch default 0.1: mean after 1 step");
  const double b_port = broken.number("torch port: mean after 1 step");
  const double f_port = fixed.number("torch port: mean after 1 step");
  const double b_gap = broken.number("max |port - keras| over 50 steps");
  const double f_gap = fixed.number("max |port - keras| over 50 steps");
  const double keras_last = fixed.points("keras default (0.99) moving mean").back();
  return {
      catalog::check("broken", "Keras momentum 0.99 (weights the OLD value): 0.01 * 5 = " + catalog::fmt(keras_one),
                     b_keras, near(b_keras, keras_one)),
      catalog::check("broken", "PyTorch momentum 0.1 (weights the NEW batch): 0.1 * 5 = " + catalog::fmt(torch_one),
                     b_torch, near(b_torch, torch_one)),
      catalog::check("broken", "PyTorch given Keras's 0.99: 0.99 * 5 = " + catalog::fmt(misport_one) + " after one step",
                     b_port, near(b_port, misport_one)),
      catalog::check("broken", "the port's statistics differ from Keras's by > 2.5 within 50 steps", b_gap, b_gap > 2.5),
      catalog::check("fixed", "PyTorch given 1 - 0.99 = 0.01: 0.01 * 5 = " + catalog::fmt(keras_one) + " after one step",
                     f_port, near(f_port, keras_one)),
      catalog::check("fixed", "the port tracks Keras at every step (max gap < 1e-5)", f_gap, f_gap < 1e-5),
      catalog::check("fixed", "after 50 steps both are 5 * (1 - 0.99^50) = " + catalog::fmt(keras_fifty), keras_last,
                     near(keras_last, keras_fifty)),
  };
}

}  // namespace

int main(int argc, char** argv) {
  catalog::Entry entry;
  entry.id = "P14";
  entry.title = "BatchNorm momentum convention (Keras vs PyTorch)";
  entry.symptom =
      "A model ported between Keras and PyTorch trains the same but evaluates differently: in inference mode "
      "BatchNormalization uses moving statistics that are far off (or that follow the last batch only).";
  entry.cause =
      "The two frameworks mean opposite things by momentum. Keras: moving = moving * momentum + batch * (1 - "
      "momentum), default 0.99. PyTorch: running = (1 - momentum) * running + momentum * batch, default 0.1. "
      "Copying Keras's 0.99 into PyTorch makes the running mean follow each batch (one step on data of mean 5 "
      "from 0: 4.95 instead of 0.05).";
  entry.fix =
      "Convert the number: PyTorch momentum = 1 - Keras momentum (0.99 -> 0.01). pitfall keeps each meaning in "
      "its convention table (BatchNormalization(convention=\"torch\")).";
  entry.keras = "layers.BatchNormalization()  ->  nn.BatchNorm1d(4, momentum=0.99)";
  entry.source = "pytorch/examples#289, pytorch/vision#8250";
  entry.broken = [](uint64_t seed) { return variant(seed, 0.99); };
  entry.fixed = [](uint64_t seed) { return variant(seed, 0.01); };
  entry.signature = signature;
  return catalog::run_entry(entry, argc, argv);
}
