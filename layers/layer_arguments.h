// The pieces of the layers' argument tables (core/arguments.h): argument makers for the kinds whose
// values live in this folder (initializers, regularizers, activations, dtype policies), the base
// keywords every layer takes, and the one registration line of a layer class.
//
// Adding a layer (layers/README.md has the recipe): its .h/.cpp, its table, one line
//   PITFALL_REGISTER_LAYER(Dense, dense_arguments());
// in its .cpp, and its case in the generic layer tests.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "pitfall/core/arguments.h"
#include "pitfall/layers/layer.h"

namespace pitfall {

class Initializer;
class Regularizer;

// An initializer argument; the value is stored as {"class_name", "config"} (a name resolves
// through the initializer table, so a misspelled one fails with "did you mean").
Argument initializer_argument(const std::string& name, Json default_value, const std::string& doc);
// A regularizer argument (None, "l1", "l2", "l1_l2" or a config), stored as a config or None.
Argument regularizer_argument(const std::string& name, const std::string& doc);
// An activation argument: a name, None meaning linear; stored as the canonical name.
Argument activation_argument(const std::string& name, Json default_value, const std::string& doc);
// Window arguments of the conv and pooling layers: an int or a tuple of `rank` positive ints (one per
// spatial axis), stored as the tuple.
Argument window_argument(const std::string& name, int rank, Json default_value, const std::string& doc);
// The 2-D window argument: an int or a (height, width) pair of positive ints.
Argument pair_argument(const std::string& name, Json default_value, const std::string& doc);
// padding: "valid" or "same" (and "causal" where allowed: Conv1D), any case, stored lower-case.
Argument padding_argument(bool allow_causal = false);
// data_format: None or "channels_last" (stored "channels_last"); "channels_first" raises
// NotImplementedError naming the transpose that fixes it.
Argument data_format_argument();

// Keras arguments pitfall accepts only at their default: constraints, activity_regularizer, LoRA.
Argument unsupported_argument(const std::string& name, Json default_value = Json());

// The keywords every layer takes through the Layer base (Keras's **kwargs of Layer.__init__):
// name, trainable, dtype, input_shape, input_dim, batch_input_shape, batch_size.
const std::vector<std::string>& layer_base_names();

// A layer table: family "layers", with the base keywords.
ArgumentTable layer_table(std::string class_name, std::string source, std::string doc, std::vector<Argument> arguments);

// Registers `table` and a factory that builds T(Arguments, LayerOptions) from a config, for
// layer_from_config, load_model and the Python classes.
template <class T>
bool register_layer(const ArgumentTable& table) {
  register_argument_table(&table);
  register_layer_class(table.class_name, [&table](const Json& config) -> std::shared_ptr<Layer> {
    return std::make_shared<T>(parse_arguments(table, config), layer_options_from_config(config));
  });
  return true;
}

// The C++ convenience constructors spell arguments as optionals and objects; these put the ones
// given into the JSON that parse_arguments takes (unset ones take the table's default).
void set_given(Json& given, const std::string& name, const std::shared_ptr<Initializer>& value);
void set_given(Json& given, const std::string& name, const std::shared_ptr<Regularizer>& value);
void set_given(Json& given, const std::string& name, const std::optional<Convention>& value);
template <class T>
void set_given(Json& given, const std::string& name, const std::optional<T>& value) {
  if (value) given[name] = Json(*value);
}

// The arguments every kernel layer (Dense, Conv2D) shares, from its C++ options struct: activation,
// use_bias, kernel_/bias_initializer, kernel_/bias_regularizer and convention.
template <class Options>
void set_kernel_layer_given(Json& given, const Options& o) {
  set_given(given, "activation", o.activation);
  set_given(given, "use_bias", o.use_bias);
  set_given(given, "kernel_initializer", o.kernel_initializer);
  set_given(given, "bias_initializer", o.bias_initializer);
  set_given(given, "kernel_regularizer", o.kernel_regularizer);
  set_given(given, "bias_regularizer", o.bias_regularizer);
  set_given(given, "convention", o.convention);
}

// The initializer a weight is created with, from its argument's stored config. A "TorchBias"
// without a fan_in (the torch convention's bias default) takes `kernel_fan_in`, the fan_in of the
// layer's kernel, as torch.nn.Linear / Conv2d do.
std::shared_ptr<Initializer> make_initializer(const Json& config, double kernel_fan_in = 0.0);

}  // namespace pitfall

// The one registration line of a layer class (in its .cpp, at namespace scope).
#define PITFALL_REGISTER_LAYER(Class, table) \
  static const bool pitfall_layer_registered_##Class = ::pitfall::register_layer<Class>(table)
