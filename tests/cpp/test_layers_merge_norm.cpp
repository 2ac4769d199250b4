// Add, Concatenate, Embedding, BatchNormalization, LayerNormalization and the layer conventions
// table: forward values against reference formulas computed here in double, the BatchNorm momentum
// conventions (pitfall P14) and the batch-of-one signature (P19), gradients, error messages and
// get_config round trips.
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

#include "gradcheck_cases.h"
#include "layer_test_helper.h"
#include "test_util.h"

#include <pitfall/layers/batch_normalization.h>
#include <pitfall/layers/conventions.h>
#include <pitfall/layers/embedding.h>
#include <pitfall/layers/initializers.h>
#include <pitfall/layers/layer_normalization.h>
#include <pitfall/layers/merge.h>

using namespace pitfall;
using namespace pitfall::testing;

namespace {

Tensor uniform32(const Shape& shape, double lo, double hi, uint64_t seed) {
  return cast(uniform64(shape, lo, hi, seed), DType::float32);
}

std::vector<double> values(const Tensor& t) { return cast(t, DType::float64).to_vector<double>(); }

// What a layer's config must survive: rebuilding from it gives the same config.
void check_config_round_trip(const Layer& layer) {
  const Json config = layer.get_config();
  Json wrapped;
  wrapped["class_name"] = layer.class_name();
  wrapped["config"] = config;
  const auto rebuilt = layer_from_config(wrapped);
  CHECK(rebuilt->class_name() == layer.class_name());
  CHECK(rebuilt->get_config().dump() == config.dump());
}

// Reference batch/layer normalization of a (rows, cols) matrix, in double: normalize each column
// (per_column=true, BatchNorm over axis -1) or each row (LayerNorm over axis -1).
std::vector<double> reference_normalize(const std::vector<double>& x, int64_t rows, int64_t cols, bool per_column,
                                        double epsilon, const std::vector<double>& gamma,
                                        const std::vector<double>& beta) {
  std::vector<double> out(x.size());
  const int64_t groups = per_column ? cols : rows, n = per_column ? rows : cols;
  for (int64_t g = 0; g < groups; ++g) {
    auto at = [&](int64_t k) { return per_column ? k * cols + g : g * cols + k; };
    double mean = 0, variance = 0;
    for (int64_t k = 0; k < n; ++k) mean += x[at(k)];
    mean /= n;
    for (int64_t k = 0; k < n; ++k) variance += (x[at(k)] - mean) * (x[at(k)] - mean);
    variance /= n;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t param = per_column ? g : k;
      out[at(k)] = (x[at(k)] - mean) / std::sqrt(variance + epsilon) * gamma[param] + beta[param];
    }
  }
  return out;
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tolerance) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(tolerance));
  }
}

std::vector<std::string> weight_names(Layer& layer) {
  std::vector<std::string> names;
  for (Weight* w : layer.weights()) names.push_back(w->name);
  return names;
}

// Column means / variances of a (rows, cols) matrix, in double.
std::pair<std::vector<double>, std::vector<double>> column_moments(const std::vector<double>& x, int64_t rows,
                                                                   int64_t cols, bool unbiased) {
  std::vector<double> mean(cols, 0.0), variance(cols, 0.0);
  for (int64_t c = 0; c < cols; ++c) {
    for (int64_t r = 0; r < rows; ++r) mean[c] += x[r * cols + c];
    mean[c] /= rows;
    for (int64_t r = 0; r < rows; ++r) variance[c] += (x[r * cols + c] - mean[c]) * (x[r * cols + c] - mean[c]);
    variance[c] /= unbiased ? rows - 1 : rows;
  }
  return {mean, variance};
}

}  // namespace

// ================================================================ conventions

TEST_CASE("conventions: BatchNormalization rows hold the Keras and PyTorch defaults and momentum meanings") {
  const auto& keras = batch_norm_convention(Convention::keras);
  CHECK(keras.momentum == 0.99);
  CHECK(keras.epsilon == 1e-3);
  CHECK(keras.momentum_meaning == MomentumMeaning::weight_of_old_value);
  CHECK_FALSE(keras.unbiased_moving_variance);
  CHECK_FALSE(keras.none_momentum_is_cumulative);
  CHECK(keras.batch_of_one_allowed_in_training);
  const auto& torch = batch_norm_convention(Convention::torch);
  CHECK(torch.momentum == 0.1);
  CHECK(torch.epsilon == 1e-5);
  CHECK(torch.momentum_meaning == MomentumMeaning::weight_of_new_batch);
  CHECK(torch.unbiased_moving_variance);
  CHECK(torch.none_momentum_is_cumulative);
  CHECK_FALSE(torch.batch_of_one_allowed_in_training);
}

TEST_CASE("conventions: LeakyReLU slopes and parse_convention") {
  CHECK(leaky_relu_convention(Convention::keras).negative_slope == 0.3);
  CHECK(leaky_relu_convention(Convention::torch).negative_slope == 0.01);
  CHECK(parse_convention("keras") == Convention::keras);
  CHECK(parse_convention("torch") == Convention::torch);
  CHECK(convention_name(Convention::torch) == "torch");
  const std::string message = message_of([] { parse_convention("pytorch"); });
  CHECK(message.find("'pytorch'") != std::string::npos);
  CHECK(message.find("\"keras\"") != std::string::npos);
  CHECK(message.find("\"torch\"") != std::string::npos);
}

