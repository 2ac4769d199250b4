// The generic layer test (Keras's `run_layer_test`): every layer goes through the same checks.
//
//   check_layer([] { return std::make_shared<Dense>(4); }, {{2, 3}},
//               {.trainable_weights = 2, .non_trainable_weights = 0});
//
// `make` must build a fresh, unbuilt layer each time it is called, taking its dtype from floatx()
// (the default of LayerOptions::dtype): the float64 gradient check calls it under set_floatx(float64).
//
// Checks, in order:
//  1. shapes: a concrete call's outputs have compute_output_shape's shapes and compute_output_dtype's
//     dtypes; a symbolic call on KerasTensors with an unknown (-1) batch gives the same shapes with
//     the batch still -1;
//  2. weights: the expected numbers of trainable and non-trainable weights, each named "layer/weight";
//  3. gradients in float64: autograd against central finite differences, with respect to every
//     floating input and every trainable weight (the weights are perturbed in place with assign, so
//     the layer's own tensors are the ones checked);
//  4. a training step (w -= 0.1 * d sum(output * r) / dw) changes every trainable weight and no
//     non-trainable one, except, when `updates_non_trainable` is set, those the layer updates itself
//     in a training call (BatchNormalization's moving statistics), which must then change;
//  5. serialization: get_config -> JSON text -> layer_from_config gives a layer with the same config
//     and, after copying the weights, bitwise-identical outputs;
//     the layer in a functional model also survives save_model / load_model with identical outputs;
//  6. determinism: outputs and gradients are bitwise identical with 1 and 2 threads.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <pitfall/layers/layer.h>
#include <pitfall/pitfall.h>

#include "test_util.h"

namespace pitfall::testing {

struct LayerCheckOptions {
  int trainable_weights = 0;
  int non_trainable_weights = 0;
  // Input dtypes (default: floatx() for each input). Integer inputs hold values in [0, int_input_high).
  std::vector<DType> input_dtypes = {};
  int64_t int_input_high = 10;
  // The layer updates some non-trainable weights itself in a training call (BatchNormalization).
  bool updates_non_trainable = false;
  // Run the gradient check with training=true (layers whose training path is deterministic and
  // differs from inference, e.g. BatchNormalization).
  bool gradcheck_training = false;
  bool gradcheck = true;
  double gradcheck_tolerance = 1e-6;
  bool check_config = true;
  // Trainable weights that may legitimately get no gradient from the random objective (rare).
  bool allow_unchanged_trainable = false;
};

namespace detail {

// RAII for set_floatx in tests.
class FloatxGuard {
 public:
  explicit FloatxGuard(DType dtype) : saved_(floatx()) { set_floatx(dtype); }
  ~FloatxGuard() { set_floatx(saved_); }
  FloatxGuard(const FloatxGuard&) = delete;
  FloatxGuard& operator=(const FloatxGuard&) = delete;

 private:
  DType saved_;
};

inline std::vector<Tensor> make_inputs(const std::vector<Shape>& shapes, const LayerCheckOptions& options,
                                       DType float_dtype, uint64_t seed) {
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const DType dtype = i < options.input_dtypes.size() ? options.input_dtypes[i] : float_dtype;
    const RandomKey key{seed, i + 1};
    if (is_floating(dtype)) {
      inputs.push_back(random_normal(shapes[i], 0.0, 1.0, dtype, key));
    } else {
      const Tensor u = random_uniform(shapes[i], 0.0, static_cast<double>(options.int_input_high), DType::float64, key);
      std::vector<double> values = u.to_vector<double>();
      for (auto& v : values) v = std::floor(v);
      inputs.push_back(cast(Tensor::from_vector(values, shapes[i]), dtype));
    }
  }
  return inputs;
}

// Inputs for the float64 phase: floating inputs become float64, integer ones stay.
inline std::vector<Tensor> to_float64(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> out;
  for (const auto& x : inputs) out.push_back(is_floating(x.dtype()) ? cast(x, DType::float64).clone() : x);
  return out;
}

inline std::vector<Tensor> objective_weights(const std::vector<Tensor>& outputs, uint64_t seed) {
  std::vector<Tensor> weights;
  for (size_t i = 0; i < outputs.size(); ++i) {
    weights.push_back(random_uniform(outputs[i].shape(), 0.5, 1.5, outputs[i].dtype(), RandomKey{seed, 100 + i}));
  }
  return weights;
}

// sum_k sum(outputs[k] * r[k]): a scalar every output element contributes to.
inline Tensor objective(const std::vector<Tensor>& outputs, const std::vector<Tensor>& r) {
  Tensor total;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (!is_floating(outputs[i].dtype())) continue;
    Tensor term = sum(multiply(outputs[i], r[i]));
    total = total.defined() ? add(total, term) : term;
  }
  return total;
}

