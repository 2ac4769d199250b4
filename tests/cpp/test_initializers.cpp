// Initializers: the Keras formulas checked through sample statistics on large shapes, fans, keys,
// orthogonality, names and configs.
#include <doctest/doctest.h>

#include <cmath>

#include <pitfall/layers/initializers.h>
#include <pitfall/layers/layer.h>

#include "test_util.h"

using namespace pitfall;

namespace {

struct Stats {
  double mean = 0, std = 0, min = 0, max = 0;
};

Stats stats_of(const Tensor& t) {
  const auto v = cast(t, DType::float64).to_vector<double>();
  Stats s;
  s.min = s.max = v[0];
  for (double x : v) {
    s.mean += x;
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
  }
  s.mean /= v.size();
  for (double x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / v.size());
  return s;
}

const RandomKey kKey{2024, 1};

// Uniform(-limit, limit): std limit/sqrt(3), and samples reach the limit but never pass it.
void check_uniform(const std::string& name, const Shape& shape, double limit) {
  INFO(name, " ", shape_str(shape));
  const Stats s = stats_of((*get_initializer(name))(shape, DType::float32, kKey));
  CHECK(std::abs(s.mean) < 0.02 * limit);
  CHECK(s.std == doctest::Approx(limit / std::sqrt(3.0)).epsilon(0.01));
  CHECK(s.max <= limit);
  CHECK(s.min >= -limit);
  CHECK(s.max > 0.99 * limit);
}

// Truncated normal with the Keras correction: the samples' std is the target sqrt(scale / n) and
// none lies beyond 2 * stddev_before_truncation.
void check_truncated(const std::string& name, const Shape& shape, double target_std) {
  INFO(name, " ", shape_str(shape));
  const Stats s = stats_of((*get_initializer(name))(shape, DType::float32, kKey));
  const double raw_std = target_std / 0.87962566103423978;
  CHECK(std::abs(s.mean) < 0.02 * target_std);
  CHECK(s.std == doctest::Approx(target_std).epsilon(0.01));
  CHECK(s.max <= 2 * raw_std * (1 + 1e-6));
  CHECK(s.min >= -2 * raw_std * (1 + 1e-6));
  CHECK(s.max > 1.95 * raw_std);
}

}  // namespace

TEST_CASE("initializers: fans follow Keras for Dense and Conv kernels") {
  CHECK(compute_fans({784, 128}) == std::pair<double, double>{784, 128});
  CHECK(compute_fans({3, 3, 16, 32}) == std::pair<double, double>{3 * 3 * 16, 3 * 3 * 32});
  CHECK(compute_fans({5, 7, 9}) == std::pair<double, double>{5 * 7, 5 * 9});
  CHECK(compute_fans({10}) == std::pair<double, double>{10, 10});
  CHECK(compute_fans({}) == std::pair<double, double>{1, 1});
}

TEST_CASE("initializers: glorot, he and lecun uniform limits") {
  check_uniform("glorot_uniform", {400, 600}, std::sqrt(6.0 / (400 + 600)));
  check_uniform("glorot_uniform", {3, 3, 32, 64}, std::sqrt(6.0 / (9 * 32 + 9 * 64)));
  check_uniform("he_uniform", {500, 300}, std::sqrt(6.0 / 500));
  check_uniform("lecun_uniform", {500, 300}, std::sqrt(3.0 / 500));
  check_uniform("he_uniform", {3, 3, 32, 64}, std::sqrt(6.0 / (9 * 32)));
}

