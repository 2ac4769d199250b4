// sparse_softmax_cross_entropy: the fused loss of SparseCategoricalCrossentropy(from_logits=True),
// against a reference loop, the composite ops it replaces, finite differences (gradcheck case),
// extreme logits, both label dtypes, thread counts, and bad labels.
#include <doctest/doctest.h>

#include <pitfall/pitfall.h>

#include <cmath>

#include "gradcheck_cases.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

PITFALL_GRADCHECK_CASE("sparse_softmax_cross_entropy", "rows of 5 classes, int64 labels",
                       [](auto& in) { return sparse_softmax_cross_entropy(in[0], in[1]); },
                       [] { return std::vector{uniform64({4, 5}, -3, 3), Tensor::from_vector<int64_t>({0, 4, 2, 4}, {4})}; });
PITFALL_GRADCHECK_CASE("sparse_softmax_cross_entropy", "(2, 3) rows of 4 classes, int32 labels",
                       [](auto& in) { return sparse_softmax_cross_entropy(in[0], in[1]); },
                       [] {
                         return std::vector{uniform64({2, 3, 4}, -2, 2, 11),
                                            Tensor::from_vector<int32_t>({3, 0, 1, 2, 2, 0}, {2, 3})};
                       });

namespace {

// log(sum_j exp(x_j)) - x_label, in long double, without the max shift (inputs are moderate).
std::vector<double> reference_loss(const std::vector<double>& x, const std::vector<int64_t>& labels, int64_t classes) {
  std::vector<double> out;
  for (size_t r = 0; r < labels.size(); ++r) {
    long double total = 0;
    for (int64_t j = 0; j < classes; ++j) total += std::exp(static_cast<long double>(x[r * classes + j]));
    out.push_back(static_cast<double>(std::log(total) - x[r * classes + labels[r]]));
  }
  return out;
}

}  // namespace

TEST_SUITE("sparse_softmax_cross_entropy") {
  TEST_CASE("values match log-sum-exp minus the label's logit, in float64 and float32") {
    const Tensor x = uniform64({6, 9}, -4, 4, 21);
    const std::vector<int64_t> labels{0, 8, 3, 3, 5, 1};
    const Tensor y = Tensor::from_vector<int64_t>(labels, {6});
    const std::vector<double> expected = reference_loss(x.to_vector<double>(), labels, 9);
    const std::vector<double> got = sparse_softmax_cross_entropy(x, y).to_vector<double>();
    const std::vector<float> got32 = sparse_softmax_cross_entropy(cast(x, DType::float32), y).to_vector<float>();
    REQUIRE(got.size() == expected.size());
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-13));
      CHECK(got32[i] == doctest::Approx(expected[i]).epsilon(1e-6));
    }
  }

  TEST_CASE("equals the composite -sum(one_hot * log_softmax), forward and backward") {
    Tensor x = uniform64({5, 7}, -3, 3, 22);
    x.set_requires_grad(true);
    const Tensor y = Tensor::from_vector<int64_t>({6, 0, 2, 2, 4}, {5});
    const Tensor g = uniform64({5}, 0.5, 2, 23);
    const Tensor fused = sparse_softmax_cross_entropy(x, y);
    fused.backward(g);
    const std::vector<double> fused_grad = x.grad().to_vector<double>();
    x.impl()->grad = nullptr;
    const Tensor composite = negative(sum(multiply(one_hot(y, 7, DType::float64), log_softmax(x, -1)), {-1}));
    composite.backward(g);
    const std::vector<double> composite_grad = x.grad().to_vector<double>();
    const auto a = fused.to_vector<double>(), b = composite.to_vector<double>();
    for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(b[i]).epsilon(1e-13));
    for (size_t i = 0; i < fused_grad.size(); ++i) {
      CHECK(fused_grad[i] == doctest::Approx(composite_grad[i]).epsilon(1e-12).scale(1));
    }
  }

  TEST_CASE("extreme logits stay finite, and the gradient rows sum to zero") {
    const Tensor x = Tensor::from_vector<float>({1e4f, -1e4f, 0.f, -3e4f, 3e4f, 1.f}, {2, 3});
    Tensor v = x;
    v.set_requires_grad(true);
    const Tensor y = Tensor::from_vector<int64_t>({1, 0}, {2});
    const Tensor loss = sparse_softmax_cross_entropy(v, y);
    const std::vector<float> l = loss.to_vector<float>();
    CHECK(l[0] == doctest::Approx(2e4));  // the label's logit is 2e4 below the maximum
    CHECK(l[1] == doctest::Approx(6e4));
    sum(loss).backward();
    const std::vector<float> g = v.grad().to_vector<float>();
    for (float value : g) CHECK(std::isfinite(value));
    CHECK(g[0] + g[1] + g[2] == doctest::Approx(0.0).epsilon(1e-6));
    CHECK(g[0] == doctest::Approx(1.0));   // softmax is one-hot on the maximum
    CHECK(g[1] == doctest::Approx(-1.0));  // minus the label's one-hot
  }

  TEST_CASE("results are bitwise identical for 1 and 2 threads") {
    const auto [one, two] = pitfall::testing::run_with_1_and_2_threads([] {
      Tensor x = random_normal({300, 37}, 0, 3, DType::float32, RandomKey{24, 1});
      x.set_requires_grad(true);
      std::vector<int64_t> labels(300);
      for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>((i * 7) % 37);
      const Tensor loss = sparse_softmax_cross_entropy(x, Tensor::from_vector<int64_t>(labels, {300}));
      sum(loss).backward();
      return std::vector<Tensor>{loss, x.grad()};
    });
    for (size_t i = 0; i < one.size(); ++i) CHECK(bitwise_equal(one[i], two[i]));
  }

  TEST_CASE("bad labels and shapes say what is wrong") {
    const Tensor x = Tensor::zeros({3, 4});
    CHECK_THROWS_WITH_AS(sparse_softmax_cross_entropy(x, Tensor::from_vector<int64_t>({0, 4, 1}, {3})),
                         doctest::Contains("label 4 of row 1 is outside the classes [0, 4)"), IndexError);
    CHECK_THROWS_WITH_AS(sparse_softmax_cross_entropy(x, Tensor::from_vector<int32_t>({0, 1, -1}, {3})),
                         doctest::Contains("label -1 of row 2"), IndexError);
    CHECK_THROWS_WITH_AS(sparse_softmax_cross_entropy(x, Tensor::zeros({3})), doctest::Contains("int32 or int64"),
                         DTypeError);
    CHECK_THROWS_WITH_AS(sparse_softmax_cross_entropy(x, Tensor::from_vector<int64_t>({0, 1}, {2})),
                         doctest::Contains("expected one label per row, shape (3,)"), ShapeError);
    CHECK_THROWS_WITH_AS(sparse_softmax_cross_entropy(Tensor::from_vector<int64_t>({1, 2}, {1, 2}),
                                                      Tensor::from_vector<int64_t>({0}, {1})),
                         doctest::Contains("floating"), DTypeError);
  }

  TEST_CASE("SparseCategoricalCrossentropy from logits uses it and keeps its value") {
    const Tensor logits = uniform64({4, 3}, -2, 2, 25);
    const Tensor labels = Tensor::from_vector<int64_t>({2, 0, 1, 1}, {4, 1});
    const double value = (*sparse_categorical_crossentropy_loss(true))(labels, logits).item();
    const std::vector<double> per_row = reference_loss(logits.to_vector<double>(), {2, 0, 1, 1}, 3);
    CHECK(value == doctest::Approx((per_row[0] + per_row[1] + per_row[2] + per_row[3]) / 4).epsilon(1e-13));
  }
}
