// conv2d, max_pool2d, avg_pool2d and their adjoints against naive float64 reference loops, the
// gradcheck cases, determinism across thread counts, reduced-precision rounding, and error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include <pitfall/core/ops/conv_grads.h>

#include "gradcheck_cases.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

// TensorFlow's padding rule, written out independently of the engine.
struct Axis {
  int64_t out, pad;
};
Axis tf_axis(int64_t in, int64_t k, int64_t s, bool same) {
  if (!same) return {(in - k) / s + 1, 0};
  const int64_t out = (in + s - 1) / s;
  const int64_t total = std::max<int64_t>((out - 1) * s + k - in, 0);
  return {out, total / 2};
}

// x (N,H,W,C), w (KH,KW,C,O): the textbook six-fold loop.
std::vector<double> reference_conv(const std::vector<double>& x, const Shape& xs, const std::vector<double>& w,
                                   const Shape& ws, int64_t sh, int64_t sw, bool same, Shape& out_shape) {
  const int64_t n = xs[0], h = xs[1], wd = xs[2], c = xs[3], kh = ws[0], kw = ws[1], o = ws[3];
  const Axis ay = tf_axis(h, kh, sh, same), ax = tf_axis(wd, kw, sw, same);
  out_shape = {n, ay.out, ax.out, o};
  std::vector<double> out(static_cast<size_t>(n * ay.out * ax.out * o), 0.0);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < ay.out; ++oy)
      for (int64_t ox = 0; ox < ax.out; ++ox)
        for (int64_t f = 0; f < o; ++f) {
          double acc = 0;
          for (int64_t ky = 0; ky < kh; ++ky)
            for (int64_t kx = 0; kx < kw; ++kx) {
              const int64_t iy = oy * sh - ay.pad + ky, ix = ox * sw - ax.pad + kx;
              if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
              for (int64_t ch = 0; ch < c; ++ch)
                acc += x[((b * h + iy) * wd + ix) * c + ch] * w[((ky * kw + kx) * c + ch) * o + f];
            }
          out[((b * ay.out + oy) * ax.out + ox) * o + f] = acc;
        }
  return out;
}

// Pooling reference; `is_max` picks max (value) or the in-bounds average.
std::vector<double> reference_pool(const std::vector<double>& x, const Shape& xs, int64_t kh, int64_t kw, int64_t sh,
                                   int64_t sw, bool same, bool is_max, Shape& out_shape) {
  const int64_t n = xs[0], h = xs[1], wd = xs[2], c = xs[3];
  const Axis ay = tf_axis(h, kh, sh, same), ax = tf_axis(wd, kw, sw, same);
  out_shape = {n, ay.out, ax.out, c};
  std::vector<double> out;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < ay.out; ++oy)
      for (int64_t ox = 0; ox < ax.out; ++ox)
        for (int64_t ch = 0; ch < c; ++ch) {
          double best = -std::numeric_limits<double>::infinity(), sum = 0;
          int count = 0;
          for (int64_t ky = 0; ky < kh; ++ky)
            for (int64_t kx = 0; kx < kw; ++kx) {
              const int64_t iy = oy * sh - ay.pad + ky, ix = ox * sw - ax.pad + kx;
              if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
              const double v = x[((b * h + iy) * wd + ix) * c + ch];
              best = std::max(best, v);
              sum += v;
              ++count;
            }
          out.push_back(is_max ? best : sum / count);
        }
  return out;
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(std::abs(got[i] - want[i]) <= tol * std::max(1.0, std::abs(want[i])));
  }
}

struct ConvCase {
  Shape x, w;
  int64_t sh, sw;
  const char* padding;
};

const std::vector<ConvCase> kConvCases = {
    {{2, 5, 5, 3}, {3, 3, 3, 4}, 1, 1, "valid"}, {{2, 5, 5, 3}, {3, 3, 3, 4}, 1, 1, "same"},
    {{1, 7, 6, 2}, {3, 2, 2, 3}, 2, 2, "same"},  {{1, 7, 6, 2}, {3, 2, 2, 3}, 2, 3, "valid"},
    {{3, 9, 9, 1}, {5, 5, 1, 2}, 2, 2, "same"},  {{2, 4, 4, 5}, {1, 1, 5, 3}, 1, 1, "valid"},
    {{2, 6, 5, 3}, {1, 1, 3, 2}, 2, 2, "same"},  {{1, 3, 3, 2}, {4, 4, 2, 1}, 1, 1, "same"},
    {{1, 11, 13, 4}, {3, 3, 4, 6}, 3, 2, "same"}, {{2, 4, 4, 2}, {2, 2, 2, 2}, 2, 2, "valid"},
};

}  // namespace

