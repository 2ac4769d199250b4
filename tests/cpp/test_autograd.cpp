#include <doctest/doctest.h>

#include <pitfall/pitfall.h>

using namespace pitfall;

namespace {
Tensor var64(std::vector<double> values) {
  Tensor t = Tensor::from_vector(values);
  t.set_requires_grad(true);
  return t;
}
}  // namespace

TEST_CASE("autograd: a diamond graph accumulates both paths - repeated backward accumulates into .grad") {
  Tensor x = var64({1.0, 2.0, 3.0});
  // y = sum(x*x + 3x): dy/dx = 2x + 3
  const Tensor y = sum(add(multiply(x, x), multiply(x, 3.0)));
  y.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{5, 7, 9});
  y.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{10, 14, 18});
  x.set_grad(Tensor());
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("autograd: gradients() reaches intermediate tensors and leaves .grad alone") {
  Tensor x = var64({1.0, -2.0});
  const Tensor h = multiply(x, 2.0);
  const Tensor y = sum(multiply(h, h));  // dy/dh = 2h = 4x, dy/dx = 8x
  const auto g = gradients(y, {h, x});
  CHECK(g[0].to_vector<double>() == std::vector<double>{4, -8});
  CHECK(g[1].to_vector<double>() == std::vector<double>{8, -16});
  CHECK_FALSE(x.grad().defined());
  // A source the output does not depend on gets an undefined gradient (TF returns None).
  Tensor unrelated = var64({1.0});
  CHECK_FALSE(gradients(y, {unrelated})[0].defined());
}

TEST_CASE("autograd: no_grad and detach cut the graph") {
  Tensor x = var64({2.0});
  {
    NoGradGuard guard;
    const Tensor y = multiply(x, x);
    CHECK_FALSE(y.requires_grad());
  }
  const Tensor d = x.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.data_ptr() == x.data_ptr());
  const Tensor y = multiply(x, d);  // gradient only through the first operand: d(x*c)/dx = c = 2
  const auto g = gradients(sum(y), {x});
  CHECK(g[0].item() == 2.0);
}

TEST_CASE("autograd: backward needs a scalar or an explicit output gradient") {
  Tensor x = var64({1.0, 2.0});
  const Tensor y = multiply(x, 3.0);
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("scalar"), ValueError);
  y.backward(Tensor::from_vector<double>({1.0, 10.0}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 30});
  const Tensor constant = Tensor::from_vector<double>({1.0});
  CHECK_THROWS_WITH_AS(sum(constant).backward(), doctest::Contains("no gradient path"), ValueError);
}

TEST_CASE("autograd: a 20000-op chain does not overflow the stack") {
  Tensor x = var64({1.0});
  Tensor y = x;
  for (int i = 0; i < 20000; ++i) y = add(y, 1e-3);
  sum(y).backward();
  CHECK(x.grad().item() == 1.0);
}

TEST_CASE("autograd: gradients keep the input dtype (float32 and float16)") {
  for (DType dtype : {DType::float32, DType::float16}) {
    Tensor x = Tensor::full({3}, 1.5, dtype);
    x.set_requires_grad(true);
    sum(multiply(x, x)).backward();
    CHECK(x.grad().dtype() == dtype);
    CHECK(x.grad().value_at(0) == 3.0);
  }
}
