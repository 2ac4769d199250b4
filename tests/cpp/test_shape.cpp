// Data-moving shape and indexing ops: concatenate, stack, take, take_grad, one_hot.
#include <doctest/doctest.h>

#include <cstring>
#include <functional>

#include "gradcheck_cases.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {



Tensor indices64(const std::vector<int64_t>& v, const Shape& shape) { return Tensor::from_vector(v, shape); }

}  // namespace

// ---- gradcheck cases
PITFALL_GRADCHECK_CASE("concatenate", "axis 1, three inputs",
                       [](auto& in) { return concatenate({in[0], in[1], in[2]}, 1); },
                       [] { return std::vector<Tensor>({uniform64({2, 1, 3}, -1, 1, 1), uniform64({2, 2, 3}, -1, 1, 2),
                                               uniform64({2, 3, 3}, -1, 1, 3)}); });
PITFALL_GRADCHECK_CASE("concatenate", "axis -1", [](auto& in) { return concatenate({in[0], in[1]}, -1); },
                       [] { return std::vector<Tensor>({uniform64({3, 2}, -1, 1, 4), uniform64({3, 1}, -1, 1, 5)}); });
PITFALL_GRADCHECK_CASE("stack", "axis 1", [](auto& in) { return stack({in[0], in[1]}, 1); },
                       [] { return std::vector<Tensor>({uniform64({2, 3}, -1, 1, 6), uniform64({2, 3}, -1, 1, 7)}); });
PITFALL_GRADCHECK_CASE("stack", "axis -1", [](auto& in) { return stack({in[0], in[1], in[0]}, -1); },
                       [] { return std::vector<Tensor>({uniform64({3}, -1, 1, 8), uniform64({3}, -1, 1, 9)}); });
PITFALL_GRADCHECK_CASE("take", "axis 0 with repeats and negatives", [](auto& in) { return take(in[0], in[1], 0); },
                       [] { return std::vector<Tensor>({uniform64({4, 3}), indices64({3, -1, 0, 3, 1}, {5})}); });
PITFALL_GRADCHECK_CASE("take", "axis 1, 2-D int32 indices", [](auto& in) { return take(in[0], in[1], 1); },
                       [] {
                         return std::vector<Tensor>({uniform64({2, 4, 3}),
                                            Tensor::from_vector<int32_t>({0, 2, 2, -4}, {2, 2})});
                       });
PITFALL_GRADCHECK_CASE("take_grad", "axis 0 with repeats",
                       [](auto& in) { return take_grad(in[0], in[1], {4, 3}, 0); },
                       [] { return std::vector<Tensor>({uniform64({5, 3}), indices64({3, -1, 0, 3, 1}, {5})}); });
PITFALL_GRADCHECK_CASE("take_grad", "axis -1",
                       [](auto& in) { return take_grad(in[0], in[1], {2, 3}, -1); },
                       [] { return std::vector<Tensor>({uniform64({2, 4}), indices64({2, 2, 0, 1}, {4})}); });

// ---- concatenate / stack
TEST_CASE("shape: concatenate joins along any axis and matches a reference") {
  const Tensor a = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor b = Tensor::from_vector<float>({7, 8, 9, 10}, {2, 2});
  const Tensor c = concatenate({a, b}, 1);
  CHECK(c.shape() == Shape{2, 5});
  CHECK(c.to_vector<float>() == std::vector<float>{1, 2, 3, 7, 8, 4, 5, 6, 9, 10});
  CHECK(bitwise_equal(concatenate({a, b}, -1), c));
  const Tensor rows = concatenate({a, Tensor::from_vector<float>({0, 0, 0}, {1, 3}), a}, 0);
  CHECK(rows.shape() == Shape{5, 3});
  CHECK(rows.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 5, 6, 0, 0, 0, 1, 2, 3, 4, 5, 6});
  // Empty inputs along the axis, strided views and integer dtypes.
  const Tensor none = Tensor::zeros({2, 0}, DType::float32);
  CHECK(bitwise_equal(concatenate({none, a, none}, 1), a));
  const Tensor t = transpose(a);  // (3, 2) strided view
  CHECK(concatenate({t, t}, 1).to_vector<float>() == std::vector<float>{1, 4, 1, 4, 2, 5, 2, 5, 3, 6, 3, 6});
  const Tensor i = Tensor::from_vector<int64_t>({1, 2});
  CHECK(concatenate({i, i}).to_vector<int64_t>() == std::vector<int64_t>{1, 2, 1, 2});
}

