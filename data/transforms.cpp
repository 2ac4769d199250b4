#include "pitfall/data/transforms.h"

#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>

#include "pitfall/core/autograd.h"
#include "pitfall/core/cpu/scalar.h"

namespace pitfall::data {
namespace {

// Whitening keys of the two key derivations (ASCII "element!" and "batchimg"): different keys make
// the two families unrelated Philox permutations.
constexpr uint64_t kElementDomain = 0x656C656D656E7421ull;
constexpr uint64_t kBatchImageDomain = 0x6261746368696D67ull;
// Third counter word of each transform's block (ASCII "Flip", "Crop"). core/random.cpp uses that word
// for redraw attempts 0..63, so a key reused by mistake for random_uniform and random_flip still
// gives unrelated bits.
constexpr uint32_t kFlipPurpose = 0x466C6970u;
constexpr uint32_t kCropPurpose = 0x43726F70u;

uint32_t low(uint64_t v) { return static_cast<uint32_t>(v); }
uint32_t high(uint64_t v) { return static_cast<uint32_t>(v >> 32); }
uint64_t join(uint32_t lo, uint32_t hi) { return uint64_t{lo} | (uint64_t{hi} << 32); }

// The 32-bit stream word of a counter, folded exactly as core/random.cpp folds it.
uint32_t stream_word(uint64_t stream) { return low(stream) ^ high(stream) * 0x9E3779B9u; }

// A new key from (base, a, b). Whitening the 128-bit base under a fixed domain key is a bijection,
// so distinct bases give distinct (k1, k2); (a, b) as a counter under k1 is again a bijection, and
// XOR-ing k2 into the result separates bases whose k1 happens to coincide.
RandomKey derive_key(RandomKey base, uint64_t domain, uint64_t a, uint64_t b) {
  const auto k = philox4x32({low(base.seed), high(base.seed), low(base.stream), high(base.stream)}, domain);
  const auto w = philox4x32({low(a), high(a), low(b), high(b)}, join(k[0], k[1]));
  return RandomKey{join(w[0], w[1]) ^ join(k[2], k[3]), join(w[2], w[3])};
}

// One Philox block per (image key, transform): index 0 of the key's stream in core/random.cpp's
// layout (index low, index high, attempt, stream), with the transform's purpose as the attempt word.
std::array<uint32_t, 4> image_block(RandomKey key, uint32_t purpose) {
  return philox4x32({0u, 0u, purpose, stream_word(key.stream)}, key.seed);
}

// floor(bits * range / 2^64): uniform on [0, range) up to a bias below range / 2^64.
int64_t scale_to_range(uint64_t bits, int64_t range) {
  return static_cast<int64_t>((static_cast<unsigned __int128>(bits) * static_cast<uint64_t>(range)) >> 64);
}

std::string describe(const Tensor& x) {
  return "shape " + shape_str(x.shape()) + " (" + std::string(dtype_name(x.dtype())) + ")";
}

// A packed host copy (or x itself), never recorded for gradients.
Tensor packed_host(const Tensor& x, const char* transform) {
  if (!x.defined()) throw ValueError(std::string(transform) + ": the input tensor is undefined");
  NoGradGuard no_grad;
  return x.to(Device{}).contiguous();
}

void check_floating_target(DType dtype, const char* transform) {
  if (!is_floating(dtype)) {
    throw DTypeError(std::string(transform) + ": dtype must be floating (float16, bfloat16, float32 or float64), got " +
                     std::string(dtype_name(dtype)) +
                     "; an integer result would truncate the scaled values, so compute in float32 and cast after");
  }
}

void check_numeric_input(const Tensor& x, const char* transform) {
  if (x.dtype() == DType::bool_) {
    throw DTypeError(std::string(transform) + ": input has " + describe(x) +
                     "; bool is not a number here, cast it to uint8 or float32 first");
  }
}

// Channels-last images: (H, W, C) is one image, (N, H, W, C) a batch of `count`.
struct ImageGeometry {
  bool batched = false;
  int64_t count = 1, height = 0, width = 0, channels = 0;
};

ImageGeometry image_geometry(const Tensor& images, const char* transform) {
  const Shape& s = images.shape();
  if (s.size() == 3) return {false, 1, s[0], s[1], s[2]};
  if (s.size() == 4) return {true, s[0], s[1], s[2], s[3]};
  std::string fix = "pass one image (H, W, C) or a batch (N, H, W, C)";
  if (s.size() == 2) {
    fix = "images are channels-last; add a channels axis, e.g. reshape to " + shape_str({s[0], s[1], 1});
  }
  throw ShapeError(std::string(transform) + ": images must be (H, W, C) or (N, H, W, C), got " + describe(images) +
                   "; " + fix);
}

void check_crop_size(int64_t image_height, int64_t image_width, int64_t height, int64_t width,
                     const char* transform, const std::string& images) {
  if (height < 1 || width < 1) {
    throw ValueError(std::string(transform) + ": the crop size must be positive, got height=" +
                     std::to_string(height) + ", width=" + std::to_string(width) + images);
  }
  if (height > image_height || width > image_width) {
    throw ValueError(std::string(transform) + ": the crop (height=" + std::to_string(height) +
                     ", width=" + std::to_string(width) + ") is larger than the image (height=" +
                     std::to_string(image_height) + ", width=" + std::to_string(image_width) + ")" + images +
                     "; choose a crop no larger than the image, or pad or resize the images first");
  }
}

// Calls per_image(i, image_key) for every image: a lone image uses `key`, image i of a batch
// batch_image_key(key, i) (the rule documented in transforms.h).
template <class PerImage>
void for_each_image(const ImageGeometry& g, RandomKey key, PerImage&& per_image) {
  if (!g.batched) {
    per_image(int64_t{0}, key);
    return;
  }
  for (int64_t i = 0; i < g.count; ++i) per_image(i, batch_image_key(key, i));
}

}  // namespace

RandomKey element_key(RandomKey base, int64_t iteration, int64_t element_index) {
  if (iteration < 0 || element_index < 0) {
    throw ValueError("element_key: iteration and element_index must be >= 0, got iteration=" +
                     std::to_string(iteration) + ", element_index=" + std::to_string(element_index));
  }
  return derive_key(base, kElementDomain, static_cast<uint64_t>(iteration), static_cast<uint64_t>(element_index));
}

RandomKey batch_image_key(RandomKey key, int64_t image_index) {
  if (image_index < 0) {
    throw ValueError("batch_image_key: image_index must be >= 0, got " + std::to_string(image_index));
  }
  return derive_key(key, kBatchImageDomain, static_cast<uint64_t>(image_index), 0);
}

Tensor rescale(const Tensor& x, double scale, double offset, DType dtype) {
  check_floating_target(dtype, "rescale");
  const Tensor in = packed_host(x, "rescale");
  check_numeric_input(in, "rescale");
  Tensor out = Tensor::empty(in.shape(), dtype);
  const int64_t n = in.numel();
  visit_floating(dtype, [&](auto out_zero) {
    using T = decltype(out_zero);
    using C = compute_t<T>;
    // Keras casts scale and offset to the compute dtype too: 1/255 becomes float(1/255) in float32.
    const C s = static_cast<C>(scalar_cast<T>(scale));
    const C o = static_cast<C>(scalar_cast<T>(offset));
    T* dst = out.data<T>();
    visit_dtype(in.dtype(), [&](auto in_zero) {
      using In = decltype(in_zero);
      const In* src = static_cast<const In*>(in.data_ptr());
      for (int64_t i = 0; i < n; ++i) {
        const T value = scalar_cast<T>(src[i]);
        const T product = scalar_cast<T>(static_cast<C>(value) * s);
        dst[i] = scalar_cast<T>(static_cast<C>(product) + o);
      }
    });
  });
  return out;
}

Tensor normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& stddev, DType dtype) {
  check_floating_target(dtype, "normalize");
  const Tensor in = packed_host(x, "normalize");
  check_numeric_input(in, "normalize");
  const int64_t channels = in.ndim() == 0 ? 1 : in.shape().back();
  const auto fits = [&](size_t size) { return size == 1 || static_cast<int64_t>(size) == channels; };
  if (mean.empty() || stddev.empty() || !fits(mean.size()) || !fits(stddev.size())) {
    throw ValueError("normalize: mean has " + std::to_string(mean.size()) + " values and stddev " +
                     std::to_string(stddev.size()) + ", but the input has " + describe(in) + ", i.e. " +
                     std::to_string(channels) + " channels on its last axis; give each " +
                     std::to_string(channels) + " values (one per channel) or 1 (shared by all)");
  }
  Tensor out = Tensor::empty(in.shape(), dtype);
  const int64_t n = in.numel();
  visit_floating(dtype, [&](auto out_zero) {
    using T = decltype(out_zero);
    using C = compute_t<T>;
    std::vector<C> m(static_cast<size_t>(channels)), s(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; ++c) {
      const double mean_c = mean[mean.size() == 1 ? 0 : c];
      const double stddev_c = stddev[stddev.size() == 1 ? 0 : c];
      m[c] = static_cast<C>(scalar_cast<T>(mean_c));
      s[c] = static_cast<C>(scalar_cast<T>(stddev_c));
      if (!std::isfinite(mean_c)) {
        throw ValueError("normalize: mean[" + std::to_string(c) + "] = " + std::to_string(mean_c) +
                         " is not finite (input " + describe(in) + "); every output of that channel would be nan "
                         "or inf, so pass the finite per-channel mean");
      }
      std::string problem;
      if (!(stddev_c > 0)) {
        problem = "is not > 0";
      } else if (!(s[c] > 0)) {
        problem = "rounds to 0 in " + std::string(dtype_name(dtype));
      } else if (!std::isfinite(static_cast<double>(s[c]))) {
        problem = "is inf in " + std::string(dtype_name(dtype));
      }
      if (!problem.empty()) {
        throw ValueError("normalize: stddev[" + std::to_string(c) + "] = " + std::to_string(stddev_c) + " " + problem +
                         " (input " + describe(in) +
                         "); every stddev must be positive and finite in the compute dtype (to only subtract "
                         "the mean of a constant channel, pass stddev 1)");
      }
    }
    T* dst = out.data<T>();
    visit_dtype(in.dtype(), [&](auto in_zero) {
      using In = decltype(in_zero);
      const In* src = static_cast<const In*>(in.data_ptr());
      for (int64_t i = 0; i < n; ++i) {
        const int64_t c = i % channels;
        const T centered = scalar_cast<T>(static_cast<C>(scalar_cast<T>(src[i])) - m[c]);
        dst[i] = scalar_cast<T>(static_cast<C>(centered) / s[c]);
      }
    });
  });
  return out;
}

