// The keras.ops additions: trigonometry, rounding, logical ops, divide_no_nan, scans, sorting,
// take_along_axis, tile / repeat / split / pad / slice_update, einsum / tensordot, std, argmin,
// any / all and the keras.ops.nn crossentropies. Values here are worked out by hand; the Python
// suite (tests/python/test_keras_ops.py) compares against NumPy and PyTorch over many shapes.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "gradcheck_cases.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

using Inputs = std::vector<Tensor>;

Tensor i64(const std::vector<int64_t>& v, const Shape& shape) { return Tensor::from_vector(v, shape); }
Tensor f64(const std::vector<double>& v, const Shape& shape) { return Tensor::from_vector(v, shape); }
Tensor f32(const std::vector<float>& v, const Shape& shape) { return Tensor::from_vector(v, shape); }

// The sum of the pieces, each weighted by its position, so every piece's gradient differs.
Tensor weighted_pieces(const std::vector<Tensor>& pieces, int64_t axis) {
  std::vector<Tensor> scaled;
  for (size_t i = 0; i < pieces.size(); ++i) scaled.push_back(multiply(pieces[i], static_cast<double>(i + 1)));
  return concatenate(scaled, axis);
}

}  // namespace

// ---- gradcheck cases
PITFALL_GRADCHECK_CASE("sin", "basic", [](auto& in) { return sin(in[0]); },
                       [] { return Inputs{uniform64({3, 4}, -3, 3, 101)}; });
PITFALL_GRADCHECK_CASE("cos", "basic", [](auto& in) { return cos(in[0]); },
                       [] { return Inputs{uniform64({3, 4}, -3, 3, 102)}; });
PITFALL_GRADCHECK_CASE("divide_no_nan", "zeros in the divisor, broadcasting",
                       [](auto& in) { return divide_no_nan(in[0], multiply(in[1], cast(in[2], in[1].dtype()))); },
                       [] {
                         return Inputs{uniform64({2, 3}, -1, 1, 103), uniform64({3}, 0.5, 2, 104),
                                       Tensor::from_vector<int32_t>({1, 0, 1}, {3})};
                       });
PITFALL_GRADCHECK_CASE("take_along_axis", "axis 1, repeats, negative indices",
                       [](auto& in) { return take_along_axis(in[0], in[1], 1); },
                       [] { return Inputs{uniform64({2, 4}, -1, 1, 105), i64({3, -1, 3, 0, 1, 1}, {2, 3})}; });
PITFALL_GRADCHECK_CASE("take_along_axis", "axis 0, x broadcast along axis 1",
                       [](auto& in) { return take_along_axis(in[0], in[1], 0); },
                       [] { return Inputs{uniform64({3, 1}, -1, 1, 106), i64({2, 0, 2, 1, 1, 1, 0, 2}, {2, 4})}; });
PITFALL_GRADCHECK_CASE("take_along_axis_grad", "axis -1 with repeats",
                       [](auto& in) { return take_along_axis_grad(in[0], in[1], {2, 3}, -1); },
                       [] { return Inputs{uniform64({2, 4}, -1, 1, 107), i64({0, 2, 2, 1, 1, 1, 0, 2}, {2, 4})}; });
PITFALL_GRADCHECK_CASE("tile", "rank grows", [](auto& in) { return tile(in[0], {2, 1, 3}); },
                       [] { return Inputs{uniform64({2, 2}, -1, 1, 108)}; });
PITFALL_GRADCHECK_CASE("repeat", "one count", [](auto& in) { return repeat(in[0], 3, 1); },
                       [] { return Inputs{uniform64({2, 3}, -1, 1, 109)}; });
PITFALL_GRADCHECK_CASE("repeat", "a count per element", [](auto& in) { return repeat(in[0], {2, 0, 3}, 0); },
                       [] { return Inputs{uniform64({3, 2}, -1, 1, 110)}; });
PITFALL_GRADCHECK_CASE("split", "three sections", [](auto& in) { return weighted_pieces(split(in[0], 3, 1), 1); },
                       [] { return Inputs{uniform64({2, 6}, -1, 1, 111)}; });
PITFALL_GRADCHECK_CASE("split", "at indices", [](auto& in) { return weighted_pieces(split(in[0], {1, 3}, 0), 0); },
                       [] { return Inputs{uniform64({4, 2}, -1, 1, 112)}; });
PITFALL_GRADCHECK_CASE("pad", "constant", [](auto& in) { return pad(in[0], {{1, 2}, {0, 1}}, "constant", 0.5); },
                       [] { return Inputs{uniform64({2, 3}, -1, 1, 113)}; });
