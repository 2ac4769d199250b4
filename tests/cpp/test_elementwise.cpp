// Elementwise ops: gradients against finite differences, forward values against independent
// <cmath> formulas, reduced-precision rounding, dtype/shape errors, and thread-count determinism.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>

#include "gradcheck_cases.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

using Inputs = std::vector<Tensor>;

Tensor f64(const std::vector<double>& v, const Shape& shape) { return Tensor::from_vector(v, shape); }
Tensor f64(const std::vector<double>& v) { return Tensor::from_vector(v); }

// Every element as double, whatever the dtype.
std::vector<double> values(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) out[static_cast<size_t>(i)] = t.value_at(i);
  return out;
}

// Fixed inputs well away from 0 (the kink of relu / abs / leaky_relu / elu).
const std::vector<double> kAwayFromZero = {-2.1, -1.3, -0.7, -0.25, 0.3, 0.8, 1.4, 2.6};

// Reference check: op(x) against ref(x) elementwise, relative tolerance.
void check_unary(const char* label, const std::function<Tensor(const Tensor&)>& op,
                 const std::function<double(double)>& ref, const std::vector<double>& xs, DType dtype,
                 double tolerance) {
  const Tensor x = cast(f64(xs), dtype);
  const Tensor y = op(x);
  REQUIRE(y.dtype() == dtype);
  REQUIRE(y.shape() == x.shape());
  const auto got = values(y);
  const auto in = values(x);  // the rounded inputs the op actually saw
  for (size_t i = 0; i < xs.size(); ++i) {
    const double expected = ref(in[i]);
    INFO(label << " " << dtype_name(dtype) << " at x=" << in[i] << ": got " << got[i] << ", expected " << expected);
    CHECK(std::abs(got[i] - expected) <= tolerance * std::max(1.0, std::abs(expected)));
  }
}

double ref_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double ref_gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double ref_gelu_tanh(double x) {
  const double pi = 3.14159265358979323846;
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / pi) * (x + 0.044715 * x * x * x)));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Gradcheck cases (run by test_gradcheck.cpp). Inputs avoid kinks and ties: operands that are
// compared get different seeds, relu/abs inputs stay away from 0, log/sqrt inputs are positive.

PITFALL_GRADCHECK_CASE("add", "same shape", [](const Inputs& in) { return add(in[0], in[1]); },
                       [] { return (Inputs{uniform64({3, 4}, -1, 1, 1), uniform64({3, 4}, -1, 1, 2)}); });
PITFALL_GRADCHECK_CASE("add", "broadcast (3,4)+(4,)", [](const Inputs& in) { return add(in[0], in[1]); },
                       [] { return (Inputs{uniform64({3, 4}), uniform64({4})}); });
PITFALL_GRADCHECK_CASE("add", "broadcast (2,1,3)+(4,1)", [](const Inputs& in) { return add(in[0], in[1]); },
                       [] { return (Inputs{uniform64({2, 1, 3}), uniform64({4, 1})}); });
PITFALL_GRADCHECK_CASE("add", "scalar", [](const Inputs& in) { return in[0] + 1.5; },
                       [] { return (Inputs{uniform64({5})}); });
PITFALL_GRADCHECK_CASE("subtract", "broadcast (3,4)-(4,)", [](const Inputs& in) { return subtract(in[0], in[1]); },
                       [] { return (Inputs{uniform64({3, 4}), uniform64({4})}); });
PITFALL_GRADCHECK_CASE("subtract", "broadcast (4,1)-(2,1,3)", [](const Inputs& in) { return subtract(in[0], in[1]); },
                       [] { return (Inputs{uniform64({4, 1}), uniform64({2, 1, 3})}); });
PITFALL_GRADCHECK_CASE("subtract", "scalar minus tensor", [](const Inputs& in) { return 2.0 - in[0]; },
                       [] { return (Inputs{uniform64({2, 3})}); });
PITFALL_GRADCHECK_CASE("multiply", "broadcast (2,1,3)*(4,1)", [](const Inputs& in) { return multiply(in[0], in[1]); },
                       [] { return (Inputs{uniform64({2, 1, 3}), uniform64({4, 1})}); });
PITFALL_GRADCHECK_CASE("multiply", "broadcast (3,4)*(4,)", [](const Inputs& in) { return multiply(in[0], in[1]); },
                       [] { return (Inputs{uniform64({3, 4}), uniform64({4})}); });
PITFALL_GRADCHECK_CASE("multiply", "same tensor twice", [](const Inputs& in) { return multiply(in[0], in[0]); },
                       [] { return (Inputs{uniform64({6})}); });
PITFALL_GRADCHECK_CASE("divide", "broadcast (3,4)/(4,)", [](const Inputs& in) { return divide(in[0], in[1]); },
                       [] { return (Inputs{uniform64({3, 4}), uniform64({4}, 0.5, 2.0)}); });