TEST_CASE("shape: concatenate errors name the offending input and the shapes") {
  const Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({2, 4}), c = Tensor::zeros({3, 3});
  const std::string m = message_of([&] { concatenate({a, a, c}, 1); });
  CHECK(m.find("input 2") != std::string::npos);
  CHECK(m.find("(3, 3)") != std::string::npos);
  CHECK(m.find("(2, 3)") != std::string::npos);
  CHECK_THROWS_AS(concatenate({a, c}, 1), ShapeError);
  CHECK_NOTHROW(concatenate({a, c}, 0));
  CHECK_THROWS_AS(concatenate({a, b}, 0), ShapeError);
  CHECK_THROWS_AS(concatenate({a, Tensor::zeros({2, 3, 1})}, 0), ShapeError);
  const std::string d = message_of([&] { concatenate({a, Tensor::zeros({2, 3}, DType::float64)}); });
  CHECK(d.find("input 1") != std::string::npos);
  CHECK(d.find("float64") != std::string::npos);
  CHECK_THROWS_AS(concatenate({a, Tensor::zeros({2, 3}, DType::float64)}), DTypeError);
  CHECK_THROWS_AS(concatenate({}), ValueError);
  CHECK_THROWS_AS(concatenate({a, a}, 2), AxisError);
  CHECK_THROWS_AS(concatenate({Tensor::scalar(1), Tensor::scalar(2)}), ShapeError);
}

TEST_CASE("shape: stack adds a new axis at any position") {
  const Tensor a = Tensor::from_vector<float>({1, 2, 3}), b = Tensor::from_vector<float>({4, 5, 6});
  const Tensor s0 = stack({a, b});
  CHECK(s0.shape() == Shape{2, 3});
  CHECK(s0.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});
  const Tensor s1 = stack({a, b}, 1);
  CHECK(s1.shape() == Shape{3, 2});
  CHECK(s1.to_vector<float>() == std::vector<float>{1, 4, 2, 5, 3, 6});
  CHECK(bitwise_equal(stack({a, b}, -1), s1));
  CHECK(stack({Tensor::scalar(1), Tensor::scalar(2)}).shape() == Shape{2});
  const std::string m = message_of([&] { stack({a, b, Tensor::zeros({4})}); });
  CHECK(m.find("input 2") != std::string::npos);
  CHECK(m.find("(4,)") != std::string::npos);
  CHECK_THROWS_AS(stack({a, b}, 2), AxisError);
}

// ---- take / take_grad
TEST_CASE("shape: take gathers like np.take, with negative indices wrapping once") {
  const Tensor x = uniform64({3, 4, 2});
  const auto v = x.to_vector<double>();
  const Tensor idx = Tensor::from_vector<int32_t>({3, -1, 0, -4, 1, 1}, {2, 3});
  const Tensor y = take(x, idx, 1);
  CHECK(y.shape() == Shape{3, 2, 3, 2});
  const auto got = y.to_vector<double>();
  const int64_t wrapped[6] = {3, 3, 0, 0, 1, 1};
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 6; ++j) {
      for (int64_t k = 0; k < 2; ++k) CHECK(got[(i * 6 + j) * 2 + k] == v[(i * 4 + wrapped[j]) * 2 + k]);
    }
  }
  CHECK(take(x, indices64({2}, {}), 0).shape() == Shape{4, 2});  // scalar index drops the axis
  CHECK(bitwise_equal(take(x, idx, -2), y));
  CHECK(take(x, indices64({}, {0}), 2).shape() == Shape{3, 4, 0});
}

