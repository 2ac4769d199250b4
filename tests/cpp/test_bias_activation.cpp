// bias_activation: the fused Dense/Conv2D epilogue against add + relu, values and gradients bit for
// bit, in place only when nothing else can see the product.
#include <doctest/doctest.h>

#include <pitfall/pitfall.h>

#include <cmath>
#include <limits>

#include "gradcheck_cases.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;
using Inputs = std::vector<Tensor>;

namespace {

// x + bias stays >= 0.2 away from 0 (relu's kink) so central differences are exact enough.
Tensor away_from_kink(const Shape& shape) {
  const Tensor u = uniform64(shape, 0.2, 2.0);
  const Tensor sign = where(greater(uniform64(shape, -1, 1), Tensor::scalar(0.0, DType::float64)),
                            Tensor::scalar(1.0, DType::float64), Tensor::scalar(-1.0, DType::float64));
  return multiply(u, sign);
}

PITFALL_GRADCHECK_CASE("bias_activation", "relu, dense shape",
                       [](const Inputs& in) { return bias_activation(in[0], in[1], "relu"); },
                       [] { return (Inputs{away_from_kink({3, 4}), uniform64({4}, -0.1, 0.1)}); });
PITFALL_GRADCHECK_CASE("bias_activation", "linear, NHWC shape",
                       [](const Inputs& in) { return bias_activation(in[0], in[1], "linear"); },
                       [] { return (Inputs{uniform64({2, 3, 2, 4}, -2, 2), uniform64({4}, -1, 1)}); });

struct Result {
  Tensor y, dx, db;
};

Result run(const Tensor& x0, const Tensor& b0, bool fused, const std::string& activation) {
  Tensor x = x0.clone().set_requires_grad(true);
  Tensor b = b0.clone().set_requires_grad(true);
  // A product of x (so the input of the epilogue is an intermediate, as in a layer).
  Tensor z = multiply(x, Tensor::scalar(1.0, x.dtype()));
  Tensor y = fused ? bias_activation(std::move(z), b, activation, true)
                   : (activation == "relu" ? relu(add(z, b)) : add(z, b));
  // A loss with element-dependent weights, so every gradient element differs.
  const Tensor w = cast(random_uniform(y.shape(), -1, 1, DType::float64, RandomKey{3, 3}), y.dtype());
  const auto grads = gradients(sum(multiply(y, w)), {x, b});
  return {y.detach(), grads[0], grads[1]};
}

}  // namespace

TEST_SUITE("bias_activation") {
  TEST_CASE("fused values and gradients equal add then relu bit for bit, every floating dtype") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (DType dtype : {DType::float32, DType::float64, DType::float16, DType::bfloat16}) {
      for (const std::string activation : {"relu", "linear"}) {
        CAPTURE(dtype_name(dtype));
        CAPTURE(activation);
        // Random values, then one block of exact zeros, a NaN and sums that round to exactly 0.
        std::vector<double> specials;
        const double per_column[5] = {-0.25, nan, -0.5, 0.0, -1e-3};
        for (int j = 0; j < 33 * 5; ++j) specials.push_back(per_column[j % 5]);
        const Tensor x = cast(concatenate({Tensor::from_vector(specials, {1, 33, 5}),
                                           random_normal({70, 33, 5}, 0, 3, DType::float64, RandomKey{1, 1})}, 0),
                              dtype);
        const Tensor b = cast(Tensor::from_vector<double>({0.25, -1.0, 0.5, 0.0, 1e-3}), dtype);
        const Result fused = run(x, b, true, activation);
        const Result plain = run(x, b, false, activation);
        CHECK(bitwise_equal(fused.y, plain.y));
        CHECK(bitwise_equal(fused.dx, plain.dx));
        CHECK(bitwise_equal(fused.db, plain.db));
      }
    }
  }

  TEST_CASE("the fused epilogue is thread-count independent") {
    const Tensor x = random_normal({257, 129}, 0, 1, DType::float32, RandomKey{2, 1});
    const Tensor b = random_normal({129}, 0, 1, DType::float32, RandomKey{2, 2});
    const auto [one, two] = pitfall::testing::run_with_1_and_2_threads([&] {
      const Result r = run(x, b, true, "relu");
      return std::vector<Tensor>{r.y, r.dx, r.db};
    });
    for (size_t i = 0; i < one.size(); ++i) CHECK(bitwise_equal(one[i], two[i]));
  }

  TEST_CASE("the product is overwritten only when no other handle shares it") {
    const Tensor b = Tensor::from_vector<float>({1, -1}, {2});
    {
      Tensor z = Tensor::from_vector<float>({1, 2, -3, 4}, {2, 2});
      const void* storage = z.data_ptr();
      const Tensor kept = z;  // a second handle: z must stay intact
      const Tensor y = bias_activation(std::move(z), b, "relu", true);
      CHECK(y.data_ptr() != storage);
      CHECK(kept.to_vector<float>() == std::vector<float>{1, 2, -3, 4});
      CHECK(y.to_vector<float>() == std::vector<float>{2, 1, 0, 3});
    }
    {
      Tensor z = Tensor::from_vector<float>({1, 2, -3, 4}, {2, 2});
      const void* storage = z.data_ptr();
      const Tensor y = bias_activation(std::move(z), b, "relu", true);
      CHECK(y.data_ptr() == storage);  // sole owner: no new allocation
      CHECK(y.to_vector<float>() == std::vector<float>{2, 1, 0, 3});
    }
    {
      Tensor base = Tensor::from_vector<float>({1, 2, -3, 4, 5, 6}, {3, 2});
      Tensor view = slice(base, {1, 0}, {2, 2});  // shares base's storage
      const Tensor y = bias_activation(std::move(view), b, "relu", true);
      CHECK(base.to_vector<float>() == std::vector<float>{1, 2, -3, 4, 5, 6});
      CHECK(y.to_vector<float>() == std::vector<float>{0, 3, 6, 5});
    }
    {
      // overwrite_x=false never overwrites, even a sole owner.
      Tensor z = Tensor::from_vector<float>({1, 2}, {1, 2});
      const void* storage = z.data_ptr();
      const Tensor y = bias_activation(std::move(z), b, "linear");
      CHECK(y.data_ptr() != storage);
    }
  }

  TEST_CASE("Dense and Conv2D with relu produce what add and relu produce") {
    const Tensor x = random_normal({16, 12}, 0, 1, DType::float32, RandomKey{4, 1});
    Dense dense(7, "relu");
    const Tensor y = dense(x);
    const auto w = dense.trainable_weights();
    CHECK(bitwise_equal(y, relu(add(matmul(x, w[0]), w[1]))));
    const Tensor img = random_normal({2, 6, 6, 3}, 0, 1, DType::float32, RandomKey{4, 2});
    Conv2D conv(4, {3, 3}, "relu");
    const Tensor yc = conv(img);
    const auto wc = conv.trainable_weights();
    CHECK(bitwise_equal(yc, relu(add(conv2d(img, wc[0], {1, 1}, "valid"), wc[1]))));
  }

  TEST_CASE("bias_activation says what is wrong") {
    const Tensor x = Tensor::zeros({2, 3});
    CHECK(message_of([&] { bias_activation(x, Tensor::zeros({3}), "tanh"); }).find("\"relu\" or \"linear\"") !=
          std::string::npos);
    // A bias that does not fit the last axis gets add's broadcasting error.
    CHECK(message_of([&] { bias_activation(x, Tensor::zeros({4}), "relu"); }).find("add") != std::string::npos);
  }
}
