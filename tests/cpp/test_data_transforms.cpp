#include <doctest/doctest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <set>
#include <thread>

#include <pitfall/data/transforms.h>
#include <pitfall/pitfall.h>

#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

// 0, 1, 2, ... in `shape`, so every element is distinguishable.
Tensor iota_tensor(const Shape& shape, DType dtype = DType::float32) {
  std::vector<double> values(static_cast<size_t>(shape_numel(shape)));
  std::iota(values.begin(), values.end(), 0.0);
  return cast(Tensor::from_vector(values, shape), dtype);
}

// Image i of a packed (N, H, W, C) batch as its own (H, W, C) tensor.
Tensor image_of(const Tensor& batch, int64_t i) {
  const Shape image_shape(batch.shape().begin() + 1, batch.shape().end());
  const size_t bytes = static_cast<size_t>(shape_numel(image_shape)) * dtype_size(batch.dtype());
  return Tensor::from_buffer(static_cast<const char*>(batch.contiguous().data_ptr()) + i * bytes, image_shape,
                             batch.dtype());
}

// Reference flip of a packed (H, W, C) float tensor.
std::vector<float> flipped(const std::vector<float>& image, int64_t height, int64_t width, int64_t channels,
                           bool flip_h, bool flip_w) {
  std::vector<float> out(image.size());
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t sy = flip_h ? height - 1 - y : y, sx = flip_w ? width - 1 - x : x;
        out[(y * width + x) * channels + c] = image[(sy * width + sx) * channels + c];
      }
    }
  }
  return out;
}

// Which of the four flips turned `image` into `result` ({flip_h, flip_w}); fails if none did.
std::pair<bool, bool> flip_applied(const Tensor& image, const Tensor& result) {
  const auto src = image.to_vector<float>(), got = result.to_vector<float>();
  const int64_t h = image.dim(0), w = image.dim(1), c = image.dim(2);
  for (int code = 0; code < 4; ++code) {
    if (flipped(src, h, w, c, code & 2, code & 1) == got) return {(code & 2) != 0, (code & 1) != 0};
  }
  FAIL("the result is no flip of the image");
  return {false, false};
}

// Reference crop of a packed (H, W, C) float tensor.
std::vector<float> window(const std::vector<float>& image, int64_t width, int64_t channels, int64_t top,
                          int64_t left, int64_t crop_h, int64_t crop_w) {
  std::vector<float> out;
  for (int64_t y = 0; y < crop_h; ++y) {
    for (int64_t x = 0; x < crop_w; ++x) {
      for (int64_t c = 0; c < channels; ++c) out.push_back(image[((top + y) * width + left + x) * channels + c]);
    }
  }
  return out;
}

// The offset at which `crop` is a window of `image` (-1, -1 when it is none).
std::pair<int64_t, int64_t> crop_offset_of(const Tensor& image, const Tensor& crop) {
  const auto src = image.to_vector<float>(), got = crop.to_vector<float>();
  const int64_t h = image.dim(0), w = image.dim(1), c = image.dim(2), ch = crop.dim(0), cw = crop.dim(1);
  for (int64_t top = 0; top + ch <= h; ++top) {
    for (int64_t left = 0; left + cw <= w; ++left) {
      if (window(src, w, c, top, left, ch, cw) == got) return {top, left};
    }
  }
  return {-1, -1};
}

// |count - n p| within 6 binomial standard deviations (a false failure once in ~10^9 runs).
bool binomial_plausible(int64_t count, int64_t n, double p) {
  return std::abs(static_cast<double>(count) - n * p) <= 6.0 * std::sqrt(n * p * (1 - p));
}

}  // namespace