TEST_CASE("conventions: default initializers draw from the documented distributions") {
  set_random_seed(3);
  const RandomKey key = next_random_key();
  const auto draw = [&](InitializedWeight weight, Convention convention, double fan_in, const Shape& shape) {
    return (*make_initializer(default_initializer(weight, convention).value, fan_in))(shape, DType::float64, key);
  };
  // Keras kernel: glorot_uniform bound sqrt(6/(fan_in+fan_out)) = sqrt(6/300) for (100, 200).
  const auto keras_kernel = values(draw(InitializedWeight::kernel, Convention::keras, 100, Shape{100, 200}));
  const double glorot = std::sqrt(6.0 / 300.0);
  double max_abs = 0;
  for (double v : keras_kernel) max_abs = std::max(max_abs, std::abs(v));
  CHECK(max_abs <= glorot);
  CHECK(max_abs > 0.95 * glorot);
  // Torch kernel: U(+-1/sqrt(fan_in)) = +-0.1 for fan_in 100.
  const auto torch_kernel = values(draw(InitializedWeight::kernel, Convention::torch, 100, Shape{100, 200}));
  max_abs = 0;
  for (double v : torch_kernel) max_abs = std::max(max_abs, std::abs(v));
  CHECK(max_abs <= 0.1);
  CHECK(max_abs > 0.095);
  // Biases: Keras zeros; torch U(+-1/sqrt(fan_in)) with the kernel's fan_in (here 16 -> 0.25).
  for (double v : values(draw(InitializedWeight::bias, Convention::keras, 16, Shape{50}))) {
    CHECK(v == 0.0);
  }
  max_abs = 0;
  for (double v : values(draw(InitializedWeight::bias, Convention::torch, 16, Shape{2000}))) {
    max_abs = std::max(max_abs, std::abs(v));
  }
  CHECK(max_abs <= 0.25);
  CHECK(max_abs > 0.24);
  // Embeddings: Keras U(-0.05, 0.05); torch N(0, 1).
  max_abs = 0;
  for (double v : values(draw(InitializedWeight::embeddings, Convention::keras, 0, Shape{100, 50}))) {
    max_abs = std::max(max_abs, std::abs(v));
  }
  CHECK(max_abs <= 0.05);
  CHECK(max_abs > 0.049);
  const auto normal = values(draw(InitializedWeight::embeddings, Convention::torch, 0, Shape{100, 100}));
  double sum = 0, sum_sq = 0;
  for (double v : normal) {
    sum += v;
    sum_sq += v * v;
  }
  const double mean = sum / normal.size();
  CHECK(std::abs(mean) < 0.05);
  CHECK(std::sqrt(sum_sq / normal.size() - mean * mean) == doctest::Approx(1.0).epsilon(0.05));
}

TEST_CASE("conventions: the printed table lists every row in aligned columns") {
  const auto rows = layer_convention_rows();
  // BatchNormalization: momentum, epsilon, update per convention; 3 initializer kinds x 2; LeakyReLU x 2.
  CHECK(rows.size() == 6 + 6 + 2);
  const std::string table = format_layer_conventions();
  for (const char* expected :
       {"component", "convention", "setting", "value", "0.99 (weights the OLD moving value)",
        "0.1 (weights the NEW batch)", "momentum=None = cumulative average", "unbiased", "0.001", "1e-05",
        "glorot_uniform", "kaiming_uniform(a=sqrt(5))", "U(-0.05, 0.05)", "N(0, 1)", "LeakyReLU", "0.3", "0.01"}) {
    INFO(expected);
    CHECK(table.find(expected) != std::string::npos);
  }
  // Every line's column separators sit at the same offsets.
  std::istringstream lines(table);
  std::string line, first;
  {
    std::istringstream head(table);
    std::getline(head, first);
  }
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    if (count == 2) continue;  // the rule line uses '+'
    const size_t bar = line.find(" | ");
    const size_t second = line.find(" | ", bar + 3);
    CHECK(bar == first.find(" | "));
    CHECK(second == first.find(" | ", first.find(" | ") + 3));
  }
  CHECK(count == static_cast<int>(rows.size()) + 2);
  std::ostringstream printed;
  print_layer_conventions(printed);
  CHECK(printed.str() == table);
}

// ================================================================ Add

TEST_CASE("Add: sums any number of inputs left to right") {
  const Tensor a = uniform32({2, 3}, -1, 1, 1), b = uniform32({2, 3}, -1, 1, 2), c = uniform32({2, 3}, -1, 1, 3);
  Add layer;
  const Tensor out = layer({a, b, c}).at(0);
  CHECK(bitwise_equal(out, add(add(a, b), c)));
  CHECK(layer.weights().empty());
  // Gradient: one per input, all ones.
  Tensor x = uniform64({2, 3}, -1, 1, 4).set_requires_grad(true), y = uniform64({2, 3}, -1, 1, 5).set_requires_grad(true);
  Add layer64;
  sum(layer64({x, y}).at(0)).backward();
  for (double g : x.grad().to_vector<double>()) CHECK(g == 1.0);
  for (double g : y.grad().to_vector<double>()) CHECK(g == 1.0);
}

