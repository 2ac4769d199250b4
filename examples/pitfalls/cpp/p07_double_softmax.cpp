// P07 Softmax output + from_logits=True (double softmax): the C++ version of
// examples/pitfalls/p07_double_softmax.py.
//
// Keras:
//     model = keras.Sequential([..., layers.Dense(10, activation="softmax")])
//     model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), ...)
// Source: tensorflow/tensorflow#50190; Keras warns "Received from_logits=True, but the output argument
// was produced by a Softmax activation" only in some versions and code paths.
#include "catalog.h"

namespace pf = pitfall;

namespace {

constexpr int64_t kClasses = 10;
// The best a double softmax can reach: the inner softmax puts at most 1 on the true class and 0 on the
// nine others, so the outer one gives at most e / (e + 9).
const double kFloor = -std::log(std::exp(1.0) / (std::exp(1.0) + kClasses - 1));  // 1.4612
// ... and the worst: the inner softmax puts 1 on a wrong class, so the outer one gives e^0 / (e + 9).
// An untrained network's inner softmax is roughly uniform, which gives ln 10 = 2.3026.
const double kCeiling = std::log(std::exp(1.0) + kClasses - 1);  // 2.4612

// Ten well separated Gaussian clusters in 20-D: any sound classifier drives the loss towards 0.
std::pair<pf::Tensor, pf::Tensor> blobs(uint64_t seed, int64_t n = 2000, int64_t features = 20) {
  const pf::Tensor centres = pf::random_normal({kClasses, features}, 0.0, 3.0, pf::DType::float32, {seed, 101});
  const pf::Tensor labels =
      pf::cast(pf::random_uniform({n}, 0.0, static_cast<double>(kClasses), pf::DType::float32, {seed, 102}), pf::DType::int64);
  const pf::Tensor x =
      pf::take(centres, labels, 0) + pf::random_normal({n, features}, 0.0, 1.0, pf::DType::float32, {seed, 103});
  return {x, pf::cast(labels, pf::DType::int32)};
}

catalog::Run train(uint64_t seed, const std::string& output_activation) {
  const auto [x, y] = blobs(seed);
  pf::LayerOptions first;
  first.input_shape = pf::Shape{x.dim(1)};
  auto model = std::make_shared<pf::Sequential>(std::vector<std::shared_ptr<pf::Layer>>{
      std::make_shared<pf::Dense>(64, "relu", first), std::make_shared<pf::Dense>(kClasses, output_activation)});
  model->compile(pf::adam_optimizer(0.01), {pf::sparse_categorical_crossentropy_loss(/*from_logits=*/true)},
                 {{pf::sparse_categorical_accuracy_metric()}});
  const double initial_loss = model->evaluate({x}, {y}, 32, 0).at("loss");
  pf::FitOptions options;
  options.epochs = 15;
  options.batch_size = 64;
  options.verbose = 0;
  const pf::History history = model->fit({x}, {y}, options);

  catalog::Run run;
  run.setup = "Dense(10, " + (output_activation == "linear" ? std::string("no activation") : output_activation) +
              ") + from_logits=True";
  const std::vector<double> losses = catalog::curve_from_history(history, "loss");
  const std::vector<double> accuracy = catalog::curve_from_history(history, "sparse_categorical_accuracy");
  run.curve("loss", losses);
  run.curve("accuracy", accuracy);
  run.value("loss at step 0", initial_loss);
  run.value("lowest training loss", catalog::min_of(losses));
  run.value("final accuracy", accuracy.empty() ? NAN : accuracy.back());
  return run;
}

std::vector<catalog::Check> signature(const catalog::Run& broken, const catalog::Run& fixed) {
  const double start = broken.number("loss at step 0");
  const double lowest_broken = broken.number("lowest training loss");
  const double lowest_fixed = fixed.number("lowest training loss");
  const bool broken_warned = broken.warned_containing("double softmax");
  return {
      catalog::check("broken",
                     "loss at step 0 lies in the double-softmax range [" + catalog::fmt(kFloor) + ", ln(e+9) = " +
                         catalog::fmt(kCeiling) + "], near ln 10 = 2.3026",
                     start, start >= kFloor && start <= kCeiling),
      catalog::check("broken", "loss never goes below the floor -ln(e/(e+9)) = " + catalog::fmt(kFloor), lowest_broken,
                     lowest_broken >= kFloor - 1e-4),
      catalog::check("fixed", "loss falls far below that floor (< " + catalog::fmt(kFloor / 4) + ")", lowest_fixed,
                     lowest_fixed < kFloor / 4),
      catalog::check("broken", "the engine warns that a softmax output is passed as logits",
                     broken_warned ? "warned" : "silent", broken_warned),
      catalog::check("fixed", "no double-softmax warning", fixed.warnings.empty() ? "silent" : "warned",
                     fixed.warnings.empty()),
  };
}

}  // namespace

int main(int argc, char** argv) {
  catalog::Entry entry;
  entry.id = "P07";
  entry.title = "Softmax output + from_logits=True (double softmax)";
  entry.symptom =
      "The loss starts at ln 10 = 2.3026 as expected, falls a little, then flattens out far above zero, while "
      "accuracy may still creep up. Lowering the learning rate or training longer does not help.";
  entry.cause =
      "The last layer already applies softmax, and the loss is told its input are logits, so it applies softmax "
      "again. The outputs p lie in [0, 1] and sum to 1, so the second softmax can never be more confident than "
      "e^1 / (e^1 + 9 e^0): the loss is bounded below by -ln(e / (e + 9)) = 1.4612 and the gradients reaching the "
      "network are squashed.";
  entry.fix =
      "Either drop the softmax activation (keep from_logits=True: the numerically stable form) or keep the softmax "
      "and use from_logits=False (the default). Never both.";
  entry.keras = "layers.Dense(10, activation=\"softmax\") + SparseCategoricalCrossentropy(from_logits=True)";
  entry.source = "tensorflow/tensorflow#50190";
  entry.broken = [](uint64_t seed) { return train(seed, "softmax"); };
  entry.fixed = [](uint64_t seed) { return train(seed, "linear"); };
  entry.signature = signature;
  return catalog::run_entry(entry, argc, argv);
}
