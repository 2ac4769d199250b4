// P29 (N,1) prediction vs (N,) target in MSE: a silent N x N broadcast
//
// Keras / PyTorch:
//     model = keras.Sequential([..., layers.Dense(1)])       # predictions (N, 1)
//     loss = ops.mean(ops.square(model(x) - y))               # y has shape (N,): (N, 1) - (N,) -> (N, N)
// The engine's built-in losses, like Keras's, first bring y_true to y_pred's rank
// (squeeze_or_expand_to_same_rank), so only a loss written by hand broadcasts.
//     torch.nn.functional.mse_loss(pred, y)                   # PyTorch only warns: "Using a target size ..."
// Source: pytorch/pytorch#16045.
#include "catalog.h"

namespace pf = pitfall;

namespace {

constexpr int64_t kSamples = 256;
constexpr int kSteps = 200;
constexpr double kLearningRate = 0.1;
constexpr double kNoise = 0.1;

struct Data {
  pf::Tensor x;  // (N, 3)
  pf::Tensor y;  // (N,): the shape targets usually come in
};

Data regression_data(uint64_t seed) {
  const pf::Tensor x = pf::random_normal({kSamples, 3}, 0.0, 1.0, pf::DType::float32, {seed, 301});
  const pf::Tensor true_w = pf::Tensor::from_vector<float>({2.0f, -3.0f, 0.5f}, {3, 1});
  const pf::Tensor noise = pf::random_normal({kSamples, 1}, 0.0, kNoise, pf::DType::float32, {seed, 302});
  return {x, pf::reshape(pf::matmul(x, true_w) + noise + 1.0, {kSamples})};
}

// Trains Dense(1) by full-batch gradient descent on `loss_of(prediction (N,1))`.
catalog::Run train(uint64_t seed, bool matching_shapes) {
  const Data data = regression_data(seed);
  catalog::Run run;
  run.x_label = "step";
  run.setup = matching_shapes ? "prediction (N,1), target reshaped to (N,1)" : "prediction (N,1), target (N,): N x N";

  pf::LayerOptions first;
  first.input_shape = pf::Shape{3};
  auto model = std::make_shared<pf::Sequential>(std::vector<std::shared_ptr<pf::Layer>>{
      std::make_shared<pf::Dense>(1, "linear", first)});
  const std::shared_ptr<pf::Optimizer> sgd = pf::sgd_optimizer(kLearningRate);

  // The engine's MeanSquaredError on these targets against the (N, 1) prediction, and on the
  // targets as a column: Keras's rank alignment makes them the same number.
  const pf::Tensor target = matching_shapes ? pf::reshape(data.y, {kSamples, 1}) : data.y;
  const pf::Tensor initial = (*model)(data.x);
  run.value("engine MSE, these targets", (*pf::mean_squared_error_loss())(target, initial).item());
  run.value("engine MSE, targets (N, 1)",
            (*pf::mean_squared_error_loss())(pf::reshape(data.y, {kSamples, 1}), initial).item());

  std::vector<double> losses;
  for (int step = 0; step < kSteps; ++step) {
    const pf::Tensor prediction = (*model)(data.x, /*training=*/true);  // (N, 1)
    // The loss as it is written by hand in the broken code: (N,1) - (N,) broadcasts to (N,N).
    const pf::Tensor loss = pf::mean(pf::square(prediction - target));
    losses.push_back(loss.item());
    std::vector<pf::Tensor> weights = model->trainable_weights();
    loss.backward();
    std::vector<pf::Tensor> grads;
    for (const pf::Tensor& w : weights) grads.push_back(w.grad());
    sgd->apply_gradients(grads, weights);
    for (const pf::Tensor& w : weights) w.set_grad(pf::Tensor());
  }
  const pf::Tensor column = (*model)(data.x);  // (N, 1)
  const pf::Tensor prediction = pf::reshape(column, {kSamples});
  const double variance = pf::var(data.y).item();
  const double residual = pf::mean(pf::square(prediction - data.y)).item();  // same shapes: elementwise
  const double spread = std::sqrt(pf::var(prediction).item());
  run.curve("loss", losses);
  run.value("loss tensor shape", pf::shape_str((column - target).shape()));
  run.value("final loss", losses.back());
  run.value("Var(y)", variance);
  run.value("R^2 = 1 - MSE / Var(y)", 1.0 - residual / variance);
  run.value("std of predictions", spread);
  return run;
}

std::vector<catalog::Check> signature(const catalog::Run& broken, const catalog::Run& fixed) {
  // Over all pairs, mean_ij (p_i - y_j)^2 = mean_i (p_i - mean y)^2 + Var(y): the best any model can do
  // is to predict mean(y) everywhere, leaving the loss at Var(y) and R^2 at 0.
  const double variance = broken.number("Var(y)");
  const double b_loss = broken.number("final loss"), f_loss = fixed.number("final loss");
  const double b_r2 = broken.number("R^2 = 1 - MSE / Var(y)"), f_r2 = fixed.number("R^2 = 1 - MSE / Var(y)");
  const double b_spread = broken.number("std of predictions");
  const double engine_vector = broken.number("engine MSE, these targets");
  const double engine_column = broken.number("engine MSE, targets (N, 1)");
  return {
      catalog::check("broken", "the engine's MeanSquaredError aligns (N,) to (N, 1) as Keras does: same value",
                     engine_vector, engine_vector == engine_column),
      catalog::check("broken", "hand-written loss floors at Var(y) = " + catalog::fmt(variance) + " (+-1%)", b_loss,
                     std::abs(b_loss - variance) < 0.01 * variance),
      catalog::check("broken", "R^2 ~ 0 (|R^2| < 0.01)", b_r2, std::abs(b_r2) < 0.01),
      catalog::check("broken", "predictions collapse to mean(y): std < 1% of std(y)", b_spread,
                     b_spread < 0.01 * std::sqrt(variance)),
      catalog::check("fixed", "loss reaches the noise variance 0.1^2 = 0.01 (< 0.015)", f_loss, f_loss < 0.015),
      catalog::check("fixed", "R^2 > 0.99", f_r2, f_r2 > 0.99),
  };
}

}  // namespace

int main(int argc, char** argv) {
  catalog::Entry entry;
  entry.id = "P29";
  entry.title = "(N,1) prediction vs (N,) target in MSE: a silent N x N broadcast";
  entry.symptom =
      "A regression model's loss drops once and then sits at the variance of the targets; every prediction is "
      "about the same number (the mean of y) and R^2 is about 0. No error is raised.";
  entry.cause =
      "The model outputs shape (N, 1), the targets have shape (N,). Subtracting broadcasts to an N x N matrix of "
      "every prediction minus every target, whose mean is mean_i (p_i - mean y)^2 + Var(y): the best the model "
      "can do is predict mean(y) for every sample.";
  entry.fix =
      "Give the targets the prediction's shape (y.reshape(-1, 1)) or squeeze the prediction. pitfall's built-in "
      "losses raise a ShapeError naming both shapes instead of broadcasting.";
  entry.keras = "ops.mean(ops.square(model(x) - y)) with model(x) (N, 1) and y (N,)";
  entry.source = "pytorch/pytorch#16045";
  entry.broken = [](uint64_t seed) { return train(seed, false); };
  entry.fixed = [](uint64_t seed) { return train(seed, true); };
  entry.signature = signature;
  return catalog::run_entry(entry, argc, argv);
}
