// float16 / bfloat16 on the CPU: every op in the registry has kernels for both formats, and each
// computes what float32 computes on the same (already rounded) inputs, rounded once to the format.
// Then the three classic half-precision pitfalls, each asserted against numbers worked out here:
// float16 exp overflow (and why softmax subtracts the max), a gradient that underflows float16 and
// comes back under loss scaling, and a bfloat16 weight that SGD cannot move.
//
// References never go through the engine's own rounding: round_to_format() below rounds a double to
// float16 / bfloat16 from the formats' definitions.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <pitfall/core/ops/conv_grads.h>

#include "gradcheck_cases.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

using Inputs = std::vector<Tensor>;

bool is_half(DType dtype) { return dtype == DType::float16 || dtype == DType::bfloat16; }

// Machine epsilon (the gap from 1 to the next value) of each format.
double epsilon_of(DType dtype) { return dtype == DType::float16 ? std::ldexp(1.0, -10) : std::ldexp(1.0, -7); }

// The nearest float16 / bfloat16 value to `v`, ties to even, overflow to infinity: p significand
// bits (11 / 8), smallest normal exponent (-14 / -126; below it the spacing stays that of the
// smallest binade: subnormals), largest finite value (65504 / (2 - 2^-7) * 2^127).
double round_to_format(double v, DType dtype) {
  if (!std::isfinite(v) || v == 0.0) return v;
  const int p = dtype == DType::float16 ? 11 : 8;
  const int min_exponent = dtype == DType::float16 ? -14 : -126;
  const double largest = dtype == DType::float16 ? 65504.0 : std::ldexp(2.0 - std::ldexp(1.0, -7), 127);
  int e;
  std::frexp(std::fabs(v), &e);  // |v| in [2^(e-1), 2^e)
  const double spacing = std::ldexp(1.0, std::max(e - 1, min_exponent) - (p - 1));
  const double rounded = std::nearbyint(v / spacing) * spacing;  // v / spacing is exact; nearbyint ties to even
  if (std::fabs(rounded) > largest) return std::copysign(std::numeric_limits<double>::infinity(), v);
  return rounded;
}

// The smallest positive subnormal: the absolute floor of the tolerance of a single rounding.
double smallest_subnormal(DType dtype) { return dtype == DType::float16 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -133); }

Tensor f64(const std::vector<double>& v, const Shape& shape) { return Tensor::from_vector(v, shape); }
Tensor f64(const std::vector<double>& v) { return Tensor::from_vector(v); }
Tensor uniform(const Shape& shape, double lo, double hi, uint64_t seed) {
  return pitfall::testing::uniform64(shape, lo, hi, seed);
}

// One half-precision case: fn runs with the floating inputs in `dtype` (the half format, or float32
// for the reference) and may use `dtype` itself (one_hot's target, a fill's dtype).
struct HalfCase {
  std::string op, label;
  std::function<Tensor(const Inputs&, DType)> fn;
  std::function<Inputs()> inputs;                 // float64 (cast to the format) or integer (passed through)
  std::function<DType(DType)> out_dtype;          // expected output dtype for a half format; null: the rule below
  int factor = 1;                                 // roundings the half computation makes beyond the reference's one
  bool from_gradcheck = false;
};

// Gradcheck cases whose fn rounds more than once in half precision while the reference (float32,
// rounded at the end) rounds once, so a difference of up to `factor` roundings is correct behaviour.
// Every other case is a single op (views and data movement do not round) and gets factor 1.
int composite_factor(const std::string& op, const std::string& label) {
  // mean itself sums and divides in float32 and rounds once (factor 1); var is mean, subtract,
  // multiply, mean, each rounded, and the centered values carry the first mean's rounding.
  if (op == "var") return 4;
  // The same roundings as var (the variance row) and as subtract, multiply, add (the normalization).
  if (op == "batch_norm_moments") return 4;
  if (op == "batch_norm_apply") return 3;
  if (op == "matmul" && label == "matrix @ vector and vector @ vector") return 2;  // two rounded products, then add
  if (op == "conv2d" && label == "composed with its filter gradient") return 2;    // rounded conv output feeds the filter gradient
  if (op == "einsum" && label == "three operands with ellipsis broadcasting") return 2;  // two rounded matmuls
  return 1;
}

