#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include <pitfall/pitfall.h>

#include "test_util.h"

using namespace pitfall;

TEST_CASE("random: Philox4x32-10 matches the Random123 known-answer vectors") {
  // Known-answer tests published with Random123 (kat_vectors, philox4x32_10).
  CHECK(philox4x32({0, 0, 0, 0}, 0) == std::array<uint32_t, 4>{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  CHECK(philox4x32({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, 0xffffffffffffffffull) ==
        std::array<uint32_t, 4>{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  CHECK(philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, 0x299f31d0a4093822ull) ==
        std::array<uint32_t, 4>{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE("random: the same key gives the same numbers, another stream different ones") {
  const Tensor a = random_normal({1000}, 0, 1, DType::float32, RandomKey{42, 3});
  const Tensor b = random_normal({1000}, 0, 1, DType::float32, RandomKey{42, 3});
  const Tensor c = random_normal({1000}, 0, 1, DType::float32, RandomKey{42, 4});
  CHECK(std::memcmp(a.data_ptr(), b.data_ptr(), 4000) == 0);
  CHECK(std::memcmp(a.data_ptr(), c.data_ptr(), 4000) != 0);
}

TEST_CASE("random: set_random_seed replays the global sequence") {
  set_random_seed(1234);
  const auto first = random_uniform({64}, 0, 1, DType::float64, next_random_key()).to_vector<double>();
  const auto second = random_uniform({64}, 0, 1, DType::float64, next_random_key()).to_vector<double>();
  set_random_seed(1234);
  CHECK(random_uniform({64}, 0, 1, DType::float64, next_random_key()).to_vector<double>() == first);
  CHECK(random_uniform({64}, 0, 1, DType::float64, next_random_key()).to_vector<double>() == second);
  CHECK(first != second);
  // An explicit seed is stateless: same numbers on every call.
  CHECK(random_uniform({8}, 0, 1, DType::float64, resolve_random_key(7)).to_vector<double>() ==
        random_uniform({8}, 0, 1, DType::float64, resolve_random_key(7)).to_vector<double>());
}

TEST_CASE("random: values do not depend on the thread count") {
  const auto [one, two] = pitfall::testing::run_with_1_and_2_threads(
      [] { return std::vector<Tensor>{truncated_normal({200003}, 0, 1, DType::float32, RandomKey{9, 1})}; });
  CHECK(pitfall::testing::bitwise_equal(one[0], two[0]));
}

TEST_CASE("random: distributions have the right moments and ranges") {
  const auto u = random_uniform({200000}, -2, 3, DType::float64, RandomKey{1, 1}).to_vector<double>();
  const double umean = std::accumulate(u.begin(), u.end(), 0.0) / u.size();
  CHECK(*std::min_element(u.begin(), u.end()) >= -2.0);
  CHECK(*std::max_element(u.begin(), u.end()) < 3.0);
  CHECK(umean == doctest::Approx(0.5).epsilon(0.02));

  const auto n = random_normal({200000}, 1.5, 2.0, DType::float64, RandomKey{1, 2}).to_vector<double>();
  double mean = std::accumulate(n.begin(), n.end(), 0.0) / n.size(), var = 0;
  for (double v : n) var += (v - mean) * (v - mean);
  var /= n.size();
  CHECK(std::abs(mean - 1.5) < 0.02);
  CHECK(std::abs(std::sqrt(var) - 2.0) < 0.02);

  // Truncated at 2 sigma: std of a unit normal truncated to [-2, 2] is 0.879626.
  const auto t = truncated_normal({200000}, 0.0, 1.0, DType::float64, RandomKey{1, 3}).to_vector<double>();
  double tvar = 0;
  for (double v : t) {
    REQUIRE(std::abs(v) <= 2.0);
    tvar += v * v;
  }
  CHECK(std::sqrt(tvar / t.size()) == doctest::Approx(0.8796256610342398).epsilon(0.01));

  const auto b = bernoulli({100000}, 0.3, DType::float32, RandomKey{1, 4}).to_vector<float>();
  CHECK(std::accumulate(b.begin(), b.end(), 0.0) / b.size() == doctest::Approx(0.3).epsilon(0.03));

  auto p = random_permutation(1000, RandomKey{1, 5}).to_vector<int64_t>();
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) REQUIRE(sorted[i] == i);
  CHECK(p != sorted);
}

TEST_CASE("random: float16 draws are rounded float16 values - bad arguments raise") {
  const Tensor h = random_normal({10}, 0, 1, DType::float16, RandomKey{3, 3});
  CHECK(h.dtype() == DType::float16);
  CHECK_THROWS_AS(random_normal({3}, 0, 1, DType::int32, RandomKey{}), DTypeError);
  CHECK_THROWS_AS(random_uniform({3}, 1, 1, DType::float32, RandomKey{}), ValueError);
  CHECK_THROWS_AS(bernoulli({3}, 1.5, DType::float32, RandomKey{}), ValueError);
}