TEST_CASE("Add: a non-batch size-1 dimension broadcasts as in Keras, anything else is a ShapeError") {
  Add layer({"add_bcast"});
  const Tensor a = uniform32({2, 3}, -1, 1, 1), b = uniform32({2, 1}, -1, 1, 2);
  CHECK(layer({a, b}).at(0).shape() == Shape{2, 3});
  CHECK(layer.compute_output_shape({{-1, 3}, {-1, 1}}).at(0) == Shape{-1, 3});

  Add strict({"add_strict"});
  const std::string message = message_of([&] { strict({uniform32({2, 3}, -1, 1, 1), uniform32({2, 4}, -1, 1, 2)}); });
  CHECK(message.find("layer 'add_strict' (Add)") != std::string::npos);
  CHECK(message.find("input 1") != std::string::npos);
  CHECK(message.find("(2, 4)") != std::string::npos);
  CHECK(message.find("(2, 3)") != std::string::npos);
  CHECK_THROWS_AS(Add()({uniform32({2, 3}, -1, 1, 1), uniform32({2, 4}, -1, 1, 2)}), ShapeError);
  // Batch sizes must match exactly (Keras: "Cannot merge tensors with different batch sizes").
  CHECK_THROWS_AS(Add()({uniform32({1, 3}, -1, 1, 1), uniform32({2, 3}, -1, 1, 2)}), ShapeError);
  // Different ranks.
  const std::string rank = message_of([] { Add()({uniform32({2, 3}, -1, 1, 1), uniform32({2, 3, 1}, -1, 1, 2)}); });
  CHECK(rank.find("rank") != std::string::npos);
}

TEST_CASE("Add: needs two inputs of one dtype") {
  const std::string one = message_of([] { Add({"add_one"})({uniform32({2, 3}, -1, 1, 1)}); });
  CHECK(one.find("layer 'add_one' (Add)") != std::string::npos);
  CHECK(one.find("at least 2 inputs") != std::string::npos);
  // Mixed float inputs: autocast to the layer's compute dtype (Keras), an error under strict dtypes.
  CHECK(Add()({uniform32({2, 3}, -1, 1, 1), uniform64({2, 3}, -1, 1, 2)}).at(0).dtype() == DType::float32);
  DTypeModeScope strict(DTypeMode::strict);
  const std::string dtypes = message_of([] { Add()({uniform32({2, 3}, -1, 1, 1), uniform64({2, 3}, -1, 1, 2)}); });
  CHECK(dtypes.find("float64") != std::string::npos);
  CHECK(dtypes.find("float32") != std::string::npos);
  CHECK_THROWS_AS(Add()({uniform32({2, 3}, -1, 1, 1), uniform64({2, 3}, -1, 1, 2)}), DTypeError);
  // Integer inputs are not cast by a merge layer; two different integer dtypes stay an error.
  CHECK_THROWS_AS(Add()({cast(uniform32({2, 3}, 0, 9, 1), DType::int32), cast(uniform32({2, 3}, 0, 9, 2), DType::int64)}),
                  DTypeError);
}

TEST_CASE("Add: symbolic call and config round trip") {
  auto layer = std::make_shared<Add>(LayerOptions{"merge_sum", true, DType::float64});
  const KerasTensor a{{-1, 4}, DType::float64}, b{{-1, 4}, DType::float64};
  const auto out = (*layer)(std::vector<KerasTensor>{a, b});
  CHECK(out.at(0).shape == Shape{-1, 4});
  CHECK(out.at(0).dtype == DType::float64);
  CHECK(layer->get_config().at("name").as_string() == "merge_sum");
  check_config_round_trip(*layer);
}

// ================================================================ Concatenate

TEST_CASE("Concatenate: joins along the axis, values in order") {
  const Tensor a = uniform32({2, 3}, -1, 1, 1), b = uniform32({2, 2}, -1, 1, 2);
  Concatenate layer;
  const Tensor out = layer({a, b}).at(0);
  REQUIRE(out.shape() == Shape{2, 5});
  const auto o = values(out), va = values(a), vb = values(b);
  for (int r = 0; r < 2; ++r) {
    for (int c = 0; c < 3; ++c) CHECK(o[r * 5 + c] == va[r * 3 + c]);
    for (int c = 0; c < 2; ++c) CHECK(o[r * 5 + 3 + c] == vb[r * 2 + c]);
  }
  Concatenate middle(1);
  CHECK(middle({uniform32({2, 1, 4}, -1, 1, 1), uniform32({2, 3, 4}, -1, 1, 2)}).at(0).shape() == Shape{2, 4, 4});
  CHECK(middle.compute_output_shape({{-1, 1, 4}, {-1, 3, 4}}).at(0) == Shape{-1, 4, 4});
  CHECK(Concatenate(-1).compute_output_shape({{-1, 3}, {-1, -1}}).at(0) == Shape{-1, -1});
}

TEST_CASE("Concatenate: shapes that differ off the axis, a bad axis, one input") {
  const std::string message = message_of(
      [] { Concatenate(-1, {"concat_bad"})({uniform32({2, 3}, -1, 1, 1), uniform32({4, 3}, -1, 1, 2)}); });
  CHECK(message.find("layer 'concat_bad' (Concatenate)") != std::string::npos);
  CHECK(message.find("input 1") != std::string::npos);
  CHECK(message.find("(4, 3)") != std::string::npos);
  CHECK(message.find("(2, 3)") != std::string::npos);
  CHECK(message.find("axis 0") != std::string::npos);
  CHECK_THROWS_AS(Concatenate()({uniform32({2, 3}, -1, 1, 1), uniform32({4, 3}, -1, 1, 2)}), ShapeError);
  CHECK_THROWS_AS(Concatenate(2)({uniform32({2, 3}, -1, 1, 1), uniform32({2, 3}, -1, 1, 2)}), AxisError);
  CHECK_THROWS_AS(Concatenate()({uniform32({2, 3}, -1, 1, 1)}), ValueError);
}