// The cases written here: ops no gradcheck case covers (not differentiable: data movement, fill,
// comparisons, argmax, one_hot, gelu_grad, sparse_softmax_cross_entropy_grad, batch_norm_moments_grad,
// batch_norm_channel_sums, max_pool2d_argmax, floor, ceil, round, sign, the logical ops, argmin, any,
// all, argsort, cumprod_grad) and
// cast between the formats.
std::vector<HalfCase> own_cases() {
  std::vector<HalfCase> cases;
  auto add = [&](std::string op, std::string label, std::function<Tensor(const Inputs&, DType)> fn,
                 std::function<Inputs()> inputs, std::function<DType(DType)> out_dtype = nullptr) {
    cases.push_back(HalfCase{std::move(op), std::move(label), std::move(fn), std::move(inputs), std::move(out_dtype)});
  };
  // ---- data movement and fill (byte copies: exact)
  add("copy", "strided view packed by contiguous()", [](const Inputs& in, DType) { return transpose(in[0]).contiguous(); },
      [] { return Inputs{uniform({3, 4}, -2, 2, 31)}; });
  add("copy_into", "assign through a transposed view",
      [](const Inputs& in, DType dtype) {
        Tensor target = Tensor::zeros({4, 3}, dtype);
        transpose(target).assign(in[0]);
        return target;
      },
      [] { return Inputs{uniform({3, 4}, -2, 2, 32)}; });
  // 0.1 is inexact in both formats; 1e5 overflows float16 (largest 65504) but not bfloat16; 1e-6 is
  // a float16 subnormal.
  for (double value : {0.1, 1e5, 1e-6}) {
    add("fill", "Tensor::full with " + std::to_string(value),
        [value](const Inputs& in, DType dtype) { return Tensor::full(in[0].shape(), value, dtype); },
        [] { return Inputs{f64({0, 0, 0}, {3})}; });
  }
  // ---- comparisons: b repeats some of a exactly, and 1.001 vs 1.0 differ in float16 but tie in
  // bfloat16 (spacing 2^-7 at 1): the bool result follows the rounded inputs.
  const std::vector<double> a = {0.5, -1.25, 3.0, 1.001, 0.1, -0.3, 2.0, 7.0};
  const std::vector<double> b = {0.5, -1.0, 3.0, 1.0, 0.2, -0.3, 2.5, -7.0};
  const std::vector<std::pair<std::string, Tensor (*)(const Tensor&, const Tensor&)>> comparisons = {
      {"equal", equal}, {"not_equal", not_equal}, {"less", less},
      {"less_equal", less_equal}, {"greater", greater}, {"greater_equal", greater_equal}};
  for (const auto& [name, compare] : comparisons) {
    add(name, "ties and near-ties, with broadcasting",
        [compare = compare](const Inputs& in, DType) { return compare(in[0], reshape(in[1], {2, 1, 4})); },
        [a, b] { return Inputs{f64(a, {2, 4}), f64(b)}; });
  }
  // ---- gelu's backward kernel, called directly (it only runs inside gelu's backward otherwise)
  for (bool approximate : {true, false}) {
    add("gelu_grad", approximate ? "tanh approximation" : "exact (erf)",
        [approximate](const Inputs& in, DType) {
          Attrs attrs;
          attrs.activation.approximate = approximate;
          return dispatch("gelu_grad", {in[0], in[1]}, in[1].shape(), in[1].dtype(), attrs);
        },
        [] { return Inputs{uniform({3, 4}, -2, 2, 33), uniform({3, 4}, -3, 3, 34)}; });
  }
  // ---- sparse_softmax_cross_entropy's backward kernel, called directly
  add("sparse_softmax_cross_entropy_grad", "rows of 5 classes",
      [](const Inputs& in, DType) {
        return dispatch("sparse_softmax_cross_entropy_grad", {in[0], in[1], in[2]}, in[0].shape(), in[0].dtype());
      },
      [] {
        return Inputs{uniform({4, 5}, -3, 3, 35), Tensor::from_vector<int64_t>({0, 4, 2, 4}, {4}),
                      uniform({4}, 0.5, 2, 36)};
      });
  // ---- batch normalization's backward kernels, called directly (double arithmetic, rounded once)
  add("batch_norm_moments_grad", "channels last, (2, C) upstream gradient",
      [](const Inputs& in, DType) {
        Attrs attrs;
        attrs.axis = 1;
        return dispatch("batch_norm_moments_grad", {in[0], in[1], in[2]}, in[0].shape(), in[0].dtype(), attrs);
      },
      [] { return Inputs{uniform({6, 4}, -2, 2, 37), uniform({2, 4}, -1, 1, 38), uniform({2, 4}, -1, 1, 39)}; });
  add("batch_norm_channel_sums", "channels first",
      [](const Inputs& in, DType) {
        Attrs attrs;
        attrs.axis = 1;
        return dispatch("batch_norm_channel_sums", {in[0], in[1], in[2]}, {2, in[1].shape()[1]}, in[1].dtype(), attrs);
      },
      [] { return Inputs{uniform({3, 4, 5}, -1, 1, 40), uniform({3, 4, 5}, -2, 2, 41), uniform({4}, -0.5, 0.5, 42)}; });
  // ---- integer and index results
  add("one_hot", "int64 labels to the format",
      [](const Inputs& in, DType dtype) { return one_hot(in[0], 4, dtype); },
      [] { return Inputs{Tensor::from_vector<int64_t>({0, 3, 1, 2, 3, 0}, {2, 3})}; });
  add("argmax", "axis 1 (rounding may create ties: both sides see the same rounded values)",
      [](const Inputs& in, DType) { return argmax(in[0], 1); }, [] { return Inputs{uniform({4, 6}, -1, 1, 35)}; });
  add("argmax", "axis 0, keepdims", [](const Inputs& in, DType) { return argmax(in[0], 0, true); },
      [] { return Inputs{uniform({5, 3}, -1, 1, 36)}; });
  add("max_pool2d_argmax", "2x2 stride 2 valid",
      [](const Inputs& in, DType) { return max_pool2d_argmax(in[0], {2, 2}, {2, 2}, "valid"); },
      [] { return Inputs{uniform({2, 4, 6, 3}, -1, 1, 37)}; });
  add("max_pool2d_argmax", "3x3 stride 2 same",
      [](const Inputs& in, DType) { return max_pool2d_argmax(in[0], {3, 3}, {2, 2}, "same"); },
      [] { return Inputs{uniform({1, 5, 7, 2}, -1, 1, 38)}; });
  // ---- rounding, sign and logical ops (exact on the rounded inputs)
  const std::vector<std::pair<std::string, Tensor (*)(const Tensor&)>> piecewise = {
      {"floor", floor}, {"ceil", ceil}, {"sign", sign}, {"logical_not", logical_not}};
  for (const auto& [name, fn] : piecewise) {
    add(name, "values around integers", [fn = fn](const Inputs& in, DType) { return fn(in[0]); },
        [] { return Inputs{f64({-2.5, -1.0, -0.3, 0.0, 0.7, 1.5, 2.0, 99.9}, {8})}; });
  }
  for (int64_t decimals : {0, 1, -1}) {
    add("round", "decimals " + std::to_string(decimals),
        [decimals](const Inputs& in, DType) { return round(in[0], decimals); },
        [] { return Inputs{f64({-2.5, -1.25, -0.35, 0.5, 1.5, 2.45, 14.9, 95.0}, {8})}; });
  }
  add("logical_and", "with broadcasting", [](const Inputs& in, DType) { return logical_and(in[0], in[1]); },
      [] { return Inputs{f64({0.0, 1.0, -2.0, 0.5}, {2, 2}), f64({1.0, 0.0}, {2})}; });
  add("logical_or", "with broadcasting", [](const Inputs& in, DType) { return logical_or(in[0], in[1]); },
      [] { return Inputs{f64({0.0, 1.0, -2.0, 0.0}, {2, 2}), f64({0.0, 0.0}, {2})}; });
  add("argmin", "axis 0", [](const Inputs& in, DType) { return argmin(in[0], 0); },
      [] { return Inputs{uniform({5, 3}, -1, 1, 45)}; });
  add("any", "axis 1", [](const Inputs& in, DType) { return any(in[0], {1}); },
      [] { return Inputs{f64({0.0, 0.0, 1e-6, 0.0, 0.0, 0.0}, {2, 3})}; });
  add("all", "all axes", [](const Inputs& in, DType) { return all(in[0]); },
      [] { return Inputs{f64({1.0, -0.5, 1e-6}, {3})}; });
  add("argsort", "descending along axis 0 (rounding may create ties: both sides see the same values)",
      [](const Inputs& in, DType) { return argsort(in[0], 0, true); }, [] { return Inputs{uniform({6, 2}, -1, 1, 46)}; });
  // ---- cumprod's backward kernel, called directly (double arithmetic, rounded once)
  add("cumprod_grad", "axis 1 with a zero",
      [](const Inputs& in, DType) {
        Attrs attrs;
        attrs.axis = 1;
        return dispatch("cumprod_grad", {in[0], in[1]}, in[0].shape(), in[0].dtype(), attrs);
      },
      [] { return Inputs{f64({0.5, -1.5, 0.0, 2.0, 1.25, 0.8}, {2, 3}), uniform({2, 3}, -1, 1, 47)}; });
  // ---- cast between the formats (gradcheck's cast cases are float64-bound or float64 -> float64)
  add("cast", "half -> float32 (exact widening)", [](const Inputs& in, DType) { return cast(in[0], DType::float32); },
      [] { return Inputs{uniform({3, 4}, -3, 3, 39)}; }, [](DType) { return DType::float32; });
  add("cast", "float32 -> half (one rounding of 3x)",
      [](const Inputs& in, DType dtype) { return cast(multiply(cast(in[0], DType::float32), 3.0), dtype); },
      [] { return Inputs{uniform({3, 4}, -3, 3, 40)}; });
  add("cast", "float16 <-> bfloat16",
      [](const Inputs& in, DType dtype) {
        const DType other = dtype == DType::float16 ? DType::bfloat16 : dtype == DType::bfloat16 ? DType::float16 : dtype;
        return cast(in[0], other);
      },
      [] { return Inputs{f64({1.0 + std::ldexp(1.0, -10), 3.14159, -1e-3, 300.0, 7e4, 1e-7}, {6})}; },
      [](DType dtype) { return dtype == DType::float16 ? DType::bfloat16 : DType::float16; });
  add("cast", "half -> int32 (truncation)", [](const Inputs& in, DType) { return cast(in[0], DType::int32); },
      [] { return Inputs{f64({-2.7, -0.5, 0.0, 0.9, 1.5, 100.4, 2047.6}, {7})}; });
  add("cast", "half -> bool", [](const Inputs& in, DType) { return cast(in[0], DType::bool_); },
      [] { return Inputs{f64({0.0, -0.0, 1e-9, 0.5, -3.0}, {5})}; });
  return cases;
}

