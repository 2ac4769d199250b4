// View ops (reshape, transpose, expand_dims, squeeze, broadcast_to, strided_slice, slice), their
// adjoints (sum_to_shape, strided_slice_grad), contiguous() and sum: behaviour and gradchecks.
#include <doctest/doctest.h>

#include <functional>

#include "gradcheck_cases.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

std::vector<float> iota(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(i);
  return v;
}

}  // namespace

// ---- gradcheck cases. Each view is followed by an elementwise product so that a gradient that
// lands on the wrong element (not merely with the wrong total) is caught.
PITFALL_GRADCHECK_CASE("reshape", "with -1", [](auto& in) { return multiply(reshape(in[0], {3, -1}), in[1]); },
                       [] { return std::vector<Tensor>({uniform64({2, 6}, -1, 1, 1), uniform64({3, 4}, -1, 1, 2)}); });
PITFALL_GRADCHECK_CASE("transpose", "permutation (2, 0, 1)",
                       [](auto& in) { return multiply(transpose(in[0], {2, 0, 1}), in[1]); },
                       [] { return std::vector<Tensor>({uniform64({2, 3, 4}, -1, 1, 3), uniform64({4, 2, 3}, -1, 1, 4)}); });
PITFALL_GRADCHECK_CASE("expand_dims", "axis -1", [](auto& in) { return multiply(expand_dims(in[0], -1), in[1]); },
                       [] { return std::vector<Tensor>({uniform64({2, 3}, -1, 1, 5), uniform64({2, 3, 1}, -1, 1, 6)}); });
PITFALL_GRADCHECK_CASE("squeeze", "axis 1", [](auto& in) { return multiply(squeeze(in[0], {1}), in[1]); },
                       [] { return std::vector<Tensor>({uniform64({3, 1, 2}, -1, 1, 7), uniform64({3, 2}, -1, 1, 8)}); });
PITFALL_GRADCHECK_CASE("broadcast_to", "leading and size-1 axes",
                       [](auto& in) { return multiply(broadcast_to(in[0], {2, 3, 4}), in[1]); },
                       [] { return std::vector<Tensor>({uniform64({3, 1}, -1, 1, 9), uniform64({2, 3, 4}, -1, 1, 10)}); });
PITFALL_GRADCHECK_CASE("strided_slice", "negative step and stride 2",
                       [](auto& in) { return multiply(strided_slice(in[0], {3, 0}, {-1, 5}, {-2, 2}), in[1]); },
                       [] { return std::vector<Tensor>({uniform64({4, 5}, -1, 1, 11), uniform64({2, 3}, -1, 1, 12)}); });
PITFALL_GRADCHECK_CASE("strided_slice_grad", "scatter of a stepped slice",
                       [](auto& in) { return multiply(strided_slice_grad(in[0], {5, 4}, {1, 3}, {2, -1}), in[1]); },
                       [] { return std::vector<Tensor>({uniform64({2, 3}, -1, 1, 13), uniform64({5, 4}, -1, 1, 14)}); });
PITFALL_GRADCHECK_CASE("slice", "start and size with -1",
                       [](auto& in) { return multiply(slice(in[0], {1, 0, 2}, {2, -1, 2}), in[1]); },
                       [] { return std::vector<Tensor>({uniform64({3, 2, 4}, -1, 1, 15), uniform64({2, 2, 2}, -1, 1, 16)}); });
PITFALL_GRADCHECK_CASE("sum_to_shape", "leading and size-1 axes",
                       [](auto& in) { return sum_to_shape(in[0], {3, 1}); },
                       [] { return std::vector<Tensor>({uniform64({2, 3, 4}, -1, 1, 17)}); });
PITFALL_GRADCHECK_CASE("contiguous", "of a transposed view",
                       [](auto& in) { return multiply(transpose(in[0]).contiguous(), in[1]); },
                       [] { return std::vector<Tensor>({uniform64({3, 4}, -1, 1, 18), uniform64({4, 3}, -1, 1, 19)}); });
PITFALL_GRADCHECK_CASE("sum", "axis 1 of a strided view", [](auto& in) { return sum(transpose(in[0]), {1}); },
                       [] { return std::vector<Tensor>({uniform64({3, 4}, -1, 1, 20)}); });

