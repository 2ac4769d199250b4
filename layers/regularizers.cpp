#include "pitfall/layers/regularizers.h"

#include <map>

#include "pitfall/core/ops.h"
#include "pitfall/layers/layer.h"

namespace pitfall {

Tensor Regularizer::operator()(const Tensor& weight) const {
  if (!is_floating(weight.dtype())) {
    throw DTypeError("regularizer " + class_name() + ": weights must be floating, got " +
                     std::string(dtype_name(weight.dtype())));
  }
  // Keras adds only the terms whose factor is non-zero, so L2 alone never touches |w|.
  Tensor penalty;
  if (l1_ != 0.0) penalty = multiply(sum(abs(weight)), l1_);
  if (l2_ != 0.0) {
    Tensor l2_term = multiply(sum(square(weight)), l2_);
    penalty = penalty.defined() ? add(penalty, l2_term) : l2_term;
  }
  return penalty.defined() ? penalty : Tensor::zeros({}, weight.dtype());
}

namespace {

ArgumentTable regularizer_table(std::string class_name, std::string doc, std::vector<Argument> arguments) {
  return argument_table("regularizers", std::move(class_name), "keras/src/regularizers/regularizers.py", std::move(doc),
                        std::move(arguments));
}

Argument factor(const char* name, double default_value, const char* doc) {
  return Argument(name, ArgKind::number, default_value).checked(non_negative_number).described(doc);
}

const std::map<std::string, ArgumentTable>& regularizer_tables() {
  static const std::map<std::string, ArgumentTable> tables = {
      {"L1", regularizer_table("L1", "adds l1 * sum(|w|) to the loss", {factor("l1", 0.01, "the L1 factor")})},
      {"L2", regularizer_table("L2", "adds l2 * sum(w^2) to the loss (no 1/2 factor)", {factor("l2", 0.01, "the L2 factor")})},
      {"L1L2", regularizer_table("L1L2",
                                 "adds l1 * sum(|w|) + l2 * sum(w^2); its factors default to 0, so the name 'l1_l2' "
                                 "alone penalizes nothing (Keras 3)",
                                 {factor("l1", 0.0, "the L1 factor"), factor("l2", 0.0, "the L2 factor")})},
  };
  return tables;
}

const bool regularizer_tables_registered = [] {
  for (const auto& [name, table] : regularizer_tables()) register_argument_table(&table);
  return true;
}();

std::vector<std::string> known_names() {
  std::vector<std::string> names;
  for (const auto& [name, table] : regularizer_tables()) {
    names.push_back(name);
    names.push_back(to_snake_case(name));
  }
  return names;
}

// "L1", "l1", "L1L2", "l1_l2" -> the class name; "" when unknown.
std::string class_for(const std::string& name) {
  for (const auto& [class_name, table] : regularizer_tables()) {
    if (name == class_name || name == to_snake_case(class_name)) return class_name;
  }
  return "";
}

}  // namespace

Regularizer::Regularizer(std::string class_name, Arguments arguments)
    : class_name_(std::move(class_name)), arguments_(std::move(arguments)) {
  if (arguments_.values().contains("l1")) l1_ = arguments_.number("l1");
  if (arguments_.values().contains("l2")) l2_ = arguments_.number("l2");
}

std::shared_ptr<Regularizer> make_regularizer(const std::string& class_name, const Json& arguments) {
  const auto found = regularizer_tables().find(class_name);
  if (found == regularizer_tables().end()) {
    throw ValueError("unknown regularizer class '" + class_name + "'; " + did_you_mean(class_name, known_names()));
  }
  return std::make_shared<Regularizer>(class_name, parse_arguments(found->second, arguments));
}

std::shared_ptr<Regularizer> l1_regularizer(std::optional<double> l1) {
  return make_regularizer("L1", given_arguments({{"l1", given_value(l1)}}));
}

std::shared_ptr<Regularizer> l2_regularizer(std::optional<double> l2) {
  return make_regularizer("L2", given_arguments({{"l2", given_value(l2)}}));
}

std::shared_ptr<Regularizer> l1_l2_regularizer(std::optional<double> l1, std::optional<double> l2) {
  return make_regularizer("L1L2", given_arguments({{"l1", given_value(l1)}, {"l2", given_value(l2)}}));
}

std::shared_ptr<Regularizer> regularizer_from_config(const Json& config) {
  if (config.is_null()) return nullptr;
  if (config.is_string()) {
    const std::string class_name = class_for(config.as_string());
    if (class_name.empty()) {
      throw ValueError("unknown regularizer '" + config.as_string() + "'; " + did_you_mean(config.as_string(), known_names()));
    }
    return make_regularizer(class_name);
  }
  const ClassAndConfig entry = class_and_config(config, "regularizer_from_config",
                                                "a name, null or {\"class_name\": ..., \"config\": {...}}");
  const std::string class_name = class_for(entry.class_name);
  if (class_name.empty()) {
    throw ValueError("unknown regularizer class '" + entry.class_name + "'; " + did_you_mean(entry.class_name, known_names()));
  }
  return make_regularizer(class_name, entry.config);
}

Json regularizer_to_config(const std::shared_ptr<Regularizer>& regularizer) {
  if (!regularizer) return Json();
  Json out = Json::object();
  out["class_name"] = regularizer->class_name();
  out["config"] = regularizer->get_config();
  return out;
}

}  // namespace pitfall