PITFALL_GRADCHECK_CASE("divide", "broadcast (4,1)/(2,1,3)", [](const Inputs& in) { return divide(in[0], in[1]); },
                       [] { return (Inputs{uniform64({4, 1}), uniform64({2, 1, 3}, -2.0, -0.5)}); });
PITFALL_GRADCHECK_CASE("divide", "tensor / scalar", [](const Inputs& in) { return in[0] / 3.0; },
                       [] { return (Inputs{uniform64({5})}); });
PITFALL_GRADCHECK_CASE("divide", "scalar / tensor", [](const Inputs& in) { return 2.0 / in[0]; },
                       [] { return (Inputs{uniform64({5}, 0.5, 2.0)}); });
PITFALL_GRADCHECK_CASE("power", "broadcast (3,4)**(4,)", [](const Inputs& in) { return power(in[0], in[1]); },
                       [] { return (Inputs{uniform64({3, 4}, 0.5, 2.0), uniform64({4}, -1.5, 1.5)}); });
PITFALL_GRADCHECK_CASE("power", "scalar exponent 3", [](const Inputs& in) { return power(in[0], 3.0); },
                       [] { return (Inputs{uniform64({2, 3}, -2.0, 2.0)}); });
PITFALL_GRADCHECK_CASE("power", "scalar exponent 0.5", [](const Inputs& in) { return power(in[0], 0.5); },
                       [] { return (Inputs{uniform64({2, 3}, 0.3, 2.0)}); });
PITFALL_GRADCHECK_CASE("maximum", "same shape", [](const Inputs& in) { return maximum(in[0], in[1]); },
                       [] { return (Inputs{uniform64({3, 4}, -1, 1, 11), uniform64({3, 4}, -1, 1, 12)}); });
PITFALL_GRADCHECK_CASE("maximum", "broadcast (3,4),(4,)", [](const Inputs& in) { return maximum(in[0], in[1]); },
                       [] { return (Inputs{uniform64({3, 4}, -1, 1, 13), uniform64({4}, -1, 1, 14)}); });
PITFALL_GRADCHECK_CASE("minimum", "same shape", [](const Inputs& in) { return minimum(in[0], in[1]); },
                       [] { return (Inputs{uniform64({3, 4}, -1, 1, 11), uniform64({3, 4}, -1, 1, 12)}); });
PITFALL_GRADCHECK_CASE("minimum", "broadcast (2,1,3),(4,1)", [](const Inputs& in) { return minimum(in[0], in[1]); },
                       [] { return (Inputs{uniform64({2, 1, 3}, -1, 1, 15), uniform64({4, 1}, -1, 1, 16)}); });
PITFALL_GRADCHECK_CASE("where", "3-way broadcast (3,1),(1,4),(4,)",
                       [](const Inputs& in) {
                         const Tensor cond =
                             greater(f64({0.5, -1.0, 2.0}, {3, 1}), Tensor::scalar(0.0, DType::float64));
                         return where(cond, in[0], in[1]);
                       },
                       [] { return (Inputs{uniform64({1, 4}), uniform64({4})}); });
PITFALL_GRADCHECK_CASE("where", "condition from the data",
                       [](const Inputs& in) {
                         return where(greater(in[0], Tensor::scalar(0.0, DType::float64)), square(in[0]), in[1]);
                       },
                       [] { return (Inputs{f64(kAwayFromZero, {2, 4}), uniform64({2, 4}, -1, 1, 3)}); });
PITFALL_GRADCHECK_CASE("negative", "basic", [](const Inputs& in) { return negative(in[0]); },
                       [] { return (Inputs{uniform64({3, 4})}); });
PITFALL_GRADCHECK_CASE("exp", "basic", [](const Inputs& in) { return exp(in[0]); },
                       [] { return (Inputs{uniform64({3, 4}, -2, 2)}); });
PITFALL_GRADCHECK_CASE("log", "positive inputs", [](const Inputs& in) { return log(in[0]); },
                       [] { return (Inputs{uniform64({3, 4}, 0.2, 3.0)}); });
PITFALL_GRADCHECK_CASE("sqrt", "positive inputs", [](const Inputs& in) { return sqrt(in[0]); },
                       [] { return (Inputs{uniform64({3, 4}, 0.2, 3.0)}); });
PITFALL_GRADCHECK_CASE("square", "basic", [](const Inputs& in) { return square(in[0]); },
                       [] { return (Inputs{uniform64({3, 4}, -2, 2)}); });
PITFALL_GRADCHECK_CASE("abs", "away from 0", [](const Inputs& in) { return abs(in[0]); },
                       [] { return (Inputs{f64(kAwayFromZero)}); });
PITFALL_GRADCHECK_CASE("tanh", "basic", [](const Inputs& in) { return tanh(in[0]); },
                       [] { return (Inputs{uniform64({3, 4}, -3, 3)}); });
PITFALL_GRADCHECK_CASE("sigmoid", "basic", [](const Inputs& in) { return sigmoid(in[0]); },
                       [] { return (Inputs{uniform64({3, 4}, -6, 6)}); });