PITFALL_GRADCHECK_CASE("pad", "reflect", [](auto& in) { return pad(in[0], {{2, 1}, {1, 2}}, "reflect"); },
                       [] { return Inputs{uniform64({3, 3}, -1, 1, 114)}; });
PITFALL_GRADCHECK_CASE("pad", "symmetric and edge",
                       [](auto& in) {
                         return add(pad(in[0], {{2, 2}, {1, 0}}, "symmetric"), pad(in[0], {{2, 2}, {1, 0}}, "edge"));
                       },
                       [] { return Inputs{uniform64({2, 3}, -1, 1, 115)}; });
PITFALL_GRADCHECK_CASE("pad", "wrap", [](auto& in) { return pad(in[0], {{3, 1}}, "wrap"); },
                       [] { return Inputs{uniform64({3}, -1, 1, 116)}; });
PITFALL_GRADCHECK_CASE("slice_update", "both inputs",
                       [](auto& in) { return multiply(slice_update(in[0], {1, 0}, in[1]), in[0]); },
                       [] { return Inputs{uniform64({3, 4}, -1, 1, 117), uniform64({2, 2}, -1, 1, 118)}; });
PITFALL_GRADCHECK_CASE("einsum", "matrix product", [](auto& in) { return einsum("ij,jk->ik", {in[0], in[1]}); },
                       [] { return Inputs{uniform64({2, 3}, -1, 1, 119), uniform64({3, 4}, -1, 1, 120)}; });
PITFALL_GRADCHECK_CASE("einsum", "batch, implicit output and a summed label",
                       [](auto& in) { return einsum("bij,bjk", {in[0], in[1]}); },
                       [] { return Inputs{uniform64({2, 2, 3}, -1, 1, 121), uniform64({2, 3, 2}, -1, 1, 122)}; });
PITFALL_GRADCHECK_CASE("einsum", "diagonal and trace", [](auto& in) { return einsum("iij->ji", {in[0]}); },
                       [] { return Inputs{uniform64({3, 3, 2}, -1, 1, 123)}; });
PITFALL_GRADCHECK_CASE("einsum", "three operands with ellipsis broadcasting",
                       [](auto& in) { return einsum("...ij,jk,...k->...i", {in[0], in[1], in[2]}); },
                       [] {
                         return Inputs{uniform64({2, 1, 2, 3}, -1, 1, 124), uniform64({3, 2}, -1, 1, 125),
                                       uniform64({3, 2}, -1, 1, 126)};
                       });
PITFALL_GRADCHECK_CASE("tensordot", "two axes paired out of order",
                       [](auto& in) { return tensordot(in[0], in[1], {0, 2}, {1, 0}); },
                       [] { return Inputs{uniform64({2, 3, 4}, -1, 1, 127), uniform64({4, 2, 3}, -1, 1, 128)}; });
PITFALL_GRADCHECK_CASE("cumsum", "axis 0 and -1",
                       [](auto& in) { return add(cumsum(in[0], 0), cumsum(in[0], -1)); },
                       [] { return Inputs{uniform64({3, 4}, -1, 1, 129)}; });
PITFALL_GRADCHECK_CASE("cumprod", "with a zero", [](auto& in) { return cumprod(in[0], 1); },
                       [] { return Inputs{f64({0.5, -1.5, 0.0, 2.0, 1.25, 0.8, -0.6, 1.1, 0.0, 0.0}, {2, 5})}; });
PITFALL_GRADCHECK_CASE("cumprod", "axis 0", [](auto& in) { return cumprod(in[0], 0); },
                       [] { return Inputs{uniform64({4, 3}, 0.5, 1.5, 130)}; });
PITFALL_GRADCHECK_CASE("sort", "axis 0", [](auto& in) { return sort(in[0], 0); },
                       [] { return Inputs{uniform64({5, 3}, -1, 1, 131)}; });
PITFALL_GRADCHECK_CASE("top_k", "values", [](auto& in) { return top_k(in[0], 3).first; },
                       [] { return Inputs{uniform64({2, 5}, -1, 1, 132)}; });
PITFALL_GRADCHECK_CASE("standard_deviation", "axes 0 and 2, keepdims",
                       [](auto& in) { return standard_deviation(in[0], {0, 2}, true); },
                       [] { return Inputs{uniform64({3, 2, 4}, -1, 1, 133)}; });
