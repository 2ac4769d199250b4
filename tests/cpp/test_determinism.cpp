// CPU results are bitwise identical whatever the thread count.
#include <doctest/doctest.h>

#include <cstring>

#include <pitfall/pitfall.h>
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

// A small training-like computation: forward, loss, gradients.
std::vector<Tensor> run_step() {
  Tensor w = random_normal({257, 129}, 0, 0.05, DType::float32, RandomKey{5, 1});
  w.set_requires_grad(true);
  const Tensor x = random_uniform({300, 257}, 0, 1, DType::float32, RandomKey{5, 2});
  const Tensor logits = matmul(x, w);
  const Tensor loss = mean(negative(log_softmax(tanh(logits), -1)));
  const auto grads = gradients(loss, {w});
  return {logits, loss, grads[0]};
}

}  // namespace

TEST_CASE("determinism: forward, loss and gradients are bitwise identical with 1 and 2 threads") {
  const auto [one, two] = pitfall::testing::run_with_1_and_2_threads(run_step);
  for (size_t i = 0; i < one.size(); ++i) CHECK(bitwise_equal(one[i], two[i]));
}

TEST_CASE("determinism: parallel_for blocks are fixed and exceptions reach the caller") {
  const int saved = num_threads();
  set_num_threads(2);
  std::vector<int64_t> starts(10, -1);
  parallel_for(100, 10, [&](int64_t begin, int64_t end) {
    CHECK(end - begin == 10);
    starts[begin / 10] = begin;
  });
  for (int i = 0; i < 10; ++i) CHECK(starts[i] == i * 10);
  CHECK_THROWS_AS(parallel_for(100, 1, [](int64_t begin, int64_t) {
                    if (begin == 57) throw ValueError("block 57");
                  }),
                  ValueError);
  set_num_threads(saved);
}