PITFALL_GRADCHECK_CASE("sigmoid", "large magnitude", [](const Inputs& in) { return sigmoid(in[0]); },
                       [] { return (Inputs{f64({-40.0, -15.0, 15.0, 40.0})}); });
PITFALL_GRADCHECK_CASE("relu", "away from 0", [](const Inputs& in) { return relu(in[0]); },
                       [] { return (Inputs{f64(kAwayFromZero)}); });
PITFALL_GRADCHECK_CASE("relu_grad", "linear in g, mask from x", [](const Inputs& in) { return relu_grad(in[0], in[1]); },
                       [] { return (Inputs{uniform64({8}, -2, 2), f64(kAwayFromZero)}); });
PITFALL_GRADCHECK_CASE("leaky_relu", "slope 0.2", [](const Inputs& in) { return leaky_relu(in[0], 0.2); },
                       [] { return (Inputs{f64(kAwayFromZero)}); });
PITFALL_GRADCHECK_CASE("elu", "alpha 1.5", [](const Inputs& in) { return elu(in[0], 1.5); },
                       [] { return (Inputs{f64(kAwayFromZero)}); });
PITFALL_GRADCHECK_CASE("gelu", "exact (erf)", [](const Inputs& in) { return gelu(in[0], false); },
                       [] { return (Inputs{uniform64({3, 4}, -3, 3)}); });
PITFALL_GRADCHECK_CASE("gelu", "tanh approximation", [](const Inputs& in) { return gelu(in[0], true); },
                       [] { return (Inputs{uniform64({3, 4}, -3, 3)}); });
PITFALL_GRADCHECK_CASE("clip", "away from the bounds", [](const Inputs& in) { return clip(in[0], -0.5, 1.0); },
                       [] { return (Inputs{f64({-2.0, -0.9, -0.3, 0.1, 0.7, 0.95, 1.2, 3.0})}); });
PITFALL_GRADCHECK_CASE("cast", "float64 -> float64", [](const Inputs& in) { return cast(in[0], DType::float64); },
                       [] { return (Inputs{uniform64({3, 4})}); });
PITFALL_GRADCHECK_CASE("cast", "inside a product",
                       [](const Inputs& in) { return multiply(cast(in[0], DType::float64), in[1]); },
                       [] { return (Inputs{uniform64({4}, -1, 1, 5), uniform64({3, 4}, -1, 1, 6)}); });

// ---------------------------------------------------------------------------------------------
// Forward values against <cmath>

TEST_CASE("elementwise: binary arithmetic with broadcasting matches reference loops") {
  // a (2,1,3), b (4,1) -> (2,4,3)
  const std::vector<double> av = {1.5, -2.0, 0.25, 3.0, 0.5, -1.25};
  const std::vector<double> bv = {2.0, -0.5, 4.0, 1.25};
  const Tensor a = f64(av, {2, 1, 3}), b = f64(bv, {4, 1});
  const std::vector<std::pair<const char*, std::function<double(double, double)>>> refs = {
      {"add", [](double x, double y) { return x + y; }},
      {"subtract", [](double x, double y) { return x - y; }},
      {"multiply", [](double x, double y) { return x * y; }},
      {"divide", [](double x, double y) { return x / y; }},
      {"maximum", [](double x, double y) { return std::max(x, y); }},
      {"minimum", [](double x, double y) { return std::min(x, y); }},
  };
  const std::vector<Tensor> outs = {add(a, b), subtract(a, b), multiply(a, b), divide(a, b), maximum(a, b),
                                    minimum(a, b)};
  for (size_t k = 0; k < refs.size(); ++k) {
    REQUIRE(outs[k].shape() == Shape{2, 4, 3});
    const auto got = values(outs[k]);
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 4; ++j) {
        for (int l = 0; l < 3; ++l) {
          INFO(refs[k].first << " at (" << i << "," << j << "," << l << ")");
          CHECK(got[static_cast<size_t>((i * 4 + j) * 3 + l)] == refs[k].second(av[i * 3 + l], bv[j]));
        }
      }
    }
  }
  // power: positive base, mixed exponents
  const Tensor base = f64({0.5, 2.0, 3.0, 1.7}), expo = f64({2.0, -1.5, 0.5, 3.25});
  const auto p = values(power(base, expo));
  CHECK(p[0] == doctest::Approx(std::pow(0.5, 2.0)).epsilon(1e-15));
  CHECK(p[1] == doctest::Approx(std::pow(2.0, -1.5)).epsilon(1e-15));
  CHECK(p[2] == doctest::Approx(std::pow(3.0, 0.5)).epsilon(1e-15));
  CHECK(p[3] == doctest::Approx(std::pow(1.7, 3.25)).epsilon(1e-15));
  // scalar overloads
  CHECK(values(divide(f64({3.0, -6.0}), 2.0)) == std::vector<double>{1.5, -3.0});
  CHECK(values(divide(3.0, f64({2.0, -4.0}))) == std::vector<double>{1.5, -0.75});
  CHECK(values(power(f64({3.0, -2.0}), 2.0)) == std::vector<double>{9.0, 4.0});
  CHECK(values(subtract(1.0, f64({0.25}))) == std::vector<double>{0.75});
}