// ---- gradcheck cases (every differentiable op of this file)

PITFALL_GRADCHECK_CASE("conv2d", "3x3 stride 1 valid", [](auto& in) { return conv2d(in[0], in[1], {1, 1}, "valid"); },
                       [] { return std::vector<Tensor>({uniform64({2, 5, 4, 2}, -1, 1, 1), uniform64({3, 3, 2, 3}, -1, 1, 2)}); });
PITFALL_GRADCHECK_CASE("conv2d", "odd size, stride 2, same (extra pad bottom/right)",
                       [](auto& in) { return conv2d(in[0], in[1], {2, 2}, "same"); },
                       [] { return std::vector<Tensor>({uniform64({1, 7, 6, 2}, -1, 1, 3), uniform64({3, 2, 2, 2}, -1, 1, 4)}); });
PITFALL_GRADCHECK_CASE("conv2d", "1x1 pointwise", [](auto& in) { return conv2d(in[0], in[1]); },
                       [] { return std::vector<Tensor>({uniform64({2, 3, 3, 3}, -1, 1, 5), uniform64({1, 1, 3, 2}, -1, 1, 6)}); });
// The shape of a double backward (gradcheck's numeric pass runs under no_grad, so the composition is
// written out): the filter gradient of a conv's own output, differentiated in both operands.
PITFALL_GRADCHECK_CASE("conv2d", "composed with its filter gradient",
                       [](auto& in) {
                         const Tensor y = conv2d(in[0], in[1], {2, 1}, "same");
                         return conv2d_backprop_filter(in[0], y, in[1].shape(), {2, 1}, "same");
                       },
                       [] { return std::vector<Tensor>({uniform64({1, 5, 4, 2}, -1, 1, 7), uniform64({2, 3, 2, 2}, -1, 1, 8)}); });
PITFALL_GRADCHECK_CASE("conv2d_backprop_input", "stride 2 same",
                       [](auto& in) { return conv2d_backprop_input(in[0], in[1], {1, 5, 6, 2}, {2, 2}, "same"); },
                       [] { return std::vector<Tensor>({uniform64({1, 3, 3, 3}, -1, 1, 9), uniform64({3, 3, 2, 3}, -1, 1, 10)}); });
PITFALL_GRADCHECK_CASE("conv2d_backprop_input", "stride 1 valid overlapping windows",
                       [](auto& in) { return conv2d_backprop_input(in[0], in[1], {2, 4, 4, 1}, {1, 1}, "valid"); },
                       [] { return std::vector<Tensor>({uniform64({2, 2, 3, 2}, -1, 1, 11), uniform64({3, 2, 1, 2}, -1, 1, 12)}); });
PITFALL_GRADCHECK_CASE("conv2d_backprop_filter", "stride 2 same",
                       [](auto& in) { return conv2d_backprop_filter(in[0], in[1], {3, 3, 2, 3}, {2, 2}, "same"); },
                       [] { return std::vector<Tensor>({uniform64({1, 5, 6, 2}, -1, 1, 13), uniform64({1, 3, 3, 3}, -1, 1, 14)}); });
PITFALL_GRADCHECK_CASE("conv2d_backprop_filter", "stride 1 valid",
                       [](auto& in) { return conv2d_backprop_filter(in[0], in[1], {2, 3, 1, 2}, {1, 1}, "valid"); },
                       [] { return std::vector<Tensor>({uniform64({2, 4, 4, 1}, -1, 1, 15), uniform64({2, 3, 2, 2}, -1, 1, 16)}); });
PITFALL_GRADCHECK_CASE("max_pool2d", "2x2 stride 2 valid", [](auto& in) { return max_pool2d(in[0], {2, 2}, {2, 2}); },
                       [] { return std::vector<Tensor>({uniform64({2, 4, 6, 3}, -1, 1, 17)}); });
