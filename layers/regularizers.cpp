#include "pitfall/layers/regularizers.h"

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

std::string Regularizer::class_name() const {
  if (l1_ != 0.0 && l2_ != 0.0) return "L1L2";
  if (l1_ != 0.0) return "L1";
  if (l2_ != 0.0) return "L2";
  return "L1L2";
}

Json Regularizer::get_config() const {
  Json config = Json::object();
  const std::string name = class_name();
  if (name == "L1") {
    config["l1"] = l1_;
  } else if (name == "L2") {
    config["l2"] = l2_;
  } else {
    config["l1"] = l1_;
    config["l2"] = l2_;
  }
  return config;
}

namespace {
void check_factor(const char* which, double value) {
  if (!(value >= 0.0)) {
    throw ValueError(std::string("regularizer: `") + which + "` must be a non-negative number, got " +
                     std::to_string(value));
  }
}
}  // namespace

std::shared_ptr<Regularizer> l1_regularizer(double l1) {
  check_factor("l1", l1);
  return std::make_shared<Regularizer>(l1, 0.0);
}

std::shared_ptr<Regularizer> l2_regularizer(double l2) {
  check_factor("l2", l2);
  return std::make_shared<Regularizer>(0.0, l2);
}

std::shared_ptr<Regularizer> l1_l2_regularizer(double l1, double l2) {
  check_factor("l1", l1);
  check_factor("l2", l2);
  return std::make_shared<Regularizer>(l1, l2);
}

std::shared_ptr<Regularizer> regularizer_from_config(const Json& config) {
  if (config.is_null()) return nullptr;
  static const std::vector<std::string> known = {"l1", "l2", "l1_l2", "L1", "L2", "L1L2"};
  if (config.is_string()) {
    const std::string& name = config.as_string();
    if (name == "l1" || name == "L1") return l1_regularizer();
    if (name == "l2" || name == "L2") return l2_regularizer();
    if (name == "l1_l2" || name == "L1L2") return l1_l2_regularizer();
    throw ValueError("unknown regularizer '" + name + "'; " + did_you_mean(name, known));
  }
  if (!config.is_object() || !config.contains("class_name")) {
    throw ValueError("regularizer_from_config: expected a name, null or {\"class_name\": ..., \"config\": {...}}, got " +
                     config.dump());
  }
  const std::string name = config.at("class_name").as_string();
  const Json args = config.get("config", Json::object());
  if (name == "L1" || name == "l1") return l1_regularizer(args.get("l1", 0.01).as_double());
  if (name == "L2" || name == "l2") return l2_regularizer(args.get("l2", 0.01).as_double());
  if (name == "L1L2" || name == "l1_l2") {
    // Keras's L1L2 class defaults both factors to 0 (only the l1_l2 function uses 0.01).
    return l1_l2_regularizer(args.get("l1", 0.0).as_double(), args.get("l2", 0.0).as_double());
  }
  throw ValueError("unknown regularizer class '" + name + "'; " + did_you_mean(name, known));
}

Json regularizer_to_config(const std::shared_ptr<Regularizer>& regularizer) {
  if (!regularizer) return Json();
  Json out = Json::object();
  out["class_name"] = regularizer->class_name();
  out["config"] = regularizer->get_config();
  return out;
}

}  // namespace pitfall
