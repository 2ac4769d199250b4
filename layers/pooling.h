// keras.layers.MaxPooling2D, AveragePooling2D and GlobalAveragePooling2D on NHWC (channels_last)
// inputs. No weights. Windows follow core/ops.h: "valid"/"same" with TensorFlow's padding split;
// max pooling sends the gradient to the first maximum of a window, "same" average pooling divides by
// the in-bounds count.
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

// The shared body of the two windowed pooling layers.
class Pooling2D : public Layer {
 public:
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  void build(const std::vector<Shape>& input_shapes) override;

  const std::vector<int64_t>& pool_size() const { return pool_size_; }
  const std::vector<int64_t>& strides() const { return strides_; }
  const std::string& padding() const { return padding_; }

 protected:
  Pooling2D(const std::string& class_name, bool is_max, Arguments arguments, const LayerOptions& options);
  // The arguments of a C++ construction: pool_size (empty: the table's default) and the options.
  static Arguments given(const ArgumentTable& table, const std::vector<int64_t>& pool_size,
                         const Pooling2DOptions& pooling);

 private:
  bool is_max_;
  std::vector<int64_t> pool_size_, strides_;
  std::string padding_;
};

class MaxPooling2D : public Pooling2D {
 public:
  MaxPooling2D(const Arguments& arguments, const LayerOptions& options = {});
  explicit MaxPooling2D(std::vector<int64_t> pool_size = {}, const Pooling2DOptions& pooling = {},
                        const LayerOptions& options = {});
};

// Keras 3 gives AveragePooling2D no default pool_size.
class AveragePooling2D : public Pooling2D {
 public:
  AveragePooling2D(const Arguments& arguments, const LayerOptions& options = {});
  explicit AveragePooling2D(std::vector<int64_t> pool_size, const Pooling2DOptions& pooling = {},
                            const LayerOptions& options = {});
};

// The mean over height and width: (N, H, W, C) -> (N, C), or (N, 1, 1, C) with keepdims.
class GlobalAveragePooling2D : public Layer {
 public:
  GlobalAveragePooling2D(const Arguments& arguments, const LayerOptions& options = {});
  explicit GlobalAveragePooling2D(bool keepdims = false, const LayerOptions& options = {});

  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  bool keepdims() const { return keepdims_; }

 private:
  bool keepdims_;
};

}  // namespace pitfall