PITFALL_GRADCHECK_CASE("max_pool2d", "3x3 stride 2 same, overlapping windows",
                       [](auto& in) { return max_pool2d(in[0], {3, 3}, {2, 2}, "same"); },
                       [] { return std::vector<Tensor>({uniform64({1, 5, 7, 2}, -1, 1, 18)}); });
PITFALL_GRADCHECK_CASE("avg_pool2d", "2x2 stride 2 valid", [](auto& in) { return avg_pool2d(in[0], {2, 2}, {2, 2}); },
                       [] { return std::vector<Tensor>({uniform64({2, 4, 5, 3}, -1, 1, 19)}); });
PITFALL_GRADCHECK_CASE("avg_pool2d", "3x3 stride 2 same (in-bounds counts)",
                       [](auto& in) { return avg_pool2d(in[0], {3, 3}, {2, 2}, "same"); },
                       [] { return std::vector<Tensor>({uniform64({1, 5, 6, 2}, -1, 1, 20)}); });
PITFALL_GRADCHECK_CASE("avg_pool2d_grad", "3x2 stride 1 same",
                       [](auto& in) { return avg_pool2d_grad(in[0], {1, 4, 5, 2}, {3, 2}, {1, 1}, "same"); },
                       [] { return std::vector<Tensor>({uniform64({1, 4, 5, 2}, -1, 1, 21)}); });

// ---- forward against the reference

TEST_CASE("conv: conv2d matches a naive loop for shapes, strides and paddings") {
  for (const auto& c : kConvCases) {
    CAPTURE(shape_str(c.x));
    CAPTURE(shape_str(c.w));
    CAPTURE(c.padding);
    const Tensor x = uniform64(c.x, -1, 1, 31), w = uniform64(c.w, -1, 1, 32);
    Shape want_shape;
    const auto want = reference_conv(x.to_vector<double>(), c.x, w.to_vector<double>(), c.w, c.sh, c.sw,
                                     std::string(c.padding) == "same", want_shape);
    const Tensor y = conv2d(x, w, {c.sh, c.sw}, c.padding);
    CHECK(y.shape() == want_shape);
    check_close(y.to_vector<double>(), want, 1e-12);
    const Tensor y32 = conv2d(cast(x, DType::float32), cast(w, DType::float32), {c.sh, c.sw}, c.padding);
    CHECK(y32.dtype() == DType::float32);
    check_close(cast(y32, DType::float64).to_vector<double>(), want, 1e-5);
  }
}

TEST_CASE("conv: same padding keeps ceil(in / stride) and puts the odd pad at the bottom and right") {
  // A 1x1 input pixel of 1 at the top-left, kernel 2x2 of distinct weights, stride 1, input 3x3:
  // total pad 1 per axis, all of it after (pad_top = 0), so output (0,0) sees weights w[0,0].
  std::vector<double> xv(9, 0.0);
  xv[0] = 1.0;
  const Tensor x = Tensor::from_vector(xv, {1, 3, 3, 1});
  const Tensor w = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2, 1, 1});
  const Tensor y = conv2d(x, w, {1, 1}, "same");
  CHECK(y.shape() == Shape{1, 3, 3, 1});
  CHECK(y.value_at(0) == 1.0);  // pad_top = pad_left = 0: the window at (0,0) starts on the pixel
  // Stride 2 on a 5-wide input: out 3, total pad (3-1)*2+3-5 = 2 -> 1 before, 1 after.
  const Tensor big = conv2d(Tensor::ones({1, 5, 5, 1}, DType::float64), Tensor::ones({3, 3, 1, 1}, DType::float64),
                            {2, 2}, "same");
  CHECK(big.shape() == Shape{1, 3, 3, 1});
  CHECK(big.value_at(0) == 4.0);  // corner window: 2x2 in bounds
  CHECK(big.value_at(4) == 9.0);  // centre
}

