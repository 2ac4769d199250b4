// keras.layers.Bidirectional and keras.layers.TimeDistributed: layers that run another layer.
//
// Bidirectional runs a recurrent layer forwards and a copy of it backwards (go_backwards=True) over
// the same sequence and merges the two outputs: merge_mode "concat" (last axis), "sum", "mul", "ave",
// or None (both outputs, forward first). With return_sequences the backward outputs are flipped back
// to time order first. The two layers are rebuilt from the given layer's config, named
// "forward_<name>" and "backward_<name>" (keras/src/layers/rnn/bidirectional.py), or backward_layer
// is used as given; initial states split in half, forward first, and return_state appends the
// forward states then the backward ones. A mask reaches both layers; with return_sequences the layers
// output zeros at masked steps (zero_output_for_mask) and the output keeps the mask.
//
// TimeDistributed applies a layer to every timestep of (batch, timesteps, ...) inputs: one call of
// the layer per timestep on (batch, ...), as Keras's loop does (so a BatchNormalization inside
// normalizes each timestep by its own batch statistics), the results stacked on axis 1. It wraps
// the very layer given (weights shared with it). A (batch, timesteps) mask is passed on per timestep
// to a layer that uses masks, and kept on the output.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"
#include "pitfall/layers/recurrent.h"

namespace pitfall {

class Bidirectional : public Layer {
 public:
  Bidirectional(const Arguments& arguments, const LayerOptions& options = {});
  // C++: `layer` is read through its config (as Keras copies it); merge_mode "" means None.
  Bidirectional(const std::shared_ptr<Layer>& layer, const std::string& merge_mode = "concat",
                const LayerOptions& options = {});

  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Tensor> call_masked(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                  bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  std::vector<DType> compute_output_dtype(const std::vector<DType>& input_dtypes) const override;
  bool supports_masking() const override { return true; }
  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) override;
  bool input_shape_compatible(size_t input_index, const Shape& built, const Shape& got) override;
  int num_inputs() const override { return -1; }
  Json get_config() const override;

  const std::shared_ptr<RecurrentLayer>& forward_layer() const { return forward_; }
  const std::shared_ptr<RecurrentLayer>& backward_layer() const { return backward_; }
  const std::string& merge_mode() const { return merge_mode_; }  // "" for None

 private:
  std::vector<Tensor> run(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks, bool training);
  std::vector<Tensor> merge(const Tensor& forward, const Tensor& backward) const;
  std::shared_ptr<RecurrentLayer> forward_, backward_;
  std::string merge_mode_;
  bool return_sequences_, return_state_;
};

class TimeDistributed : public Layer {
 public:
  TimeDistributed(const Arguments& arguments, const LayerOptions& options = {});
  explicit TimeDistributed(const std::shared_ptr<Layer>& layer, const LayerOptions& options = {});

  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Tensor> call_masked(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                  bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  std::vector<DType> compute_output_dtype(const std::vector<DType>& input_dtypes) const override;
  bool supports_masking() const override { return true; }
  bool input_shape_compatible(size_t input_index, const Shape& built, const Shape& got) override;
  bool takes_float_inputs() const override { return layer_->takes_float_inputs(); }
  Json get_config() const override;

  const std::shared_ptr<Layer>& layer() const { return layer_; }

 private:
  Shape child_shape(const Shape& shape) const;
  std::vector<Tensor> run(const Tensor& x, const Tensor& mask, bool training);
  std::shared_ptr<Layer> layer_;
};

}  // namespace pitfall