Tensor one_hot_labels(const Tensor& labels, int64_t depth, DType dtype) {
  const Tensor in = packed_host(labels, "one_hot_labels");
  if (!is_integral(in.dtype())) {
    throw DTypeError("one_hot_labels: labels must be integers (uint8, int32 or int64), got " + describe(in) +
                     "; cast them first, e.g. cast(labels, int64) (check that float labels hold whole numbers)");
  }
  if (depth < 1) {
    throw ValueError("one_hot_labels: depth must be >= 1 (the number of classes), got " + std::to_string(depth) +
                     " for labels with " + describe(in));
  }
  Shape out_shape = in.shape();
  out_shape.push_back(depth);
  Tensor out = Tensor::zeros(out_shape, dtype);
  const int64_t n = in.numel();
  visit_dtype(dtype, [&](auto out_zero) {
    using T = decltype(out_zero);
    const T one = scalar_cast<T>(1.0);
    T* dst = out.data<T>();
    visit_dtype(in.dtype(), [&](auto in_zero) {
      using In = decltype(in_zero);
      if constexpr (std::is_integral_v<In> && !std::is_same_v<In, bool>) {
        const In* src = static_cast<const In*>(in.data_ptr());
        for (int64_t i = 0; i < n; ++i) {
          const auto label = static_cast<int64_t>(src[i]);
          if (label < 0 || label >= depth) {
            throw IndexError("one_hot_labels: label " + std::to_string(label) + " at flat position " +
                             std::to_string(i) + " of labels with " + describe(in) + " is outside [0, " +
                             std::to_string(depth) + "); labels must be class indices below depth=" +
                             std::to_string(depth) + " (raise depth, or remap the labels to 0.." +
                             std::to_string(depth - 1) + ")");
          }
          dst[i * depth + label] = one;
        }
      }
    });
  });
  return out;
}

