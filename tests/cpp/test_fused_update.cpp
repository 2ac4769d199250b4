// The fused optimizer loops (optim/fused_update.h) against the op-by-op update they replace: bitwise
// equal over many steps, for both conventions, float32 and float64, 1 and 2 threads.
#include <doctest/doctest.h>

#include <pitfall/optim/fused_update.h>
#include <pitfall/pitfall.h>

#include "optimizer_test_util.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

struct FusedScope {
  explicit FusedScope(bool enabled) : saved(fused::enabled()) { fused::set_enabled(enabled); }
  ~FusedScope() { fused::set_enabled(saved); }
  bool saved;
};

// Trains two variables (one large enough for several parallel blocks) for `steps` steps on fixed
// random gradients, with the fused loops on or off; returns the variables and every slot.
std::vector<Tensor> train(const std::string& name, const Json& arguments, Convention convention, DType dtype,
                          bool fused_on, int steps = 12) {
  FusedScope scope(fused_on);
  auto optimizer = make_optimizer(name, arguments, convention);
  std::vector<Tensor> variables = {random_normal({300, 257}, 0, 1, dtype, RandomKey{7, 1}),
                                   random_normal({5}, 0, 1, dtype, RandomKey{7, 2})};
  for (int t = 0; t < steps; ++t) {
    std::vector<Tensor> grads;
    for (size_t i = 0; i < variables.size(); ++i) {
      // Gradients spanning several orders of magnitude, signs, and exact zeros.
      Tensor g = random_normal(variables[i].shape(), 0, 1, dtype, RandomKey{static_cast<uint64_t>(100 + t), i});
      g = multiply(g, exp(random_uniform(variables[i].shape(), -8, 3, dtype, RandomKey{static_cast<uint64_t>(200 + t), i})));
      grads.push_back(where(greater(g, Tensor::full({}, 2.0, dtype)), Tensor::full({}, 0.0, dtype), g));
    }
    optimizer->apply_gradients(grads, variables);
  }
  std::vector<Tensor> out = variables;
  for (const auto& [key, tensor] : optimizer->state_tensors()) out.push_back(tensor);
  return out;
}

void check_fused_matches_ops(const std::string& name, const Json& arguments, Convention convention) {
  for (DType dtype : {DType::float32, DType::float64}) {
    CAPTURE(dtype_name(dtype));
    const std::vector<Tensor> ops = train(name, arguments, convention, dtype, false);
    const auto [one, two] = pitfall::testing::run_with_1_and_2_threads(
        [&] { return train(name, arguments, convention, dtype, true); });
    REQUIRE(ops.size() == one.size());
    REQUIRE(ops.size() >= 2);
    for (size_t i = 0; i < ops.size(); ++i) {
      CAPTURE(i);
      CHECK(bitwise_equal(ops[i], one[i]));
      CHECK(bitwise_equal(one[i], two[i]));
    }
    // The fused path really ran: the variables moved and the loops apply to such tensors.
    CHECK_FALSE(bitwise_equal(one[0], random_normal({300, 257}, 0, 1, dtype, RandomKey{7, 1})));
    const Tensor w = Tensor::zeros({300, 257}, dtype);
    CHECK(fused::applies({w, w, w, w}));
  }
}

}  // namespace

TEST_SUITE("fused_update") {
  TEST_CASE("fused Adam equals the op-by-op update, Keras convention") {
    check_fused_matches_ops("adam", object(), Convention::keras);
    check_fused_matches_ops("adam", object({{"learning_rate", 0.05}, {"beta_1", 0.5}, {"epsilon", 1e-3}}),
                            Convention::keras);
  }

  TEST_CASE("fused Adam equals the op-by-op update, PyTorch convention and AdamW") {
    check_fused_matches_ops("adam", object(), Convention::torch);
    check_fused_matches_ops("adamw", object({{"weight_decay", 0.1}}), Convention::torch);
    check_fused_matches_ops("adamw", object(), Convention::keras);
  }

  TEST_CASE("fused SGD equals the op-by-op update: plain, momentum, nesterov, dampening") {
    for (Convention convention : {Convention::keras, Convention::torch}) {
      CAPTURE(convention_name(convention));
      check_fused_matches_ops("sgd", object({{"learning_rate", 0.1}}), convention);
      check_fused_matches_ops("sgd", object({{"learning_rate", 0.1}, {"momentum", 0.9}}), convention);
      check_fused_matches_ops("sgd", object({{"learning_rate", 0.1}, {"momentum", 0.9}, {"nesterov", true}}),
                              convention);
    }
    check_fused_matches_ops("sgd", object({{"learning_rate", 0.1}, {"momentum", 0.9}, {"dampening", 0.3}}),
                            Convention::torch);
  }

  TEST_CASE("the fused loops stand aside where they would change behaviour") {
    const Tensor w = Tensor::zeros({4, 3});
    CHECK(fused::applies({w, w}));
    CHECK_FALSE(fused::applies({w, Tensor::zeros({4, 3}, DType::float16)}));        // mixed dtypes
    CHECK_FALSE(fused::applies({Tensor::zeros({4, 3}, DType::bfloat16)}));         // rounds after every op
    CHECK_FALSE(fused::applies({w, transpose(Tensor::zeros({3, 4}), {1, 0})}));   // a strided view
    CHECK_FALSE(fused::applies({w, Tensor::zeros({3, 4})}));                      // shapes differ
    {
      CheckNumericsScope numerics(true);  // the op path names the op that first goes non-finite
      CHECK_FALSE(fused::applies({w, w}));
    }
    FusedScope off(false);
    CHECK_FALSE(fused::applies({w, w}));
  }
}
