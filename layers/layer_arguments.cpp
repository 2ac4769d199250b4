#include "pitfall/layers/layer_arguments.h"

#include <cctype>

#include "pitfall/layers/activations.h"
#include "pitfall/layers/dtype_policy.h"
#include "pitfall/layers/initializers.h"
#include "pitfall/layers/regularizers.h"

namespace pitfall {

Argument initializer_argument(const std::string& name, Json default_value, const std::string& doc) {
  return Argument(name, ArgKind::initializer, std::move(default_value))
      .normalized([](const Json& value) -> Json {
        if (value.is_null()) return value;
        return initializer_to_config(*initializer_from_config(value));
      })
      .described(doc);
}

Argument regularizer_argument(const std::string& name, const std::string& doc) {
  return Argument(name, ArgKind::regularizer)
      .allow_none()
      .normalized([](const Json& value) { return regularizer_to_config(regularizer_from_config(value)); })
      .described(doc);
}

Argument activation_argument(const std::string& name, Json default_value, const std::string& doc) {
  return Argument(name, ArgKind::activation, std::move(default_value))
      .allow_none()
      .normalized([](const Json& value) {
        // Keras: None means no activation (linear), whatever the layer's default.
        return Json(canonical_activation_name(value.is_null() ? std::string("linear") : value.as_string()));
      })
      .described(doc);
}

Argument window_argument(const std::string& name, int rank, Json default_value, const std::string& doc) {
  return Argument(name, ArgKind::ints, std::move(default_value)).tuple_of(rank).checked(positive_integer).described(doc);
}

Argument pair_argument(const std::string& name, Json default_value, const std::string& doc) {
  return window_argument(name, 2, std::move(default_value), doc);
}

Argument padding_argument(bool allow_causal) {
  const auto lower = [](const Json& value) {
    std::string text = value.as_string();
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  };
  return Argument("padding", ArgKind::string, "valid")
      .checked([lower, allow_causal](const Json& value) -> std::string {
        const std::string text = lower(value);
        if (text == "valid" || text == "same" || (allow_causal && text == "causal")) return "";
        return allow_causal ? "\"valid\", \"same\" or \"causal\"" : "\"valid\" or \"same\"";
      })
      .normalized([lower](const Json& value) { return Json(lower(value)); })
      .described(allow_causal
                     ? "\"valid\" (no padding), \"same\" (pad evenly so the output has ceil(input / stride) "
                       "positions) or \"causal\" (pad on the left only: output t never sees inputs after t)"
                     : "\"valid\" (no padding) or \"same\" (pad evenly so the output has ceil(input / stride) "
                       "positions)");
}

Argument data_format_argument() {
  return Argument("data_format", ArgKind::string)
      .allow_none()
      .normalized([](const Json& value) -> Json {
        if (value.is_null()) return Json("channels_last");
        std::string lower = value.as_string();
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower == "channels_last") return Json(lower);
        if (lower == "channels_first") {
          throw NotImplementedError("data_format=\"channels_first\" is not supported; pitfall's convolution and "
                                    "pooling use channels_last (N, H, W, C). Transpose the input with "
                                    "transpose(x, {0, 2, 3, 1}) and use data_format=\"channels_last\"");
        }
        throw ValueError("must be \"channels_last\" (or \"channels_first\", unsupported), got data_format=" +
                         python_repr(value));
      })
      .described("the order of the dimensions: channels_last (N, H, W, C); None means channels_last");
}

Argument unsupported_argument(const std::string& name, Json default_value) {
  return Argument(name, ArgKind::json, std::move(default_value)).allow_none().unsupported();
}

const std::vector<std::string>& layer_base_names() {
  static const std::vector<std::string> names = {"name",      "trainable",         "dtype",     "input_shape",
                                                 "input_dim", "batch_input_shape", "batch_size"};
  return names;
}

ArgumentTable layer_table(std::string class_name, std::string source, std::string doc, std::vector<Argument> arguments) {
  ArgumentTable table;
  table.family = "layers";
  table.class_name = std::move(class_name);
  table.source = std::move(source);
  table.doc = std::move(doc);
  table.arguments = std::move(arguments);
  table.base_names = layer_base_names();
  return table;
}

void set_given(Json& given, const std::string& name, const std::shared_ptr<Initializer>& value) {
  if (!value) return;
  const Json config = initializer_to_config(*value);
  // A C++ initializer the table cannot name (a function_initializer, a class of the user's) is
  // registered under its class name, as pf.initializers registers a Python function: the config
  // then resolves to this very object.
  try {
    initializer_from_config(config);
  } catch (const Error&) {
    register_initializer(value->class_name(), value);
  }
  given[name] = config;
}

void set_given(Json& given, const std::string& name, const std::shared_ptr<Regularizer>& value) {
  if (value) given[name] = regularizer_to_config(value);
}

void set_given(Json& given, const std::string& name, const std::optional<Convention>& value) {
  if (value) given[name] = convention_name(*value);
}

std::shared_ptr<Initializer> make_initializer(const Json& config, double kernel_fan_in) {
  if (config.is_object() && config.get("class_name", Json("")).as_string() == "TorchBias" &&
      config.get("config", Json::object()).get("fan_in", Json()).is_null()) {
    return torch_bias_initializer(kernel_fan_in);
  }
  return initializer_from_config(config);
}

}  // namespace pitfall