inline bool any_difference(const Tensor& a, const Tensor& b) { return !bitwise_equal(a.contiguous(), b.contiguous()); }

inline void check_shapes(const std::function<std::shared_ptr<Layer>()>& make, const std::vector<Shape>& shapes,
                         const LayerCheckOptions& options) {
  auto layer = make();
  const auto inputs = make_inputs(shapes, options, floatx(), 11);
  const auto outputs = (*layer)(inputs, false);
  const auto expected = layer->compute_output_shape(shapes);
  std::vector<DType> input_dtypes = {};
  for (const auto& x : inputs) input_dtypes.push_back(x.dtype());
  const auto expected_dtypes = layer->compute_output_dtype(input_dtypes);
  REQUIRE(outputs.size() == expected.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    CHECK_MESSAGE(outputs[i].shape() == expected[i], "output ", i, " ", shape_str(outputs[i].shape()),
                  " vs compute_output_shape ", shape_str(expected[i]));
    if (i < expected_dtypes.size()) CHECK(outputs[i].dtype() == expected_dtypes[i]);
  }

  // Symbolic call with an unknown batch on a fresh layer.
  auto symbolic = make();
  std::vector<KerasTensor> keras_inputs;
  for (size_t i = 0; i < shapes.size(); ++i) {
    Shape s = shapes[i];
    s[0] = -1;
    keras_inputs.push_back(KerasTensor{s, inputs[i].dtype(), nullptr, 0});
  }
  const auto keras_outputs = (*symbolic)(keras_inputs);
  REQUIRE(keras_outputs.size() == outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    Shape want = outputs[i].shape();
    if (!want.empty()) want[0] = -1;
    CHECK_MESSAGE(keras_outputs[i].shape == want, "symbolic output ", i, " ", shape_str(keras_outputs[i].shape),
                  " vs ", shape_str(want));
    CHECK(keras_outputs[i].dtype == outputs[i].dtype());
    REQUIRE(keras_outputs[i].node != nullptr);
    CHECK(keras_outputs[i].node->layer.get() == symbolic.get());
    CHECK(keras_outputs[i].index == static_cast<int>(i));
  }
}

inline void check_weights(Layer& layer, const LayerCheckOptions& options) {
  CHECK(static_cast<int>(layer.trainable_weights().size()) == options.trainable_weights);
  CHECK(static_cast<int>(layer.non_trainable_weights().size()) == options.non_trainable_weights);
  for (Weight* w : layer.weights()) {
    // A wrapper's weights are its sublayers' (Bidirectional's forward and backward layers).
    bool named = w->path == layer.name() + "/" + w->name;
    for (const auto& sub : layer.sublayers()) named = named || w->path == sub->name() + "/" + w->name;
    CHECK_MESSAGE(named, w->path);
    CHECK(w->value.name() == w->path);
  }
}

