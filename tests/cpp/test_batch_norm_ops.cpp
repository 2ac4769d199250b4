// batch_norm_moments / batch_norm_apply: BatchNormalization's fused passes, against the op-by-op
// form they replace (bitwise where the summation order is the same), a float64 reference loop,
// finite differences (gradcheck cases), thread counts, and bad arguments.
#include <doctest/doctest.h>

#include <pitfall/pitfall.h>

#include <cmath>

#include "gradcheck_cases.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

PITFALL_GRADCHECK_CASE("batch_norm_moments", "channels last (4, 3, 5), axis -1",
                       [](auto& in) { return batch_norm_moments(in[0], -1); },
                       [] { return std::vector{uniform64({4, 3, 5}, -2, 2, 21)}; });
PITFALL_GRADCHECK_CASE("batch_norm_moments", "channels first (3, 4, 2, 2), axis 1",
                       [](auto& in) { return batch_norm_moments(in[0], 1); },
                       [] { return std::vector{uniform64({3, 4, 2, 2}, -2, 2, 22)}; });
PITFALL_GRADCHECK_CASE("batch_norm_apply", "with offset, axis -1",
                       [](auto& in) { return batch_norm_apply(in[0], in[1], in[2], in[3], -1); },
                       [] {
                         return std::vector{uniform64({5, 4}, -2, 2, 23), uniform64({4}, -1, 1, 24),
                                            uniform64({4}, 0.5, 2, 25), uniform64({4}, -1, 1, 26)};
                       });
PITFALL_GRADCHECK_CASE("batch_norm_apply", "no offset, axis 1 of (2, 3, 4)",
                       [](auto& in) { return batch_norm_apply(in[0], in[1], in[2], Tensor(), 1); },
                       [] {
                         return std::vector{uniform64({2, 3, 4}, -2, 2, 27), uniform64({3}, -1, 1, 28),
                                            uniform64({3}, 0.5, 2, 29)};
                       });

namespace {

Tensor uniform32(const Shape& shape, double lo, double hi, uint64_t seed) {
  return cast(uniform64(shape, lo, hi, seed), DType::float32);
}

// Row k of a (2, C) result as (C,).
Tensor row(const Tensor& pair, int64_t k) { return reshape(slice(pair, {k, 0}, {1, pair.shape()[1]}), {pair.shape()[1]}); }

}  // namespace