TEST_CASE("views: reshape keeps the element order, infers -1 and shares storage") {
  const Tensor x = Tensor::from_vector(iota(12), {3, 4});
  const Tensor r = reshape(x, {2, -1, 3});
  CHECK(r.shape() == Shape{2, 2, 3});
  CHECK(r.to_vector<float>() == iota(12));
  CHECK(r.data_ptr() == x.data_ptr());
  CHECK_THROWS_WITH_AS(reshape(x, {5, -1}), doctest::Contains("(3, 4)"), ShapeError);
  CHECK_THROWS_AS(reshape(x, {-1, -1}), ShapeError);
  CHECK_THROWS_AS(reshape(x, {13}), ShapeError);
  // A strided view is packed first, in logical order.
  CHECK(reshape(transpose(x), {12}).to_vector<float>() ==
        std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
}

TEST_CASE("views: transpose permutes axes as a view - default reverses") {
  const Tensor x = Tensor::from_vector(iota(24), {2, 3, 4});
  const Tensor t = transpose(x, {1, 2, 0});
  CHECK(t.shape() == Shape{3, 4, 2});
  CHECK_FALSE(t.is_contiguous());
  const auto v = t.to_vector<float>();
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 4; ++j) {
      for (int64_t k = 0; k < 2; ++k) CHECK(v[(i * 4 + j) * 2 + k] == static_cast<float>((k * 3 + i) * 4 + j));
    }
  }
  CHECK(transpose(x).shape() == Shape{4, 3, 2});
  CHECK(transpose(x, {-1, 0, 1}).shape() == Shape{4, 2, 3});
  CHECK_THROWS_AS(transpose(x, {0, 1}), AxisError);
  CHECK_THROWS_AS(transpose(x, {0, 0, 1}), AxisError);
  CHECK_THROWS_AS(transpose(x, {0, 1, 3}), AxisError);
}

TEST_CASE("views: expand_dims and squeeze") {
  const Tensor x = Tensor::from_vector(iota(6), {2, 3});
  CHECK(expand_dims(x, 0).shape() == Shape{1, 2, 3});
  CHECK(expand_dims(x, -1).shape() == Shape{2, 3, 1});
  CHECK(expand_dims(x, 1).shape() == Shape{2, 1, 3});
  CHECK_THROWS_AS(expand_dims(x, 3), AxisError);
  const Tensor y = Tensor::zeros({1, 3, 1, 2});
  CHECK(squeeze(y).shape() == Shape{3, 2});
  CHECK(squeeze(y, {-2}).shape() == Shape{1, 3, 2});
  CHECK_THROWS_WITH_AS(squeeze(y, {1}), doctest::Contains("size 3"), ShapeError);
  CHECK_THROWS_AS(squeeze(y, {4}), AxisError);
}