TEST_CASE("conv: max_pool2d and avg_pool2d match naive loops") {
  struct PoolCase {
    Shape x;
    int64_t kh, kw, sh, sw;
    const char* padding;
  };
  const std::vector<PoolCase> cases = {
      {{2, 4, 4, 3}, 2, 2, 2, 2, "valid"}, {{2, 5, 5, 3}, 2, 2, 2, 2, "valid"}, {{2, 5, 5, 3}, 2, 2, 2, 2, "same"},
      {{1, 7, 6, 2}, 3, 3, 2, 2, "same"},  {{1, 7, 6, 2}, 3, 3, 1, 1, "valid"}, {{1, 6, 7, 1}, 3, 2, 2, 3, "same"},
      {{3, 3, 3, 4}, 1, 1, 1, 1, "valid"}, {{1, 2, 2, 1}, 3, 3, 1, 1, "same"},
  };
  for (const auto& c : cases) {
    CAPTURE(shape_str(c.x));
    CAPTURE(c.padding);
    CAPTURE(c.kh);
    const Tensor x = uniform64(c.x, -1, 1, 41);
    const bool same = std::string(c.padding) == "same";
    for (bool is_max : {true, false}) {
      CAPTURE(is_max);
      Shape want_shape;
      const auto want = reference_pool(x.to_vector<double>(), c.x, c.kh, c.kw, c.sh, c.sw, same, is_max, want_shape);
      const Tensor y = is_max ? max_pool2d(x, {c.kh, c.kw}, {c.sh, c.sw}, c.padding)
                              : avg_pool2d(x, {c.kh, c.kw}, {c.sh, c.sw}, c.padding);
      CHECK(y.shape() == want_shape);
      check_close(y.to_vector<double>(), want, 1e-14);
    }
  }
}

// ---- gradients

TEST_CASE("conv: conv2d gradients equal the reference adjoint (random contraction)") {
  for (const auto& c : kConvCases) {
    CAPTURE(shape_str(c.x));
    CAPTURE(c.padding);
    const Tensor x = uniform64(c.x, -1, 1, 51).set_requires_grad(true);
    const Tensor w = uniform64(c.w, -1, 1, 52).set_requires_grad(true);
    const Tensor y = conv2d(x, w, {c.sh, c.sw}, c.padding);
    const Tensor g = uniform64(y.shape(), -1, 1, 53);
    const auto grads = gradients(sum(multiply(y, g)), {x, w});
    // d/dx[i] of sum(g * conv(x, w)) through the reference: conv of a one-hot input.
    const auto gv = g.to_vector<double>(), wv = w.to_vector<double>(), xv = x.to_vector<double>();
    const bool same = std::string(c.padding) == "same";
    std::vector<double> want_dx(xv.size()), want_dw(wv.size());
    Shape s;
    for (size_t i = 0; i < xv.size(); ++i) {
      std::vector<double> e(xv.size(), 0.0);
      e[i] = 1.0;
      const auto col = reference_conv(e, c.x, wv, c.w, c.sh, c.sw, same, s);
      for (size_t j = 0; j < col.size(); ++j) want_dx[i] += col[j] * gv[j];
    }
    for (size_t i = 0; i < wv.size(); ++i) {
      std::vector<double> e(wv.size(), 0.0);
      e[i] = 1.0;
      const auto col = reference_conv(xv, c.x, e, c.w, c.sh, c.sw, same, s);
      for (size_t j = 0; j < col.size(); ++j) want_dw[i] += col[j] * gv[j];
    }
    check_close(grads[0].to_vector<double>(), want_dx, 1e-12);
    check_close(grads[1].to_vector<double>(), want_dw, 1e-12);
  }
}

TEST_CASE("conv: max_pool2d sends the gradient to the first maximum, adding over overlapping windows") {
  // All-equal window: TF gives the whole gradient to the first (top-left) element.
  const Tensor x = Tensor::ones({1, 2, 2, 1}, DType::float64).set_requires_grad(true);
  const Tensor dx = gradients(sum(max_pool2d(x, {2, 2}, {2, 2})), {x})[0];
  CHECK(dx.to_vector<double>() == std::vector<double>{1, 0, 0, 0});
  // 3x3 windows with stride 1 over a 4x4 input whose max is at (2,2): all four windows pick it.
  std::vector<double> v(16, 0.0);
  v[2 * 4 + 2] = 5.0;
  const Tensor x2 = Tensor::from_vector(v, {1, 4, 4, 1}).set_requires_grad(true);
  const Tensor y2 = max_pool2d(x2, {3, 3}, {1, 1});
  CHECK(y2.to_vector<double>() == std::vector<double>{5, 5, 5, 5});
  const Tensor g = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {1, 2, 2, 1});
  const auto d2 = gradients(sum(multiply(y2, g)), {x2})[0].to_vector<double>();
  CHECK(d2[2 * 4 + 2] == 10.0);
  double rest = 0;
  for (double d : d2) rest += d;
  CHECK(rest == 10.0);
  // NaN propagates through the max.
  const Tensor xn = Tensor::from_vector(std::vector<double>{1, NAN, 3, 2}, {1, 2, 2, 1});
  CHECK(std::isnan(max_pool2d(xn, {2, 2}, {2, 2}).item()));
}

