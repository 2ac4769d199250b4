// max_pool2d's one-pass kernel and its adjoint max_pool2d_grad against plain reference loops written
// here: values and gradients for valid / same padding, strides other than the pool size (overlapping
// windows and gaps), ties (the gradient goes to the first maximum only), NaN inputs, float64 /
// float32 / float16, the adjoint's own gradient, and bitwise-identical results with 1 and 2 threads.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include <pitfall/core/ops/conv_grads.h>

#include "gradcheck_cases.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

struct PoolCase {
  Shape x;
  int64_t kh, kw, sh, sw;
  const char* padding;
};

// Valid and same padding; windows that overlap (stride < pool), tile, and leave gaps (stride > pool).
const std::vector<PoolCase> kCases = {
    {{2, 6, 6, 3}, 2, 2, 2, 2, "valid"}, {{2, 7, 5, 3}, 2, 2, 2, 2, "same"}, {{1, 7, 6, 2}, 3, 3, 1, 1, "valid"},
    {{2, 7, 8, 4}, 3, 3, 2, 2, "same"},  {{1, 6, 7, 5}, 2, 3, 1, 2, "same"}, {{2, 8, 8, 2}, 2, 2, 3, 3, "valid"},
    {{1, 5, 9, 3}, 3, 2, 2, 1, "valid"}, {{1, 2, 3, 1}, 3, 3, 1, 1, "same"},
};

// Where the reference window of output (oy, ox) starts along one axis, and the output size
// (TensorFlow's rule, written out here independently of the engine).
struct AxisPlan {
  int64_t out, pad;
};
AxisPlan plan(int64_t in, int64_t k, int64_t s, bool same) {
  if (!same) return {(in - k) / s + 1, 0};
  const int64_t out = (in + s - 1) / s;
  return {out, std::max<int64_t>((out - 1) * s + k - in, 0) / 2};
}

// For each output element, the flat index into x of its window's first maximum: windows scanned row
// by row, a larger value replaces, a NaN replaces a number once.
std::vector<int64_t> reference_argmax(const std::vector<double>& x, const PoolCase& c, Shape& out_shape) {
  const int64_t n = c.x[0], h = c.x[1], w = c.x[2], ch = c.x[3];
  const bool same = std::string(c.padding) == "same";
  const AxisPlan py = plan(h, c.kh, c.sh, same), px = plan(w, c.kw, c.sw, same);
  out_shape = {n, py.out, px.out, ch};
  std::vector<int64_t> at;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < py.out; ++oy)
      for (int64_t ox = 0; ox < px.out; ++ox)
        for (int64_t k = 0; k < ch; ++k) {
          int64_t best = -1;
          for (int64_t ky = 0; ky < c.kh; ++ky)
            for (int64_t kx = 0; kx < c.kw; ++kx) {
              const int64_t iy = oy * c.sh - py.pad + ky, ix = ox * c.sw - px.pad + kx;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              const int64_t i = ((b * h + iy) * w + ix) * ch + k;
              if (best < 0 || x[i] > x[best] || (std::isnan(x[i]) && !std::isnan(x[best]))) best = i;
            }
          at.push_back(best);
        }
  return at;
}

// dx of sum(g * max_pool2d(x)): each g added at its window's first maximum, in output order.
std::vector<double> reference_grad(const std::vector<int64_t>& at, const std::vector<double>& g, size_t x_size) {
  std::vector<double> dx(x_size, 0.0);
  for (size_t j = 0; j < at.size(); ++j) dx[static_cast<size_t>(at[j])] += g[j];
  return dx;
}

// Equal element by element, a NaN matching only a NaN.
void check_same_values(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    if (std::isnan(want[i])) CHECK(std::isnan(got[i]));
    else CHECK(got[i] == want[i]);
  }
}

// Values k / 16 for k in [-range, range]: small integers make many ties, and any sum of a few of
// them is exact in every float format, so the reference needs no tolerance.
Tensor grid_values(const Shape& shape, int64_t range, uint64_t seed) {
  const Tensor u = random_uniform(shape, 0.0, 1.0, DType::float64, RandomKey{seed, 5});
  std::vector<double> v = u.to_vector<double>();
  for (double& e : v) e = (std::floor(e * static_cast<double>(2 * range + 1)) - static_cast<double>(range)) / 16.0;
  return Tensor::from_vector(v, shape);
}

