// Reductions (sum, mean, max, min, var, argmax) and the normalizing activations (softmax,
// log_softmax): values against reference loops, keepdims / negative / non-adjacent axes, stability,
// tie gradients, errors and thread-count determinism.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "gradcheck_cases.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {



// Reference reduction of a (d0, d1, d2) float64 tensor over the axes flagged in `reduce`, in
// double, returning the kept-dims result in row-major order.
std::vector<double> reference_reduce(const Tensor& x, std::array<bool, 3> reduce,
                                     const std::function<double(const std::vector<double>&)>& f) {
  const auto v = x.to_vector<double>();
  const Shape& s = x.shape();
  std::vector<double> out;
  const int64_t n0 = reduce[0] ? 1 : s[0], n1 = reduce[1] ? 1 : s[1], n2 = reduce[2] ? 1 : s[2];
  for (int64_t i = 0; i < n0; ++i) {
    for (int64_t j = 0; j < n1; ++j) {
      for (int64_t k = 0; k < n2; ++k) {
        std::vector<double> group;
        for (int64_t a = 0; a < s[0]; ++a) {
          if (!reduce[0] && a != i) continue;
          for (int64_t b = 0; b < s[1]; ++b) {
            if (!reduce[1] && b != j) continue;
            for (int64_t c = 0; c < s[2]; ++c) {
              if (!reduce[2] && c != k) continue;
              group.push_back(v[(a * s[1] + b) * s[2] + c]);
            }
          }
        }
        out.push_back(f(group));
      }
    }
  }
  return out;
}

double ref_sum(const std::vector<double>& g) {
  double t = 0;
  for (double v : g) t += v;
  return t;
}
double ref_mean(const std::vector<double>& g) { return ref_sum(g) / static_cast<double>(g.size()); }
double ref_max(const std::vector<double>& g) { return *std::max_element(g.begin(), g.end()); }
double ref_min(const std::vector<double>& g) { return *std::min_element(g.begin(), g.end()); }
double ref_var(const std::vector<double>& g) {
  const double m = ref_mean(g);
  double t = 0;
  for (double v : g) t += (v - m) * (v - m);
  return t / static_cast<double>(g.size());
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-12) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol));
}

}  // namespace

// ---- gradcheck cases
PITFALL_GRADCHECK_CASE("sum", "all axes", [](auto& in) { return sum(in[0]); }, [] { return std::vector<Tensor>({uniform64({3, 4})}); });
PITFALL_GRADCHECK_CASE("sum", "non-adjacent axes {0, 2}, keepdims",
                       [](auto& in) { return sum(in[0], {0, 2}, true); }, [] { return std::vector<Tensor>({uniform64({2, 3, 4})}); });
PITFALL_GRADCHECK_CASE("mean", "axis -1", [](auto& in) { return mean(in[0], {-1}); },
                       [] { return std::vector<Tensor>({uniform64({3, 5})}); });
PITFALL_GRADCHECK_CASE("mean", "axes {0, 2}", [](auto& in) { return mean(in[0], {0, 2}); },
                       [] { return std::vector<Tensor>({uniform64({2, 3, 4})}); });
PITFALL_GRADCHECK_CASE("max", "axis 1 (no ties)", [](auto& in) { return max(in[0], {1}); },
                       [] { return std::vector<Tensor>({uniform64({3, 5})}); });
PITFALL_GRADCHECK_CASE("max", "all axes, keepdims", [](auto& in) { return max(in[0], {}, true); },
                       [] { return std::vector<Tensor>({uniform64({2, 3, 4})}); });
PITFALL_GRADCHECK_CASE("min", "axes {0, 2} (no ties)", [](auto& in) { return min(in[0], {0, 2}); },
                       [] { return std::vector<Tensor>({uniform64({2, 3, 4})}); });
PITFALL_GRADCHECK_CASE("var", "axis 0", [](auto& in) { return var(in[0], {0}); },
                       [] { return std::vector<Tensor>({uniform64({4, 3})}); });
PITFALL_GRADCHECK_CASE("var", "all axes", [](auto& in) { return var(in[0]); },
                       [] { return std::vector<Tensor>({uniform64({2, 3, 2})}); });
PITFALL_GRADCHECK_CASE("softmax", "axis -1", [](auto& in) { return softmax(in[0], -1); },
                       [] { return std::vector<Tensor>({uniform64({3, 5}, -2, 2)}); });
