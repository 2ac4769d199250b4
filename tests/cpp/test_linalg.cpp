// matmul: values against a reference loop, NumPy 1-D and batch-broadcast rules, dtypes, errors and
// thread-count determinism.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <functional>

#include "gradcheck_cases.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {



// Reference (M, K) @ (K, N) in double over row-major values.
std::vector<double> reference_matmul(const std::vector<double>& a, const std::vector<double>& b, int64_t m, int64_t k,
                                     int64_t n) {
  std::vector<double> out(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double t = 0;
      for (int64_t p = 0; p < k; ++p) t += a[i * k + p] * b[p * n + j];
      out[i * n + j] = t;
    }
  }
  return out;
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol));
}

}  // namespace

// ---- gradcheck cases
PITFALL_GRADCHECK_CASE("matmul", "2-D", [](auto& in) { return matmul(in[0], in[1]); },
                       [] { return std::vector<Tensor>({uniform64({3, 4}, -1, 1, 1), uniform64({4, 2}, -1, 1, 2)}); });
PITFALL_GRADCHECK_CASE("matmul", "batched with broadcast batch dims",
                       [](auto& in) { return matmul(in[0], in[1]); },
                       [] { return std::vector<Tensor>({uniform64({2, 1, 3, 4}, -1, 1, 3), uniform64({3, 4, 2}, -1, 1, 4)}); });
PITFALL_GRADCHECK_CASE("matmul", "batched @ shared matrix", [](auto& in) { return matmul(in[0], in[1]); },
                       [] { return std::vector<Tensor>({uniform64({2, 3, 4}, -1, 1, 5), uniform64({4, 2}, -1, 1, 6)}); });
PITFALL_GRADCHECK_CASE("matmul", "vector @ batched matrix", [](auto& in) { return matmul(in[0], in[1]); },
                       [] { return std::vector<Tensor>({uniform64({3}, -1, 1, 7), uniform64({2, 3, 4}, -1, 1, 8)}); });
PITFALL_GRADCHECK_CASE("matmul", "matrix @ vector and vector @ vector",
                       [](auto& in) { return add(matmul(in[0], in[1]), matmul(in[1], in[1])); },
                       [] { return std::vector<Tensor>({uniform64({2, 3}, -1, 1, 9), uniform64({3}, -1, 1, 10)}); });

TEST_CASE("linalg: matmul matches a reference loop for float32 and float64") {
  for (auto [m, k, n] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {3, 4, 5}, {70, 33, 17}, {130, 257, 9}}) {
    CAPTURE(m);
    const Tensor a = uniform64({m, k}, -1, 1, 21), b = uniform64({k, n}, -1, 1, 22);
    const auto want = reference_matmul(a.to_vector<double>(), b.to_vector<double>(), m, k, n);
    const Tensor c = matmul(a, b);
    CHECK(c.shape() == Shape{m, n});
    check_close(c.to_vector<double>(), want, 1e-12);
    const Tensor c32 = matmul(cast(a, DType::float32), cast(b, DType::float32));
    CHECK(c32.dtype() == DType::float32);
    check_close(cast(c32, DType::float64).to_vector<double>(), want, 1e-4);
  }
}

TEST_CASE("linalg: batch dimensions broadcast and each batch matches the 2-D product") {
  const Tensor a = uniform64({2, 1, 3, 4}, -1, 1, 31), b = uniform64({5, 4, 2}, -1, 1, 32);
  const Tensor c = matmul(a, b);
  CHECK(c.shape() == Shape{2, 5, 3, 2});
  const auto av = a.to_vector<double>(), bv = b.to_vector<double>(), cv = c.to_vector<double>();
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t j = 0; j < 5; ++j) {
      const std::vector<double> am(av.begin() + i * 12, av.begin() + (i + 1) * 12);
      const std::vector<double> bm(bv.begin() + j * 8, bv.begin() + (j + 1) * 8);
      const std::vector<double> got(cv.begin() + (i * 5 + j) * 6, cv.begin() + (i * 5 + j + 1) * 6);
      check_close(got, reference_matmul(am, bm, 3, 4, 2), 1e-12);
    }
  }
  // (B, M, K) @ (K, N) equals the folded (B*M, K) @ (K, N) product; (M, K) @ (B, K, N) per batch.
  const Tensor x = uniform64({3, 5, 4}, -1, 1, 33), w = uniform64({4, 6}, -1, 1, 34);
  CHECK(bitwise_equal(reshape(matmul(x, w), {15, 6}), matmul(reshape(x, {15, 4}), w)));
  const Tensor y = matmul(w, uniform64({2, 6, 3}, -1, 1, 35));
  CHECK(y.shape() == Shape{2, 4, 3});
  // Strided (transposed) operands are packed first.
  const Tensor t = uniform64({6, 4}, -1, 1, 36);
  check_close(matmul(x, transpose(t)).to_vector<double>(), matmul(x, transpose(t).contiguous()).to_vector<double>(),
              1e-15);
}