// Runs max_pool2d forward and backward on x64 cast to `dtype` and checks both against the reference
// computed on the rounded values. The gradient sums are exact (grid values), so the engine's one
// rounding of each sum equals rounding the reference's exact sum.
void check_case(const PoolCase& c, const Tensor& x64, DType dtype, uint64_t seed) {
  CAPTURE(shape_str(c.x));
  CAPTURE(c.kh);
  CAPTURE(c.kw);
  CAPTURE(c.sh);
  CAPTURE(c.sw);
  CAPTURE(c.padding);
  CAPTURE(dtype_name(dtype));
  const Tensor x = cast(x64, dtype).set_requires_grad(true);
  const std::vector<double> xv = cast(x, DType::float64).to_vector<double>();  // the rounded inputs
  Shape out_shape;
  const std::vector<int64_t> at = reference_argmax(xv, c, out_shape);
  std::vector<double> want_y;
  for (int64_t i : at) want_y.push_back(xv[static_cast<size_t>(i)]);

  const Tensor y = max_pool2d(x, {c.kh, c.kw}, {c.sh, c.sw}, c.padding);
  REQUIRE(y.shape() == out_shape);
  CHECK(y.dtype() == dtype);
  check_same_values(cast(y, DType::float64).to_vector<double>(), want_y);

  const Tensor g = cast(grid_values(out_shape, 40, seed), dtype);
  const Tensor dx = gradients(y, {x}, g)[0];
  CHECK(dx.dtype() == dtype);
  CHECK(dx.shape() == c.x);
  const auto exact_dx = reference_grad(at, cast(g, DType::float64).to_vector<double>(), xv.size());
  const auto want_dx = cast(cast(Tensor::from_vector(exact_dx, c.x), dtype), DType::float64).to_vector<double>();
  check_same_values(cast(dx, DType::float64).to_vector<double>(), want_dx);
  // The public argmax names the same elements.
  const auto index = max_pool2d_argmax(x, {c.kh, c.kw}, {c.sh, c.sw}, c.padding).to_vector<int64_t>();
  CHECK(index == at);
}

}  // namespace

PITFALL_GRADCHECK_CASE("max_pool2d_grad", "3x3 stride 2 same, overlapping windows",
                       [](auto& in) { return max_pool2d_grad(in[0], in[1], {3, 3}, {2, 2}, "same"); },
                       [] { return std::vector<Tensor>({uniform64({2, 3, 4, 2}, -1, 1, 91), uniform64({2, 5, 7, 2}, -1, 1, 92)}); });
PITFALL_GRADCHECK_CASE("max_pool2d_grad", "2x2 stride 2 valid",
                       [](auto& in) { return max_pool2d_grad(in[0], in[1], {2, 2}, {2, 2}, "valid"); },
                       [] { return std::vector<Tensor>({uniform64({1, 2, 3, 3}, -1, 1, 93), uniform64({1, 4, 6, 3}, -1, 1, 94)}); });