PITFALL_GRADCHECK_CASE("softmax", "axis 1 of 3-D", [](auto& in) { return softmax(in[0], 1); },
                       [] { return std::vector<Tensor>({uniform64({2, 3, 4}, -2, 2)}); });
PITFALL_GRADCHECK_CASE("log_softmax", "axis -1", [](auto& in) { return log_softmax(in[0], -1); },
                       [] { return std::vector<Tensor>({uniform64({3, 5}, -2, 2)}); });
PITFALL_GRADCHECK_CASE("log_softmax", "axis 0", [](auto& in) { return log_softmax(in[0], 0); },
                       [] { return std::vector<Tensor>({uniform64({4, 3}, -2, 2)}); });

// ---- values
TEST_CASE("reduction: sum, mean, max, min, var match reference loops over every axis subset") {
  const Tensor x = uniform64({3, 4, 5}, -2, 2, 11);
  const std::vector<std::pair<std::vector<int64_t>, std::array<bool, 3>>> subsets = {
      {{0}, {true, false, false}},     {{1}, {false, true, false}},   {{2}, {false, false, true}},
      {{0, 1}, {true, true, false}},   {{1, 2}, {false, true, true}}, {{0, 2}, {true, false, true}},
      {{0, 1, 2}, {true, true, true}}, {{}, {true, true, true}},
  };
  struct Named {
    const char* name;
    Tensor (*op)(const Tensor&, const std::vector<int64_t>&, bool);
    double (*ref)(const std::vector<double>&);
  };
  const Named named[] = {{"sum", &sum, &ref_sum}, {"mean", &mean, &ref_mean}, {"max", &max, &ref_max},
                         {"min", &min, &ref_min}, {"var", &var, &ref_var}};
  for (const auto& op : named) {
    for (const auto& [axes, flags] : subsets) {
      CAPTURE(op.name);
      CAPTURE(axes.size());
      const Tensor kept = op.op(x, axes, true);
      Shape want_kept = x.shape();
      for (int i = 0; i < 3; ++i) {
        if (flags[i]) want_kept[i] = 1;
      }
      CHECK(kept.shape() == want_kept);
      CHECK(kept.dtype() == DType::float64);
      check_close(kept.to_vector<double>(), reference_reduce(x, flags, op.ref));
      Shape want_dropped;
      for (int i = 0; i < 3; ++i) {
        if (!flags[i]) want_dropped.push_back(x.shape()[i]);
      }
      const Tensor dropped = op.op(x, axes, false);
      CHECK(dropped.shape() == want_dropped);
      check_close(dropped.to_vector<double>(), reference_reduce(x, flags, op.ref));
    }
  }
}

TEST_CASE("reduction: negative axes mean the same axes as their positive forms") {
  const Tensor x = uniform64({2, 3, 4});
  CHECK(bitwise_equal(sum(x, {-1}), sum(x, {2})));
  CHECK(bitwise_equal(mean(x, {-3, -1}), mean(x, {0, 2})));
  CHECK(bitwise_equal(max(x, {-2}, true), max(x, {1}, true)));
  CHECK(bitwise_equal(var(x, {-1, 0}), var(x, {0, 2})));
  CHECK(bitwise_equal(argmax(x, -2), argmax(x, 1)));
}

TEST_CASE("reduction: integer and float16 sums - max / min of integers") {
  const Tensor i = Tensor::from_vector<int32_t>({1, -2, 3, 40, 5, -6}, {2, 3});
  const Tensor s = sum(i, {1});
  CHECK(s.dtype() == DType::int32);
  CHECK(s.to_vector<int32_t>() == std::vector<int32_t>{2, 39});
  CHECK(max(i, {0}).to_vector<int32_t>() == std::vector<int32_t>{40, 5, 3});
  CHECK(min(i).item() == -6);
  // 4096 halves of 1: accumulation in float keeps every unit (a float16 accumulator stalls at 2048).
  const Tensor h = Tensor::ones({4096}, DType::float16);
  CHECK(sum(h).dtype() == DType::float16);
  CHECK(sum(h).item() == 4096.0);
  CHECK(mean(h).item() == 1.0);
}

TEST_CASE("reduction: mean and var are float-only - var is the population variance") {
  CHECK_THROWS_AS(mean(Tensor::zeros({3}, DType::int32)), DTypeError);
  CHECK_THROWS_AS(var(Tensor::zeros({3}, DType::int64)), DTypeError);
  const Tensor x = Tensor::from_vector<double>({1, 2, 3, 4});
  CHECK(var(x).item() == doctest::Approx(1.25));  // ddof 0: sum((x-2.5)^2) / 4
  // Two-pass form: a large mean does not cancel the small spread away.
  const Tensor shifted = Tensor::from_vector<float>({1e4f + 1, 1e4f + 2, 1e4f + 3, 1e4f + 4});
  CHECK(var(shifted).item() == doctest::Approx(1.25).epsilon(1e-6));
}