TEST_CASE("linalg: 1-D operands follow NumPy") {
  const Tensor v = Tensor::from_vector<double>({1, 2, 3});
  const Tensor m = Tensor::from_vector<double>({1, 0, 2, 1, 0, 3}, {3, 2});  // rows (1,0), (2,1), (0,3)
  const Tensor vm = matmul(v, m);
  CHECK(vm.shape() == Shape{2});
  CHECK(vm.to_vector<double>() == std::vector<double>{5, 11});
  const Tensor mv = matmul(transpose(m), v);
  CHECK(mv.shape() == Shape{2});
  CHECK(mv.to_vector<double>() == std::vector<double>{5, 11});
  const Tensor dot = matmul(v, v);
  CHECK(dot.shape() == Shape{});
  CHECK(dot.item() == 14);
  CHECK(matmul(v, uniform64({4, 3, 2})).shape() == Shape{4, 2});
  CHECK(matmul(uniform64({4, 2, 3}), v).shape() == Shape{4, 2});
}

TEST_CASE("linalg: dtypes: float16 rounds once, integers accumulate exactly, mixed dtypes raise") {
  const Tensor a = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2}), b = Tensor::from_vector<float>({5, 6, 7, 8}, {2, 2});
  const Tensor h = matmul(cast(a, DType::float16), cast(b, DType::float16));
  CHECK(h.dtype() == DType::float16);
  CHECK(cast(h, DType::float32).to_vector<float>() == std::vector<float>{19, 22, 43, 50});
  const Tensor bf = matmul(cast(a, DType::bfloat16), cast(b, DType::bfloat16));
  CHECK(bf.dtype() == DType::bfloat16);
  CHECK(cast(bf, DType::float32).to_vector<float>() == std::vector<float>{19, 22, 43, 50});
  // float16 products beyond 65504 overflow to inf after the float32 accumulation, like on a GPU.
  const Tensor big = cast(Tensor::full({1, 2}, 200.0), DType::float16);
  const Tensor big_t = cast(Tensor::full({2, 1}, 200.0), DType::float16);
  CHECK(std::isinf(cast(matmul(big, big_t), DType::float32).item()));
  const Tensor i = Tensor::from_vector<int32_t>({1, 2, 3, 4}, {2, 2});
  const Tensor ii = matmul(i, i);
  CHECK(ii.dtype() == DType::int32);
  CHECK(ii.to_vector<int32_t>() == std::vector<int32_t>{7, 10, 15, 22});
  const std::string m = message_of([&] { matmul(a, cast(b, DType::float64)); });
  CHECK(m.find("matmul") != std::string::npos);
  CHECK(m.find("float32") != std::string::npos);
  CHECK(m.find("float64") != std::string::npos);
  CHECK_THROWS_AS(matmul(a, cast(b, DType::float64)), DTypeError);
  CHECK_THROWS_AS(matmul(Tensor::zeros({2, 2}, DType::bool_), Tensor::zeros({2, 2}, DType::bool_)), DTypeError);
}

TEST_CASE("linalg: shape errors name both shapes, the K dims and suggest a transpose") {
  const std::string m = message_of([] { matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})); });
  CHECK(m.find("matmul") != std::string::npos);
  CHECK(m.find("(2, 3)") != std::string::npos);
  CHECK(m.find("(4, 5)") != std::string::npos);
  CHECK(m.find("K=3") != std::string::npos);
  CHECK(m.find("K=4") != std::string::npos);
  CHECK(m.find("transpose") != std::string::npos);
  CHECK_THROWS_AS(matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})), ShapeError);
  CHECK_THROWS_AS(matmul(Tensor::zeros({3}), Tensor::zeros({4})), ShapeError);
  CHECK_THROWS_AS(matmul(Tensor::scalar(2), Tensor::zeros({4})), ShapeError);
  const std::string batch = message_of([] { matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 4, 5})); });
  CHECK(batch.find("(2, 3, 4)") != std::string::npos);
  CHECK(batch.find("(3, 4, 5)") != std::string::npos);
}

TEST_CASE("linalg: zero-size dimensions give zeros or empty results") {
  CHECK(matmul(Tensor::zeros({0, 3}), Tensor::zeros({3, 4})).shape() == Shape{0, 4});
  const Tensor z = matmul(Tensor::ones({2, 0}), Tensor::ones({0, 3}));
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.to_vector<float>() == std::vector<float>(6, 0.0f));
}

