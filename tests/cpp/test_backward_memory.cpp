// What a training step holds in memory: the backward pass drops each gradient once it is consumed,
// and relu's gradient (and the layer epilogue's) is written over an incoming gradient nobody else
// holds, without changing a single bit of the results.
#include <doctest/doctest.h>

#include <pitfall/pitfall.h>

#include <cmath>

#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

// Bytes the backward pass needed on top of what was live when it started.
template <class Fn>
int64_t extra_peak_bytes(Fn&& run_backward) {
  const int64_t before = memory_stats().bytes_in_use;
  reset_peak_memory();
  run_backward();
  return memory_stats().peak_bytes_in_use - before;
}

Tensor param(const Shape& shape, uint64_t seed) {
  Tensor t = random_normal(shape, 0, 1, DType::float32, RandomKey{seed, 7});
  t.set_requires_grad(true);
  return t;
}

}  // namespace

TEST_SUITE("backward_memory") {
  TEST_CASE("the backward pass holds the gradients at its frontier, not one per activation") {
    // Ten scalings of a 1 MiB tensor: held to the end, their gradients would add 10 MiB.
    const Tensor x = param({256, 1024}, 1);
    Tensor y = x;
    for (int i = 0; i < 10; ++i) y = multiply(y, Tensor::scalar(1.01));
    const Tensor loss = sum(y);
    const int64_t extra = extra_peak_bytes([&] { backward(loss); });
    CAPTURE(extra);
    CHECK(extra <= 4 * kMiB);  // (10 MiB and more when every gradient was kept)
    // The gradient is still right: d/dx sum(1.01^10 x) = 1.01^10.
    const std::vector<float> g = x.grad().to_vector<float>();
    CHECK(g.front() == doctest::Approx(std::pow(1.01, 10)).epsilon(1e-6));
    CHECK(g.back() == g.front());
  }

  TEST_CASE("gradients() still returns the gradient of an intermediate source") {
    const Tensor x = param({4, 3}, 2);
    const Tensor h = multiply(x, Tensor::scalar(3.0));
    const Tensor y = multiply(h, h);
    const Tensor loss = sum(y);
    const std::vector<Tensor> g = gradients(loss, {h, x});
    REQUIRE(g.size() == 2);
    // d loss / d h = 2h; d loss / d x = 2h * 3.
    CHECK(bitwise_equal(g[0], multiply(h.detach(), Tensor::scalar(2.0))));
    CHECK(bitwise_equal(g[1], multiply(multiply(h.detach(), Tensor::scalar(2.0)), Tensor::scalar(3.0))));
  }

  TEST_CASE("relu_grad writes over a gradient only when told to and nothing else can see it") {
    const Tensor x = Tensor::from_vector<float>({1, -2, 0, 4}, {2, 2});
    const std::vector<float> expected{5, 0, 0, 8};
    {
      Tensor g = Tensor::from_vector<float>({5, 6, 7, 8}, {2, 2});
      const void* storage = g.data_ptr();
      const Tensor out = relu_grad(std::move(g), x, /*overwrite_g=*/true);
      CHECK(out.data_ptr() == storage);
      CHECK(out.to_vector<float>() == expected);
    }
    {
      const Tensor g = Tensor::from_vector<float>({5, 6, 7, 8}, {2, 2});
      const Tensor kept = g;  // a second handle
      const Tensor out = relu_grad(g, x, true);
      CHECK(out.data_ptr() != g.data_ptr());
      CHECK(kept.to_vector<float>() == std::vector<float>{5, 6, 7, 8});
      CHECK(out.to_vector<float>() == expected);
    }
    {
      Tensor g = Tensor::from_vector<float>({5, 6, 7, 8}, {2, 2});
      const void* storage = g.data_ptr();
      const Tensor out = relu_grad(std::move(g), x);  // overwrite_g defaults to false
      CHECK(out.data_ptr() != storage);
    }
    {
      // A gradient with history: its producer's backward may still need its values.
      const Tensor w = param({2, 2}, 3);
      Tensor g = exp(w);
      const void* storage = g.data_ptr();
      const Tensor out = relu_grad(std::move(g), x, true);
      CHECK(out.data_ptr() != storage);
    }
  }

  TEST_CASE("a layer's product with history is still overwritten by its bias and relu") {
    const Tensor x = random_normal({8, 16}, 0, 1, DType::float32, RandomKey{5, 1});
    const Tensor w = param({16, 32}, 4);
    const Tensor b = param({32}, 5);
    Tensor z = matmul(x, w);
    const void* storage = z.data_ptr();
    const Tensor y = bias_activation(std::move(z), b, "relu", true);
    CHECK(y.data_ptr() == storage);
    CHECK(bitwise_equal(y, relu(add(matmul(x, w), b))));
  }

  TEST_CASE("each relu's backward reuses the gradient autograd hands it") {
    const Tensor x = param({256, 1024}, 9);  // 1 MiB
    Tensor y = multiply(x, Tensor::scalar(1.5));
    for (int i = 0; i < 10; ++i) y = relu(y);
    const Tensor loss = sum(y);
    const int64_t allocations = memory_stats().allocations;
    backward(loss);
    // sum's and multiply's backward make a gradient each; the ten relus make none (written over
    // the one they are handed, which nothing else holds).
    CHECK(memory_stats().allocations - allocations < 10);
    const std::vector<float> xs = x.detach().to_vector<float>();
    const std::vector<float> g = x.grad().to_vector<float>();
    bool all = true;
    for (size_t i = 0; i < xs.size(); ++i) all = all && g[i] == (xs[i] > 0 ? 1.5f : 0.0f);
    CHECK(all);
  }
}