TEST_CASE("reduction: max / min share the gradient equally among ties (TF rule)") {
  Tensor x = Tensor::from_vector<double>({1, 3, 3, 2, 5, 0, 5, 5}, {2, 4});
  x.set_requires_grad(true);
  max(x, {1}).backward(Tensor::from_vector<double>({1, 3}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 0.5, 0.5, 0, 1, 0, 1, 1});
  Tensor y = Tensor::from_vector<double>({2, 1, 1, 4});
  y.set_requires_grad(true);
  min(y).backward();
  CHECK(y.grad().to_vector<double>() == std::vector<double>{0, 0.5, 0.5, 0});
}

TEST_CASE("reduction: argmax is int64, first on ties, not differentiable - keepdims shape") {
  const Tensor x = Tensor::from_vector<float>({1, 7, 7, 2, 9, 9, 9, 0, -1, -3, -1, -2}, {3, 4});
  const Tensor a = argmax(x);
  CHECK(a.dtype() == DType::int64);
  CHECK(a.shape() == Shape{3});
  CHECK(a.to_vector<int64_t>() == std::vector<int64_t>{1, 0, 0});
  const Tensor k = argmax(x, 0, true);
  CHECK(k.shape() == Shape{1, 4});
  CHECK(k.to_vector<int64_t>() == std::vector<int64_t>{1, 1, 1, 0});
  Tensor leaf = Tensor::from_vector<double>({1, 2});
  leaf.set_requires_grad(true);
  CHECK_FALSE(argmax(leaf).requires_grad());
  // Reference: argmax over axis 1 of a random 3-D tensor.
  const Tensor r = uniform64({3, 5, 2});
  const auto v = r.to_vector<double>();
  const auto got = argmax(r, 1).to_vector<int64_t>();
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t k2 = 0; k2 < 2; ++k2) {
      int64_t best = 0;
      for (int64_t j = 1; j < 5; ++j) {
        if (v[(i * 5 + j) * 2 + k2] > v[(i * 5 + best) * 2 + k2]) best = j;
      }
      CHECK(got[i * 2 + k2] == best);
    }
  }
}

TEST_CASE("reduction: max / argmax propagate NaN like NumPy") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor x = Tensor::from_vector<double>({1, nan, 3});
  CHECK(std::isnan(max(x).item()));
  CHECK(std::isnan(min(x).item()));
  CHECK(argmax(x).item() == 1);
}

TEST_CASE("reduction: softmax and log_softmax match the reference along any axis") {
  const Tensor x = uniform64({3, 4, 2}, -3, 3, 5);
  const auto v = x.to_vector<double>();
  for (int64_t axis : {0, 1, 2, -1}) {
    CAPTURE(axis);
    const int64_t a = axis < 0 ? axis + 3 : axis;
    const Shape& s = x.shape();
    const auto y = softmax(x, axis).to_vector<double>();
    const auto ly = log_softmax(x, axis).to_vector<double>();
    for (int64_t i = 0; i < s[0]; ++i) {
      for (int64_t j = 0; j < s[1]; ++j) {
        for (int64_t k = 0; k < s[2]; ++k) {
          int64_t idx[3] = {i, j, k};
          double total = 0;
          for (int64_t r = 0; r < s[a]; ++r) {
            int64_t c[3] = {i, j, k};
            c[a] = r;
            total += std::exp(v[(c[0] * s[1] + c[1]) * s[2] + c[2]]);
          }
          const int64_t flat = (idx[0] * s[1] + idx[1]) * s[2] + idx[2];
          CHECK(y[flat] == doctest::Approx(std::exp(v[flat]) / total).epsilon(1e-12));
          CHECK(ly[flat] == doctest::Approx(v[flat] - std::log(total)).epsilon(1e-12));
        }
      }
    }
  }
  CHECK(softmax(Tensor::zeros({2, 3}, DType::float32)).dtype() == DType::float32);
  CHECK_THROWS_AS(softmax(Tensor::zeros({3}, DType::int32)), DTypeError);
}