// Central differences over every floating input and trainable weight, against autograd.
inline void check_gradients(const std::function<std::shared_ptr<Layer>()>& make, const std::vector<Shape>& shapes,
                            const LayerCheckOptions& options) {
  FloatxGuard float64(DType::float64);
  auto layer = make();
  REQUIRE(layer->dtype() == DType::float64);
  std::vector<Tensor> inputs = to_float64(make_inputs(shapes, options, DType::float64, 21));
  for (auto& x : inputs) {
    if (is_floating(x.dtype())) x.set_requires_grad(true);
  }
  const bool training = options.gradcheck_training;
  const auto outputs = (*layer)(inputs, training);
  const auto r = objective_weights(outputs, 5);
  const Tensor loss = objective(outputs, r);
  REQUIRE(loss.defined());

  std::vector<Tensor> sources;
  std::vector<std::string> source_names;
  std::vector<int> source_input;  // which input a source is, -1 for a weight
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (is_floating(inputs[i].dtype())) {
      sources.push_back(inputs[i]);
      source_names.push_back("input " + std::to_string(i));
      source_input.push_back(static_cast<int>(i));
    }
  }
  for (Weight* w : layer->weights()) {
    if (w->value.requires_grad()) {
      sources.push_back(w->value);
      source_names.push_back("weight " + w->path);
      source_input.push_back(-1);
    }
  }
  const auto analytic = gradients(loss, sources);

  auto evaluate = [&](const std::vector<Tensor>& xs) {
    NoGradGuard no_grad;
    return objective((*layer)(xs, training), r).item();
  };
  const double eps = 1e-6;
  for (size_t k = 0; k < sources.size(); ++k) {
    const std::vector<double> base = sources[k].detach().to_vector<double>();
    const std::vector<double> grad = analytic[k].defined() ? analytic[k].contiguous().to_vector<double>()
                                                           : std::vector<double>(base.size(), 0.0);
    double worst = 0.0;
    std::string where;
    for (size_t e = 0; e < base.size(); ++e) {
      auto shifted_value = [&](double delta) {
        std::vector<double> shifted = base;
        shifted[e] += delta;
        const Tensor probe = Tensor::from_vector(shifted, sources[k].shape());
        double value;
        if (source_input[k] >= 0) {
          std::vector<Tensor> xs = inputs;
          xs[source_input[k]] = probe;
          value = evaluate(xs);
        } else {
          sources[k].assign(probe);
          value = evaluate(inputs);
          sources[k].assign(Tensor::from_vector(base, sources[k].shape()));
        }
        return value;
      };
      const double numeric = (shifted_value(eps) - shifted_value(-eps)) / (2 * eps);
      const double error = std::abs(grad[e] - numeric) / std::max(1.0, std::abs(numeric));
      if (!(error <= worst)) {
        worst = std::isnan(error) ? INFINITY : error;
        where = "element " + std::to_string(e) + ": analytic " + std::to_string(grad[e]) + " vs numeric " +
                std::to_string(numeric);
      }
    }
    CHECK_MESSAGE(worst <= options.gradcheck_tolerance, layer->class_name(), " gradient w.r.t. ", source_names[k],
                  " ", where);
  }
}

inline void check_training_step(const std::function<std::shared_ptr<Layer>()>& make, const std::vector<Shape>& shapes,
                                 const LayerCheckOptions& options) {
  auto layer = make();
  const auto inputs = make_inputs(shapes, options, floatx(), 31);
  (*layer)(inputs, false);  // build
  std::vector<Tensor> before;
  for (Weight* w : layer->weights()) before.push_back(w->value.detach().clone());

  const auto outputs = (*layer)(inputs, true);
  const Tensor loss = objective(outputs, objective_weights(outputs, 6));
  const auto trainable = layer->trainable_weights();
  if (!trainable.empty()) {
    REQUIRE(loss.defined());
    const auto grads = gradients(loss, trainable);
    NoGradGuard no_grad;
    for (size_t i = 0; i < trainable.size(); ++i) {
      if (grads[i].defined()) trainable[i].assign(subtract(trainable[i].detach(), multiply(grads[i], 0.1)));
    }
  }
  const auto weights = layer->weights();
  for (size_t i = 0; i < weights.size(); ++i) {
    const bool changed = any_difference(before[i], weights[i]->value.detach());
    if (weights[i]->value.requires_grad()) {
      if (!options.allow_unchanged_trainable) CHECK_MESSAGE(changed, weights[i]->path, " did not train");
    } else if (options.updates_non_trainable) {
      CHECK_MESSAGE(changed, weights[i]->path, " was not updated by a training call");
    } else {
      CHECK_MESSAGE(!changed, weights[i]->path, " is non-trainable but changed");
    }
  }
}