TEST_CASE("elementwise: unary ops match <cmath> reference formulas (float64 and float32)") {
  const std::vector<double> xs = {-6.0, -2.5, -1.0, -0.3, 0.0, 0.4, 1.1, 2.7, 7.5};
  const std::vector<double> pos = {1e-3, 0.2, 0.5, 1.0, 2.0, 9.0, 1e4};
  const double slope = 0.15, alpha = 1.7;
  for (DType dtype : {DType::float64, DType::float32}) {
    const double tol = dtype == DType::float64 ? 1e-14 : 2e-7;
    check_unary("negative", [](const Tensor& x) { return negative(x); }, [](double x) { return -x; }, xs, dtype, 0);
    check_unary("exp", [](const Tensor& x) { return exp(x); }, [](double x) { return std::exp(x); }, xs, dtype, tol);
    check_unary("log", [](const Tensor& x) { return log(x); }, [](double x) { return std::log(x); }, pos, dtype, tol);
    check_unary("sqrt", [](const Tensor& x) { return sqrt(x); }, [](double x) { return std::sqrt(x); }, pos, dtype, tol);
    check_unary("square", [](const Tensor& x) { return square(x); }, [](double x) { return x * x; }, xs, dtype, tol);
    check_unary("abs", [](const Tensor& x) { return abs(x); }, [](double x) { return std::fabs(x); }, xs, dtype, 0);
    check_unary("tanh", [](const Tensor& x) { return tanh(x); }, [](double x) { return std::tanh(x); }, xs, dtype, tol);
    check_unary("sigmoid", [](const Tensor& x) { return sigmoid(x); }, ref_sigmoid, xs, dtype, tol);
    check_unary("relu", [](const Tensor& x) { return relu(x); }, [](double x) { return x > 0 ? x : 0.0; }, xs, dtype, 0);
    check_unary("leaky_relu", [=](const Tensor& x) { return leaky_relu(x, slope); },
                [=](double x) { return x > 0 ? x : slope * x; }, xs, dtype, tol);
    check_unary("elu", [=](const Tensor& x) { return elu(x, alpha); },
                [=](double x) { return x > 0 ? x : alpha * (std::exp(x) - 1.0); }, xs, dtype, tol);
    check_unary("gelu", [](const Tensor& x) { return gelu(x, false); }, ref_gelu, xs, dtype, tol);
    check_unary("gelu(approximate)", [](const Tensor& x) { return gelu(x, true); }, ref_gelu_tanh, xs, dtype, tol);
    check_unary("clip", [](const Tensor& x) { return clip(x, -1.0, 2.0); },
                [](double x) { return std::min(std::max(x, -1.0), 2.0); }, xs, dtype, 0);
  }
  // Defaults follow Keras: leaky_relu slope 0.2, elu alpha 1.
  CHECK(leaky_relu(f64({-1.0})).item() == doctest::Approx(-0.2));
  CHECK(elu(f64({-1.0})).item() == doctest::Approx(std::exp(-1.0) - 1.0));
}

TEST_CASE("elementwise: sigmoid is stable for large |x|") {
  for (DType dtype : {DType::float32, DType::float64, DType::float16, DType::bfloat16}) {
    const auto y = values(sigmoid(cast(f64({-1000.0, -100.0, 100.0, 1000.0}), dtype)));
    INFO(dtype_name(dtype));
    for (double v : y) CHECK(std::isfinite(v));
    CHECK(y[0] == 0.0);
    CHECK(y[3] == 1.0);
  }
  // float64 keeps the tiny tail with full relative precision.
  CHECK(sigmoid(f64({-100.0})).item() == doctest::Approx(std::exp(-100.0) / (1 + std::exp(-100.0))).epsilon(1e-14));
  CHECK(sigmoid(f64({-700.0})).item() > 0.0);
}