TEST_CASE("shape: take errors name the index, the axis and its size") {
  const Tensor x = Tensor::zeros({3, 5});
  const std::string m = message_of([&] { take(x, indices64({0, 5}, {2}), 1); });
  CHECK(m.find("take") != std::string::npos);
  CHECK(m.find("index 5") != std::string::npos);
  CHECK(m.find("axis 1") != std::string::npos);
  CHECK(m.find("size 5") != std::string::npos);
  CHECK_THROWS_AS(take(x, indices64({-4}, {1}), 0), IndexError);
  CHECK_NOTHROW(take(x, indices64({-3}, {1}), 0));
  CHECK_THROWS_AS(take(x, Tensor::zeros({2}, DType::float32), 0), DTypeError);
  CHECK_THROWS_AS(take(x, indices64({0}, {1}), 2), AxisError);
}

TEST_CASE("shape: take_grad scatter-adds repeated indices in a fixed order") {
  const Tensor g = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8}, {4, 2});
  const Tensor idx = indices64({1, -1, 1, 0}, {4});
  const Tensor dx = take_grad(g, idx, {3, 2}, 0);
  CHECK(dx.shape() == Shape{3, 2});
  CHECK(dx.to_vector<double>() == std::vector<double>{7, 8, 6, 8, 3, 4});
  // It is take's backward.
  Tensor x = Tensor::zeros({3, 2}, DType::float64);
  x.set_requires_grad(true);
  take(x, idx, 0).backward(g);
  CHECK(bitwise_equal(x.grad(), dx));
  CHECK_THROWS_AS(take_grad(g, idx, {3, 3}, 0), ShapeError);
  CHECK_THROWS_AS(take_grad(g, indices64({1, 3, 0, 0}, {4}), {3, 2}, 0), IndexError);
  // float16 accumulates in float32: 3000 adds of 1 reach 3000 (a float16 running sum stops at 2048).
  const Tensor ones = Tensor::ones({3000, 1}, DType::float16);
  const Tensor same = Tensor::zeros({3000}, DType::int64);
  CHECK(cast(take_grad(ones, same, {1, 1}, 0), DType::float32).item() == 3000.0);
}

TEST_CASE("shape: take_grad is bitwise identical with 1 and 2 threads") {
  const Tensor g = random_normal({4000, 700}, 0, 1, DType::float32, RandomKey{9, 1});
  std::vector<int64_t> idx(4000);
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>((i * 7919) % 37);
  const Tensor indices = Tensor::from_vector(idx);
  const auto [one, two] = pitfall::testing::run_with_1_and_2_threads([&] {
    return std::vector<Tensor>{take_grad(g, indices, {37, 700}, 0), take_grad(transpose(g), indices, {700, 37}, 1)};
  });
  CHECK(bitwise_equal(one[0], two[0]));
  CHECK(bitwise_equal(one[1], two[1]));
}

// ---- one_hot
TEST_CASE("shape: one_hot puts a one at each label along a new last axis") {
  const Tensor labels = Tensor::from_vector<int32_t>({2, 0, 1, 2}, {2, 2});
  const Tensor h = one_hot(labels, 3);
  CHECK(h.shape() == Shape{2, 2, 3});
  CHECK(h.dtype() == DType::float32);
  CHECK(h.to_vector<float>() == std::vector<float>{0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1});
  const Tensor hi = one_hot(indices64({1}, {1}), 2, DType::int64);
  CHECK(hi.to_vector<int64_t>() == std::vector<int64_t>{0, 1});
  CHECK(one_hot(indices64({}, {0}), 4).shape() == Shape{0, 4});
}

TEST_CASE("shape: one_hot rejects labels outside 0..depth-1 naming the label and depth") {
  const Tensor labels = indices64({3, 10, 1}, {3});
  const std::string m = message_of([&] { one_hot(labels, 10); });
  CHECK(m.find("one_hot") != std::string::npos);
  CHECK(m.find("label 10") != std::string::npos);
  CHECK(m.find("depth 10") != std::string::npos);
  CHECK_THROWS_AS(one_hot(labels, 10), IndexError);
  CHECK_THROWS_AS(one_hot(indices64({-1}, {1}), 10), IndexError);
  CHECK_THROWS_AS(one_hot(Tensor::zeros({2}), 3), DTypeError);
  CHECK_THROWS_AS(one_hot(labels, -1), ValueError);
}
