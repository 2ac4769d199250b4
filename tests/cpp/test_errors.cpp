// Bad input: each category gives a typed error whose message names the op, the shapes or dtypes,
// and a fix. Nothing aborts.
#include <doctest/doctest.h>

#include <cmath>

#include <pitfall/pitfall.h>
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

TEST_CASE("errors: mismatched shapes name the op, both shapes and a fix") {
  const Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  const std::string m = message_of([&] { add(a, b); });
  CHECK(m.find("add") != std::string::npos);
  CHECK(m.find("(2, 3)") != std::string::npos);
  CHECK(m.find("(4,)") != std::string::npos);
  CHECK(m.find("reshape") != std::string::npos);
  CHECK_THROWS_AS(add(a, b), ShapeError);
  CHECK_THROWS_WITH_AS(reshape(a, {4, 2}), doctest::Contains("(2, 3)"), ShapeError);
}

TEST_CASE("errors: mixed dtypes name the op, both dtypes and cast") {
  const Tensor a = Tensor::zeros({2}, DType::float32), b = Tensor::zeros({2}, DType::float64);
  const std::string m = message_of([&] { multiply(a, b); });
  CHECK(m.find("multiply") != std::string::npos);
  CHECK(m.find("float32") != std::string::npos);
  CHECK(m.find("float64") != std::string::npos);
  CHECK(m.find("cast") != std::string::npos);
  CHECK_THROWS_AS(multiply(a, b), DTypeError);
  const std::string int_msg = message_of([] { exp(Tensor::zeros({2}, DType::int32)); });
  CHECK(int_msg.find("exp") != std::string::npos);
  CHECK(int_msg.find("int32") != std::string::npos);
  CHECK(int_msg.find("cast") != std::string::npos);
}

TEST_CASE("errors: out-of-range axes name the op, the axis and the rank") {
  const Tensor x = Tensor::zeros({2, 3});
  const std::string m = message_of([&] { sum(x, {2}); });
  CHECK(m.find("sum") != std::string::npos);
  CHECK(m.find("axis 2") != std::string::npos);
  CHECK(m.find("rank 2") != std::string::npos);
  CHECK(m.find("-2 .. 1") != std::string::npos);
  CHECK_THROWS_AS(sum(x, {-3}), AxisError);
  CHECK_THROWS_AS(transpose(x, {0, 0}), AxisError);
}

TEST_CASE("errors: with check_numerics on, NaN/inf-producing inputs name the op and the fix") {
  set_check_numerics(true);
  const Tensor negative = Tensor::from_vector<float>({1.0f, -1.0f});
  const std::string log_msg = message_of([&] { log(negative); });
  const std::string div_msg = message_of([&] { divide(Tensor::ones({2}), Tensor::zeros({2})); });
  const std::string exp_msg = message_of([] { exp(Tensor::full({1}, 12.0, DType::float16)); });
  set_check_numerics(false);
  CHECK(log_msg.find("log") != std::string::npos);
  CHECK(log_msg.find("(2,) float32") != std::string::npos);
  CHECK(log_msg.find("log_softmax") != std::string::npos);
  CHECK(div_msg.find("divide") != std::string::npos);
  CHECK(div_msg.find("epsilon") != std::string::npos);
  CHECK(exp_msg.find("float16") != std::string::npos);
  CHECK(exp_msg.find("11.09") != std::string::npos);
  // Off (the default), the same inputs propagate NaN/inf silently, as the pitfalls need.
  CHECK(std::isnan(log(negative).value_at(1)));
}

TEST_CASE("errors: the layer path and op chain are captured at the throw site") {
  const Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({3, 2});
  try {
    LayerScope model("model");
    LayerScope layer("dense_1");
    add(a, b);
    FAIL("expected a ShapeError");
  } catch (const ShapeError& e) {
    CHECK(e.layer() == "model/dense_1");
    CHECK(e.op() == "add");
    CHECK(std::string(e.what()).rfind("layer 'model/dense_1': add: ", 0) == 0);
  }
  // Scopes unwind: no stale context on the next error.
  try {
    add(a, b);
  } catch (const ShapeError& e) {
    CHECK(e.layer().empty());
  }
}

TEST_CASE("errors: thread count validation") {
  CHECK_THROWS_AS(set_num_threads(0), ValueError);
}