TEST_CASE("elementwise: comparisons give bool and follow the same-dtype rule") {
  const Tensor a = f64({1.0, 2.0, 3.0, 4.0}, {2, 2});
  const Tensor b = f64({2.0, 3.0});  // broadcast over rows
  const Tensor eq = equal(a, b);
  CHECK(eq.dtype() == DType::bool_);
  CHECK(eq.shape() == Shape{2, 2});
  CHECK(values(eq) == std::vector<double>{0, 0, 0, 0});
  CHECK(values(less(a, b)) == std::vector<double>{1, 1, 0, 0});
  CHECK(values(less_equal(a, b)) == std::vector<double>{1, 1, 0, 0});
  CHECK(values(greater(a, b)) == std::vector<double>{0, 0, 1, 1});
  CHECK(values(greater_equal(a, f64({1.0, 4.0}))) == std::vector<double>{1, 0, 1, 1});
  CHECK(values(not_equal(a, f64({1.0, 4.0}))) == std::vector<double>{0, 1, 1, 0});
  CHECK(values(equal(a, f64({1.0, 4.0}))) == std::vector<double>{1, 0, 0, 1});
  // NaN compares unequal to everything.
  const Tensor nan = f64({std::nan("")});
  CHECK(values(equal(nan, nan)) == std::vector<double>{0});
  CHECK(values(not_equal(nan, nan)) == std::vector<double>{1});
  // bool: equality allowed, ordering not.
  const Tensor t = Tensor::from_vector(std::vector<uint8_t>{1, 0, 1});
  const Tensor bt = cast(t, DType::bool_), bf = cast(Tensor::from_vector(std::vector<uint8_t>{1, 1, 0}), DType::bool_);
  CHECK(values(equal(bt, bf)) == std::vector<double>{1, 0, 0});
  CHECK(values(not_equal(bt, bf)) == std::vector<double>{0, 1, 1});
  CHECK_THROWS_AS(less(bt, bf), DTypeError);
  // integer comparisons
  const Tensor i = Tensor::from_vector(std::vector<int32_t>{-3, 0, 7});
  CHECK(values(greater(i, Tensor::scalar(0, DType::int32))) == std::vector<double>{0, 0, 1});
  CHECK_THROWS_AS(equal(a, cast(a, DType::float32)), DTypeError);
  // Not differentiable: the result never requires grad.
  Tensor x = f64({1.0, 2.0});
  x.set_requires_grad(true);
  CHECK_FALSE(greater(x, f64({1.5, 1.5})).requires_grad());
}

TEST_CASE("elementwise: where broadcasts condition, a and b together") {
  const Tensor cond = greater(f64({1.0, -1.0, 2.0}, {3, 1}), Tensor::scalar(0.0, DType::float64));  // (3,1)
  const Tensor a = f64({10, 20, 30, 40}, {1, 4});
  const Tensor b = f64({-1, -2, -3, -4});
  const Tensor out = where(cond, a, b);
  CHECK(out.shape() == Shape{3, 4});
  CHECK(values(out) == std::vector<double>{10, 20, 30, 40, -1, -2, -3, -4, 10, 20, 30, 40});
  // Any value dtype, including int and bool.
  const Tensor ia = Tensor::from_vector(std::vector<int64_t>{1, 2}), ib = Tensor::from_vector(std::vector<int64_t>{7, 8});
  const Tensor c2 = cast(Tensor::from_vector(std::vector<int32_t>{0, 5}), DType::bool_);
  const Tensor io = where(c2, ia, ib);
  CHECK(io.dtype() == DType::int64);
  CHECK(values(io) == std::vector<double>{7, 2});
  // Gradients: where(cond, g, 0) summed to a's shape, the rest to b.
  Tensor ga_src = f64({1, 2, 3, 4}, {1, 4}), gb_src = f64({5, 6, 7, 8});
  ga_src.set_requires_grad(true);
  gb_src.set_requires_grad(true);
  const auto grads = gradients(where(cond, ga_src, gb_src), {ga_src, gb_src}, Tensor::ones({3, 4}, DType::float64));
  CHECK(values(grads[0]) == std::vector<double>{2, 2, 2, 2});
  CHECK(values(grads[1]) == std::vector<double>{1, 1, 1, 1});
  // Errors: a non-bool condition, mixed value dtypes, incompatible shapes.
  CHECK_THROWS_AS(where(f64({1.0}), a, a), DTypeError);
  CHECK_THROWS_AS(where(cond, a, cast(b, DType::float32)), DTypeError);
  CHECK_THROWS_AS(where(cond, f64({1, 2}), b), ShapeError);
}

TEST_CASE("elementwise: integer arithmetic is allowed and wraps like NumPy") {
  const Tensor a = Tensor::from_vector(std::vector<int32_t>{-7, 3, 0, 12});
  const Tensor b = Tensor::from_vector(std::vector<int32_t>{2, -5, 4, 12});
  CHECK(add(a, b).dtype() == DType::int32);
  CHECK(values(add(a, b)) == std::vector<double>{-5, -2, 4, 24});
  CHECK(values(subtract(a, b)) == std::vector<double>{-9, 8, -4, 0});
  CHECK(values(multiply(a, b)) == std::vector<double>{-14, -15, 0, 144});
  CHECK(values(maximum(a, b)) == std::vector<double>{2, 3, 4, 12});
  CHECK(values(minimum(a, b)) == std::vector<double>{-7, -5, 0, 12});
  CHECK(values(negative(a)) == std::vector<double>{7, -3, 0, -12});
  CHECK(values(abs(a)) == std::vector<double>{7, 3, 0, 12});
  CHECK(values(square(a)) == std::vector<double>{49, 9, 0, 144});
  CHECK(values(relu(a)) == std::vector<double>{0, 3, 0, 12});
  CHECK(values(clip(a, -1, 5)) == std::vector<double>{-1, 3, 0, 5});
  CHECK(values(clip(a, 0, INFINITY)) == std::vector<double>{0, 3, 0, 12});
  CHECK(values(multiply(a, 3.0)) == std::vector<double>{-21, 9, 0, 36});
  const Tensor big = Tensor::from_vector(std::vector<int32_t>{std::numeric_limits<int32_t>::max()});
  CHECK(values(add(big, 1.0)) == std::vector<double>{static_cast<double>(std::numeric_limits<int32_t>::min())});
  const Tensor u = Tensor::from_vector(std::vector<uint8_t>{250, 3});
  CHECK(values(add(u, Tensor::from_vector(std::vector<uint8_t>{10, 4}))) == std::vector<double>{4, 7});
  CHECK(values(negative(Tensor::from_vector(std::vector<uint8_t>{1}))) == std::vector<double>{255});
  CHECK_THROWS_AS(clip(a, 0.5, 3.0), DTypeError);
}