std::vector<HalfCase> all_cases() {
  std::vector<HalfCase> cases;
  for (const auto& c : gradcheck_cases()) {
    HalfCase h{c.op, c.label, [fn = c.fn](const Inputs& in, DType) { return fn(in); }, c.inputs, nullptr,
               composite_factor(c.op, c.label), true};
    cases.push_back(std::move(h));
  }
  for (auto& c : own_cases()) cases.push_back(std::move(c));
  return cases;
}

// Floating inputs cast to `dtype` (float64 -> half is one rounding); integer inputs unchanged.
Inputs inputs_in(const Inputs& inputs, DType dtype, bool requires_grad) {
  Inputs out;
  for (const Tensor& t : inputs) {
    if (!is_floating(t.dtype())) {
      out.push_back(t);
      continue;
    }
    Tensor c = cast(t, dtype).detach();
    if (requires_grad) c.set_requires_grad(true);
    out.push_back(c);
  }
  return out;
}

std::string describe_case(const HalfCase& c, DType dtype) {
  return c.op + " / " + c.label + " in " + std::string(dtype_name(dtype));
}

// got vs reference element by element: NaN matches NaN, infinities match exactly, otherwise
// |got - ref| <= tolerance(ref). Returns "" or a description of the worst element.
std::string compare_values(const Tensor& got, const std::vector<double>& ref,
                           const std::function<double(double)>& tolerance) {
  double worst_excess = 0.0;
  std::string report;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double g = got.value_at(i), r = ref[static_cast<size_t>(i)];
    bool ok;
    if (std::isnan(r) || std::isnan(g)) ok = std::isnan(r) && std::isnan(g);
    else if (std::isinf(r) || std::isinf(g)) ok = g == r;
    else ok = std::fabs(g - r) <= tolerance(r);
    if (!ok) {
      const double excess = std::isfinite(g - r) ? std::fabs(g - r) - tolerance(r) : std::numeric_limits<double>::infinity();
      if (report.empty() || excess > worst_excess) {
        worst_excess = excess;
        std::ostringstream s;
        s.precision(10);
        s << "element " << i << ": got " << g << ", reference " << r << ", tolerance " << tolerance(r);
        report = s.str();
      }
    }
  }
  return report;
}

