// keras.layers.MaxPooling1D/2D, AveragePooling1D/2D, GlobalMaxPooling1D/2D and
// GlobalAveragePooling1D/2D on channels_last inputs: (batch, steps, channels) for 1D, (batch, height,
// width, channels) for 2D. No weights. Windows follow core/ops.h: "valid"/"same" with TensorFlow's
// padding split; max pooling sends the gradient to the first maximum of a window, "same" average
// pooling divides by the in-bounds count. The 1D layers pool over a height of 1.
// GlobalAveragePooling1D honours a mask: the mean over the unmasked steps (Keras).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

// The C++ spelling of the arguments: anything left unset (empty) takes the table's default.
struct Pooling2DOptions {
  std::vector<int64_t> strides;  // empty: None, the windows tile the input (strides = pool_size)
  std::optional<std::string> padding;
  std::optional<std::string> data_format;
};
using PoolingOptions = Pooling2DOptions;

// The shared body of the windowed pooling layers; `rank` spatial axes (1 or 2).
class Pooling : public Layer {
 public:
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  void build(const std::vector<Shape>& input_shapes) override;

  const std::vector<int64_t>& pool_size() const { return pool_size_; }
  const std::vector<int64_t>& strides() const { return strides_; }
  const std::string& padding() const { return padding_; }

 protected:
  Pooling(const std::string& class_name, int rank, bool is_max, Arguments arguments, const LayerOptions& options);
  // The arguments of a C++ construction: pool_size (empty: the table's default) and the options.
  static Arguments given(const ArgumentTable& table, const std::vector<int64_t>& pool_size, const PoolingOptions& pooling);

 private:
  int rank_;
  bool is_max_;
  std::vector<int64_t> pool_size_, strides_;
  std::string padding_;
};
using Pooling2D = Pooling;

class MaxPooling2D : public Pooling {
 public:
  MaxPooling2D(const Arguments& arguments, const LayerOptions& options = {});
  explicit MaxPooling2D(std::vector<int64_t> pool_size = {}, const Pooling2DOptions& pooling = {},
                        const LayerOptions& options = {});
};

// Keras 3 gives AveragePooling2D no default pool_size.
class AveragePooling2D : public Pooling {
 public:
  AveragePooling2D(const Arguments& arguments, const LayerOptions& options = {});
  explicit AveragePooling2D(std::vector<int64_t> pool_size, const Pooling2DOptions& pooling = {},
                            const LayerOptions& options = {});
};

class MaxPooling1D : public Pooling {
 public:
  MaxPooling1D(const Arguments& arguments, const LayerOptions& options = {});
};

// Keras 3 gives AveragePooling1D no default pool_size.
class AveragePooling1D : public Pooling {
 public:
  AveragePooling1D(const Arguments& arguments, const LayerOptions& options = {});
};

// The max or mean over every spatial axis: (N, spatial..., C) -> (N, C), or (N, 1..., C) with keepdims.
class GlobalPooling : public Layer {
 public:
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  bool keepdims() const { return keepdims_; }

 protected:
  GlobalPooling(const std::string& class_name, int rank, bool is_max, const Arguments& arguments,
                const LayerOptions& options);
  std::vector<int64_t> spatial_axes() const;
  int rank_;
  bool is_max_, keepdims_;
};

class GlobalAveragePooling2D : public GlobalPooling {
 public:
  GlobalAveragePooling2D(const Arguments& arguments, const LayerOptions& options = {});
  explicit GlobalAveragePooling2D(bool keepdims = false, const LayerOptions& options = {});
};

class GlobalMaxPooling2D : public GlobalPooling {
 public:
  GlobalMaxPooling2D(const Arguments& arguments, const LayerOptions& options = {});
};

class GlobalMaxPooling1D : public GlobalPooling {
 public:
  GlobalMaxPooling1D(const Arguments& arguments, const LayerOptions& options = {});
};

// With a (batch, steps) mask: the sum over the unmasked steps divided by their count (all steps
// masked: 0 / 0, NaN, as in Keras). Its output has no mask.
class GlobalAveragePooling1D : public GlobalPooling {
 public:
  GlobalAveragePooling1D(const Arguments& arguments, const LayerOptions& options = {});
  bool supports_masking() const override { return true; }
  std::vector<Tensor> compute_mask(const std::vector<Tensor>&, const std::vector<Tensor>&) override { return {}; }
  std::vector<Tensor> call_masked(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                  bool training) override;
};

}  // namespace pitfall