TEST_CASE("initializers: truncated-normal variance scaling keeps the intended variance") {
  check_truncated("he_normal", {500, 400}, std::sqrt(2.0 / 500));
  check_truncated("lecun_normal", {500, 400}, std::sqrt(1.0 / 500));
  check_truncated("glorot_normal", {500, 300}, std::sqrt(2.0 / (500 + 300)));
  check_truncated("he_normal", {3, 3, 64, 64}, std::sqrt(2.0 / (9 * 64)));
  const Stats s = stats_of((*variance_scaling_initializer(3.0, "fan_out", "untruncated_normal"))(
      {200, 1000}, DType::float64, kKey));
  CHECK(s.std == doctest::Approx(std::sqrt(3.0 / 1000)).epsilon(0.01));
  CHECK(s.max > 3 * std::sqrt(3.0 / 1000));  // not truncated
}

TEST_CASE("initializers: random_normal, random_uniform, truncated_normal, constants") {
  Stats s = stats_of((*get_initializer("random_normal"))({400, 500}, DType::float32, kKey));
  CHECK(s.std == doctest::Approx(0.05).epsilon(0.01));
  CHECK(std::abs(s.mean) < 0.001);
  s = stats_of((*get_initializer("random_uniform"))({400, 500}, DType::float32, kKey));
  CHECK(s.max <= 0.05);
  CHECK(s.min >= -0.05);
  CHECK(s.std == doctest::Approx(0.05 / std::sqrt(3.0)).epsilon(0.01));
  // keras.initializers.TruncatedNormal: stddev is the pre-truncation one (no correction), cut at 2 sigma
  s = stats_of((*get_initializer("truncated_normal"))({400, 500}, DType::float32, kKey));
  CHECK(s.std == doctest::Approx(0.05 * 0.87962566103423978).epsilon(0.01));
  CHECK(s.max <= 0.1 + 1e-7);
  s = stats_of((*random_normal_initializer(3.0, 2.0))({400, 500}, DType::float64, kKey));
  CHECK(s.mean == doctest::Approx(3.0).epsilon(0.005));
  CHECK(s.std == doctest::Approx(2.0).epsilon(0.01));
  CHECK((*zeros_initializer())({3}, DType::float32, kKey).to_vector<float>() == std::vector<float>{0, 0, 0});
  CHECK((*ones_initializer())({2}, DType::int32, kKey).to_vector<int32_t>() == std::vector<int32_t>{1, 1});
  CHECK((*constant_initializer(2.5))({2}, DType::float64, kKey).to_vector<double>() == std::vector<double>{2.5, 2.5});
}

TEST_CASE("initializers: PyTorch defaults are U(+-1/sqrt(fan_in))") {
  const Stats s = stats_of((*torch_kernel_initializer())({256, 512}, DType::float32, kKey));
  CHECK(s.max <= 1 / std::sqrt(256.0));
  CHECK(s.max > 0.99 / std::sqrt(256.0));
  CHECK(s.std == doctest::Approx(1 / std::sqrt(256.0) / std::sqrt(3.0)).epsilon(0.01));
  // conv kernel (kh, kw, in, out): fan_in = kh*kw*in
  const Stats c = stats_of((*get_initializer("torch_kernel"))({3, 3, 16, 200}, DType::float32, kKey));
  CHECK(c.max <= 1 / std::sqrt(144.0));
  CHECK(c.max > 0.99 / std::sqrt(144.0));
  const Stats b = stats_of((*torch_bias_initializer(100))({5000}, DType::float32, kKey));
  CHECK(b.max <= 0.1);
  CHECK(b.max > 0.099);
}

TEST_CASE("initializers: orthogonal gives orthonormal columns (or rows when wide), scaled by gain") {
  for (const Shape& shape : std::vector<Shape>{{64, 32}, {32, 64}, {40, 40}, {3, 3, 4, 12}}) {
    INFO(shape_str(shape));
    const Tensor w = (*orthogonal_initializer(2.0))(shape, DType::float64, kKey);
    CHECK(w.shape() == shape);
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
    const int64_t cols = shape.back();
    const Tensor m = reshape(w, {rows, cols});
    // the smaller Gram matrix is gain^2 * I
    const Tensor gram = rows >= cols ? matmul(transpose(m), m) : matmul(m, transpose(m));
    const int64_t n = std::min(rows, cols);
    const auto g = gram.to_vector<double>();
    double worst = 0;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) worst = std::max(worst, std::abs(g[i * n + j] - (i == j ? 4.0 : 0.0)));
    }
    CHECK(worst < 1e-10);
  }
  CHECK(pitfall::testing::message_of([] { (*orthogonal_initializer())({5}, DType::float32, kKey); })
            .find("at least 2 dimensions") != std::string::npos);
}

