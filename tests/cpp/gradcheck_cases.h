// Gradcheck cases, registered from any test file with PITFALL_GRADCHECK_CASE. test_gradcheck.cpp
// runs them all and fails for any differentiable op in the registry that has no case.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <pitfall/pitfall.h>

namespace pitfall::testing {

struct GradcheckCase {
  std::string op;       // registry name of the op the case covers
  std::string label;    // what the case exercises (broadcasting, keepdims, ...)
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  std::function<std::vector<Tensor>()> inputs;  // float64 inputs to differentiate (ints pass through)
};

std::vector<GradcheckCase>& gradcheck_cases();

struct GradcheckRegistrar {
  explicit GradcheckRegistrar(GradcheckCase c) { gradcheck_cases().push_back(std::move(c)); }
};

// Seeded float64 inputs in [lo, hi).
inline Tensor uniform64(const Shape& shape, double lo = -1.0, double hi = 1.0, uint64_t seed = 7) {
  return random_uniform(shape, lo, hi, DType::float64, RandomKey{seed, shape_numel(shape) + shape.size()});
}

}  // namespace pitfall::testing

#define PITFALL_CAT_(a, b) a##b
#define PITFALL_CAT(a, b) PITFALL_CAT_(a, b)
// PITFALL_GRADCHECK_CASE("exp", "basic", [](auto& in) { return exp(in[0]); }, [] { return std::vector{...}; });
// Variadic so that commas inside the lambdas' braces need no extra parentheses.
#define PITFALL_GRADCHECK_CASE(op, label, ...)                                                     \
  static const ::pitfall::testing::GradcheckRegistrar PITFALL_CAT(pitfall_gradcheck_, __LINE__)( \
      ::pitfall::testing::GradcheckCase{op, label, __VA_ARGS__})