TEST_CASE("conv: avg_pool2d with same padding divides by the in-bounds count") {
  const Tensor x = Tensor::ones({1, 3, 3, 1}, DType::float64).set_requires_grad(true);
  const Tensor y = avg_pool2d(x, {2, 2}, {2, 2}, "same");  // out 2x2; edge windows hold 2 or 1 elements
  CHECK(y.to_vector<double>() == std::vector<double>{1, 1, 1, 1});
  const auto dx = gradients(sum(y), {x})[0].to_vector<double>();
  // Row 0/1 x col 0/1 are in window (0,0) of 4 elements; (0,2) in a 2-element window; (2,2) alone.
  CHECK(dx == std::vector<double>{0.25, 0.25, 0.5, 0.25, 0.25, 0.5, 0.5, 0.5, 1.0});
}

// ---- precision and determinism

TEST_CASE("conv: float16 and bfloat16 compute in float32 and round once") {
  const Tensor x = uniform64({2, 6, 6, 3}, -2, 2, 61), w = uniform64({3, 3, 3, 4}, -1, 1, 62);
  for (DType dt : {DType::float16, DType::bfloat16}) {
    CAPTURE(dtype_name(dt));
    const Tensor xr = cast(x, dt), wr = cast(w, dt);
    const Tensor want = cast(conv2d(cast(xr, DType::float32), cast(wr, DType::float32), {1, 1}, "same"), dt);
    const Tensor got = conv2d(xr, wr, {1, 1}, "same");
    CHECK(got.dtype() == dt);
    CHECK(bitwise_equal(got, want));
    const Tensor pool_want = cast(avg_pool2d(cast(xr, DType::float32), {2, 2}, {2, 2}), dt);
    CHECK(bitwise_equal(avg_pool2d(xr, {2, 2}, {2, 2}), pool_want));
    CHECK(bitwise_equal(max_pool2d(xr, {3, 3}, {2, 2}, "same"),
                        cast(max_pool2d(cast(xr, DType::float32), {3, 3}, {2, 2}, "same"), dt)));
  }
}

TEST_CASE("conv: forward and backward are bitwise identical with 1 and 2 threads") {
  auto run = [] {
    const Tensor x = random_uniform({9, 15, 13, 8}, -1, 1, DType::float32, RandomKey{3, 1}).set_requires_grad(true);
    const Tensor w = random_uniform({3, 3, 8, 16}, -1, 1, DType::float32, RandomKey{3, 2}).set_requires_grad(true);
    const Tensor y = conv2d(x, w, {1, 1}, "same");
    const Tensor p = max_pool2d(relu(y), {3, 3}, {2, 2}, "same");
    const Tensor q = avg_pool2d(y, {3, 3}, {2, 2}, "same");
    const Tensor loss = add(sum(square(p)), sum(q));
    auto grads = gradients(loss, {x, w});
    return std::vector<Tensor>{y, p, q, grads[0], grads[1]};
  };
  const auto [one, two] = run_with_1_and_2_threads(run);
  for (size_t i = 0; i < one.size(); ++i) {
    CAPTURE(i);
    CHECK(bitwise_equal(one[i], two[i]));
  }
}

