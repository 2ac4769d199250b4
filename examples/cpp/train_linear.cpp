// Linear regression with pitfall's autograd: y = X w + b fitted by hand-written SGD.
// Exits non-zero unless the loss falls below a threshold, so it doubles as a smoke test.
#include <pitfall/pitfall.h>

#include <cstdio>

namespace pf = pitfall;

int main() {
  pf::set_random_seed(0);
  // Synthetic data: 256 samples, 3 features, known weights.
  const pf::Tensor x = pf::random_normal({256, 3}, 0.0, 1.0, pf::DType::float32, pf::next_random_key());
  const pf::Tensor true_w = pf::Tensor::from_vector<float>({2.0f, -3.0f, 0.5f}, {3, 1});
  const pf::Tensor y = pf::matmul(x, true_w) + 1.0;

  pf::Tensor w = pf::Tensor::zeros({3, 1});
  pf::Tensor b = pf::Tensor::zeros({1});
  w.set_requires_grad(true);
  b.set_requires_grad(true);

  const double learning_rate = 0.1;
  double loss_value = 0.0;
  for (int step = 0; step <= 100; ++step) {
    const pf::Tensor loss = pf::mean(pf::square(pf::matmul(x, w) + b - y));
    loss.backward();
    loss_value = loss.item();
    if (step % 20 == 0) std::printf("step %3d  loss %.3e\n", step, loss_value);

    pf::NoGradGuard no_grad;  // the update itself is not part of the graph
    for (const pf::Tensor& p : {w, b}) {
      p.assign(p - learning_rate * p.grad());
      p.set_grad(pf::Tensor());  // gradients accumulate: clear them for the next step
    }
  }
  std::printf("learned w = %s, b = %s\n", w.str().c_str(), b.str().c_str());
  if (!(loss_value < 1e-4)) {
    std::fprintf(stderr, "train_linear: final loss %g is not below 1e-4\n", loss_value);
    return 1;
  }
  return 0;
}