Tensor random_flip(const Tensor& images, const std::string& mode, RandomKey key) {
  const bool horizontal = mode == "horizontal" || mode == "horizontal_and_vertical";
  const bool vertical = mode == "vertical" || mode == "horizontal_and_vertical";
  if (!horizontal && !vertical) {
    throw ValueError("random_flip: mode must be \"horizontal\", \"vertical\" or \"horizontal_and_vertical\" "
                     "(as in keras.layers.RandomFlip), got \"" + mode + "\"");
  }
  const Tensor in = packed_host(images, "random_flip");
  const ImageGeometry g = image_geometry(in, "random_flip");
  Tensor out = Tensor::empty(in.shape(), in.dtype());
  const size_t pixel_bytes = static_cast<size_t>(g.channels) * dtype_size(in.dtype());
  const size_t row_bytes = pixel_bytes * static_cast<size_t>(g.width);
  const size_t image_bytes = row_bytes * static_cast<size_t>(g.height);
  const auto* src_base = static_cast<const unsigned char*>(in.data_ptr());
  auto* dst_base = static_cast<unsigned char*>(out.data_ptr());
  if (image_bytes == 0) return out;
  for_each_image(g, key, [&](int64_t i, RandomKey image_key) {
    const auto w = image_block(image_key, kFlipPurpose);
    const bool flip_w = horizontal && (w[0] >> 31) != 0;
    const bool flip_h = vertical && (w[1] >> 31) != 0;
    const unsigned char* src = src_base + static_cast<size_t>(i) * image_bytes;
    unsigned char* dst = dst_base + static_cast<size_t>(i) * image_bytes;
    for (int64_t y = 0; y < g.height; ++y) {
      const unsigned char* src_row = src + static_cast<size_t>(flip_h ? g.height - 1 - y : y) * row_bytes;
      unsigned char* dst_row = dst + static_cast<size_t>(y) * row_bytes;
      if (!flip_w) {
        std::memcpy(dst_row, src_row, row_bytes);
        continue;
      }
      for (int64_t x = 0; x < g.width; ++x) {
        std::memcpy(dst_row + static_cast<size_t>(x) * pixel_bytes,
                    src_row + static_cast<size_t>(g.width - 1 - x) * pixel_bytes, pixel_bytes);
      }
    }
  });
  return out;
}

