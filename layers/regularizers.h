// Weight regularizers: penalties added to the training loss (Keras L1, L2, L1L2).
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "pitfall/core/arguments.h"
#include "pitfall/core/json.h"
#include "pitfall/core/tensor.h"

namespace pitfall {

class Regularizer {
 public:
  // A built-in class (L1, L2, L1L2) with its resolved arguments, which get_config shows.
  Regularizer(std::string class_name, Arguments arguments);
  // l1 * sum(|w|) + l2 * sum(w^2), a scalar in w's dtype (Keras: no 1/2 factor).
  Tensor operator()(const Tensor& weight) const;
  double l1() const { return l1_; }
  double l2() const { return l2_; }
  const std::string& class_name() const { return class_name_; }
  Json get_config() const { return arguments_.values(); }

 private:
  std::string class_name_;
  Arguments arguments_;
  double l1_ = 0.0, l2_ = 0.0;
};

// The classes by name from Keras-named arguments, checked against their argument tables (family
// "regularizers": L1(l1=0.01), L2(l2=0.01), L1L2(l1=0.0, l2=0.0)).
std::shared_ptr<Regularizer> make_regularizer(const std::string& class_name, const Json& arguments = Json::object());
// Typed shortcuts; an argument left unset takes the table's default.
std::shared_ptr<Regularizer> l1_regularizer(std::optional<double> l1 = {});
std::shared_ptr<Regularizer> l2_regularizer(std::optional<double> l2 = {});
std::shared_ptr<Regularizer> l1_l2_regularizer(std::optional<double> l1 = {}, std::optional<double> l2 = {});
// {"class_name", "config"} of a regularizer; null for nullptr (how layer configs store them).
Json regularizer_to_config(const std::shared_ptr<Regularizer>& regularizer);
// A class name or its snake_case ("l1", "l2", "l1_l2": as in Keras 3, the L1L2 class with its zero
// defaults) or {"class_name", "config"}; null -> nullptr.
std::shared_ptr<Regularizer> regularizer_from_config(const Json& config);

}  // namespace pitfall
