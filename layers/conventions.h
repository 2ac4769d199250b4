// The layer conventions table: where Keras and PyTorch disagree on a layer's defaults or on what an
// argument means, one row per (component, convention). Layers read their defaults from here (so a
// "torch" BatchNormalization gets momentum 0.1 weighting the NEW batch, not Keras's 0.99 weighting
// the OLD value), and users can print the whole table. Facts: shared/reference/defaults.md.
// The optimizer defaults live in their own table in optim/.
#pragma once
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "pitfall/core/conventions.h"
#include "pitfall/core/json.h"

namespace pitfall {

// ---- BatchNormalization
enum class MomentumMeaning {
  weight_of_old_value,  // keras: moving = moving * momentum + batch * (1 - momentum)
  weight_of_new_batch,  // torch: running = (1 - momentum) * running + momentum * batch
};

struct BatchNormConvention {
  Convention convention;
  double momentum;                      // default momentum
  double epsilon;                       // default epsilon
  MomentumMeaning momentum_meaning;
  bool unbiased_moving_variance;        // torch stores the unbiased (n-1) batch variance in running_var
  bool none_momentum_is_cumulative;     // torch: momentum=None = cumulative moving average
  bool batch_of_one_allowed_in_training;  // torch raises "Expected more than 1 value per channel"
  std::string update_rule;              // the rule, as a formula, for the printed table
  std::string source;                   // where upstream defines it
};
const BatchNormConvention& batch_norm_convention(Convention convention);

// ---- default initializers
// Which weight the default is for.
enum class InitializedWeight { kernel, bias, embeddings };

struct InitializerConvention {
  std::string component;    // "Dense/Conv kernel"
  Convention convention;
  std::string description;  // "glorot_uniform: U(+-sqrt(6/(fan_in+fan_out)))"
  // The default as an initializer argument takes it: a name or {"class_name", "config"}. PyTorch's
  // bias bound needs the kernel's fan_in, which the layer fills in at build ("TorchBias" without
  // a fan_in: layers/layer_arguments.h make_initializer).
  Json value;
  std::string source;
};
const InitializerConvention& default_initializer(InitializedWeight weight, Convention convention);

// The arguments that take these rows as their defaults (core/arguments.h conventions keys):
// "Dense.kernel_initializer", "Dense.bias_initializer" (Dense and Conv2D), "Embedding.embeddings_initializer",
// "BatchNormalization.momentum", "BatchNormalization.epsilon", "LeakyReLU.negative_slope".

// ---- LeakyReLU
struct LeakyReluConvention {
  Convention convention;
  double negative_slope;  // the layer's default
  std::string source;
};
const LeakyReluConvention& leaky_relu_convention(Convention convention);

// ---- the whole table, flattened for printing / Python
struct ConventionRow {
  std::string component;   // "BatchNormalization"
  std::string convention;  // "keras" | "torch"
  std::string setting;     // "momentum"
  std::string value;       // "0.99 (weights the OLD moving value)"
  std::string source;
};
std::vector<ConventionRow> layer_convention_rows();
// The rows as an aligned text table (component | convention | setting | value).
std::string format_layer_conventions();
void print_layer_conventions(std::ostream& out);
void print_layer_conventions();  // to stdout

}  // namespace pitfall