TEST_CASE("Concatenate: gradient splits back to the inputs, config keeps the axis") {
  Tensor a = uniform64({2, 3}, -1, 1, 1).set_requires_grad(true), b = uniform64({2, 2}, -1, 1, 2).set_requires_grad(true);
  Concatenate layer(1, {"", true, DType::float64});
  const Tensor w = uniform64({2, 5}, -1, 1, 3);
  sum(multiply(layer({a, b}).at(0), w)).backward();
  const auto ga = a.grad().to_vector<double>(), gb = b.grad().to_vector<double>(), vw = w.to_vector<double>();
  for (int r = 0; r < 2; ++r) {
    for (int c = 0; c < 3; ++c) CHECK(ga[r * 3 + c] == vw[r * 5 + c]);
    for (int c = 0; c < 2; ++c) CHECK(gb[r * 2 + c] == vw[r * 5 + 3 + c]);
  }
  CHECK(layer.get_config().at("axis").as_int() == 1);
  check_config_round_trip(layer);
}

// ================================================================ Embedding

TEST_CASE("Embedding: rows of the table for int32 and int64 indices") {
  set_random_seed(11);
  Embedding layer(10, 4);
  const Tensor ids = Tensor::from_vector<int32_t>({1, 0, 9, 1, 5, 3}, {2, 3});
  const Tensor out = layer(ids);
  REQUIRE(out.shape() == Shape{2, 3, 4});
  CHECK(out.dtype() == DType::float32);
  REQUIRE(weight_names(layer) == std::vector<std::string>{"embeddings"});
  const auto table = values(layer.embeddings());
  const auto o = values(out);
  const std::vector<int> idx = {1, 0, 9, 1, 5, 3};
  for (size_t i = 0; i < idx.size(); ++i) {
    for (int k = 0; k < 4; ++k) CHECK(o[i * 4 + k] == table[idx[i] * 4 + k]);
  }
  const Tensor out64 = layer(Tensor::from_vector<int64_t>({1, 0, 9, 1, 5, 3}, {2, 3}));
  CHECK(bitwise_equal(out, out64));
  // Keras default initializer: U(-0.05, 0.05).
  for (double v : table) CHECK(std::abs(v) <= 0.05);
  CHECK(layer.get_config().at("embeddings_initializer").dump().find("andom") != std::string::npos);
}

TEST_CASE("Embedding: float indices are cast only when integral") {
  set_random_seed(11);
  Embedding layer(10, 3, {}, {"emb_float"});
  const Tensor as_int = layer(Tensor::from_vector<int64_t>({2, 7}, {2}));
  const Tensor as_float = layer(Tensor::from_vector<float>({2.0f, 7.0f}, {2}));
  CHECK(bitwise_equal(as_int, as_float));
  const std::string message = message_of([&] { layer(Tensor::from_vector<float>({2.0f, 7.5f}, {2})); });
  CHECK(message.find("layer 'emb_float' (Embedding)") != std::string::npos);
  CHECK(message.find("7.5") != std::string::npos);
  CHECK_THROWS_AS(layer(Tensor::from_vector<float>({2.0f, 7.5f}, {2})), ValueError);
  CHECK_THROWS_AS(layer(cast(Tensor::from_vector<int32_t>({1, 0}, {2}), DType::bool_)), DTypeError);
}

TEST_CASE("Embedding: out-of-range and negative indices name the layer, the index and input_dim") {
  Embedding layer(10, 3, {}, {"emb_range"});
  const std::string message = message_of([&] { layer(Tensor::from_vector<int32_t>({1, 10, 2}, {3})); });
  CHECK(message.find("layer 'emb_range' (Embedding)") != std::string::npos);
  CHECK(message.find("index 10") != std::string::npos);
  CHECK(message.find("input_dim=10") != std::string::npos);
  CHECK_THROWS_AS(layer(Tensor::from_vector<int32_t>({1, 10, 2}, {3})), IndexError);
  CHECK(message_of([&] { layer(Tensor::from_vector<int64_t>({-1}, {1})); }).find("index -1") != std::string::npos);
  CHECK_THROWS_AS(layer(Tensor::from_vector<int64_t>({-1}, {1})), IndexError);
}

TEST_CASE("Embedding: constructor checks, mask_zero marks index 0 in the output's mask") {
  CHECK_THROWS_AS(Embedding(0, 3), ValueError);
  CHECK(message_of([] { Embedding(5, -2); }).find("output_dim=-2") != std::string::npos);
  EmbeddingOptions masked;
  masked.mask_zero = true;
  Embedding layer(5, 2, masked);
  const Tensor out = layer(Tensor::from_vector<int64_t>({3, 0, 1, 0}, {2, 2}));
  REQUIRE(out.keras_mask().defined());
  CHECK(out.keras_mask().dtype() == DType::bool_);
  CHECK(cast(out.keras_mask(), DType::int32).to_vector<int32_t>() == std::vector<int32_t>{1, 0, 1, 0});
  CHECK_FALSE(Embedding(5, 2)(Tensor::from_vector<int64_t>({3, 0}, {1, 2})).keras_mask().defined());
}