PITFALL_GRADCHECK_CASE("silu", "basic", [](auto& in) { return silu(in[0]); },
                       [] { return Inputs{uniform64({2, 5}, -4, 4, 134)}; });
PITFALL_GRADCHECK_CASE("binary_crossentropy", "probabilities",
                       [](auto& in) { return binary_crossentropy(in[0], in[1]); },
                       [] { return Inputs{uniform64({2, 3}, 0, 1, 135), uniform64({2, 3}, 0.05, 0.95, 136)}; });
PITFALL_GRADCHECK_CASE("binary_crossentropy", "logits",
                       [](auto& in) { return binary_crossentropy(in[0], in[1], true); },
                       [] { return Inputs{uniform64({4}, 0, 1, 137), uniform64({4}, -5, 5, 138)}; });
PITFALL_GRADCHECK_CASE("categorical_crossentropy", "probabilities along axis 0",
                       [](auto& in) { return categorical_crossentropy(in[0], in[1], false, 0); },
                       [] { return Inputs{uniform64({3, 2}, 0, 1, 139), uniform64({3, 2}, 0.1, 1, 140)}; });
PITFALL_GRADCHECK_CASE("categorical_crossentropy", "logits",
                       [](auto& in) { return categorical_crossentropy(in[0], in[1], true); },
                       [] { return Inputs{uniform64({2, 4}, 0, 1, 141), uniform64({2, 4}, -3, 3, 142)}; });
PITFALL_GRADCHECK_CASE("sparse_categorical_crossentropy", "logits, labels with a trailing 1",
                       [](auto& in) { return sparse_categorical_crossentropy(in[1], in[0], true); },
                       [] { return Inputs{uniform64({3, 4}, -3, 3, 143), i64({3, 0, 1}, {3, 1})}; });
PITFALL_GRADCHECK_CASE("sparse_categorical_crossentropy", "probabilities along axis 0",
                       [](auto& in) { return sparse_categorical_crossentropy(in[1], in[0], false, 0); },
                       [] { return Inputs{uniform64({3, 2}, 0.1, 1, 144), i64({2, 0}, {2})}; });

// ---- elementwise
TEST_CASE("keras ops: round is half to even at any number of decimals, and floor, ceil and sign") {
  const Tensor x = f64({0.5, 1.5, 2.5, -0.5, -2.5, 0.25, 1.35, -7.0, 125.0}, {9});
  CHECK(round(x).to_vector<double>() == std::vector<double>{0, 2, 2, -0.0, -2, 0, 1, -7, 125});
  CHECK(round(x, -1).to_vector<double>() == std::vector<double>{0, 0, 0, 0, 0, 0, 0, -10, 120});
  CHECK(round(f64({0.25, 0.35, -1.45}, {3}), 1).to_vector<double>()[0] == 0.2);
  CHECK(floor(x).to_vector<double>() == std::vector<double>{0, 1, 2, -1, -3, 0, 1, -7, 125});
  CHECK(ceil(x).to_vector<double>() == std::vector<double>{1, 2, 3, -0.0, -2, 1, 2, -7, 125});
  const Tensor s = sign(f64({-3, 0, 2, std::numeric_limits<double>::quiet_NaN()}, {4}));
  CHECK(s.value_at(0) == -1);
  CHECK(s.value_at(1) == 0);
  CHECK(s.value_at(2) == 1);
  CHECK(std::isnan(s.value_at(3)));
  CHECK(sign(Tensor::from_vector<int32_t>({-4, 0, 9}, {3})).to_vector<int32_t>() == std::vector<int32_t>{-1, 0, 1});
  CHECK(round(Tensor::from_vector<int32_t>({3, -4}, {2})).to_vector<int32_t>() == std::vector<int32_t>{3, -4});
  CHECK(contains(message_of([] { floor(Tensor::from_vector<int32_t>({1}, {1})); }), "cast"));
  CHECK(contains(message_of([] { round(Tensor::from_vector<int32_t>({15}, {1}), -1); }), "decimals=-1"));
  // Piecewise constant: no gradient path.
  Tensor v = f64({1.5}, {1});
  v.set_requires_grad(true);
  CHECK_FALSE(floor(v).requires_grad());
  CHECK_FALSE(round(v).requires_grad());
}