TEST_CASE("initializers: values depend only on the key") {
  for (const auto& name : {"glorot_uniform", "he_normal", "orthogonal", "random_normal", "torch_kernel"}) {
    INFO(name);
    const auto init = get_initializer(name);
    const Tensor a = (*init)({20, 30}, DType::float32, RandomKey{7, 3});
    const Tensor b = (*get_initializer(name))({20, 30}, DType::float32, RandomKey{7, 3});
    const Tensor c = (*init)({20, 30}, DType::float32, RandomKey{7, 4});
    CHECK(pitfall::testing::bitwise_equal(a, b));
    CHECK_FALSE(pitfall::testing::bitwise_equal(a, c));
    const auto [one, two] = pitfall::testing::run_with_1_and_2_threads(
        [&] { return std::vector<Tensor>{(*init)({64, 64}, DType::float32, RandomKey{1, 1})}; });
    CHECK(pitfall::testing::bitwise_equal(one[0], two[0]));
  }
}

TEST_CASE("initializers: names, CamelCase class names and did-you-mean") {
  CHECK(get_initializer("GlorotUniform")->class_name() == "GlorotUniform");
  CHECK(get_initializer("glorot_uniform")->class_name() == "GlorotUniform");
  CHECK(get_initializer("HeNormal")->class_name() == "HeNormal");
  CHECK(get_initializer("zeros")->class_name() == "Zeros");
  CHECK(get_initializer("RandomNormal")->class_name() == "RandomNormal");
  const std::string message = pitfall::testing::message_of([] { get_initializer("glorot_unifrom"); });
  CHECK(message.find("unknown initializer 'glorot_unifrom'") != std::string::npos);
  CHECK(message.find("did you mean 'glorot_uniform'") != std::string::npos);
  CHECK(pitfall::testing::message_of([] { variance_scaling_initializer(1.0, "fan_inn", "uniform"); })
            .find("did you mean 'fan_in'") != std::string::npos);
  CHECK_THROWS_AS(get_initializer("orthogonal")->operator()({3, 3}, DType::int32, kKey), DTypeError);
}

TEST_CASE("initializers: configs round-trip") {
  for (const auto& init : {get_initializer("he_normal"), random_normal_initializer(0.5, 0.1),
                           random_uniform_initializer(-1, 2), truncated_normal_initializer(0, 0.3),
                           variance_scaling_initializer(2.0, "fan_avg", "uniform"), orthogonal_initializer(1.5),
                           constant_initializer(0.25), torch_kernel_initializer(), torch_bias_initializer(64)}) {
    const Json config = initializer_to_config(*init);
    INFO(config.dump());
    const auto back = initializer_from_config(Json::parse(config.dump()));
    CHECK(initializer_to_config(*back).dump() == config.dump());
    CHECK(pitfall::testing::bitwise_equal((*init)({6, 5}, DType::float32, kKey), (*back)({6, 5}, DType::float32, kKey)));
  }
  CHECK(initializer_from_config(Json("lecun_uniform"))->class_name() == "LecunUniform");
  // Keras 3's GlorotUniform.get_config (keras/src/initializers/random_initializers.py): seed and the
  // fan axes, which pitfall takes at their default (None) only.
  CHECK(initializer_to_config(*get_initializer("glorot_uniform")).dump() ==
        R"({"class_name":"GlorotUniform","config":{"input_axes":null,"output_axes":null,"seed":null}})");
}