double max_abs(const std::vector<double>& values) {
  double m = 0.0;
  for (double v : values) {
    if (std::isfinite(v)) m = std::max(m, std::fabs(v));
  }
  return m;
}

std::vector<double> values_of(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.value_at(i);
  return v;
}

enum class Outcome { covered, failed, float64_bound };

// "op (dtype)" for every op in `ops` and half format that no case covered.
std::vector<std::string> ops_without_half_case(const std::vector<std::string>& ops,
                                               const std::map<std::string, std::set<DType>>& covered) {
  std::vector<std::string> missing;
  for (const auto& op : ops) {
    for (DType half : {DType::float16, DType::bfloat16}) {
      const auto it = covered.find(op);
      if (it == covered.end() || !it->second.count(half)) missing.push_back(op + " (" + std::string(dtype_name(half)) + ")");
    }
  }
  return missing;
}

// Runs one case in `half` and checks forward values and dtype, then gradients. Fails the test (CHECK)
// on any exception from the half run, a wrong dtype or a value out of tolerance.
Outcome run_case(const HalfCase& c, DType half, std::string& skip_reason) {
  INFO(describe_case(c, half));
  const Inputs base = c.inputs();
  const Inputs in_half = inputs_in(base, half, false);
  Inputs in_f32;  // the same rounded values, widened exactly
  for (const Tensor& t : in_half) in_f32.push_back(is_floating(t.dtype()) ? cast(t, DType::float32) : t);

  Tensor ref32;
  try {
    ref32 = c.fn(in_f32, DType::float32);
  } catch (const DTypeError& e) {
    // The case's own fn mixes in float64 constants (no silent promotion), so it cannot run in any
    // other dtype; only gradcheck cases are allowed this, and the op still needs another case.
    if (!c.from_gradcheck) {
      FAIL_CHECK("own case cannot run in float32: " << std::string(e.what()));
      return Outcome::failed;
    }
    skip_reason = e.what();
    return Outcome::float64_bound;
  }
  Tensor out;
  try {
    out = c.fn(in_half, half);
  } catch (const std::exception& e) {
    FAIL_CHECK("the op raised in " << dtype_name(half) << ": " << std::string(e.what()));
    return Outcome::failed;
  }
  const DType expected = c.out_dtype ? c.out_dtype(half) : (ref32.dtype() == DType::float32 ? half : ref32.dtype());
  CHECK(out.dtype() == expected);
  CHECK(out.shape() == ref32.shape());
  if (out.dtype() != expected || out.shape() != ref32.shape()) return Outcome::failed;

  // Forward: the float32 result rounded once to the output format (exact for other dtypes).
  std::vector<double> ref = values_of(ref32);
  if (is_half(expected)) {
    for (double& v : ref) v = round_to_format(v, expected);
  }
  const double eps = is_half(expected) ? epsilon_of(expected) : 0.0;
  const double floor = is_half(expected) ? smallest_subnormal(expected) : 0.0;
  // A single rounding: within one unit in the last place (eps * |ref| bounds it for normal values,
  // the smallest subnormal for subnormal ones); the results are in fact bitwise equal except where a
  // float64 accumulation rounds to float32 and then to the format (a 1-ulp double rounding). A
  // composite adds `factor` roundings, whose errors are relative to the intermediate values, so the
  // bound also scales with the output's magnitude (cancellation in the final op).
  const double scale = max_abs(ref);
  const std::string forward = compare_values(out, ref, [&](double r) {
    if (c.factor == 1) return eps * std::fabs(r) + floor;
    return c.factor * eps * (std::fabs(r) + scale) + floor;
  });
  INFO("forward: " << forward);
  CHECK(forward.empty());

  // Backward: gradients of sum(fn) w.r.t. the half inputs vs those of the float32 computation.
  const OpInfo* info = OpRegistry::instance().find(c.op);
  if (!info || !info->differentiable || !is_floating(expected)) return Outcome::covered;
  bool any_floating = false;
  for (const Tensor& t : base) any_floating = any_floating || is_floating(t.dtype());
  if (!any_floating) return Outcome::covered;

  auto grads_of = [&](DType dtype) {
    Inputs leaves = inputs_in(base, dtype == DType::float32 ? half : dtype, true);
    if (dtype == DType::float32) {
      for (Tensor& t : leaves) {
        if (is_floating(t.dtype())) t = cast(t.detach(), DType::float32).detach().set_requires_grad(true);
      }
    }
    Inputs sources;
    for (const Tensor& t : leaves) {
      if (is_floating(t.dtype())) sources.push_back(t);
    }
    return std::make_pair(gradients(sum(c.fn(leaves, dtype)), sources), sources);
  };
  std::vector<Tensor> grads_half, grads_f32;
  try {
    grads_half = grads_of(half).first;
  } catch (const std::exception& e) {
    FAIL_CHECK("the backward pass raised in " << dtype_name(half) << ": " << std::string(e.what()));
    return Outcome::failed;
  }
  grads_f32 = grads_of(DType::float32).first;
  REQUIRE(grads_half.size() == grads_f32.size());
  for (size_t i = 0; i < grads_half.size(); ++i) {
    CAPTURE(i);
    CHECK(grads_half[i].defined() == grads_f32[i].defined());
    if (!grads_half[i].defined() || !grads_f32[i].defined()) continue;
    CHECK(grads_half[i].dtype() == half);
    const std::vector<double> g32 = values_of(grads_f32[i]);
    // A backward pass is itself several rounded ops (the upstream ones broadcast, products with the
    // saved rounded output, sums): 4 * factor roundings, relative to the gradient's magnitude.
    const double gscale = std::max(max_abs(g32), 1.0);
    const double heps = epsilon_of(half);
    const std::string backward = compare_values(grads_half[i], g32, [&](double r) {
      return 4.0 * c.factor * heps * (std::fabs(r) + gscale);
    });
    INFO("gradient of input " << i << ": " << backward);
    CHECK(backward.empty());
  }
  return Outcome::covered;
}

}  // namespace

