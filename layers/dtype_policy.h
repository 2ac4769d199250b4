// Dtype policies (keras.DTypePolicy): the dtype a layer keeps its variables in and the dtype it
// computes in. "float32" keeps and computes in float32; "mixed_float16" keeps float32 variables and
// computes in float16 (the weights are cast on every call, so gradients and updates stay float32).
//
// Under a mixed policy the engine follows Keras: layers cast floating inputs to the compute dtype,
// softmax / log_softmax activations and losses run in float32, BatchNormalization computes its
// statistics in float32, and compile() wraps the optimizer in a LossScaleOptimizer for
// mixed_float16 (bfloat16 has float32's range and needs no loss scaling).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pitfall/core/dtype.h"

namespace pitfall {

struct DTypePolicy {
  std::string name;  // "float32", "mixed_float16", ...
  DType variable_dtype = DType::float32;
  DType compute_dtype = DType::float32;

  DTypePolicy() = default;
  // The plain policy of one dtype ("float64": variables and computation in float64). Implicit, so
  // that LayerOptions{.dtype = DType::float64} reads naturally.
  DTypePolicy(DType dtype);  // NOLINT(google-explicit-constructor)
  bool is_mixed() const { return variable_dtype != compute_dtype; }
  // "'mixed_float16' (computes in float16, variables in float32)"
  std::string describe() const;
  bool operator==(const DTypePolicy& other) const { return name == other.name; }
};

// A policy by name: a dtype name ("float32", "bfloat16", "int32", ...) or "mixed_float16" /
// "mixed_bfloat16". Unknown names raise ValueError listing the accepted ones.
DTypePolicy dtype_policy(std::string_view name);

// The policy new layers take when they are given no dtype: the one set with set_global_policy, or
// else the plain policy of floatx() (so set_floatx('float64') makes float64 layers, as in Keras).
DTypePolicy global_policy();
void set_global_policy(const DTypePolicy& policy);
void set_global_policy(std::string_view name);
void reset_global_policy();  // back to following floatx() (keras: set_global_policy(None))
// The policy set with set_global_policy, or nullopt while the global policy follows floatx().
std::optional<DTypePolicy> explicit_global_policy();

}  // namespace pitfall
