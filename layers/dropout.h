// keras.layers.Dropout: in training, zeroes each element with probability `rate` and scales the
// kept ones by 1 / (1 - rate) (inverted dropout), so inference is the identity.
#pragma once
#include <optional>
#include <string>

#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

class Dropout : public Layer {
 public:
  bool supports_masking() const override { return true; }  // Keras: passes the input's mask on
  Dropout(const Arguments& arguments, const LayerOptions& options = {});
  // noise_shape: the mask's shape, broadcast over the input (-1 = the input's dimension there);
  // none = the input's shape. seed: a fixed seed for this layer's masks (none: drawn from the
  // global generator when the layer first needs one).
  explicit Dropout(double rate, std::optional<Shape> noise_shape = std::nullopt,
                   std::optional<uint64_t> seed = std::nullopt, const LayerOptions& options = {});

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;

  double rate() const { return rate_; }

 protected:
  // The spatial variants (spatial_dropout.h): their class and table, without noise_shape.
  Dropout(const std::string& class_name, const Arguments& arguments, const LayerOptions& options);
  // The binary mask's shape for an input of `input_shape` (broadcast over it): noise_shape's, with
  // its None / -1 entries taken from the input.
  virtual Shape mask_shape(const Shape& input_shape) const;

 private:
  double rate_;
  std::optional<Shape> noise_shape_;
  std::optional<uint64_t> seed_;
};

}  // namespace pitfall
