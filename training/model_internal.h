// Helpers shared by model.cpp, sequential.cpp and model_training.cpp (not part of the public API).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "pitfall/layers/layer.h"

namespace pitfall::model_internal {

// "model 'sequential' (Sequential)"
std::string where(const Layer& model);
bool is_input_layer(const Layer& layer);
// A new InputLayer for `shape` (without the batch dim) and its symbolic output.
KerasTensor make_input(const Shape& shape, DType dtype, const std::string& name);
// The symbolic output of an existing InputLayer.
KerasTensor input_tensor_of(const std::shared_ptr<Layer>& input_layer);

// Rethrows `e`'s kind with `prefix` added to its message.
[[noreturn]] void rethrow_with_context(const Error& e, const std::string& prefix);

}  // namespace pitfall::model_internal