TEST_CASE("Embedding: gradient scatter-adds repeated rows, deterministically") {
  auto run = [] {
    set_random_seed(5);
    Embedding layer(6, 3, {}, {"emb_grad", true, DType::float64});
    const Tensor ids = Tensor::from_vector<int64_t>({4, 1, 4, 4, 0, 1}, {3, 2});
    const Tensor w = uniform64({3, 2, 3}, -1, 1, 9);
    sum(multiply(layer(ids), w)).backward();
    return std::vector<Tensor>{layer.embeddings().grad(), w};
  };
  const auto result = run();
  const auto grad = result[0].to_vector<double>(), w = result[1].to_vector<double>();
  const std::vector<int> idx = {4, 1, 4, 4, 0, 1};
  std::vector<double> expected(18, 0.0);
  for (size_t i = 0; i < idx.size(); ++i) {
    for (int k = 0; k < 3; ++k) expected[idx[i] * 3 + k] += w[i * 3 + k];
  }
  check_close(grad, expected, 1e-12);
  const auto [one, two] = pitfall::testing::run_with_1_and_2_threads([&] { return run(); });
  CHECK(bitwise_equal(one[0], two[0]));
}

TEST_CASE("Embedding: torch convention initializer, symbolic dtype, config round trip") {
  set_random_seed(2);
  EmbeddingOptions torch;
  torch.convention = Convention::torch;
  Embedding layer(200, 50, torch);
  layer(Tensor::from_vector<int32_t>({0}, {1}));
  double sum_sq = 0;
  const auto table = values(layer.embeddings());
  for (double v : table) sum_sq += v * v;
  CHECK(std::sqrt(sum_sq / table.size()) == doctest::Approx(1.0).epsilon(0.05));
  CHECK(layer.get_config().at("convention").as_string() == "torch");
  check_config_round_trip(layer);

  auto symbolic = std::make_shared<Embedding>(7, 2);
  const auto out = (*symbolic)(KerasTensor{{-1, 5}, DType::int32});
  CHECK(out.shape == Shape{-1, 5, 2});
  CHECK(out.dtype == DType::float32);
  check_config_round_trip(*symbolic);
}

// ================================================================ BatchNormalization

TEST_CASE("BatchNormalization: training output against the batch-statistics formula") {
  const int64_t rows = 6, cols = 3;
  const Tensor x = uniform64({rows, cols}, -2, 3, 21);
  BatchNormalizationOptions o;
  BatchNormalization layer(o, {"bn_train", true, DType::float64});
  layer.ensure_built({{rows, cols}});
  const std::vector<double> gamma = {1.5, -0.5, 2.0}, beta = {0.1, 0.2, -0.3};
  const_cast<Tensor&>(layer.gamma()).assign(Tensor::from_vector(gamma));
  const_cast<Tensor&>(layer.beta()).assign(Tensor::from_vector(beta));
  const Tensor out = layer(x, /*training=*/true);
  check_close(values(out), reference_normalize(x.to_vector<double>(), rows, cols, true, 1e-3, gamma, beta), 1e-12);
  // Inference uses the moving statistics instead.
  const Tensor inference = layer(x, /*training=*/false);
  const auto mm = layer.moving_mean().to_vector<double>(), mv = layer.moving_variance().to_vector<double>();
  const auto xv = x.to_vector<double>(), iv = values(inference);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const double want = (xv[r * cols + c] - mm[c]) / std::sqrt(mv[c] + 1e-3) * gamma[c] + beta[c];
      CHECK(iv[r * cols + c] == doctest::Approx(want).epsilon(1e-12));
    }
  }
}

TEST_CASE("BatchNormalization: keras moving update uses momentum on the old value and the biased variance") {
  const int64_t rows = 8, cols = 2;
  const Tensor x = uniform64({rows, cols}, -1, 4, 22);
  BatchNormalization layer({}, {"bn_keras", true, DType::float64});
  layer(x, true);
  const auto [mean, variance] = column_moments(x.to_vector<double>(), rows, cols, /*unbiased=*/false);
  const auto mm = layer.moving_mean().to_vector<double>(), mv = layer.moving_variance().to_vector<double>();
  for (int64_t c = 0; c < cols; ++c) {
    CHECK(mm[c] == doctest::Approx(0.0 * 0.99 + mean[c] * 0.01).epsilon(1e-12));
    CHECK(mv[c] == doctest::Approx(1.0 * 0.99 + variance[c] * 0.01).epsilon(1e-12));
  }
}

TEST_CASE("BatchNormalization: torch moving update weights the new batch and the unbiased variance") {
  const int64_t rows = 8, cols = 2;
  const Tensor x = uniform64({rows, cols}, -1, 4, 23);
  BatchNormalizationOptions o;
  o.convention = Convention::torch;
  BatchNormalization layer(o, {"bn_torch", true, DType::float64});
  CHECK(layer.momentum() == 0.1);
  CHECK(layer.epsilon() == 1e-5);
  const Tensor out = layer(x, true);
  const auto [mean, variance] = column_moments(x.to_vector<double>(), rows, cols, /*unbiased=*/true);
  const auto mm = layer.moving_mean().to_vector<double>(), mv = layer.moving_variance().to_vector<double>();
  for (int64_t c = 0; c < cols; ++c) {
    CHECK(mm[c] == doctest::Approx(0.1 * mean[c] + 0.9 * 0.0).epsilon(1e-12));
    CHECK(mv[c] == doctest::Approx(0.1 * variance[c] + 0.9 * 1.0).epsilon(1e-12));
  }
  // The normalization itself still uses the biased batch variance (as PyTorch does), with eps 1e-5.
  check_close(values(out), reference_normalize(x.to_vector<double>(), rows, cols, true, 1e-5, {1, 1}, {0, 0}), 1e-12);
}