TEST_SUITE("batch norm ops") {

TEST_CASE("channels-last moments and the normalization equal mean, var, subtract, multiply, add bit for bit") {
  for (DType dtype : {DType::float32, DType::float64}) {
    CAPTURE(dtype_name(dtype));
    // Values far from 0 so that the variance's cancellation is visible in the low bits.
    const Tensor x = cast(uniform64({64, 5, 5, 19}, 3.0, 5.0, 31), dtype);
    const Tensor moments = batch_norm_moments(x, -1);
    const std::vector<int64_t> axes{0, 1, 2};
    CHECK(bitwise_equal(row(moments, 0), mean(x, axes)));
    CHECK(bitwise_equal(row(moments, 1), var(x, axes)));
    const Tensor m = row(moments, 0);
    const Tensor scale = cast(uniform64({19}, 0.5, 2.0, 32), dtype);
    const Tensor offset = cast(uniform64({19}, -1.0, 1.0, 33), dtype);
    CHECK(bitwise_equal(batch_norm_apply(x, m, scale, offset, 3), add(multiply(subtract(x, m), scale), offset)));
    CHECK(bitwise_equal(batch_norm_apply(x, m, scale, Tensor(), 3), multiply(subtract(x, m), scale)));
  }
}

TEST_CASE("channels-first moments match a float64 reference loop, and each thread count gives the same bits") {
  const Tensor x = uniform32({6, 7, 9, 11}, -3.0, 3.0, 41);
  const Tensor moments = batch_norm_moments(x, 1);
  const std::vector<float> v = x.to_vector<float>();
  const std::vector<float> got = moments.to_vector<float>();
  for (int64_t c = 0; c < 7; ++c) {
    double total = 0.0, squares = 0.0;
    for (int64_t n = 0; n < 6; ++n) {
      for (int64_t i = 0; i < 99; ++i) total += v[static_cast<size_t>((n * 7 + c) * 99 + i)];
    }
    const double mu = total / 594.0;
    for (int64_t n = 0; n < 6; ++n) {
      for (int64_t i = 0; i < 99; ++i) {
        const double d = v[static_cast<size_t>((n * 7 + c) * 99 + i)] - mu;
        squares += d * d;
      }
    }
    CHECK(got[static_cast<size_t>(c)] == doctest::Approx(mu).epsilon(1e-6));
    CHECK(got[static_cast<size_t>(7 + c)] == doctest::Approx(squares / 594.0).epsilon(1e-5));
  }
  const auto [one, two] = pitfall::testing::run_with_1_and_2_threads([&] {
    Tensor xg = x.detach();
    xg.set_requires_grad(true);
    const Tensor pair = batch_norm_moments(xg, 1);
    const Tensor y = batch_norm_apply(xg, row(pair, 0), row(pair, 1), row(pair, 0), 1);
    sum(multiply(y, y)).backward();
    return std::vector<Tensor>{pair, y, xg.grad()};
  });
  for (size_t i = 0; i < one.size(); ++i) CHECK(bitwise_equal(one[i], two[i]));
}

TEST_CASE("the fused gradients match the op-by-op form's within rounding") {
  // Training-mode batch normalization both ways; gradients of x, gamma and beta.
  const Tensor x0 = uniform64({16, 6}, -2.0, 2.0, 51);
  const Tensor gamma0 = uniform64({6}, 0.5, 1.5, 52), beta0 = uniform64({6}, -0.5, 0.5, 53);
  const Tensor w = uniform64({16, 6}, -1.0, 1.0, 54);
  auto run = [&](bool fused) {
    Tensor x = x0.detach(), gamma = gamma0.detach(), beta = beta0.detach();
    for (Tensor* t : {&x, &gamma, &beta}) t->set_requires_grad(true);
    Tensor y;
    if (fused) {
      const Tensor pair = batch_norm_moments(x, -1);
      const Tensor inv = multiply(divide(1.0, sqrt(add(row(pair, 1), 1e-3))), gamma);
      y = batch_norm_apply(x, row(pair, 0), inv, beta, -1);
    } else {
      const Tensor m = mean(x, {0}, true), v = var(x, {0}, true);
      y = add(multiply(subtract(x, m), multiply(divide(1.0, sqrt(add(v, 1e-3))), gamma)), beta);
    }
    sum(multiply(y, w)).backward();
    return std::vector<Tensor>{y, x.grad(), gamma.grad(), beta.grad()};
  };
  const auto fused = run(true), composite = run(false);
  for (size_t i = 0; i < fused.size(); ++i) {
    CAPTURE(i);
    const std::vector<double> a = fused[i].to_vector<double>(), b = composite[i].to_vector<double>();
    for (size_t k = 0; k < a.size(); ++k) CHECK(a[k] == doctest::Approx(b[k]).epsilon(1e-12));
  }
}

TEST_CASE("batch norm ops: bad arguments say what was expected") {
  const Tensor x = uniform32({4, 3}, -1, 1, 61);
  const Tensor c3 = Tensor::ones({3}), c2 = Tensor::ones({2});
  CHECK(contains(message_of([&] { batch_norm_apply(x, c2, c3, Tensor(), -1); }),
                 "mean must have shape (3,), one value per channel of axis 1"));
  CHECK(contains(message_of([&] { batch_norm_apply(x, c3, cast(c3, DType::float64), Tensor(), -1); }),
                 "different dtypes"));
  CHECK(contains(message_of([&] { batch_norm_moments(Tensor::ones({4, 3}, DType::int32), 1); }),
                 "batch_norm_moments needs a floating tensor"));
  CHECK(contains(message_of([&] { batch_norm_moments(x, 2); }), "batch_norm_moments"));
  CHECK(contains(message_of([&] { batch_norm_moments(Tensor::scalar(1.0), 0); }), "channel axis"));
}

}  // TEST_SUITE