TEST_SUITE("data transforms") {

TEST_CASE("rescale: uint8 to float32 matches x * float(scale) + float(offset) rounded in float32") {
  std::vector<uint8_t> pixels(256);
  std::iota(pixels.begin(), pixels.end(), 0);
  const Tensor x = Tensor::from_vector(pixels, {16, 16});
  const Tensor y = data::rescale(x, 1.0 / 255);
  REQUIRE(y.dtype() == DType::float32);
  REQUIRE(y.shape() == Shape{16, 16});
  const auto got = y.to_vector<float>();
  const float scale = static_cast<float>(1.0 / 255);
  for (int i = 0; i < 256; ++i) {
    const float product = static_cast<float>(i) * scale;
    CHECK(got[i] == product + 0.0f);
  }
  // The maximum pixel lands on 255 * float(1/255) computed in float32, which is exactly 1.
  CHECK(got[255] == static_cast<float>(255.0f * scale));
  CHECK(got[255] == 1.0f);

  // Keras' [-1, 1] convention: scale 1/127.5, offset -1, in float64.
  const auto centered = data::rescale(x, 1.0 / 127.5, -1.0, DType::float64).to_vector<double>();
  for (int i = 0; i < 256; ++i) CHECK(centered[i] == i * (1.0 / 127.5) + -1.0);
}

TEST_CASE("rescale: float16 and bfloat16 round each step like the engine's cast, multiply and add") {
  const Tensor x = iota_tensor({4, 64}, DType::uint8);
  for (DType dtype : {DType::float16, DType::bfloat16}) {
    CAPTURE(dtype_name(dtype));
    const Tensor expected =
        add(multiply(cast(x, dtype), Tensor::scalar(1.0 / 255, dtype)), Tensor::scalar(-0.25, dtype));
    CHECK(bitwise_equal(data::rescale(x, 1.0 / 255, -0.25, dtype), expected));
  }
}

TEST_CASE("rescale: strided views, gradients off, and dtype errors") {
  const Tensor base = iota_tensor({3, 5}, DType::float32);
  const Tensor view = transpose(base);  // (5, 3), not packed
  REQUIRE_FALSE(view.is_contiguous());
  const auto src = view.contiguous().to_vector<float>();
  const auto got = data::rescale(view, 0.5, 1.0).to_vector<float>();
  for (size_t i = 0; i < src.size(); ++i) CHECK(got[i] == src[i] * 0.5f + 1.0f);

  Tensor w = iota_tensor({4});
  w.set_requires_grad(true);
  const Tensor r = data::rescale(w, 2.0);
  CHECK_FALSE(r.requires_grad());
  CHECK(r.grad_fn() == nullptr);

  const std::string to_int = message_of([&] { data::rescale(base, 2.0, 0.0, DType::int32); });
  CHECK(contains(to_int, "rescale"));
  CHECK(contains(to_int, "int32"));
  CHECK(contains(to_int, "float32"));
  const std::string from_bool = message_of([&] { data::rescale(Tensor::ones({2}, DType::bool_), 2.0); });
  CHECK(contains(from_bool, "rescale"));
  CHECK(contains(from_bool, "bool"));
  CHECK(contains(from_bool, "(2,)"));
  CHECK_THROWS_AS(data::rescale(base, 2.0, 0.0, DType::uint8), DTypeError);
}

TEST_CASE("normalize: per channel of the last axis, computed in the target dtype") {
  const Tensor x = cast(multiply(iota_tensor({2, 4, 3}, DType::float32), 7.0), DType::uint8);
  const std::vector<double> mean{0.485 * 255, 0.456 * 255, 0.406 * 255};
  const std::vector<double> stddev{0.229 * 255, 0.224 * 255, 0.225 * 255};
  const auto src = x.to_vector<uint8_t>();
  const auto got = data::normalize(x, mean, stddev).to_vector<float>();
  REQUIRE(got.size() == src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    const size_t c = i % 3;
    const float centered = static_cast<float>(src[i]) - static_cast<float>(mean[c]);
    CHECK(got[i] == centered / static_cast<float>(stddev[c]));
  }

  const auto in64 = data::normalize(x, mean, stddev, DType::float64).to_vector<double>();
  for (size_t i = 0; i < src.size(); ++i) CHECK(in64[i] == (src[i] - mean[i % 3]) / stddev[i % 3]);

  // One value is shared by every channel; a strided input is packed first.
  const Tensor base = iota_tensor({3, 4}, DType::float64);
  const Tensor view = transpose(base);
  const auto vsrc = view.contiguous().to_vector<double>();
  const auto shared = data::normalize(view, {5.0}, {2.0}, DType::float64).to_vector<double>();
  for (size_t i = 0; i < vsrc.size(); ++i) CHECK(shared[i] == (vsrc[i] - 5.0) / 2.0);
  // Mixed: per-channel mean, one stddev.
  const auto mixed = data::normalize(base, {1, 2, 3, 4}, {0.5}, DType::float64).to_vector<double>();
  const auto bsrc = base.to_vector<double>();
  for (size_t i = 0; i < bsrc.size(); ++i) CHECK(mixed[i] == (bsrc[i] - (1.0 + i % 4)) / 0.5);
}

TEST_CASE("normalize: errors name the sizes, the shape and the bad stddev") {
  const Tensor x = iota_tensor({2, 3});
  const std::string sizes = message_of([&] { data::normalize(x, {1, 2}, {1, 2, 3}); });
  CHECK(contains(sizes, "normalize"));
  CHECK(contains(sizes, "mean has 2"));
  CHECK(contains(sizes, "stddev 3"));
  CHECK(contains(sizes, "(2, 3)"));
  CHECK(contains(sizes, "3 channels"));
  CHECK_THROWS_AS(data::normalize(x, {}, {1.0}), ValueError);

  const std::string zero = message_of([&] { data::normalize(x, {0.0}, {1.0, 0.0, 2.0}); });
  CHECK(contains(zero, "stddev[1]"));
  CHECK(contains(zero, "not > 0"));
  CHECK_THROWS_AS(data::normalize(x, {0.0}, {-1.0}), ValueError);
  CHECK_THROWS_AS(data::normalize(x, {0.0}, {std::nan("")}), ValueError);
  // 1e-9 is positive in float64 but 0 in float16.
  const std::string underflow = message_of([&] { data::normalize(x, {0.0}, {1e-9}, DType::float16); });
  CHECK(contains(underflow, "rounds to 0 in float16"));
  CHECK_THROWS_AS(data::normalize(x, {0.0}, {1.0}, DType::int64), DTypeError);
}

TEST_CASE("one_hot_labels: any integer dtype and shape, against a reference loop") {
  const std::vector<int64_t> labels{2, 0, 3, 1, 1, 0};
  for (DType label_dtype : {DType::uint8, DType::int32, DType::int64}) {
    CAPTURE(dtype_name(label_dtype));
    const Tensor in = cast(Tensor::from_vector(labels, {2, 3}), label_dtype);
    const Tensor out = data::one_hot_labels(in, 4);
    REQUIRE(out.shape() == Shape{2, 3, 4});
    REQUIRE(out.dtype() == DType::float32);
    const auto got = out.to_vector<float>();
    for (size_t i = 0; i < labels.size(); ++i) {
      for (int64_t k = 0; k < 4; ++k) CHECK(got[i * 4 + k] == (labels[i] == k ? 1.0f : 0.0f));
    }
  }
  const auto as_int = data::one_hot_labels(Tensor::from_vector(labels), 5, DType::int32).to_vector<int32_t>();
  for (size_t i = 0; i < labels.size(); ++i) {
    for (int64_t k = 0; k < 5; ++k) CHECK(as_int[i * 5 + k] == (labels[i] == k ? 1 : 0));
  }
  // A scalar label gives a vector; a strided view is read in logical order.
  CHECK(data::one_hot_labels(Tensor::scalar(1, DType::int64), 3).to_vector<float>() == std::vector<float>{0, 1, 0});
  const Tensor view = transpose(Tensor::from_vector(labels, {2, 3}));
  const auto vlabels = view.contiguous().to_vector<int64_t>();
  const auto vgot = data::one_hot_labels(view, 4).to_vector<float>();
  for (size_t i = 0; i < vlabels.size(); ++i) CHECK(vgot[i * 4 + vlabels[i]] == 1.0f);
}

TEST_CASE("one_hot_labels: out-of-range labels, float labels and bad depth are errors") {
  const Tensor labels = Tensor::from_vector(std::vector<int32_t>{0, 1, 2, 7, 1}, {5});
  const std::string range = message_of([&] { data::one_hot_labels(labels, 4); });
  CHECK(contains(range, "one_hot_labels"));
  CHECK(contains(range, "label 7"));
  CHECK(contains(range, "flat position 3"));
  CHECK(contains(range, "depth=4"));
  CHECK_THROWS_AS(data::one_hot_labels(labels, 4), IndexError);
  const Tensor negative = Tensor::from_vector(std::vector<int64_t>{0, -1}, {2});
  const std::string neg = message_of([&] { data::one_hot_labels(negative, 4); });
  CHECK(contains(neg, "label -1"));
  CHECK(contains(neg, "flat position 1"));

  const std::string floating = message_of([&] { data::one_hot_labels(iota_tensor({3}), 4); });
  CHECK(contains(floating, "float32"));
  CHECK(contains(floating, "cast"));
  CHECK_THROWS_AS(data::one_hot_labels(iota_tensor({3}), 4), DTypeError);
  CHECK_THROWS_AS(data::one_hot_labels(Tensor::ones({3}, DType::bool_), 4), DTypeError);
  CHECK_THROWS_AS(data::one_hot_labels(labels, 0), ValueError);
}

TEST_CASE("element_key and batch_image_key: deterministic, distinct and well mixed") {
  const RandomKey base{1234, 7};
  std::set<std::pair<uint64_t, uint64_t>> seen;
  int64_t seed_bits = 0, stream_bits = 0, count = 0;
  for (int64_t iteration = 0; iteration < 8; ++iteration) {
    for (int64_t index = 0; index < 512; ++index) {
      const RandomKey k = data::element_key(base, iteration, index);
      const RandomKey again = data::element_key(base, iteration, index);
      CHECK((k.seed == again.seed && k.stream == again.stream));
      seen.insert({k.seed, k.stream});
      seed_bits += std::popcount(k.seed);
      stream_bits += std::popcount(k.stream);
      ++count;
    }
  }
  CHECK(seen.size() == static_cast<size_t>(count));
  // Consecutive indices give unrelated keys: about half of the 64 bits set on average.
  CHECK(binomial_plausible(seed_bits, count * 64, 0.5));
  CHECK(binomial_plausible(stream_bits, count * 64, 0.5));

  // Neighbouring bases (consecutive streams, or seeds) and the batch-image family do not overlap.
  for (const RandomKey other : {RandomKey{1234, 8}, RandomKey{1235, 7}, RandomKey{0, 0}}) {
    for (int64_t index = 0; index < 512; ++index) {
      const RandomKey k = data::element_key(other, 0, index);
      CHECK(seen.insert({k.seed, k.stream}).second);
    }
  }
  for (int64_t index = 0; index < 512; ++index) {
    const RandomKey k = data::batch_image_key(base, index);
    CHECK(seen.insert({k.seed, k.stream}).second);
  }
  CHECK_THROWS_AS(data::element_key(base, -1, 0), ValueError);
  CHECK(contains(message_of([&] { data::element_key(base, 0, -5); }), "element_index=-5"));
  CHECK_THROWS_AS(data::batch_image_key(base, -1), ValueError);
}

TEST_CASE("random_flip: each image is unchanged or exactly reversed along the mode's axes") {
  const Tensor batch = iota_tensor({64, 5, 4, 3});
  const struct {
    const char* mode;
    bool may_h, may_w;
  } modes[] = {{"horizontal", false, true}, {"vertical", true, false}, {"horizontal_and_vertical", true, true}};
  for (const auto& m : modes) {
    CAPTURE(m.mode);
    const Tensor out = data::random_flip(batch, m.mode, RandomKey{99, 1});
    REQUIRE(out.shape() == batch.shape());
    std::set<std::pair<bool, bool>> outcomes;
    for (int64_t i = 0; i < 64; ++i) {
      const auto [flip_h, flip_w] = flip_applied(image_of(batch, i), image_of(out, i));
      CHECK((m.may_h || !flip_h));
      CHECK((m.may_w || !flip_w));
      outcomes.insert({flip_h, flip_w});
    }
    // 64 images: every allowed outcome appears (missing one has probability < 2^-40).
    CHECK(outcomes.size() == (m.may_h && m.may_w ? 4u : 2u));
  }
}

TEST_CASE("random_flip: each axis flips with probability 1/2, independently") {
  const Tensor image = iota_tensor({3, 4, 2});
  const int64_t n = 2000;
  int64_t horizontal = 0, vertical = 0, both = 0, agree = 0;
  for (int64_t s = 0; s < n; ++s) {
    const RandomKey key{7, static_cast<uint64_t>(s)};
    const auto [h_only_h, h_only_w] = flip_applied(image, data::random_flip(image, "horizontal", key));
    const auto [v_only_h, v_only_w] = flip_applied(image, data::random_flip(image, "vertical", key));
    const auto [hv_h, hv_w] = flip_applied(image, data::random_flip(image, "horizontal_and_vertical", key));
    CHECK_FALSE(h_only_h);
    CHECK_FALSE(v_only_w);
    horizontal += h_only_w;
    vertical += v_only_h;
    both += hv_h && hv_w;
    // Documented: the modes agree on an axis's decision for the same key.
    agree += (hv_w == h_only_w) && (hv_h == v_only_h);
  }
  CHECK(binomial_plausible(horizontal, n, 0.5));
  CHECK(binomial_plausible(vertical, n, 0.5));
  CHECK(binomial_plausible(both, n, 0.25));
  CHECK(agree == n);
}

TEST_CASE("random_flip: same key same result, other keys differ, batch equals per-image keys") {
  const Tensor batch = iota_tensor({64, 3, 5, 2});
  const RandomKey key{2024, 3};
  const Tensor a = data::random_flip(batch, "horizontal_and_vertical", key);
  CHECK(bitwise_equal(a, data::random_flip(batch, "horizontal_and_vertical", key)));
  CHECK_FALSE(bitwise_equal(a, data::random_flip(batch, "horizontal_and_vertical", RandomKey{2024, 4})));
  CHECK_FALSE(bitwise_equal(a, data::random_flip(batch, "horizontal_and_vertical", RandomKey{2025, 3})));
  for (int64_t i = 0; i < 64; ++i) {
    const Tensor alone =
        data::random_flip(image_of(batch, i), "horizontal_and_vertical", data::batch_image_key(key, i));
    CHECK(bitwise_equal(image_of(a, i), alone));
  }
  // A batch's first images do not depend on the batch size.
  const Tensor first8 = data::random_flip(slice(batch, {0, 0, 0, 0}, {8, 3, 5, 2}), "horizontal_and_vertical", key);
  CHECK(bitwise_equal(first8, slice(a, {0, 0, 0, 0}, {8, 3, 5, 2}).contiguous()));
}

TEST_CASE("random_flip: any dtype, strided input, and errors with the fix") {
  const Tensor base = iota_tensor({4, 6, 5, 3});
  const RandomKey key{5, 5};
  const Tensor expected = data::random_flip(base, "horizontal_and_vertical", key);
  for (DType dtype : {DType::uint8, DType::float16, DType::bfloat16, DType::int64, DType::float64}) {
    CAPTURE(dtype_name(dtype));
    const Tensor out = data::random_flip(cast(base, dtype), "horizontal_and_vertical", key);
    CHECK(out.dtype() == dtype);
    CHECK(bitwise_equal(out, cast(expected, dtype)));
  }
  const Tensor mask = greater(base, Tensor::scalar(100.0));
  CHECK(bitwise_equal(data::random_flip(mask, "horizontal_and_vertical", key),
                      greater(expected, Tensor::scalar(100.0))));
  // A transposed view (N, W, H, C) -> packed copy first.
  const Tensor view = transpose(base, {0, 2, 1, 3});
  REQUIRE_FALSE(view.is_contiguous());
  CHECK(bitwise_equal(data::random_flip(view, "vertical", key), data::random_flip(view.contiguous(), "vertical", key)));

  const std::string mode = message_of([&] { data::random_flip(base, "diagonal", key); });
  CHECK(contains(mode, "random_flip"));
  CHECK(contains(mode, "\"diagonal\""));
  CHECK(contains(mode, "horizontal_and_vertical"));
  const std::string rank = message_of([&] { data::random_flip(iota_tensor({28, 28}), "horizontal", key); });
  CHECK(contains(rank, "random_flip"));
  CHECK(contains(rank, "(28, 28)"));
  CHECK(contains(rank, "(28, 28, 1)"));
  CHECK_THROWS_AS(data::random_flip(iota_tensor({2, 2, 2, 2, 2}), "horizontal", key), ShapeError);
}

TEST_CASE("random_crop: the output is the source window at a uniformly drawn offset") {
  const Tensor image = iota_tensor({10, 8, 2});
  const int64_t crop_h = 4, crop_w = 3, positions = (10 - crop_h + 1) * (8 - crop_w + 1);
  const int64_t n = 4200;
  std::map<std::pair<int64_t, int64_t>, int64_t> counts;
  for (int64_t s = 0; s < n; ++s) {
    const RandomKey key{11, static_cast<uint64_t>(s)};
    const Tensor crop = data::random_crop(image, crop_h, crop_w, key);
    REQUIRE(crop.shape() == Shape{crop_h, crop_w, 2});
    const auto offset = crop_offset_of(image, crop);
    REQUIRE(offset.first >= 0);
    CHECK(offset == data::random_crop_offset(10, 8, crop_h, crop_w, key));
    ++counts[offset];
  }
  CHECK(static_cast<int64_t>(counts.size()) == positions);
  // Pearson's chi-square over the 42 positions (41 degrees of freedom): 100 is about its 1 - 10^-6
  // quantile, so a uniform draw fails about once in a million runs.
  const double expected = static_cast<double>(n) / positions;
  double chi_square = 0;
  for (const auto& [offset, count] : counts) chi_square += (count - expected) * (count - expected) / expected;
  CHECK(chi_square < 100.0);
}

TEST_CASE("random_crop: batches, full-size crops, dtypes and errors") {
  const Tensor batch = iota_tensor({16, 9, 7, 3});
  const RandomKey key{77, 1};
  const Tensor out = data::random_crop(batch, 5, 4, key);
  REQUIRE(out.shape() == Shape{16, 5, 4, 3});
  std::set<std::pair<int64_t, int64_t>> offsets;
  for (int64_t i = 0; i < 16; ++i) {
    const Tensor alone = data::random_crop(image_of(batch, i), 5, 4, data::batch_image_key(key, i));
    CHECK(bitwise_equal(image_of(out, i), alone));
    const auto offset = crop_offset_of(image_of(batch, i), image_of(out, i));
    CHECK(offset.first >= 0);
    offsets.insert(offset);
  }
  CHECK(offsets.size() > 1);  // images draw their own offsets
  CHECK(bitwise_equal(out, data::random_crop(batch, 5, 4, key)));
  CHECK_FALSE(bitwise_equal(out, data::random_crop(batch, 5, 4, RandomKey{77, 2})));

  CHECK(bitwise_equal(data::random_crop(batch, 9, 7, key), batch));
  const Tensor bytes = cast(batch, DType::uint8);
  CHECK(bitwise_equal(data::random_crop(bytes, 5, 4, key), cast(out, DType::uint8)));
  const Tensor view = transpose(batch, {0, 2, 1, 3});
  CHECK(bitwise_equal(data::random_crop(view, 3, 3, key), data::random_crop(view.contiguous(), 3, 3, key)));

  const std::string big = message_of([&] { data::random_crop(batch, 10, 4, key); });
  CHECK(contains(big, "random_crop"));
  CHECK(contains(big, "height=10"));
  CHECK(contains(big, "height=9"));
  CHECK(contains(big, "(16, 9, 7, 3)"));
  CHECK_THROWS_AS(data::random_crop(batch, 5, 8, key), ValueError);
  CHECK_THROWS_AS(data::random_crop(batch, 0, 4, key), ValueError);
  CHECK_THROWS_AS(data::random_crop(iota_tensor({9, 7}), 5, 4, key), ShapeError);
}

TEST_CASE("data transforms: 4 threads at once give the serial results bitwise") {
  const Tensor images = cast(iota_tensor({8, 12, 10, 3}), DType::uint8);
  const Tensor view = transpose(iota_tensor({10, 12, 8, 3}), {2, 1, 0, 3});  // strided (8, 12, 10, 3)
  const Tensor labels = Tensor::from_vector(std::vector<int64_t>{3, 1, 4, 1, 5, 9, 2, 6}, {8});
  const auto run_all = [&](uint64_t stream) {
    const RandomKey key = data::element_key(RandomKey{42, 1}, 0, static_cast<int64_t>(stream));
    return std::vector<Tensor>{
        data::rescale(images, 1.0 / 255),
        data::normalize(view, {1, 2, 3}, {2, 3, 4}),
        data::one_hot_labels(labels, 10),
        data::random_flip(images, "horizontal_and_vertical", key),
        data::random_flip(view, "horizontal", key),
        data::random_crop(images, 8, 7, key),
        data::random_crop(view, 5, 5, data::batch_image_key(key, 3)),
    };
  };
  const int rounds = 20;
  std::vector<std::vector<Tensor>> serial;
  for (int r = 0; r < rounds * 4; ++r) serial.push_back(run_all(r));

  std::vector<std::vector<std::vector<Tensor>>> parallel(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < rounds; ++r) parallel[t].push_back(run_all(t * rounds + r));
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) {
    REQUIRE(parallel[t].size() == static_cast<size_t>(rounds));
    for (int r = 0; r < rounds; ++r) {
      const auto& want = serial[t * rounds + r];
      const auto& got = parallel[t][r];
      for (size_t k = 0; k < want.size(); ++k) CHECK(bitwise_equal(got[k], want[k]));
    }
  }

  // And the engine's own thread count does not matter (the strided input is packed by parallel code).
  const auto [one, two] = pitfall::testing::run_with_1_and_2_threads([&] { return run_all(5); });
  for (size_t k = 0; k < one.size(); ++k) CHECK(bitwise_equal(one[k], two[k]));
}

}  // TEST_SUITE