TEST_CASE("conv: a batch large enough for many filter-gradient groups still matches float64") {
  const Tensor x = uniform64({40, 12, 12, 4}, -1, 1, 71), w = uniform64({3, 3, 4, 5}, -1, 1, 72);
  const Tensor g = uniform64({40, 12, 12, 5}, -1, 1, 73);
  const Tensor dw = conv2d_backprop_filter(x, g, w.shape(), {1, 1}, "same");
  const Tensor dw32 = conv2d_backprop_filter(cast(x, DType::float32), cast(g, DType::float32), w.shape(), {1, 1}, "same");
  check_close(cast(dw32, DType::float64).to_vector<double>(), dw.to_vector<double>(), 1e-4);
  // Against the definition: dw = sum over positions of patch * g.
  Shape s;
  const auto xv = x.to_vector<double>(), gv = g.to_vector<double>();
  std::vector<double> want(static_cast<size_t>(w.numel()));
  for (int64_t i = 0; i < w.numel(); i += 37) {
    std::vector<double> e(static_cast<size_t>(w.numel()), 0.0);
    e[static_cast<size_t>(i)] = 1.0;
    const auto col = reference_conv(xv, x.shape(), e, w.shape(), 1, 1, true, s);
    double acc = 0;
    for (size_t j = 0; j < col.size(); ++j) acc += col[j] * gv[j];
    CHECK(std::abs(dw.value_at(i) - acc) <= 1e-10 * std::max(1.0, std::abs(acc)));
  }
}

// ---- errors

TEST_CASE("conv: errors name the op, the shapes and the fix") {
  const Tensor x = Tensor::zeros({1, 5, 5, 3});
  const Tensor w = Tensor::zeros({3, 3, 3, 4});
  std::string m = message_of([&] { conv2d(Tensor::zeros({5, 5, 3}), w); });
  CHECK(m.find("conv2d") != std::string::npos);
  CHECK(m.find("(5, 5, 3)") != std::string::npos);
  CHECK(m.find("NHWC") != std::string::npos);
  CHECK_THROWS_AS(conv2d(Tensor::zeros({5, 5, 3}), w), ShapeError);

  m = message_of([&] { conv2d(x, Tensor::zeros({3, 3, 1, 4})); });
  CHECK(m.find("3 channels") != std::string::npos);
  CHECK(m.find("expects 1 input channels") != std::string::npos);
  CHECK(m.find("(3, 3, 1, 4)") != std::string::npos);

  CHECK_THROWS_AS(conv2d(x, w, {1, 1}, "full"), ValueError);
  m = message_of([&] { conv2d(x, w, {1, 1}, "full"); });
  CHECK(m.find("\"valid\"") != std::string::npos);
  CHECK(m.find("\"same\"") != std::string::npos);
  CHECK(m.find("full") != std::string::npos);
  CHECK(conv2d(x, w, {1, 1}, "SAME").shape() == Shape{1, 5, 5, 4});  // Keras lower-cases padding

  CHECK_THROWS_AS(conv2d(Tensor::zeros({1, 2, 2, 3}), w, {1, 1}, "valid"), ShapeError);
  m = message_of([&] { max_pool2d(Tensor::zeros({1, 2, 8, 3}), {3, 3}, {1, 1}, "valid"); });
  CHECK(m.find("max_pool2d") != std::string::npos);
  CHECK(m.find("larger than the input") != std::string::npos);
  CHECK(m.find("padding=\"same\"") != std::string::npos);
  CHECK(max_pool2d(Tensor::zeros({1, 2, 8, 3}), {3, 3}, {1, 1}, "same").shape() == Shape{1, 2, 8, 3});

  CHECK_THROWS_AS(conv2d(x, Tensor::zeros({3, 3, 3, 4}, DType::float64)), DTypeError);
  CHECK_THROWS_AS(conv2d(Tensor::zeros({1, 5, 5, 3}, DType::int32), Tensor::zeros({3, 3, 3, 4}, DType::int32)),
                  DTypeError);
  CHECK_THROWS_AS(conv2d(x, w, {0, 1}), ValueError);
  CHECK_THROWS_AS(avg_pool2d(x, {2, 2, 2}, {2, 2}), ValueError);
  m = message_of([&] { avg_pool2d(Tensor::zeros({4, 4}), {2, 2}, {2, 2}); });
  CHECK(m.find("avg_pool2d") != std::string::npos);
  CHECK(m.find("NHWC") != std::string::npos);
}

TEST_CASE("conv: an empty batch gives an empty result") {
  const Tensor y = conv2d(Tensor::zeros({0, 5, 5, 2}), Tensor::zeros({3, 3, 2, 4}), {1, 1}, "same");
  CHECK(y.shape() == Shape{0, 5, 5, 4});
  CHECK(max_pool2d(Tensor::zeros({0, 4, 4, 2}), {2, 2}, {2, 2}).shape() == Shape{0, 2, 2, 2});
}
