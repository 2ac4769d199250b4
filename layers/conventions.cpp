#include "pitfall/layers/conventions.h"

#include <algorithm>
#include <iostream>
#include <sstream>

#include "pitfall/core/error.h"
#include "pitfall/core/arguments.h"

namespace pitfall {

namespace {

std::string number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

const std::vector<BatchNormConvention>& batch_norm_rows() {
  static const std::vector<BatchNormConvention> rows = {
      {Convention::keras, 0.99, 1e-3, MomentumMeaning::weight_of_old_value,
       /*unbiased_moving_variance=*/false, /*none_momentum_is_cumulative=*/false,
       /*batch_of_one_allowed_in_training=*/true,
       "moving = moving * momentum + batch * (1 - momentum); moving_variance takes the biased batch variance",
       "keras/src/layers/normalization/batch_normalization.py"},
      {Convention::torch, 0.1, 1e-5, MomentumMeaning::weight_of_new_batch,
       /*unbiased_moving_variance=*/true, /*none_momentum_is_cumulative=*/true,
       /*batch_of_one_allowed_in_training=*/false,
       "running = (1 - momentum) * running + momentum * batch; running_var takes the unbiased batch variance; "
       "momentum=None = cumulative average",
       "torch/nn/modules/batchnorm.py"},
  };
  return rows;
}

const std::vector<std::pair<InitializedWeight, InitializerConvention>>& initializer_rows() {
  static const std::vector<std::pair<InitializedWeight, InitializerConvention>> rows = {
      {InitializedWeight::kernel,
       {"Dense/Conv kernel", Convention::keras, "glorot_uniform: U(+-sqrt(6/(fan_in+fan_out)))", Json("glorot_uniform"),
        "keras/src/layers/core/dense.py"}},
      {InitializedWeight::kernel,
       {"Dense/Conv kernel", Convention::torch, "kaiming_uniform(a=sqrt(5)): U(+-1/sqrt(fan_in))", Json("torch_kernel"),
        "torch/nn/modules/linear.py reset_parameters"}},
      {InitializedWeight::bias,
       {"Dense/Conv bias", Convention::keras, "zeros", Json("zeros"), "keras/src/layers/core/dense.py"}},
      {InitializedWeight::bias,
       {"Dense/Conv bias", Convention::torch, "U(+-1/sqrt(fan_in)), fan_in of the kernel",
        Json(Json::Object{{"class_name", "TorchBias"}, {"config", Json::object()}}),
        "torch/nn/modules/linear.py reset_parameters"}},
      {InitializedWeight::embeddings,
       {"Embedding embeddings", Convention::keras, "uniform: U(-0.05, 0.05)", Json("uniform"),
        "keras/src/layers/core/embedding.py"}},
      {InitializedWeight::embeddings,
       {"Embedding embeddings", Convention::torch, "normal: N(0, 1)",
        Json(Json::Object{{"class_name", "RandomNormal"},
                          {"config", Json(Json::Object{{"mean", 0.0}, {"stddev", 1.0}, {"seed", Json()}})}}),
        "torch/nn/modules/sparse.py"}},
  };
  return rows;
}

const std::vector<LeakyReluConvention>& leaky_relu_rows() {
  static const std::vector<LeakyReluConvention> rows = {
      {Convention::keras, 0.3, "keras/src/layers/activations/leaky_relu.py (the function's default is 0.2)"},
      {Convention::torch, 0.01, "torch/nn/modules/activation.py"},
  };
  return rows;
}

// The rows arguments take their defaults from (core/arguments.h), registered when the library loads.
const bool convention_defaults_registered = [] {
  const auto& keras_bn = batch_norm_convention(Convention::keras);
  const auto& torch_bn = batch_norm_convention(Convention::torch);
  register_convention_default("BatchNormalization.momentum", keras_bn.momentum, torch_bn.momentum);
  register_convention_default("BatchNormalization.epsilon", keras_bn.epsilon, torch_bn.epsilon);
  const auto pair = [](InitializedWeight weight) {
    return std::make_pair(default_initializer(weight, Convention::keras).value,
                          default_initializer(weight, Convention::torch).value);
  };
  const auto [kernel_keras, kernel_torch] = pair(InitializedWeight::kernel);
  register_convention_default("Dense.kernel_initializer", kernel_keras, kernel_torch);
  const auto [bias_keras, bias_torch] = pair(InitializedWeight::bias);
  register_convention_default("Dense.bias_initializer", bias_keras, bias_torch);
  const auto [embeddings_keras, embeddings_torch] = pair(InitializedWeight::embeddings);
  register_convention_default("Embedding.embeddings_initializer", embeddings_keras, embeddings_torch);
  register_convention_default("LeakyReLU.negative_slope", leaky_relu_convention(Convention::keras).negative_slope,
                              leaky_relu_convention(Convention::torch).negative_slope);
  return true;
}();

}  // namespace

const BatchNormConvention& batch_norm_convention(Convention convention) {
  for (const auto& row : batch_norm_rows()) {
    if (row.convention == convention) return row;
  }
  throw RuntimeError("batch_norm_convention: no row for convention " + convention_name(convention));
}

const InitializerConvention& default_initializer(InitializedWeight weight, Convention convention) {
  for (const auto& [which, row] : initializer_rows()) {
    if (which == weight && row.convention == convention) return row;
  }
  throw RuntimeError("default_initializer: no row for convention " + convention_name(convention));
}

const LeakyReluConvention& leaky_relu_convention(Convention convention) {
  for (const auto& row : leaky_relu_rows()) {
    if (row.convention == convention) return row;
  }
  throw RuntimeError("leaky_relu_convention: no row for convention " + convention_name(convention));
}

std::vector<ConventionRow> layer_convention_rows() {
  std::vector<ConventionRow> rows;
  for (const auto& bn : batch_norm_rows()) {
    const std::string conv = convention_name(bn.convention);
    const bool old = bn.momentum_meaning == MomentumMeaning::weight_of_old_value;
    rows.push_back({"BatchNormalization", conv, "momentum",
                    number(bn.momentum) + (old ? " (weights the OLD moving value)" : " (weights the NEW batch)"),
                    bn.source});
    rows.push_back({"BatchNormalization", conv, "epsilon", number(bn.epsilon), bn.source});
    rows.push_back({"BatchNormalization", conv, "update", bn.update_rule, bn.source});
  }
  for (const auto& [which, init] : initializer_rows()) {
    rows.push_back({init.component, convention_name(init.convention), "initializer", init.description, init.source});
  }
  for (const auto& leaky : leaky_relu_rows()) {
    rows.push_back({"LeakyReLU", convention_name(leaky.convention), "negative_slope", number(leaky.negative_slope),
                    leaky.source});
  }
  return rows;
}

std::string format_layer_conventions() {
  const auto rows = layer_convention_rows();
  const std::vector<std::string> header = {"component", "convention", "setting", "value"};
  std::vector<size_t> width;
  for (const auto& h : header) width.push_back(h.size());
  for (const auto& r : rows) {
    width[0] = std::max(width[0], r.component.size());
    width[1] = std::max(width[1], r.convention.size());
    width[2] = std::max(width[2], r.setting.size());
  }
  auto line = [&](const std::string& a, const std::string& b, const std::string& c, const std::string& d) {
    std::string s = a + std::string(width[0] - a.size(), ' ') + " | " + b + std::string(width[1] - b.size(), ' ') +
                    " | " + c + std::string(width[2] - c.size(), ' ') + " | " + d;
    return s + "\n";
  };
  std::string out = line(header[0], header[1], header[2], header[3]);
  out += std::string(width[0], '-') + "-+-" + std::string(width[1], '-') + "-+-" + std::string(width[2], '-') +
         "-+-" + std::string(5, '-') + "\n";
  for (const auto& r : rows) out += line(r.component, r.convention, r.setting, r.value);
  return out;
}

void print_layer_conventions(std::ostream& out) { out << format_layer_conventions(); }

void print_layer_conventions() { print_layer_conventions(std::cout); }

}  // namespace pitfall