TEST_CASE("views: broadcast_to repeats through zero strides - sum_to_shape is its adjoint") {
  const Tensor x = Tensor::from_vector<float>({1, 2, 3}, {3, 1});
  const Tensor b = broadcast_to(x, {2, 3, 2});
  CHECK(b.shape() == Shape{2, 3, 2});
  CHECK(b.strides() == std::vector<int64_t>{0, 1, 0});
  CHECK(b.to_vector<float>() == std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
  CHECK_THROWS_WITH_AS(broadcast_to(x, {3, 2, 2}), doctest::Contains("(3, 1)"), ShapeError);
  const Tensor s = sum_to_shape(b, {3, 1});
  CHECK(s.shape() == Shape{3, 1});
  CHECK(s.to_vector<float>() == std::vector<float>{4, 8, 12});
  CHECK(sum_to_shape(b, {2}).to_vector<float>() == std::vector<float>{12, 12});
  CHECK(sum_to_shape(b, {}).item() == 24);
  CHECK(sum_to_shape(x, {3, 1}).same_as(x));
  CHECK_THROWS_AS(sum_to_shape(b, {4, 2}), ShapeError);
  CHECK_THROWS_AS(sum_to_shape(x, {1, 3, 1, 1}), ShapeError);
}

TEST_CASE("views: strided_slice follows NumPy after normalization, including negative steps") {
  const Tensor x = Tensor::from_vector(iota(20), {4, 5});
  const Tensor s = strided_slice(x, {3, 0}, {-1, 5}, {-2, 2});  // x[3::-2, 0:5:2]
  CHECK(s.shape() == Shape{2, 3});
  CHECK(s.to_vector<float>() == std::vector<float>{15, 17, 19, 5, 7, 9});
  CHECK(s.data_ptr() != nullptr);
  CHECK(strided_slice(x, {1, 1}, {1, 4}, {1, 1}).shape() == Shape{0, 3});
  CHECK(strided_slice(x, {0, 4}, {4, -1}, {1, -1}).to_vector<float>()[0] == 4);
  CHECK_THROWS_AS(strided_slice(x, {0, 0}, {5, 5}, {1, 1}), IndexError);
  CHECK_THROWS_AS(strided_slice(x, {0, 0}, {4, 5}, {1, 0}), ValueError);
  CHECK_THROWS_AS(strided_slice(x, {0}, {4}, {1}), ShapeError);
}

TEST_CASE("views: strided_slice_grad scatters into zeros and is strided_slice's backward") {
  const Tensor g = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor d = strided_slice_grad(g, {4, 5}, {3, 0}, {-2, 2});
  CHECK(d.shape() == Shape{4, 5});
  CHECK(d.to_vector<float>() == std::vector<float>{0, 0, 0, 0, 0, 4, 0, 5, 0, 6, 0, 0, 0, 0, 0, 1, 0, 2, 0, 3});
  Tensor x = Tensor::zeros({4, 5});
  x.set_requires_grad(true);
  strided_slice(x, {3, 0}, {-1, 5}, {-2, 2}).backward(g);
  CHECK(x.grad().to_vector<float>() == d.to_vector<float>());
  CHECK_THROWS_AS(strided_slice_grad(g, {2, 5}, {3, 0}, {-2, 2}), IndexError);
  CHECK_THROWS_AS(strided_slice_grad(g, {4, 5, 1}, {3, 0}, {-2, 2}), ShapeError);
}

TEST_CASE("views: slice takes start and size, -1 meaning to the end") {
  const Tensor x = Tensor::from_vector(iota(24), {2, 3, 4});
  const Tensor s = slice(x, {1, 1, 2}, {1, -1, 2});
  CHECK(s.shape() == Shape{1, 2, 2});
  CHECK(s.to_vector<float>() == std::vector<float>{18, 19, 22, 23});
  const std::string m = message_of([&] { slice(x, {0, 2, 0}, {1, 2, 4}); });
  CHECK(m.find("axis 1") != std::string::npos);
  CHECK(m.find("size 3") != std::string::npos);
  CHECK_THROWS_AS(slice(x, {0, 2, 0}, {1, 2, 4}), IndexError);
  CHECK_THROWS_AS(slice(x, {0, 0}, {1, 1}), ShapeError);
}

TEST_CASE("views: contiguous packs a transposed view and keeps the gradient path") {
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  x.set_requires_grad(true);
  const Tensor t = transpose(x);
  const Tensor c = t.contiguous();
  CHECK(c.is_contiguous());
  CHECK(c.to_vector<double>() == std::vector<double>{1, 4, 2, 5, 3, 6});
  CHECK(c.data_ptr() != x.data_ptr());
  c.backward(Tensor::from_vector<double>({10, 40, 20, 50, 30, 60}, {3, 2}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{10, 20, 30, 40, 50, 60});
  CHECK(x.contiguous().same_as(x));
}

TEST_CASE("views: sum over axes, keepdims, views and dtypes") {
  const Tensor x = Tensor::from_vector(iota(24), {2, 3, 4});
  CHECK(sum(x).item() == 276);
  CHECK(sum(x, {0, 2}).to_vector<float>() == std::vector<float>{60, 92, 124});
  CHECK(sum(x, {1}, true).shape() == Shape{2, 1, 4});
  CHECK(sum(transpose(x), {0}).shape() == Shape{3, 2});
  CHECK(sum(transpose(x), {0}).to_vector<float>() == std::vector<float>{6, 54, 22, 70, 38, 86});
  CHECK(sum(Tensor::scalar(3)).item() == 3);
  CHECK_THROWS_AS(sum(Tensor::zeros({2}, DType::bool_)), DTypeError);
  CHECK_THROWS_WITH_AS(sum(x, {3}), doctest::Contains("rank 3"), AxisError);
  Tensor leaf = Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2});
  leaf.set_requires_grad(true);
  sum(leaf, {0}).backward(Tensor::from_vector<double>({5, 7}));
  CHECK(leaf.grad().to_vector<double>() == std::vector<double>{5, 7, 5, 7});
}