TEST_CASE("reduction: softmax / log_softmax are stable for extreme finite inputs") {
  const auto s = softmax(Tensor::from_vector<float>({1000, 0})).to_vector<float>();
  CHECK(std::isfinite(s[0]));
  CHECK(std::isfinite(s[1]));
  CHECK(s[0] == 1.0f);
  CHECK(s[1] == 0.0f);
  const auto ls = log_softmax(Tensor::from_vector<float>({-200, 0})).to_vector<float>();
  CHECK(std::isfinite(ls[0]));
  CHECK(std::isfinite(ls[1]));
  CHECK(ls[0] == doctest::Approx(-200.0));
  CHECK(ls[1] == doctest::Approx(0.0));
  // float16: 1000 is representable, exp(1000) is not; the shifted form never leaves range.
  const auto h = softmax(Tensor::from_vector<float>({1000, 999})).to_vector<float>();
  CHECK(h[0] + h[1] == doctest::Approx(1.0));
  const Tensor half = cast(Tensor::from_vector<float>({1000, 0, -1000}), DType::float16);
  const Tensor hs = log_softmax(half);
  CHECK(hs.dtype() == DType::float16);
  for (float value : cast(hs, DType::float32).to_vector<float>()) CHECK(std::isfinite(value));
  for (float value : cast(softmax(half), DType::float32).to_vector<float>()) CHECK(std::isfinite(value));
}

TEST_CASE("reduction: log_softmax backward is g - softmax * sum(g)") {
  Tensor x = Tensor::from_vector<double>({0.5, -1, 2, 0.25}, {2, 2});
  x.set_requires_grad(true);
  const Tensor g = Tensor::from_vector<double>({1, 2, -1, 3}, {2, 2});
  log_softmax(x, -1).backward(g);
  const auto p = softmax(x.detach(), -1).to_vector<double>();
  const auto dx = x.grad().to_vector<double>();
  CHECK(dx[0] == doctest::Approx(1 - p[0] * 3));
  CHECK(dx[1] == doctest::Approx(2 - p[1] * 3));
  CHECK(dx[2] == doctest::Approx(-1 - p[2] * 2));
  CHECK(dx[3] == doctest::Approx(3 - p[3] * 2));
}

// ---- errors
TEST_CASE("reduction: out-of-range axes name the op and the rank - empty reductions without identity") {
  const Tensor x = Tensor::zeros({2, 3, 4});
  for (const char* op : {"sum", "mean", "max", "min", "var"}) {
    CAPTURE(op);
    const std::string name = op;
    auto call = [&] {
      if (name == "sum") sum(x, {3});
      if (name == "mean") mean(x, {-4});
      if (name == "max") max(x, {3});
      if (name == "min") min(x, {5});
      if (name == "var") var(x, {3});
    };
    CHECK_THROWS_AS(call(), AxisError);
    const std::string m = message_of(call);
    CHECK(m.find(name) != std::string::npos);
    CHECK(m.find("rank 3") != std::string::npos);
  }
  CHECK_THROWS_WITH_AS(argmax(x, 3), doctest::Contains("argmax"), AxisError);
  CHECK_THROWS_WITH_AS(softmax(x, -4), doctest::Contains("softmax"), AxisError);
  CHECK_THROWS_WITH_AS(log_softmax(x, 3), doctest::Contains("rank 3"), AxisError);
  CHECK_THROWS_AS(sum(x, {0, 0}), AxisError);
  const Tensor empty = Tensor::zeros({2, 0});
  CHECK_THROWS_WITH_AS(max(empty, {1}), doctest::Contains("size 0"), ValueError);
  CHECK_THROWS_AS(argmax(empty, 1), ValueError);
  CHECK(sum(empty, {1}).to_vector<float>() == std::vector<float>{0, 0});
  CHECK(max(empty, {0}).shape() == Shape{0});
}

// ---- determinism
TEST_CASE("reduction: large sums and softmax are bitwise identical with 1 and 2 threads") {
  const Tensor big = random_normal({1 << 21}, 0, 1, DType::float32, RandomKey{3, 1});
  const Tensor matrix = random_normal({1500, 700}, 0, 1, DType::float32, RandomKey{3, 2});
  auto run = [&] {
    return std::vector<Tensor>{sum(big), sum(matrix, {0}), mean(matrix, {1}), var(matrix, {0}),
                               max(matrix, {0, 1}), softmax(matrix, 0), log_softmax(matrix, -1)};
  };
  const auto [one, two] = pitfall::testing::run_with_1_and_2_threads(run);
  for (size_t i = 0; i < one.size(); ++i) {
    CAPTURE(i);
    CHECK(bitwise_equal(one[i], two[i]));
  }
}