TEST_CASE("elementwise: cast converts every dtype pair like NumPy astype") {
  const Tensor x = f64({-2.7, -0.5, 0.5, 2.7, 3.0, -3.0});
  CHECK(values(cast(x, DType::int32)) == std::vector<double>{-2, 0, 0, 2, 3, -3});  // toward zero
  CHECK(values(cast(x, DType::int64)) == std::vector<double>{-2, 0, 0, 2, 3, -3});
  CHECK(values(cast(f64({-1.0, 300.0, 255.0}), DType::uint8)) == std::vector<double>{255, 44, 255});
  CHECK(values(cast(f64({0.0, -0.0, 0.1, std::nan("")}), DType::bool_)) == std::vector<double>{0, 0, 1, 1});
  CHECK(values(cast(cast(f64({0.0, 2.0}), DType::bool_), DType::float32)) == std::vector<double>{0, 1});
  CHECK(values(cast(Tensor::from_vector(std::vector<int64_t>{-5, 7}), DType::float16)) == std::vector<double>{-5, 7});
  CHECK(values(cast(Tensor::from_vector(std::vector<int32_t>{258, -1}), DType::uint8)) == std::vector<double>{2, 255});
  // NaN / out of range to int32 gives the x86 "integer indefinite" value, as NumPy does there.
  CHECK(values(cast(f64({std::nan(""), 1e20}), DType::int32)) ==
        std::vector<double>(2, static_cast<double>(std::numeric_limits<int32_t>::min())));
  // float64 -> float16 rounds once: 1 + 2^-11 + 2^-40 lies just above the half-way point between
  // 1 and the next float16 (1 + 2^-10). Rounding through float32 would land on the half-way point
  // and tie to even (1.0).
  const double just_above_half = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  CHECK(cast(f64({just_above_half}), DType::float16).item() == 1.0 + std::ldexp(1.0, -10));
  CHECK(cast(f64({just_above_half}), DType::float32).item() == 1.0 + std::ldexp(1.0, -11));
  CHECK(cast(f64({1.0 + std::ldexp(1.0, -11)}), DType::float16).item() == 1.0);  // exact tie -> even
  CHECK(std::isinf(cast(f64({70000.0}), DType::float16).item()));
  // A same-dtype cast is a copy, not an alias.
  const Tensor copy = cast(x, DType::float64);
  CHECK(copy.data_ptr() != x.data_ptr());
  CHECK(values(copy) == values(x));
}

TEST_CASE("elementwise: cast gradients flow only between floating dtypes") {
  Tensor x = Tensor::from_vector(std::vector<float>{1.5f, -2.0f});
  x.set_requires_grad(true);
  const Tensor y = cast(x, DType::float64);
  CHECK(y.requires_grad());
  const auto g = gradients(y, {x}, f64({3.0, 4.0}));
  REQUIRE(g[0].defined());
  CHECK(g[0].dtype() == DType::float32);
  CHECK(values(g[0]) == std::vector<double>{3.0, 4.0});
  const Tensor h = cast(x, DType::float16);
  const auto gh = gradients(h, {x}, cast(f64({0.5, 0.25}), DType::float16));
  CHECK(gh[0].dtype() == DType::float32);
  CHECK(values(gh[0]) == std::vector<double>{0.5, 0.25});
  CHECK_FALSE(cast(x, DType::int32).requires_grad());
}