std::pair<int64_t, int64_t> random_crop_offset(int64_t image_height, int64_t image_width, int64_t height,
                                               int64_t width, RandomKey key) {
  check_crop_size(image_height, image_width, height, width, "random_crop_offset", "");
  const auto w = image_block(key, kCropPurpose);
  return {scale_to_range(join(w[0], w[1]), image_height - height + 1),
          scale_to_range(join(w[2], w[3]), image_width - width + 1)};
}

Tensor random_crop(const Tensor& images, int64_t height, int64_t width, RandomKey key) {
  const Tensor in = packed_host(images, "random_crop");
  const ImageGeometry g = image_geometry(in, "random_crop");
  check_crop_size(g.height, g.width, height, width, "random_crop", " of images with " + describe(in));
  const Shape out_shape = g.batched ? Shape{g.count, height, width, g.channels} : Shape{height, width, g.channels};
  Tensor out = Tensor::empty(out_shape, in.dtype());
  const size_t pixel_bytes = static_cast<size_t>(g.channels) * dtype_size(in.dtype());
  const size_t src_row_bytes = pixel_bytes * static_cast<size_t>(g.width);
  const size_t src_image_bytes = src_row_bytes * static_cast<size_t>(g.height);
  const size_t dst_row_bytes = pixel_bytes * static_cast<size_t>(width);
  const size_t dst_image_bytes = dst_row_bytes * static_cast<size_t>(height);
  const auto* src_base = static_cast<const unsigned char*>(in.data_ptr());
  auto* dst_base = static_cast<unsigned char*>(out.data_ptr());
  if (dst_image_bytes == 0) return out;
  for_each_image(g, key, [&](int64_t i, RandomKey image_key) {
    const auto [top, left] = random_crop_offset(g.height, g.width, height, width, image_key);
    const unsigned char* src = src_base + static_cast<size_t>(i) * src_image_bytes;
    unsigned char* dst = dst_base + static_cast<size_t>(i) * dst_image_bytes;
    for (int64_t y = 0; y < height; ++y) {
      std::memcpy(dst + static_cast<size_t>(y) * dst_row_bytes,
                  src + static_cast<size_t>(top + y) * src_row_bytes + static_cast<size_t>(left) * pixel_bytes,
                  dst_row_bytes);
    }
  });
  return out;
}

}  // namespace pitfall::data