TEST_CASE("BatchNormalization: P14 signature, data mean 5, one training step") {
  // Column of mean exactly 5.
  const Tensor x = Tensor::from_vector<float>({3, 4, 5, 6, 7}, {5, 1});
  BatchNormalization keras;
  keras(x, true);
  CHECK(keras.moving_mean().item() == doctest::Approx(0.05).epsilon(1e-6));
  BatchNormalizationOptions torch;
  torch.convention = Convention::torch;
  BatchNormalization torch_layer(torch);
  torch_layer(x, true);
  CHECK(torch_layer.moving_mean().item() == doctest::Approx(0.5).epsilon(1e-6));
  // The mis-port: Keras's 0.99 given to a torch-convention layer keeps the torch meaning.
  torch.momentum = 0.99;
  BatchNormalization misported(torch);
  misported(x, true);
  CHECK(misported.moving_mean().item() == doctest::Approx(4.95).epsilon(1e-6));
  CHECK(misported.get_config().at("momentum").as_double() == 0.99);
}

TEST_CASE("BatchNormalization: P19 signature, a training batch of one outputs exactly beta") {
  BatchNormalization layer({}, {"bn_one"});
  const Tensor x = uniform32({1, 3}, -5, 5, 31);
  layer.ensure_built({{1, 3}});
  const_cast<Tensor&>(layer.gamma()).assign(Tensor::from_vector<float>({1.7f, -0.3f, 4.0f}));
  const Tensor beta = Tensor::from_vector<float>({0.3f, -1.7f, 2.5f});
  const_cast<Tensor&>(layer.beta()).assign(beta);
  CHECK(bitwise_equal(layer(x, true), reshape(beta, {1, 3})));
  // Inference output depends on the input, not on the batch composition.
  const Tensor pair = concatenate({x, uniform32({1, 3}, -5, 5, 32)}, 0);
  const auto alone = values(layer(x, false)), together = values(layer(pair, false));
  for (int c = 0; c < 3; ++c) CHECK(alone[c] == together[c]);
  // PyTorch refuses a training batch with one value per channel.
  BatchNormalizationOptions torch;
  torch.convention = Convention::torch;
  BatchNormalization torch_layer(torch, {"bn_one_torch"});
  const std::string message = message_of([&] { torch_layer(x, true); });
  CHECK(message.find("layer 'bn_one_torch' (BatchNormalization)") != std::string::npos);
  CHECK(message.find("more than 1 value per channel") != std::string::npos);
}

TEST_CASE("BatchNormalization: torch momentum=None is a cumulative average") {
  BatchNormalizationOptions o;
  o.convention = Convention::torch;
  o.cumulative_average = true;
  BatchNormalization layer(o, {"bn_cumulative", true, DType::float64});
  const Tensor a = Tensor::from_vector<double>({1, 3}, {2, 1}), b = Tensor::from_vector<double>({5, 7, 9}, {3, 1});
  layer(a, true);
  CHECK(layer.moving_mean().item() == doctest::Approx(2.0));
  CHECK(layer.moving_variance().item() == doctest::Approx(2.0));  // unbiased var of {1, 3}
  layer(b, true);
  CHECK(layer.moving_mean().item() == doctest::Approx((2.0 + 7.0) / 2));
  CHECK(layer.moving_variance().item() == doctest::Approx((2.0 + 4.0) / 2));
  CHECK(weight_names(layer).back() == "num_batches_tracked");
  CHECK(layer.get_config().at("momentum").is_null());
  check_config_round_trip(layer);
  BatchNormalizationOptions keras;
  keras.cumulative_average = true;
  CHECK_THROWS_AS(BatchNormalization{keras}, ValueError);
}

TEST_CASE("BatchNormalization: a frozen layer runs in inference mode even with training=true") {
  BatchNormalization layer({}, {"bn_frozen"});
  layer.set_trainable(false);
  const Tensor x = uniform32({4, 2}, 1, 3, 41);
  const Tensor out = layer(x, true);
  for (double v : values(layer.moving_mean())) CHECK(v == 0.0);
  const auto xv = values(x), ov = values(out);
  for (size_t i = 0; i < xv.size(); ++i) CHECK(ov[i] == doctest::Approx(xv[i] / std::sqrt(1.0 + 1e-3)).epsilon(1e-6));
}