TEST_SUITE("half precision") {

TEST_CASE("half precision: round_to_format matches the formats' known values") {
  // The reference rounding itself, against values fixed by the IEEE binary16 / bfloat16 definitions.
  CHECK(round_to_format(1.0 + std::ldexp(1.0, -11), DType::float16) == 1.0);  // tie -> even
  CHECK(round_to_format(1.0 + 3 * std::ldexp(1.0, -11), DType::float16) == 1.0 + std::ldexp(1.0, -9));
  CHECK(round_to_format(65504.0, DType::float16) == 65504.0);
  CHECK(round_to_format(65519.0, DType::float16) == 65504.0);
  CHECK(std::isinf(round_to_format(65520.0, DType::float16)));
  CHECK(round_to_format(std::ldexp(1.0, -24), DType::float16) == std::ldexp(1.0, -24));
  CHECK(round_to_format(std::ldexp(1.0, -25), DType::float16) == 0.0);  // tie -> even (0)
  CHECK(round_to_format(1e-8, DType::float16) == 0.0);
  CHECK(round_to_format(1.0 + std::ldexp(1.0, -8), DType::bfloat16) == 1.0);
  CHECK(round_to_format(1.0 + 3 * std::ldexp(1.0, -8), DType::bfloat16) == 1.0 + std::ldexp(1.0, -6));
  const double bf16_largest = std::ldexp(255.0, 120);  // (2 - 2^-7) * 2^127
  CHECK(round_to_format(bf16_largest, DType::bfloat16) == bf16_largest);
  CHECK(std::isinf(round_to_format(std::ldexp(511.0, 119), DType::bfloat16)));  // half-way to 2^128: ties to even = overflow
  CHECK(round_to_format(3.0e38, DType::bfloat16) == std::ldexp(226.0, 120));  // 3.0e38 = 225.69 * 2^120
  // The engine's cast agrees (one rounding from float64).
  for (DType d : {DType::float16, DType::bfloat16}) {
    const Tensor x = uniform({64}, -70000, 70000, 41);
    const Tensor y = cast(x, d);
    for (int64_t i = 0; i < x.numel(); ++i) CHECK(y.value_at(i) == round_to_format(x.value_at(i), d));
  }
}

TEST_CASE("half precision: every op in the registry runs in float16 and bfloat16 and matches float32 rounded once") {
  const std::vector<HalfCase> cases = all_cases();
  std::map<std::string, std::set<DType>> covered;
  std::vector<std::string> skipped;
  for (DType half : {DType::float16, DType::bfloat16}) {
    for (const HalfCase& c : cases) {
      std::string reason;
      const Outcome outcome = run_case(c, half, reason);
      if (outcome == Outcome::covered) {
        covered[c.op].insert(half);
      } else if (outcome == Outcome::float64_bound && half == DType::float16) {
        skipped.push_back(c.op + " / " + c.label + " (" + reason + ")");
      }
    }
  }
  // Gradcheck cases skipped because their fn hard-codes float64 operands: listed, never silent. The
  // op they exercise must still be covered by another case (checked below).
  std::string skipped_list;
  for (const auto& s : skipped) skipped_list += "\n  " + s;
  MESSAGE("gradcheck cases skipped (float64-bound fn): " << (skipped.empty() ? "none" : skipped_list));

  // Every op, differentiable or not, including ops added after this test was written: a new
  // differentiable op is covered through its gradcheck case, a new non-differentiable op needs a
  // case in own_cases() above.
  std::vector<std::string> registry_ops;
  for (const auto& info : OpRegistry::instance().ops()) registry_ops.push_back(info.name);
  REQUIRE(registry_ops.size() > 50);
  const std::vector<std::string> missing = ops_without_half_case(registry_ops, covered);
  std::string missing_list;
  for (const auto& m : missing) missing_list += m + " ";
  INFO("ops without a half-precision case: " << missing_list);
  CHECK(missing.empty());
  // Own cases must name real ops (a typo would silently cover nothing).
  for (const auto& c : own_cases()) {
    INFO("half-precision case for unknown op " << c.op);
    CHECK(OpRegistry::instance().find(c.op) != nullptr);
  }
}

TEST_CASE("half precision: an op without a half case is reported missing") {
  std::map<std::string, std::set<DType>> covered;
  covered["exp"] = {DType::float16, DType::bfloat16};
  covered["log"] = {DType::float16};  // its bfloat16 run failed or never happened
  const auto missing = ops_without_half_case({"exp", "log", "new_op"}, covered);
  CHECK(missing == std::vector<std::string>{"log (bfloat16)", "new_op (float16)", "new_op (bfloat16)"});
}

// Expected to fail: a case whose op raises NotImplementedError for float16 must fail run_case (and a
// failed run does not count as covering the op, so the coverage check reports it missing too).
TEST_CASE("half precision: a kernel raising NotImplementedError for float16 fails the check" * doctest::should_fail()) {
  HalfCase c{"exp", "raises for float16",
             [](const Inputs& in, DType dtype) -> Tensor {
               if (dtype == DType::float16) throw NotImplementedError("exp: no float16 kernel");
               return exp(in[0]);
             },
             [] { return Inputs{uniform({3}, -1, 1, 42)}; }, nullptr, 1, false};
  std::string reason;
  CHECK(run_case(c, DType::float16, reason) == Outcome::failed);
}

// Expected to fail: a kernel that rounds twice (here: float16 through bfloat16) is out of tolerance.
TEST_CASE("half precision: a kernel that loses precision fails the check" * doctest::should_fail()) {
  HalfCase c{"exp", "rounds through bfloat16",
             [](const Inputs& in, DType dtype) -> Tensor {
               const Tensor y = exp(in[0]);
               return dtype == DType::float16 ? cast(cast(y, DType::bfloat16), DType::float16) : y;
             },
             [] { return Inputs{uniform({16}, -2, 2, 43)}; }, nullptr, 1, false};
  std::string reason;
  run_case(c, DType::float16, reason);
}

TEST_CASE("half precision: random draws in float16 and bfloat16 are the float64 draw rounded once") {
  // The random functions are not registry ops; they document "drawn in float64 and rounded once".
  const RandomKey key{123, 4};
  for (DType d : {DType::float16, DType::bfloat16}) {
    CAPTURE(dtype_name(d));
    const std::vector<std::pair<Tensor, Tensor>> draws = {
        {random_uniform({200}, -3, 5, d, key), random_uniform({200}, -3, 5, DType::float64, key)},
        {random_normal({200}, 0.5, 2.0, d, key), random_normal({200}, 0.5, 2.0, DType::float64, key)},
        {truncated_normal({200}, 0.0, 1.0, d, key), truncated_normal({200}, 0.0, 1.0, DType::float64, key)},
        {bernoulli({200}, 0.3, d, key), bernoulli({200}, 0.3, DType::float64, key)}};
    for (const auto& [half_draw, wide_draw] : draws) {
      CHECK(half_draw.dtype() == d);
      int mismatches = 0;
      for (int64_t i = 0; i < half_draw.numel(); ++i) {
        if (half_draw.value_at(i) != round_to_format(wide_draw.value_at(i), d)) ++mismatches;
      }
      CHECK(mismatches == 0);
    }
  }
}

TEST_CASE("half precision: a sum over non-adjacent axes rounds once") {
  // Reducing axes {0, 2} takes two kernel passes; in float16 / bfloat16 the partial sums must not be
  // rounded to the format in between. Data with cancellation: partial sums much larger than the total.
  for (DType d : {DType::float16, DType::bfloat16}) {
    CAPTURE(dtype_name(d));
    const Tensor x = cast(uniform({6, 5, 7}, -4, 4, 44), d);
    const Tensor s = sum(x, {0, 2});
    CHECK(s.dtype() == d);
    for (int64_t j = 0; j < 5; ++j) {
      double exact = 0.0;  // float16 / bfloat16 values add exactly in double here (few terms, small range)
      for (int64_t i = 0; i < 6; ++i) {
        for (int64_t k = 0; k < 7; ++k) exact += x.value_at((i * 5 + j) * 7 + k);
      }
      CAPTURE(j);
      CHECK(s.value_at(j) == round_to_format(exact, d));
    }
  }
}

TEST_CASE("half precision: mean neither overflows the sum nor rounds the count") {
  // 1000 values of 100: the sum 1e5 is past float16's 65504, the mean is not.
  const Tensor hundreds = Tensor::full({1000}, 100.0, DType::float16);
  CHECK(mean(hundreds).dtype() == DType::float16);
  CHECK(mean(hundreds).item() == 100.0);
  // 70000 elements: the count itself is inf in float16.
  const Tensor many = cast(uniform({70000}, 0, 1, 45), DType::float16);
  double total = 0.0;
  for (int64_t i = 0; i < many.numel(); ++i) total += many.value_at(i);
  const double expected = round_to_format(total / 70000.0, DType::float16);
  CHECK(std::isfinite(mean(many).item()));
  CHECK(std::fabs(mean(many).item() - expected) <= epsilon_of(DType::float16) * expected);
  // Rows of 301 elements: 301 = 100101101b needs 9 significant bits, bfloat16 has 8, so the count
  // itself would round in bfloat16. One rounding of the float32 mean.
  CHECK(round_to_format(301.0, DType::bfloat16) != 301.0);
  for (DType d : {DType::float16, DType::bfloat16}) {
    CAPTURE(dtype_name(d));
    const Tensor x = cast(uniform({3, 301}, 1, 2, 46), d);
    const Tensor m = mean(x, {1});
    CHECK(m.dtype() == d);
    for (int64_t r = 0; r < 3; ++r) {
      double row = 0.0;
      for (int64_t k = 0; k < 301; ++k) row += x.value_at(r * 301 + k);
      const double ref = round_to_format(row / 301.0, d);
      CHECK(std::fabs(m.value_at(r) - ref) <= epsilon_of(d) * ref);
    }
  }
  // The gradient still flows back in the input's format.
  Tensor w = cast(uniform({8}, -1, 1, 47), DType::bfloat16).detach();
  w.set_requires_grad(true);
  const Tensor g = gradients(mean(w), {w})[0];
  CHECK(g.dtype() == DType::bfloat16);
  for (int64_t i = 0; i < 8; ++i) CHECK(g.value_at(i) == 0.125);
}

// ---- acceptance: the pitfalls half precision is known for

TEST_CASE("half precision: float16 exp(12) overflows, so a hand-written softmax gives NaN and the built-in one does not") {
  const bool checking = check_numerics_enabled();
  set_check_numerics(false);  // the NaN is the point here
  // e^11 = 59874.14 is below float16's largest value 65504; e^12 = 162754.8 is not.
  const Tensor big = cast(f64({12.0, 11.0}), DType::float16);
  const Tensor e = exp(big);
  CHECK(e.dtype() == DType::float16);
  CHECK(std::isinf(e.value_at(0)));
  CHECK(e.value_at(0) > 0);
  CHECK(std::isfinite(e.value_at(1)));
  // float16 spacing in [32768, 65536) is 32: 59874.14 / 32 = 1871.07 -> 1871 * 32.
  CHECK(e.value_at(1) == 1871.0 * 32.0);
  CHECK(e.value_at(1) == round_to_format(std::exp(11.0), DType::float16));

  const Tensor z = cast(f64({12.0, 0.0}), DType::float16);
  const Tensor naive = divide(exp(z), sum(exp(z)));  // [inf, 1] / inf
  CHECK(naive.dtype() == DType::float16);
  CHECK(std::isnan(naive.value_at(0)));  // inf / inf
  CHECK(naive.value_at(1) == 0.0);        // 1 / inf

  const Tensor s = softmax(z);  // max-subtracted: exp(0) and exp(-12), all finite
  CHECK(s.dtype() == DType::float16);
  const double denominator = 1.0 + std::exp(-12.0);
  const double p0 = round_to_format(1.0 / denominator, DType::float16);
  const double p1 = round_to_format(std::exp(-12.0) / denominator, DType::float16);
  CHECK(p0 == 1.0);                            // 0.9999939 is within half a float16 ulp (2^-12) of 1
  CHECK(p1 == 103.0 * std::ldexp(1.0, -24));  // 6.1442e-6 is a float16 subnormal: 103.07 * 2^-24
  CHECK(s.value_at(0) == p0);
  CHECK(s.value_at(1) == p1);
  set_check_numerics(checking);
}

TEST_CASE("half precision: a 1e-8 gradient underflows float16 and loss scaling recovers it") {
  // |x| >= 0.19 keeps the scaled gradient 3.28e-4 * x a normal float16 (>= 2^-14); a smaller x would
  // land among the subnormals, whose spacing 2^-24 is absolute, not relative.
  const std::vector<double> x_values = {0.5, -1.25, 3.0, 0.3, 0.0};
  const Tensor x16 = cast(f64(x_values), DType::float16);
  const std::vector<double> x = values_of(x16);  // the float16 values actually used (0.1 rounds)
  Tensor w = Tensor::zeros({5}, DType::float32);
  w.set_requires_grad(true);
  auto loss_of = [&] {
    const Tensor h = multiply(cast(w, DType::float16), x16);
    return sum(multiply(cast(h, DType::float32), 1e-8));  // float32
  };
  // dL/dh = 1e-8 reaches h through cast's backward as float16: 1e-8 is below half the smallest
  // float16 subnormal (2^-25 = 2.98e-8), so it rounds to 0 and so does everything behind it.
  CHECK(round_to_format(1e-8, DType::float16) == 0.0);
  const Tensor loss = loss_of();
  CHECK(loss.dtype() == DType::float32);
  const Tensor g = gradients(loss, {w})[0];
  REQUIRE(g.defined());
  CHECK(g.dtype() == DType::float32);
  for (int64_t i = 0; i < g.numel(); ++i) CHECK(g.value_at(i) == 0.0);

  // Scaled by 2^15 (the Keras initial scale) the same gradient is 3.05e-4 in float16: a normal
  // number, rounded with relative error <= 2^-11, and the product with x rounds once more.
  auto optimizer = loss_scale_optimizer(sgd_optimizer(0.5));
  const double scale = std::ldexp(1.0, 15);
  REQUIRE(optimizer->dynamic_scale() == scale);
  const Tensor scaled_loss = optimizer->scale_loss(loss_of());
  CHECK(scaled_loss.dtype() == DType::float32);
  const Tensor scaled = gradients(scaled_loss, {w})[0];
  REQUIRE(scaled.defined());
  CHECK(scaled.dtype() == DType::float32);
  const double relative = std::ldexp(1.0, -10);  // two float16 roundings of 2^-11 each
  for (size_t i = 0; i < x.size(); ++i) {
    CAPTURE(i);
    const double expected = 1e-8 * x[i];
    const double unscaled = scaled.value_at(static_cast<int64_t>(i)) / scale;
    CHECK(std::fabs(unscaled - expected) <= relative * std::fabs(expected));
    if (x[i] != 0.0) CHECK(unscaled != 0.0);
  }
  // apply_gradients divides by the scale and lets SGD (lr 0.5) take the step in float32, which holds
  // 5e-9-sized values with 24 bits (w starts at 0, so nothing is lost adding them).
  optimizer->apply_gradients({scaled}, {w});
  for (size_t i = 0; i < x.size(); ++i) {
    CAPTURE(i);
    const double expected = -0.5 * 1e-8 * x[i];
    const double moved = w.value_at(static_cast<int64_t>(i));
    CHECK(std::fabs(moved - expected) <= relative * std::fabs(expected));
    if (x[i] != 0.0) CHECK(moved != 0.0);
  }
  CHECK(optimizer->iterations() == 1);
}

TEST_CASE("half precision: SGD cannot move a bfloat16 weight of 1 by 6e-4, float16 and float32 can") {
  const double lr = 6e-4;
  const int steps = 100;
  auto train = [&](DType dtype) {
    Tensor w = Tensor::ones({1}, dtype);
    auto optimizer = sgd_optimizer(lr);
    for (int i = 0; i < steps; ++i) optimizer->apply_gradients({Tensor::ones({1}, dtype)}, {w});
    return w.value_at(0);
  };
  // bfloat16: the value below 1 is 1 - 2^-8, so 1 - 6e-4 is within half a step (2^-9 = 1.95e-3) of
  // 1 and rounds back to it: every update is lost.
  CHECK(lr < std::ldexp(1.0, -9));
  CHECK(round_to_format(1.0 - lr, DType::bfloat16) == 1.0);
  CHECK(train(DType::bfloat16) == 1.0);
  // float32 keeps the updates: 1 - 100 * 6e-4 = 0.94.
  CHECK(std::fabs(train(DType::float32) - (1.0 - steps * lr)) <= 1e-5);
  // float16: half a step below 1 is 2^-12 = 2.4e-4 < 6e-4, so the weight moves; but every step
  // rounds to a multiple of 2^-11 (4.88e-4), so it moves 1 float16 step (not 1.23) each time.
  // Simulated here: lr as the optimizer sees it (float32, then float16), w - lr rounded once.
  CHECK(std::ldexp(1.0, -12) < lr);
  const double lr16 = round_to_format(static_cast<double>(static_cast<float>(lr)), DType::float16);
  double w16 = 1.0;
  for (int i = 0; i < steps; ++i) w16 = round_to_format(w16 - lr16, DType::float16);
  const double trained16 = train(DType::float16);
  CHECK(trained16 < 1.0);
  CHECK(trained16 == w16);
  CHECK(w16 == 1.0 - steps * std::ldexp(1.0, -11));  // 0.9512, against 0.94 in exact arithmetic
}

}  // TEST_SUITE
