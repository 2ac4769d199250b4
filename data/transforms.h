// Element transforms for the input pipeline: plain functions from tensors to tensors.
//
// They exist so that a Dataset map can run common preprocessing on its worker threads without
// Python: each runs on the calling thread only, touches no shared mutable state, records nothing
// for autograd (the result is a fresh CPU tensor with no grad_fn), and accepts any strided view
// (it packs the input first). Several threads may call any of them at once.
//
// Randomness comes only from the RandomKey argument (Philox4x32-10, see core/random.h), so a result
// is a function of (input, arguments, key): the same on every run and for every thread count.
//
// Images are channels-last: one image is (H, W, C), a batch is (N, H, W, C).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "pitfall/core/random.h"
#include "pitfall/core/tensor.h"

namespace pitfall::data {

// ---- keys

// The key of one dataset element: `element_index` of pass `iteration` over a dataset whose
// transforms were seeded with `base`. Deterministic and well mixed: for one base, distinct
// (iteration, element_index) pairs give distinct keys (the pair is the 128-bit counter of a Philox
// block, a bijection under one Philox key); keys of different bases are independent streams (the
// whole base is whitened by a Philox block first, so two bases never give the same key for the same
// pair, and otherwise collide only by chance, ~2^-128). Both indices must be >= 0.
RandomKey element_key(RandomKey base, int64_t iteration, int64_t element_index);

// The key image `image_index` of a batch uses inside random_flip / random_crop. The batch rule:
//   random_flip(batch, mode, key)[i] == random_flip(batch[i], mode, batch_image_key(key, i))
// and likewise for random_crop; a single (H, W, C) image uses `key` itself. Each image's draws thus
// depend only on (key, i), never on the batch size or on how the work is split. Domain-separated
// from element_key (a different whitening key), so batch_image_key(k, i) and element_key(k, 0, i)
// are unrelated streams.
RandomKey batch_image_key(RandomKey key, int64_t image_index);

// ---- value transforms

// x cast to `dtype`, then x * scale + offset, each step rounded in `dtype` (float16/bfloat16 are
// computed in float32 and rounded once per step, as the engine's ops do); scale and offset are
// first cast to `dtype`. Like keras.layers.Rescaling: uint8 images -> float32 in [0, 1] with
// rescale(x, 1.0 / 255). x: any shape, any dtype except bool; dtype: a floating dtype.
Tensor rescale(const Tensor& x, double scale, double offset = 0.0, DType dtype = DType::float32);

// (x - mean) / stddev per channel of the LAST axis, computed in `dtype` like rescale (x, mean and
// stddev cast to dtype, the difference rounded, then the quotient). Like keras.layers.Normalization
// with a fixed mean and variance = stddev^2. x: (..., C), any dtype except bool; mean and stddev
// each hold C values or 1 (used for every channel); every stddev must be > 0 and finite after the
// cast to dtype.
Tensor normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& stddev,
                 DType dtype = DType::float32);

// Integer class labels (any shape, uint8 / int32 / int64) -> labels.shape + (depth,) with a 1 at
// each label and 0 elsewhere, in `dtype` (like keras.utils.to_categorical / ops.one_hot). A label
// outside [0, depth) is an IndexError naming the value, its flat position and depth, rather than a
// silent row of zeros. Floating or bool labels are a DTypeError (cast them to int64 first).
Tensor one_hot_labels(const Tensor& labels, int64_t depth, DType dtype = DType::float32);

// ---- random image transforms (any dtype; output has the input's dtype)

// Mirrors images like keras.layers.RandomFlip in training mode. mode: "horizontal" (reverse the W
// axis), "vertical" (reverse the H axis) or "horizontal_and_vertical" (each axis decided
// independently). Each image flips along each axis with probability exactly 1/2: the decision for W
// is the top bit of word 0 and for H the top bit of word 1 of one Philox block of the image's key, so
// "horizontal" and "horizontal_and_vertical" agree on W for the same key. images: (H, W, C) or
// (N, H, W, C), batch images keyed by batch_image_key. Result: same shape, a fresh tensor.
Tensor random_flip(const Tensor& images, const std::string& mode, RandomKey key);

// Cuts a height x width window at a uniformly drawn offset, like keras.layers.RandomCrop in training
// mode: top uniform in [0, H - height], left uniform in [0, W - width] (from 64-bit Philox words;
// the bias is below range / 2^64). images: (H, W, C) -> (height, width, C), or (N, H, W, C) ->
// (N, height, width, C) with each image drawing its own offset (keyed by batch_image_key). A crop
// larger than the image is a ValueError naming both sizes.
Tensor random_crop(const Tensor& images, int64_t height, int64_t width, RandomKey key);

// The offsets random_crop uses for one image of size (image_height, image_width) under `key`:
// {top, left}. Exposed so callers can crop several aligned tensors (an image and its mask) alike.
std::pair<int64_t, int64_t> random_crop_offset(int64_t image_height, int64_t image_width, int64_t height,
                                               int64_t width, RandomKey key);

}  // namespace pitfall::data