TEST_CASE("keras ops: logical ops treat nonzero (and NaN) as true and broadcast") {
  const Tensor a = f32({0, 1.5f, -2, std::numeric_limits<float>::quiet_NaN()}, {4});
  const Tensor b = Tensor::from_vector<int32_t>({0, 7}, {2, 1});
  const Tensor both = logical_and(a, b);
  CHECK(both.shape() == Shape{2, 4});
  CHECK(both.dtype() == DType::bool_);
  CHECK(cast(both, DType::int32).to_vector<int32_t>() == std::vector<int32_t>{0, 0, 0, 0, 0, 1, 1, 1});
  CHECK(cast(logical_or(a, b), DType::int32).to_vector<int32_t>() == std::vector<int32_t>{0, 1, 1, 1, 1, 1, 1, 1});
  CHECK(cast(logical_not(a), DType::int32).to_vector<int32_t>() == std::vector<int32_t>{1, 0, 0, 0});
}

TEST_CASE("keras ops: divide_no_nan gives 0 and a zero gradient where the divisor is 0") {
  Tensor a = f64({1, 2, 3}, {3});
  Tensor b = f64({2, 0, -4}, {3});
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  const Tensor q = divide_no_nan(a, b);
  CHECK(q.to_vector<double>() == std::vector<double>{0.5, 0, -0.75});
  const auto grads = gradients(sum(q), {a, b});
  CHECK(grads[0].to_vector<double>() == std::vector<double>{0.5, 0, -0.25});
  CHECK(grads[1].to_vector<double>() == std::vector<double>{-0.25, 0, -3.0 / 16});
  CHECK_THROWS_AS(divide_no_nan(Tensor::from_vector<int32_t>({1}, {1}), Tensor::from_vector<int32_t>({1}, {1})),
                  DTypeError);
}

// ---- scans and sorting
TEST_CASE("keras ops: cumsum and cumprod along an axis, integers wrap, bool is refused") {
  const Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(cumsum(x, 1).to_vector<double>() == std::vector<double>{1, 3, 6, 4, 9, 15});
  CHECK(cumsum(x, 0).to_vector<double>() == std::vector<double>{1, 2, 3, 5, 7, 9});
  CHECK(cumprod(x, -1).to_vector<double>() == std::vector<double>{1, 2, 6, 4, 20, 120});
  const Tensor big = Tensor::from_vector<int32_t>({2147483647, 1}, {2});
  CHECK(cumsum(big, 0).to_vector<int32_t>() == std::vector<int32_t>{2147483647, -2147483647 - 1});
  CHECK(cumsum(Tensor::zeros({0, 3}), 0).shape() == Shape{0, 3});
  CHECK(contains(message_of([] { cumsum(Tensor::zeros({2}, DType::bool_), 0); }), "bool"));
  CHECK(contains(message_of([] { cumsum(Tensor::scalar(1.0), 0); }), "scalar"));
  // cumprod's gradient at a zero: d/dx1 of (x0, x0 x1, x0 x1 x2) summed, with x1 = 0.
  Tensor z = f64({2, 0, 3}, {3});
  z.set_requires_grad(true);
  const auto g = gradients(sum(cumprod(z, 0)), {z})[0].to_vector<double>();
  CHECK(g == std::vector<double>{1, 2 + 2 * 3, 0});
}

TEST_CASE("keras ops: argsort is stable with NaN last, and top_k descends with ties in index order") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor x = f64({3, nan, 1, 3, -2, 1}, {6});
  CHECK(argsort(x).to_vector<int64_t>() == std::vector<int64_t>{4, 2, 5, 0, 3, 1});
  CHECK(argsort(x, 0, true).to_vector<int64_t>() == std::vector<int64_t>{1, 0, 3, 2, 5, 4});
  const Tensor sorted = sort(x);
  CHECK(sorted.value_at(0) == -2);
  CHECK(std::isnan(sorted.value_at(5)));
  const auto [values, indices] = top_k(f64({1, 5, 5, 2, 5}, {5}), 2);
  CHECK(values.to_vector<double>() == std::vector<double>{5, 5});
  CHECK(indices.to_vector<int64_t>() == std::vector<int64_t>{1, 2});
  CHECK(top_k(x, 0).first.shape() == Shape{0});
  CHECK(contains(message_of([&] { top_k(x, 7); }), "k=7"));
  CHECK(argmin(f64({2, -1, 5, -1}, {2, 2}), 1).to_vector<int64_t>() == std::vector<int64_t>{1, 1});
}