TEST_CASE("elementwise: gradient conventions at kinks and ties") {
  auto grad_of = [](const std::function<Tensor(const Tensor&)>& f, const std::vector<double>& xs) {
    Tensor x = f64(xs);
    x.set_requires_grad(true);
    const Tensor y = f(x);
    return values(gradients(y, {x}, Tensor::ones(y.shape(), DType::float64))[0]);
  };
  CHECK(grad_of([](const Tensor& x) { return relu(x); }, {-1.0, 0.0, 2.0}) == std::vector<double>{0, 0, 1});
  CHECK(grad_of([](const Tensor& x) { return abs(x); }, {-1.0, 0.0, 2.0}) == std::vector<double>{-1, 0, 1});
  CHECK(grad_of([](const Tensor& x) { return clip(x, -1.0, 1.0); }, {-2.0, -1.0, 0.5, 1.0, 1.5}) ==
        std::vector<double>{0, 1, 1, 1, 0});
  CHECK(grad_of([](const Tensor& x) { return leaky_relu(x, 0.1); }, {-1.0, 0.0, 2.0}) ==
        std::vector<double>{0.1, 0.1, 1});
  // maximum / minimum: ties send the whole gradient to a.
  Tensor a = f64({1.0, 2.0, 3.0}), b = f64({1.0, 5.0, 3.0});
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  const Tensor ones = Tensor::ones({3}, DType::float64);
  auto gmax = gradients(maximum(a, b), {a, b}, ones);
  CHECK(values(gmax[0]) == std::vector<double>{1, 0, 1});
  CHECK(values(gmax[1]) == std::vector<double>{0, 1, 0});
  auto gmin = gradients(minimum(a, b), {a, b}, ones);
  CHECK(values(gmin[0]) == std::vector<double>{1, 1, 1});
  CHECK(values(gmin[1]) == std::vector<double>{0, 0, 0});
  // power with a zero base: the exponent's gradient is 0, not NaN.
  Tensor base = f64({0.0, 2.0}), expo = f64({2.0, 3.0});
  base.set_requires_grad(true);
  expo.set_requires_grad(true);
  const auto gp = gradients(power(base, expo), {base, expo}, Tensor::ones({2}, DType::float64));
  CHECK(values(gp[0]) == std::vector<double>{0.0, 12.0});
  CHECK(values(gp[1])[0] == 0.0);
  CHECK(values(gp[1])[1] == doctest::Approx(8.0 * std::log(2.0)));
}

// ---------------------------------------------------------------------------------------------
// Reduced precision

