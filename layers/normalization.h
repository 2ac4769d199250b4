// keras.layers.Normalization: (x - mean) / max(sqrt(variance), 1e-7) with one mean and variance per
// position of the kept `axis` (default -1, the features; None: one for the whole input), or the
// inverse, mean + x * max(sqrt(variance), 1e-7), with invert=True. Inputs of any numeric dtype are
// cast to the compute dtype.
//
// The statistics come from the `mean` and `variance` arguments (numbers or arrays broadcast over
// the kept axes, right-aligned; no weights then), or from adapt(): the mean and the biased variance
// over every axis that is not kept, merged batch by batch as Keras does (a weighted mean, and the
// variance by the lack-of-fit sum of squares), accumulated in float64. They live in the
// non-trainable weights "mean" and "variance" (and "count", an int64 Keras keeps for old files and
// never updates), so they are saved with the model.
#pragma once
#include <vector>

#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

class Normalization : public Layer {
 public:
  Normalization(const Arguments& arguments, const LayerOptions& options = {});
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  std::vector<DType> compute_output_dtype(const std::vector<DType>& input_dtypes) const override;
  bool takes_float_inputs() const override { return false; }  // integers are cast in call()
  // Only the rank and the kept axes are fixed.
  bool input_shape_compatible(size_t input_index, const Shape& built, const Shape& got) override;

  // adapt: the statistics of `batches` (each with the layer's input rank; the kept axes of the
  // built shape). Builds the layer from the first batch's shape when it is not built.
  void adapt(const std::vector<Tensor>& batches);
  // The same one batch at a time, for data that arrives in pieces: begin_adapt, adapt_batch for each
  // batch, finish_adapt (which writes the weights). A layer given mean and variance cannot adapt.
  void begin_adapt(const Shape& batch_shape);
  void adapt_batch(const Tensor& batch);
  void finish_adapt();

  // The statistics in use, shaped to broadcast over an input (the layer must be built).
  Tensor broadcast_mean() const;
  Tensor broadcast_variance() const;

 private:
  // A batch's (mean, variance) over the reduced axes, in float64, shaped like the kept axes.
  std::pair<Tensor, Tensor> batch_moments(const Tensor& batch) const;
  void check_kept_axes(const Shape& shape, const std::string& what) const;

  std::vector<int64_t> axis_;  // as given, possibly negative
  bool invert_;
  bool fixed_statistics_;      // mean and variance given as arguments
  Shape built_shape_;
  std::vector<int64_t> keep_axes_, reduce_axes_;
  Shape broadcast_shape_;      // the input's rank: kept axes their size, others 1
  Tensor mean_, variance_, count_;           // weights (adapt)
  Tensor fixed_mean_, fixed_variance_;       // broadcast_shape_, float64 (arguments)
  struct AdaptState {
    bool active = false;
    Tensor mean, variance;  // float64, the kept axes' shape
    int64_t count = 0;
  } adapting_;
};

}  // namespace pitfall