TEST_CASE("BatchNormalization: axis=1 on a rank-3 input, gradients against the closed form") {
  // (batch 3, channels 2, length 4): statistics over axes 0 and 2.
  const Tensor x = uniform64({3, 2, 4}, -1, 1, 51);
  BatchNormalizationOptions o;
  o.axis = 1;
  BatchNormalization layer(o, {"bn_axis1", true, DType::float64});
  const Tensor w = uniform64({3, 2, 4}, -1, 1, 52);
  const Tensor out = layer(x, true);
  sum(multiply(out, w)).backward();
  // Reference: move the channel axis last and reuse the column formula.
  const Tensor x_cl = transpose(x, {0, 2, 1}).contiguous();
  const auto want = reference_normalize(x_cl.to_vector<double>(), 12, 2, true, 1e-3, {1, 1}, {0, 0});
  const auto got = transpose(out, {0, 2, 1}).contiguous().to_vector<double>();
  check_close(got, want, 1e-12);
  // d/dbeta = sum of w per channel; d/dgamma = sum of w * xhat per channel.
  const auto w_cl = transpose(w, {0, 2, 1}).contiguous().to_vector<double>();
  std::vector<double> dbeta(2, 0.0), dgamma(2, 0.0);
  for (int i = 0; i < 12; ++i) {
    for (int c = 0; c < 2; ++c) {
      dbeta[c] += w_cl[i * 2 + c];
      dgamma[c] += w_cl[i * 2 + c] * want[i * 2 + c];
    }
  }
  check_close(layer.beta().grad().to_vector<double>(), dbeta, 1e-10);
  check_close(layer.gamma().grad().to_vector<double>(), dgamma, 1e-10);
  // d/dx by finite differences, through the layer in training mode.
  const auto result = gradcheck([&](const std::vector<Tensor>& in) { return layer(in[0], true); }, {x});
  INFO(result.report);
  CHECK(result.ok);
}

TEST_CASE("BatchNormalization: float16 input computes in float32 and returns float16") {
  const Tensor x32 = uniform32({16, 3}, 100, 400, 61);
  const Tensor x16 = cast(x32, DType::float16);
  // A mixed_float16 layer: float32 variables, float16 computation, statistics in float32 (Keras).
  BatchNormalization half_layer({}, {"bn_half", true, dtype_policy("mixed_float16")});
  const Tensor out = half_layer(x16, true);
  CHECK(out.dtype() == DType::float16);
  CHECK(half_layer.moving_mean().dtype() == DType::float32);
  BatchNormalization reference({}, {"bn_ref"});
  const Tensor want = reference(cast(x16, DType::float32), true);
  CHECK(bitwise_equal(out, cast(want, DType::float16)));
  CHECK(bitwise_equal(half_layer.moving_variance(), reference.moving_variance()));
  DTypeModeScope strict(DTypeMode::strict);
  const std::string message = message_of([] { BatchNormalization({}, {"bn_f64"})(uniform64({2, 3}, -1, 1, 1)); });
  CHECK(message.find("float64") != std::string::npos);
  CHECK(message.find("float32") != std::string::npos);
}

TEST_CASE("BatchNormalization: weights in Keras order, center/scale, errors, config") {
  BatchNormalization layer({}, {"bn_w"});
  layer.ensure_built({{-1, 5}});
  CHECK(weight_names(layer) == std::vector<std::string>{"gamma", "beta", "moving_mean", "moving_variance"});
  CHECK(layer.trainable_weights().size() == 2);
  CHECK(layer.non_trainable_weights().size() == 2);
  CHECK(layer.count_params() == 20);
  BatchNormalizationOptions bare;
  bare.center = false;
  bare.scale = false;
  BatchNormalization plain(bare);
  plain.ensure_built({{-1, 5}});
  CHECK(weight_names(plain) == std::vector<std::string>{"moving_mean", "moving_variance"});

  BatchNormalizationOptions bad_axis;
  bad_axis.axis = 3;
  const std::string message = message_of([&] { BatchNormalization(bad_axis, {"bn_axis"})(uniform32({2, 3}, -1, 1, 1)); });
  CHECK(message.find("layer 'bn_axis' (BatchNormalization)") != std::string::npos);
  CHECK(message.find("axis 3") != std::string::npos);

  const Json config = layer.get_config();
  CHECK(config.at("momentum").as_double() == 0.99);
  CHECK(config.at("epsilon").as_double() == 1e-3);
  CHECK(config.at("convention").as_string() == "keras");
  CHECK(config.at("axis").as_int() == -1);
  check_config_round_trip(layer);
  BatchNormalizationOptions torch;
  torch.convention = Convention::torch;
  torch.epsilon = 1e-4;
  BatchNormalization torch_layer(torch);
  CHECK(torch_layer.get_config().at("momentum").as_double() == 0.1);
  CHECK(torch_layer.get_config().at("epsilon").as_double() == 1e-4);
  check_config_round_trip(torch_layer);
}

// ================================================================ LayerNormalization

TEST_CASE("LayerNormalization: each row normalized over the last axis") {
  const int64_t rows = 4, cols = 5;
  const Tensor x = uniform64({rows, cols}, -3, 3, 71);
  LayerNormalization layer({}, {"ln", true, DType::float64});
  layer.ensure_built({{rows, cols}});
  const std::vector<double> gamma = {1, 2, 3, -1, 0.5}, beta = {0, 0.1, -0.2, 0.3, 1};
  const_cast<Tensor&>(layer.gamma()).assign(Tensor::from_vector(gamma));
  const_cast<Tensor&>(layer.beta()).assign(Tensor::from_vector(beta));
  const auto want = reference_normalize(x.to_vector<double>(), rows, cols, false, 1e-3, gamma, beta);
  check_close(values(layer(x, true)), want, 1e-12);
  check_close(values(layer(x, false)), want, 1e-12);  // no moving statistics
  CHECK(weight_names(layer) == std::vector<std::string>{"gamma", "beta"});
}

