// keras.layers.MaxPooling2D, AveragePooling2D and GlobalAveragePooling2D on NHWC (channels_last)
// inputs. No weights. Windows follow core/ops.h: "valid"/"same" with TensorFlow's padding split;
// max pooling sends the gradient to the first maximum of a window, "same" average pooling divides by
// the in-bounds count.
#pragma once
#include <string>
#include <vector>

#include "pitfall/layers/layer.h"

namespace pitfall {

struct Pooling2DOptions {
  std::vector<int64_t> strides;  // empty = pool_size (Keras strides=None)
  std::string padding = "valid";
  std::string data_format = "channels_last";
};

// The shared body of the two windowed pooling layers.
class Pooling2D : public Layer {
 public:
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  Json get_config() const override;
  void build(const std::vector<Shape>& input_shapes) override;

  const std::vector<int64_t>& pool_size() const { return pool_size_; }
  const std::vector<int64_t>& strides() const { return pooling_.strides; }
  const std::string& padding() const { return pooling_.padding; }

 protected:
  Pooling2D(const std::string& class_name, bool is_max, std::vector<int64_t> pool_size, Pooling2DOptions pooling,
            const LayerOptions& options);

 private:
  bool is_max_;
  std::vector<int64_t> pool_size_;
  Pooling2DOptions pooling_;
};

class MaxPooling2D : public Pooling2D {
 public:
  explicit MaxPooling2D(std::vector<int64_t> pool_size = {2, 2}, Pooling2DOptions pooling = {},
                        const LayerOptions& options = {});
};

class AveragePooling2D : public Pooling2D {
 public:
  explicit AveragePooling2D(std::vector<int64_t> pool_size = {2, 2}, Pooling2DOptions pooling = {},
                            const LayerOptions& options = {});
};

// The mean over height and width: (N, H, W, C) -> (N, C), or (N, 1, 1, C) with keepdims.
class GlobalAveragePooling2D : public Layer {
 public:
  explicit GlobalAveragePooling2D(bool keepdims = false, const std::string& data_format = "channels_last",
                                  const LayerOptions& options = {});
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  Json get_config() const override;
  bool keepdims() const { return keepdims_; }

 private:
  bool keepdims_;
  std::string data_format_;
};

}  // namespace pitfall
