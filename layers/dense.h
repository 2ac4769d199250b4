// keras.layers.Dense: output = activation(inputs @ kernel + bias), on the last axis of an input of
// rank >= 2. kernel (input_dim, units), bias (units,): Keras layouts.
#pragma once
#include <memory>
#include <string>

#include "pitfall/layers/activations.h"
#include "pitfall/layers/initializers.h"
#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"
#include "pitfall/layers/regularizers.h"

namespace pitfall {

// The C++ spelling of the arguments: anything left unset takes the table's default
// (the table in dense.cpp: Keras's values, the initializers from the conventions table).
struct DenseOptions {
  std::optional<std::string> activation;
  std::optional<bool> use_bias;
  std::shared_ptr<Initializer> kernel_initializer;
  std::shared_ptr<Initializer> bias_initializer;
  std::shared_ptr<Regularizer> kernel_regularizer;
  std::shared_ptr<Regularizer> bias_regularizer;
  std::optional<Convention> convention;
};

class Dense : public Layer {
 public:
  bool supports_masking() const override { return true; }  // Keras: passes the input's mask on
  Dense(const Arguments& arguments, const LayerOptions& options = {});
  explicit Dense(int64_t units, const DenseOptions& dense = {}, const LayerOptions& options = {});
  Dense(int64_t units, const std::string& activation, const LayerOptions& options = {});

  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  std::vector<DType> compute_output_dtype(const std::vector<DType>& input_dtypes) const override;
  // Keras InputSpec(min_ndim=2, axes={-1: input_dim}): only the last axis is fixed by the kernel.
  bool input_shape_compatible(size_t input_index, const Shape& built, const Shape& got) override;

  int64_t units() const { return units_; }
  const std::string& activation() const { return activation_name_; }
  const Tensor& kernel() const { return kernel_; }
  const Tensor& bias() const { return bias_; }  // undefined when use_bias is false

 private:
  int64_t units_;
  bool use_bias_;
  std::string activation_name_;
  ActivationFn activation_;
  Tensor kernel_, bias_;
};

}  // namespace pitfall