TEST_CASE("LayerNormalization: several axes, gamma of their shape, gradient") {
  const Tensor x = uniform64({2, 3, 4}, -1, 1, 72);
  LayerNormalizationOptions o;
  o.axis = {2, 1};  // given unsorted
  LayerNormalization layer(o, {"ln_multi", true, DType::float64});
  const Tensor out = layer(x);
  CHECK(layer.gamma().shape() == Shape{3, 4});
  CHECK(layer.normalized_axes() == std::vector<int64_t>{1, 2});
  const auto want = reference_normalize(x.to_vector<double>(), 2, 12, false, 1e-3, std::vector<double>(12, 1.0),
                                        std::vector<double>(12, 0.0));
  check_close(values(out), want, 1e-12);
  const auto result = gradcheck([&](const std::vector<Tensor>& in) { return layer(in[0]); }, {x});
  INFO(result.report);
  CHECK(result.ok);
  CHECK(layer.get_config().at("axis").as_int_vector() == std::vector<int64_t>{2, 1});
  check_config_round_trip(layer);
}

TEST_CASE("LayerNormalization: float16 in float32, errors") {
  const Tensor x16 = cast(uniform32({3, 8}, 50, 300, 73), DType::float16);
  LayerNormalization layer({}, {"", true, dtype_policy("mixed_float16")});
  const Tensor out = layer(x16);
  CHECK(out.dtype() == DType::float16);
  LayerNormalization reference;
  CHECK(bitwise_equal(out, cast(reference(cast(x16, DType::float32)), DType::float16)));

  LayerNormalizationOptions twice;
  twice.axis = {1, -1};
  CHECK_THROWS_AS(LayerNormalization{twice}(uniform32({2, 3}, -1, 1, 1)), AxisError);
  LayerNormalizationOptions far;
  far.axis = {4};
  const std::string message = message_of([&] { LayerNormalization(far, {"ln_far"})(uniform32({2, 3}, -1, 1, 1)); });
  CHECK(message.find("layer 'ln_far' (LayerNormalization)") != std::string::npos);
  CHECK(message.find("axis 4") != std::string::npos);
  LayerNormalizationOptions bad_epsilon;
  bad_epsilon.epsilon = 0;
  CHECK_THROWS_AS(LayerNormalization{bad_epsilon}, ValueError);
  check_config_round_trip(layer);
}

// ================================================================ the generic layer checks

TEST_CASE("Add: generic layer checks") {
  check_layer([] { return std::make_shared<Add>(); }, {{2, 3}, {2, 3}});
  check_layer([] { return std::make_shared<Add>(); }, {{3, 2, 4}, {3, 2, 4}, {3, 2, 4}});
  check_layer([] { return std::make_shared<Add>(); }, {{2, 3}, {2, 1}});  // Keras's size-1 broadcast
}

TEST_CASE("Concatenate: generic layer checks") {
  check_layer([] { return std::make_shared<Concatenate>(); }, {{2, 3}, {2, 4}});
  check_layer([] { return std::make_shared<Concatenate>(1); }, {{2, 1, 4}, {2, 3, 4}, {2, 2, 4}});
}

TEST_CASE("Embedding: generic layer checks") {
  LayerCheckOptions o;
  o.trainable_weights = 1;
  o.input_dtypes = {DType::int32};
  o.int_input_high = 10;
  check_layer([] { return std::make_shared<Embedding>(10, 3); }, {{2, 5}}, o);
  o.input_dtypes = {DType::int64};
  check_layer([] { return std::make_shared<Embedding>(10, 2); }, {{4}}, o);
}

TEST_CASE("BatchNormalization: generic layer checks, keras and torch conventions") {
  LayerCheckOptions o;
  o.trainable_weights = 2;
  o.non_trainable_weights = 2;
  o.updates_non_trainable = true;
  o.gradcheck_training = true;
  check_layer([] { return std::make_shared<BatchNormalization>(); }, {{5, 3}}, o);
  check_layer(
      [] {
        BatchNormalizationOptions axis1;
        axis1.axis = 1;
        return std::make_shared<BatchNormalization>(axis1);
      },
      {{3, 2, 4}}, o);
  check_layer(
      [] {
        BatchNormalizationOptions torch;
        torch.convention = Convention::torch;
        return std::make_shared<BatchNormalization>(torch);
      },
      {{4, 3}}, o);
  o.non_trainable_weights = 3;  // + num_batches_tracked
  check_layer(
      [] {
        BatchNormalizationOptions cumulative;
        cumulative.convention = Convention::torch;
        cumulative.cumulative_average = true;
        return std::make_shared<BatchNormalization>(cumulative);
      },
      {{4, 3}}, o);
  // Inference-mode gradients (moving statistics are constants there).
  LayerCheckOptions inference;
  inference.trainable_weights = 2;
  inference.non_trainable_weights = 2;
  inference.updates_non_trainable = true;
  check_layer([] { return std::make_shared<BatchNormalization>(); }, {{5, 3}}, inference);
}

TEST_CASE("LayerNormalization: generic layer checks") {
  LayerCheckOptions o;
  o.trainable_weights = 2;
  check_layer([] { return std::make_shared<LayerNormalization>(); }, {{3, 5}}, o);
  check_layer(
      [] {
        LayerNormalizationOptions axes;
        axes.axis = {1, 2};
        return std::make_shared<LayerNormalization>(axes);
      },
      {{2, 3, 4}}, o);
  LayerCheckOptions plain;
  check_layer(
      [] {
        LayerNormalizationOptions none;
        none.center = false;
        none.scale = false;
        return std::make_shared<LayerNormalization>(none);
      },
      {{3, 5}}, plain);
}