TEST_CASE("keras ops: any and all over axes, empty reductions give their identities") {
  const Tensor x = f32({0, 0, 1, 0, 2, 3}, {2, 3});
  CHECK(cast(any(x, {1}), DType::int32).to_vector<int32_t>() == std::vector<int32_t>{1, 1});
  CHECK(cast(all(x, {0}), DType::int32).to_vector<int32_t>() == std::vector<int32_t>{0, 0, 1});
  CHECK(all(x, {0, 1}, true).shape() == Shape{1, 1});
  CHECK(cast(any(Tensor::zeros({0, 2}), {0}), DType::int32).to_vector<int32_t>() == std::vector<int32_t>{0, 0});
  CHECK(cast(all(Tensor::zeros({0, 2}), {0}), DType::int32).to_vector<int32_t>() == std::vector<int32_t>{1, 1});
}

TEST_CASE("keras ops: scans, sorts and scatters are bitwise the same at any thread count") {
  const Tensor x = random_uniform({64, 300}, -1, 1, DType::float32, RandomKey{5, 1});
  const Tensor index = cast(multiply(random_uniform({64, 500}, 0, 300, DType::float32, RandomKey{5, 2}), 1.0), DType::int64);
  const auto [one, two] = run_with_1_and_2_threads([&] {
    return std::vector<Tensor>{cumsum(x, 0), cumprod(x, 1), argsort(x, 0), sort(x, 1),
                               take_along_axis_grad(random_uniform({64, 500}, -1, 1, DType::float32, RandomKey{5, 3}),
                                                    index, {64, 300}, 1)};
  });
  for (size_t i = 0; i < one.size(); ++i) CHECK(bitwise_equal(one[i], two[i]));
}

// ---- shape ops
TEST_CASE("keras ops: take_along_axis broadcasts, wraps negatives and names bad indices") {
  const Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(take_along_axis(x, i64({2, 0, -1, 1}, {2, 2}), 1).to_vector<double>() == std::vector<double>{3, 1, 6, 5});
  CHECK(take_along_axis(x, i64({1, 0, 1}, {1, 3}), 0).to_vector<double>() == std::vector<double>{4, 2, 6});
  CHECK(contains(message_of([&] { take_along_axis(x, i64({3}, {1, 1}), 1); }), "index 3 is out of bounds"));
  CHECK(contains(message_of([&] { take_along_axis(x, i64({0}, {1}), 1); }), "rank"));
}

TEST_CASE("keras ops: tile, repeat, split and pad follow NumPy") {
  const Tensor x = f64({1, 2, 3, 4}, {2, 2});
  CHECK(tile(x, {1, 2}).to_vector<double>() == std::vector<double>{1, 2, 1, 2, 3, 4, 3, 4});
  CHECK(tile(x, {2}).shape() == Shape{2, 4});
  CHECK(tile(x, {2, 1, 1}).shape() == Shape{2, 2, 2});
  CHECK(repeat(x, 2, 0).to_vector<double>() == std::vector<double>{1, 2, 1, 2, 3, 4, 3, 4});
  CHECK(repeat(x, {0, 2}, 1).to_vector<double>() == std::vector<double>{2, 2, 4, 4});
  const auto pieces = split(f64({0, 1, 2, 3, 4}, {5}), {2, 1, 9}, 0);
  REQUIRE(pieces.size() == 4);
  CHECK(pieces[0].to_vector<double>() == std::vector<double>{0, 1});
  CHECK(pieces[1].numel() == 0);
  CHECK(pieces[2].to_vector<double>() == std::vector<double>{1, 2, 3, 4});
  CHECK(pieces[3].numel() == 0);
  CHECK(contains(message_of([&] { split(x, 3, 1); }), "3 equal sections"));
  const Tensor v = f64({1, 2, 3}, {3});
  CHECK(pad(v, {{2, 1}}, "reflect").to_vector<double>() == std::vector<double>{3, 2, 1, 2, 3, 2});
  CHECK(pad(v, {{2, 1}}, "symmetric").to_vector<double>() == std::vector<double>{2, 1, 1, 2, 3, 3});
  CHECK(pad(v, {{1, 2}}, "edge").to_vector<double>() == std::vector<double>{1, 1, 2, 3, 3, 3});
  CHECK(pad(v, {{1, 2}}, "wrap").to_vector<double>() == std::vector<double>{3, 1, 2, 3, 1, 2});
  CHECK(pad(v, {{1, 0}}, "constant", -1).to_vector<double>() == std::vector<double>{-1, 1, 2, 3});
  CHECK(contains(message_of([&] { pad(v, {{3, 0}}, "reflect"); }), "at most 2"));
  CHECK(contains(message_of([&] { pad(v, {{1, 0}}, "median"); }), "'median'"));
  CHECK(contains(message_of([&] { pad(Tensor::from_vector<int32_t>({1}, {1}), {{1, 0}}, "constant", 0.5); }),
                 "not an integer"));
}