inline void check_config_round_trip(const std::function<std::shared_ptr<Layer>()>& make,
                                    const std::vector<Shape>& shapes, const LayerCheckOptions& options) {
  auto layer = make();
  const auto inputs = make_inputs(shapes, options, floatx(), 41);
  const auto outputs = (*layer)(inputs, false);
  Json full = Json::object();
  full["class_name"] = layer->class_name();
  full["config"] = layer->get_config();
  const Json parsed = Json::parse(full.dump());
  auto clone = layer_from_config(parsed);
  REQUIRE(clone != nullptr);
  CHECK(clone->class_name() == layer->class_name());
  CHECK(clone->get_config().dump() == layer->get_config().dump());
  (*clone)(inputs, false);  // build
  const auto source = layer->weights();
  const auto target = clone->weights();
  REQUIRE(source.size() == target.size());
  for (size_t i = 0; i < source.size(); ++i) {
    CHECK(source[i]->name == target[i]->name);
    target[i]->value.assign(source[i]->value.detach());
  }
  const auto again = (*clone)(inputs, false);
  REQUIRE(again.size() == outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) CHECK(bitwise_equal(again[i], outputs[i]));
}

// 5b. The layer inside a functional model survives save_model / load_model: same outputs, bitwise.
inline void check_save_load_round_trip(const std::function<std::shared_ptr<Layer>()>& make,
                                       const std::vector<Shape>& shapes, const LayerCheckOptions& options) {
  auto layer = make();
  const auto inputs = make_inputs(shapes, options, floatx(), 43);
  std::vector<KerasTensor> symbolic;
  for (const auto& x : inputs) symbolic.push_back(Input(Shape(x.shape().begin() + 1, x.shape().end()), x.dtype()));
  auto model = std::make_shared<Model>(symbolic, (*layer)(symbolic));
  const auto outputs = (*model)(inputs, false);
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("pitfall_layer_check_" + layer->name() + "_" + std::to_string(::getpid()) + ".pitfall"))
                               .string();
  save_model(*model, path);
  auto loaded = load_model(path);
  std::filesystem::remove(path);
  const auto again = (*loaded)(inputs, false);
  REQUIRE(again.size() == outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) CHECK(bitwise_equal(again[i], outputs[i]));
}

inline void check_thread_determinism(const std::function<std::shared_ptr<Layer>()>& make,
                                     const std::vector<Shape>& shapes, const LayerCheckOptions& options) {
  auto layer = make();
  const auto inputs = make_inputs(shapes, options, floatx(), 51);
  (*layer)(inputs, false);
  auto run = [&] {
    auto outputs = (*layer)(inputs, false);
    const auto trainable = layer->trainable_weights();
    std::vector<Tensor> results = outputs;
    if (!trainable.empty()) {
      const Tensor loss = objective(outputs, objective_weights(outputs, 7));
      if (loss.defined()) {
        for (const auto& g : gradients(loss, trainable)) {
          if (g.defined()) results.push_back(g);
        }
      }
    }
    return results;
  };
  const auto [one, two] = run_with_1_and_2_threads(run);
  REQUIRE(one.size() == two.size());
  for (size_t i = 0; i < one.size(); ++i) CHECK(bitwise_equal(one[i], two[i]));
}

}  // namespace detail

// Runs the checks above on the layer that `make` builds, for inputs of `input_shapes` (batch first).
inline void check_layer(const std::function<std::shared_ptr<Layer>()>& make, const std::vector<Shape>& input_shapes,
                        const LayerCheckOptions& options = {}) {
  INFO("layer class: ", make()->class_name());
  detail::check_shapes(make, input_shapes, options);
  {
    auto layer = make();
    (*layer)(detail::make_inputs(input_shapes, options, floatx(), 61), false);
    detail::check_weights(*layer, options);
  }
  if (options.gradcheck) detail::check_gradients(make, input_shapes, options);
  detail::check_training_step(make, input_shapes, options);
  if (options.check_config) {
    detail::check_config_round_trip(make, input_shapes, options);
    detail::check_save_load_round_trip(make, input_shapes, options);
  }
  detail::check_thread_determinism(make, input_shapes, options);
}

}  // namespace pitfall::testing
