// Conv2D forward and forward+backward timings for bench/conv.py (which runs PyTorch beside it).
// Prints one line per case: "name forward_ms forward_backward_ms" (best of 5 rounds, each >= 50 ms).
//   bench_conv [threads]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include <pitfall/pitfall.h>

using namespace pitfall;

namespace {

double best_ms(const std::function<void()>& fn) {
  fn();  // warm-up
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    int calls = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
      fn();
      ++calls;
      elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    } while (elapsed < 50.0);
    best = std::min(best, elapsed / calls);
  }
  return best;
}

void run_case(const char* name, const Shape& x_shape, const Shape& k_shape, const char* padding) {
  const Tensor x = random_uniform(x_shape, -1, 1, DType::float32, RandomKey{1, 1}).set_requires_grad(true);
  const Tensor w = random_uniform(k_shape, -0.1, 0.1, DType::float32, RandomKey{1, 2}).set_requires_grad(true);
  const double forward = best_ms([&] {
    NoGradGuard no_grad;
    conv2d(x, w, {1, 1}, padding);
  });
  const double both = best_ms([&] {
    const Tensor y = conv2d(x, w, {1, 1}, padding);
    // d sum(y * 1) / d(x, w): the backward gets a dense output gradient of ones.
    gradients(y, {x, w}, Tensor::ones(y.shape()));
  });
  std::printf("%s %.4f %.4f\n", name, forward, both);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) set_num_threads(std::atoi(argv[1]));
  run_case("32x28x28x1->32_3x3_same", {32, 28, 28, 1}, {3, 3, 1, 32}, "same");
  run_case("32x14x14x32->64_3x3_same", {32, 14, 14, 32}, {3, 3, 32, 64}, "same");
  return 0;
}