TEST_CASE("keras ops: slice_update replaces one block of a copy") {
  const Tensor x = Tensor::zeros({3, 3}, DType::float64);
  const Tensor y = slice_update(x, {1, 1}, f64({1, 2, 3, 4}, {2, 2}));
  CHECK(y.to_vector<double>() == std::vector<double>{0, 0, 0, 0, 1, 2, 0, 3, 4});
  CHECK(x.to_vector<double>() == std::vector<double>(9, 0.0));
  CHECK(contains(message_of([&] { slice_update(x, {2, 0}, f64({1, 2, 3, 4}, {2, 2})); }), "start must be in [0, 1]"));
}

// ---- einsum
TEST_CASE("keras ops: einsum reads NumPy subscripts and names what is wrong with them") {
  const Tensor a = f64({1, 2, 3, 4}, {2, 2});
  const Tensor b = f64({5, 6, 7, 8}, {2, 2});
  CHECK(einsum("ij,jk->ik", {a, b}).to_vector<double>() == std::vector<double>{19, 22, 43, 50});
  CHECK(einsum("ij,jk", {a, b}).to_vector<double>() == std::vector<double>{19, 22, 43, 50});
  CHECK(einsum("ii", {a}).value_at(0) == 5);
  CHECK(einsum("ij->", {a}).value_at(0) == 10);
  CHECK(einsum("ji", {a}).to_vector<double>() == std::vector<double>{1, 3, 2, 4});
  CHECK(einsum("i,j->ij", {f64({1, 2}, {2}), f64({3, 4, 5}, {3})}).to_vector<double>() ==
        std::vector<double>{3, 4, 5, 6, 8, 10});
  CHECK(einsum("...i,...i->...", {a, b}).to_vector<double>() == std::vector<double>{17, 53});
  CHECK(tensordot(a, b, {1}, {0}).to_vector<double>() == std::vector<double>{19, 22, 43, 50});
  CHECK(contains(message_of([&] { einsum("ij,jk->ik", {a}); }), "2 operands but 1"));
  CHECK(contains(message_of([&] { einsum("ijk", {a}); }), "3 letters for an operand of rank 2"));
  CHECK(contains(message_of([&] { einsum("ij->iz", {a}); }), "'z'"));
  CHECK(contains(message_of([&] { einsum("i1", {a}); }), "'1'"));
  CHECK(contains(message_of([&] { einsum("ij,jk", {a, f64({1, 2, 3}, {3, 1})}); }), "sizes 2 and 3"));
  CHECK_THROWS_AS(einsum("ij,jk", {a, f32({1, 2, 3, 4}, {2, 2})}), DTypeError);
}

// ---- keras.ops.nn crossentropies
TEST_CASE("keras ops: crossentropies against hand-computed values") {
  const Tensor p = f64({0.8, 0.1, 0.1, 0.25, 0.25, 0.5}, {2, 3});
  const Tensor t = f64({1, 0, 0, 0, 0, 1}, {2, 3});
  const auto cce = categorical_crossentropy(t, p).to_vector<double>();
  CHECK(cce[0] == doctest::Approx(-std::log(0.8)).epsilon(1e-12));
  CHECK(cce[1] == doctest::Approx(-std::log(0.5)).epsilon(1e-12));
  const auto scce = sparse_categorical_crossentropy(i64({0, 2}, {2}), p).to_vector<double>();
  CHECK(scce == cce);
  const auto bce = binary_crossentropy(f64({1, 0}, {2}), f64({0.9, 0.2}, {2})).to_vector<double>();
  CHECK(bce[0] == doctest::Approx(-std::log(0.9)).epsilon(1e-12));
  CHECK(bce[1] == doctest::Approx(-std::log(0.8)).epsilon(1e-12));
  const auto bce_logits = binary_crossentropy(f64({1}, {1}), f64({0}, {1}), true).to_vector<double>();
  CHECK(bce_logits[0] == doctest::Approx(std::log(2.0)).epsilon(1e-12));
  CHECK(contains(message_of([&] { sparse_categorical_crossentropy(i64({0, 3}, {2}), p); }), "3"));
  CHECK(contains(message_of([&] { sparse_categorical_crossentropy(f64({0, 1}, {2}), p); }), "integer class indices"));
  CHECK(contains(message_of([&] { binary_crossentropy(f64({1, 0}, {2}), p); }), "same shape"));
}