TEST_SUITE("pool_fast") {
  TEST_CASE("pool_fast: values and gradients match reference loops for paddings and strides in float64 and float32") {
    uint64_t seed = 100;
    for (const auto& c : kCases) {
      const Tensor x = uniform64(c.x, -1, 1, ++seed);
      for (DType dtype : {DType::float64, DType::float32}) check_case(c, x, dtype, ++seed);
    }
  }

  TEST_CASE("pool_fast: ties send the whole gradient to the first maximum of each window") {
    uint64_t seed = 200;
    for (const auto& c : kCases) {
      // Values from {-1/16, 0, 1/16}: most windows hold several equal maxima.
      const Tensor x = grid_values(c.x, 1, ++seed);
      for (DType dtype : {DType::float64, DType::float32, DType::float16}) check_case(c, x, dtype, ++seed);
    }
    // All-equal 2x2 windows: only each window's top-left element gets a gradient.
    const Tensor x = Tensor::full({1, 4, 4, 1}, 3.0, DType::float64).set_requires_grad(true);
    const Tensor g = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {1, 2, 2, 1});
    const Tensor dx = gradients(max_pool2d(x, {2, 2}, {2, 2}), {x}, g)[0];
    CHECK(dx.to_vector<double>() == std::vector<double>{1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0});
  }

  TEST_CASE("pool_fast: a NaN in a window is its maximum and takes the gradient, the first NaN winning") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    uint64_t seed = 300;
    for (const auto& c : kCases) {
      std::vector<double> v = uniform64(c.x, -1, 1, ++seed).to_vector<double>();
      // A NaN at every 7th element, and a second NaN next to some, so windows hold zero, one or two.
      for (size_t i = 0; i < v.size(); i += 7) {
        v[i] = nan;
        if (i + 1 < v.size() && i % 3 == 0) v[i + 1] = nan;
      }
      const Tensor x = Tensor::from_vector(v, c.x);
      for (DType dtype : {DType::float64, DType::float32, DType::float16}) check_case(c, x, dtype, ++seed);
    }
    // NaN after the maximum, and before it: the NaN wins either way.
    for (const std::vector<double>& v : {std::vector<double>{5, nan, 1, 2}, std::vector<double>{nan, 5, 1, 2}}) {
      const Tensor x = Tensor::from_vector(v, {1, 2, 2, 1}).set_requires_grad(true);
      const Tensor y = max_pool2d(x, {2, 2}, {2, 2});
      CHECK(std::isnan(y.item()));
      const auto dx = gradients(sum(y), {x})[0].to_vector<double>();
      CHECK(dx[std::isnan(v[0]) ? 0 : 1] == 1.0);
      CHECK(dx[0] + dx[1] + dx[2] + dx[3] == 1.0);
    }
  }

  TEST_CASE("pool_fast: float16 and bfloat16 pick the maximum of the rounded values and add gradients exactly") {
    uint64_t seed = 400;
    for (const auto& c : kCases) {
      const Tensor x = uniform64(c.x, -2, 2, ++seed);
      check_case(c, x, DType::float16, ++seed);
      check_case(c, x, DType::bfloat16, ++seed);
    }
  }

  TEST_CASE("pool_fast: the adjoint's own gradient gathers at the first maxima") {
    // d/dg of sum(h * max_pool2d_grad(g, x)) is h read at each window's first maximum: what a
    // second-order gradient through max_pool2d is built from.
    const PoolCase c{{2, 7, 8, 3}, 3, 3, 2, 2, "same"};
    const Tensor x = grid_values(c.x, 2, 501);  // many ties
    Shape out_shape;
    const auto at = reference_argmax(x.to_vector<double>(), c, out_shape);
    const Tensor g = uniform64(out_shape, -1, 1, 502).set_requires_grad(true);
    const Tensor h = uniform64(c.x, -1, 1, 503);
    const Tensor dx = max_pool2d_grad(g, x, {c.kh, c.kw}, {c.sh, c.sw}, c.padding);
    const auto dg = gradients(sum(multiply(dx, h)), {g})[0];
    REQUIRE(dg.defined());
    const auto hv = h.to_vector<double>();
    std::vector<double> want;
    for (int64_t i : at) want.push_back(hv[static_cast<size_t>(i)]);
    CHECK(dg.to_vector<double>() == want);
  }

  TEST_CASE("pool_fast: max_pool2d_grad names the operand that does not fit") {
    const Tensor x = Tensor::zeros({1, 4, 4, 2});
    const std::string wrong_shape = pitfall::testing::message_of(
        [&] { max_pool2d_grad(Tensor::zeros({1, 3, 2, 2}), x, {2, 2}, {2, 2}, "valid"); });
    CHECK(pitfall::testing::contains(wrong_shape, "max_pool2d_grad"));
    CHECK(pitfall::testing::contains(wrong_shape, "(1, 2, 2, 2)"));
    const std::string wrong_dtype = pitfall::testing::message_of(
        [&] { max_pool2d_grad(Tensor::zeros({1, 2, 2, 2}, DType::float64), x, {2, 2}, {2, 2}, "valid"); });
    CHECK(pitfall::testing::contains(wrong_dtype, "max_pool2d_grad"));
    CHECK(pitfall::testing::contains(wrong_dtype, "float64"));
  }

  TEST_CASE("pool_fast: forward and backward are bitwise identical with 1 and 2 threads") {
    for (DType dtype : {DType::float32, DType::float16}) {
      CAPTURE(dtype_name(dtype));
      auto run = [dtype] {
        const Tensor x = cast(random_uniform({13, 17, 15, 9}, -1, 1, DType::float32, RandomKey{8, 1}), dtype)
                             .set_requires_grad(true);
        const Tensor g = cast(random_uniform({13, 8, 7, 9}, -1, 1, DType::float32, RandomKey{8, 2}), dtype);
        const Tensor y = max_pool2d(x, {3, 3}, {2, 2}, "valid");  // overlapping windows
        const Tensor dx = gradients(y, {x}, g)[0];
        const Tensor y2 = max_pool2d(x, {2, 2}, {2, 2}, "same");
        const Tensor dx2 = gradients(y2, {x}, cast(random_uniform(y2.shape(), -1, 1, DType::float32, RandomKey{8, 3}), dtype))[0];
        return std::vector<Tensor>{y, dx, y2, dx2};
      };
      const auto [one, two] = run_with_1_and_2_threads(run);
      for (size_t i = 0; i < one.size(); ++i) {
        CAPTURE(i);
        CHECK(bitwise_equal(one[i], two[i]));
      }
    }
  }
}