TEST_CASE("linalg: matmul backward sums broadcast batch dimensions") {
  Tensor a = uniform64({4, 2, 3}, -1, 1, 41), w = uniform64({3, 5}, -1, 1, 42);
  a.set_requires_grad(true);
  w.set_requires_grad(true);
  sum(matmul(a, w)).backward();
  CHECK(w.grad().shape() == Shape{3, 5});
  CHECK(a.grad().shape() == Shape{4, 2, 3});
  // d/dw sum(a @ w) = column sums of a over every batch and row, repeated across N.
  const auto av = a.detach().to_vector<double>();
  const auto gw = w.grad().to_vector<double>();
  for (int64_t p = 0; p < 3; ++p) {
    double total = 0;
    for (int64_t r = 0; r < 8; ++r) total += av[r * 3 + p];
    for (int64_t j = 0; j < 5; ++j) CHECK(gw[p * 5 + j] == doctest::Approx(total).epsilon(1e-12));
  }
}

TEST_CASE("linalg: float32 matmul 300x257 @ 257x129 is bitwise identical with 1 and 2 threads") {
  const Tensor a = random_normal({300, 257}, 0, 1, DType::float32, RandomKey{17, 1});
  const Tensor b = random_normal({257, 129}, 0, 1, DType::float32, RandomKey{17, 2});
  const Tensor batched = random_normal({3, 130, 257}, 0, 1, DType::float32, RandomKey{17, 3});
  const auto [one, two] = pitfall::testing::run_with_1_and_2_threads(
      [&] { return std::vector<Tensor>{matmul(a, b), matmul(batched, b)}; });
  REQUIRE(one[0].shape() == Shape{300, 129});
  CHECK(bitwise_equal(one[0], two[0]));
  CHECK(bitwise_equal(one[1], two[1]));
}

TEST_CASE("linalg: transposed-view operands go to the kernel unpacked and give the packed result") {
  // Backward passes multiply by transposed views; the kernel takes them as a transpose flag.
  for (DType dtype : {DType::float64, DType::float32, DType::float16, DType::int64}) {
    CAPTURE(dtype_name(dtype));
    const Tensor a_stored = cast(random_normal({2, 7, 5}, 0, 1, DType::float64, RandomKey{31, 1}) * 4.0, dtype);
    const Tensor b_stored = cast(random_normal({2, 9, 7}, 0, 1, DType::float64, RandomKey{31, 2}) * 4.0, dtype);
    const Tensor b_plain = cast(random_normal({7, 9}, 0, 1, DType::float64, RandomKey{31, 3}) * 4.0, dtype);
    const Tensor at = transpose(a_stored, {0, 2, 1});  // (2, 5, 7) view
    const Tensor bt = transpose(b_stored, {0, 2, 1});  // (2, 7, 9) view
    REQUIRE_FALSE(at.is_contiguous());
    const double tolerance = dtype == DType::float16 ? 2e-2 : dtype == DType::float32 ? 1e-5 : 1e-12;
    auto close = [&](const Tensor& got, const Tensor& want) {
      REQUIRE(got.shape() == want.shape());
      for (int64_t i = 0; i < want.numel(); ++i) {
        const double w = want.value_at(i);
        CHECK(std::abs(got.value_at(i) - w) <= tolerance * std::max(1.0, std::abs(w)));
      }
    };
    close(matmul(at, bt), matmul(at.contiguous(), bt.contiguous()));        // both transposed, batched
    close(matmul(at, b_plain), matmul(at.contiguous(), b_plain));          // a transposed, b shared
    close(matmul(at.contiguous(), bt), matmul(at.contiguous(), bt.contiguous()));  // only b transposed
    close(matmul(transpose(b_plain), transpose(at, {0, 2, 1})),           // (9,7) @ (2,7,5) broadcast
          matmul(transpose(b_plain).contiguous(), transpose(at, {0, 2, 1}).contiguous()));
  }
}

TEST_CASE("linalg: transposed operands keep 1-vs-2-thread determinism and gradients") {
  const Tensor x = random_normal({300, 257}, 0, 1, DType::float32, RandomKey{33, 1});
  const Tensor w = random_normal({129, 257}, 0, 1, DType::float32, RandomKey{33, 2});
  const auto [one, two] = pitfall::testing::run_with_1_and_2_threads(
      [&] { return std::vector<Tensor>{matmul(x, transpose(w)), matmul(transpose(x), x)}; });
  CHECK(bitwise_equal(one[0], two[0]));
  CHECK(bitwise_equal(one[1], two[1]));
}