TEST_CASE("elementwise: float16 and bfloat16 round like the real formats") {
  // float16 max is 65504: doubling overflows to inf, and exp(12) = 162755 is already past it.
  const Tensor big = Tensor::full({2}, 65504.0, DType::float16);
  const Tensor doubled = multiply(big, 2.0);
  CHECK(doubled.dtype() == DType::float16);
  CHECK(std::isinf(doubled.value_at(0)));
  CHECK(std::isinf(exp(Tensor::full({1}, 12.0, DType::float16)).item()));
  CHECK(exp(Tensor::full({1}, 11.0, DType::float16)).item() == doctest::Approx(std::exp(11.0)).epsilon(1e-3));
  CHECK(std::isinf(add(big, Tensor::full({2}, 16.0, DType::float16)).value_at(0)));  // 65520 ties up to inf
  CHECK(add(big, Tensor::full({2}, 8.0, DType::float16)).value_at(0) == 65504.0);  // rounds back down
  // bfloat16 has 8 bits of precision: a small update to 1 is lost; float32 keeps it.
  CHECK(subtract(Tensor::ones({1}, DType::bfloat16), 6e-4).item() == 1.0);
  CHECK(subtract(Tensor::ones({1}, DType::float32), 6e-4).item() != 1.0);
  CHECK(subtract(Tensor::ones({1}, DType::float16), 6e-4).item() != 1.0);
  // Each op rounds once: float16 (1/3) computed in float32 then rounded.
  const Tensor third = divide(Tensor::ones({1}, DType::float16), 3.0);
  CHECK(third.item() == 1365.0 / 4096.0);  // nearest float16 to 1/3 (ulp 2^-12 in [0.25, 0.5))
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST_CASE("elementwise: mixing dtypes is a DTypeError naming the op, both dtypes and the fix") {
  const Tensor a = Tensor::ones({2, 3}, DType::float32);
  const Tensor b = Tensor::ones({2, 3}, DType::float64);
  try {
    add(a, b);
    FAIL("add(float32, float64) did not throw");
  } catch (const DTypeError& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(contains(what, "add"));
    CHECK(contains(what, "float32"));
    CHECK(contains(what, "float64"));
    CHECK(contains(what, "cast"));
  }
  for (auto op : std::vector<std::function<Tensor()>>{
           [&] { return subtract(a, b); }, [&] { return multiply(a, b); }, [&] { return divide(a, b); },
           [&] { return power(a, b); }, [&] { return maximum(a, b); }, [&] { return minimum(a, b); },
           [&] { return less(a, b); }, [&] { return equal(a, b); }}) {
    CHECK_THROWS_AS(op(), DTypeError);
  }
}

TEST_CASE("elementwise: float-only ops reject integer tensors and name cast") {
  const Tensor i = Tensor::from_vector(std::vector<int32_t>{1, 2, 3}, {3});
  try {
    exp(i);
    FAIL("exp(int32) did not throw");
  } catch (const DTypeError& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(contains(what, "exp"));
    CHECK(contains(what, "int32"));
    CHECK(contains(what, "(3,)"));
    CHECK(contains(what, "cast"));
    CHECK(e.op() == "exp");
  }
  for (auto op : std::vector<std::function<Tensor()>>{
           [&] { return log(i); }, [&] { return sqrt(i); }, [&] { return tanh(i); }, [&] { return sigmoid(i); },
           [&] { return gelu(i); }, [&] { return elu(i); }, [&] { return leaky_relu(i); },
           [&] { return divide(i, i); }, [&] { return divide(i, 2.0); }, [&] { return divide(2.0, i); },
           [&] { return power(i, i); }, [&] { return power(i, 2.0); }}) {
    CHECK_THROWS_AS(op(), DTypeError);
  }
  // bool is not a number for arithmetic.
  const Tensor b = cast(i, DType::bool_);
  CHECK_THROWS_AS(add(b, b), DTypeError);
  CHECK_THROWS_AS(negative(b), DTypeError);
  CHECK_THROWS_AS(relu(b), DTypeError);
}

TEST_CASE("elementwise: a fractional scalar with an integer tensor raises") {
  const Tensor i = Tensor::from_vector(std::vector<int32_t>{1, 2});
  CHECK_THROWS_AS(2.5 * i, DTypeError);
  CHECK_THROWS_AS(i + 0.5, DTypeError);
  CHECK_THROWS_AS(1.5 - i, DTypeError);
  CHECK(values(2.0 * i) == std::vector<double>{2, 4});
  CHECK(values(2.0 * Tensor::from_vector(std::vector<float>{1.25f})) == std::vector<double>{2.5});
}

TEST_CASE("elementwise: incompatible shapes are a ShapeError naming both shapes") {
  const Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({4});
  try {
    add(a, b);
    FAIL("add((2,3), (4,)) did not throw");
  } catch (const ShapeError& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(contains(what, "add"));
    CHECK(contains(what, shape_str({2, 3})));
    CHECK(contains(what, shape_str({4})));
  }
  CHECK_THROWS_AS(multiply(a, b), ShapeError);
  CHECK_THROWS_AS(greater(a, b), ShapeError);
  CHECK_THROWS_AS(maximum(a, b), ShapeError);
}

TEST_CASE("elementwise: clip validates its bounds") {
  CHECK_THROWS_AS(clip(Tensor::ones({2}), 2.0, 1.0), ValueError);
  CHECK_THROWS_AS(clip(Tensor::ones({2}), std::nan(""), 1.0), ValueError);
  CHECK(values(clip(Tensor::ones({1}), 1.0, 1.0)) == std::vector<double>{1.0});
}

// ---------------------------------------------------------------------------------------------
// Determinism

TEST_CASE("elementwise: large broadcasting computation is bitwise identical with 1 and 2 threads") {
  auto run = [] {
    const Tensor x = random_uniform({100003, 1}, -3, 3, DType::float32, RandomKey{21, 1});
    const Tensor w = random_uniform({1, 3}, -2, 2, DType::float32, RandomKey{21, 2});
    const Tensor y = add(multiply(x, w), Tensor::from_vector(std::vector<float>{0.1f, -0.2f, 0.3f}));  // (100003,3)
    const Tensor z = where(greater(y, Tensor::scalar(0.0)), gelu(y), sigmoid(y) * tanh(y));
    const Tensor h = cast(divide(exp(clip(z, -5.0, 5.0)), add(sqrt(abs(y)), 1.0)), DType::float16);
    return std::vector<Tensor>{y, z, h, maximum(y, z), power(abs(y), w)};
  };
  const auto [one, two] = pitfall::testing::run_with_1_and_2_threads(run);
  for (size_t i = 0; i < one.size(); ++i) {
    INFO("output " << i);
    REQUIRE(one[i].shape() == two[i].shape());
    CHECK(std::memcmp(one[i].data_ptr(), two[i].data_ptr(), one[i].numel() * dtype_size(one[i].dtype())) == 0);
  }
  CHECK(one[0].numel() == 300009);
}

TEST_CASE("elementwise: strided views, 0-d scalars and empty tensors") {
  // A transposed (non-contiguous) operand is packed by the dispatcher.
  const Tensor m = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor mt = transpose(m);  // (3,2) view
  REQUIRE_FALSE(mt.is_contiguous());
  CHECK(values(add(mt, f64({10, 20}))) == std::vector<double>{11, 24, 12, 25, 13, 26});
  CHECK(values(exp(mt))[1] == doctest::Approx(std::exp(4.0)));
  // 0-d with 0-d, and 0-d broadcast against a matrix.
  const Tensor s = add(Tensor::scalar(2.0, DType::float64), Tensor::scalar(3.0, DType::float64));
  CHECK(s.shape() == Shape{});
  CHECK(s.item() == 5.0);
  CHECK(values(where(Tensor::scalar(1.0, DType::bool_), m, Tensor::scalar(0.0, DType::float64))) == values(m));
  // Empty tensors broadcast to empty results.
  const Tensor e = add(Tensor::zeros({0, 3}, DType::float64), f64({1, 2, 3}));
  CHECK(e.shape() == Shape{0, 3});
  CHECK(sigmoid(e).numel() == 0);
  CHECK(cast(e, DType::int32).shape() == Shape{0, 3});
  CHECK(where(greater(e, e), e, e).shape() == Shape{0, 3});
}
