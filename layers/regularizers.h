// Weight regularizers: penalties added to the training loss (Keras L1, L2, L1L2).
#pragma once
#include <memory>
#include <string>

#include "pitfall/core/json.h"
#include "pitfall/core/tensor.h"

namespace pitfall {

class Regularizer {
 public:
  Regularizer(double l1, double l2) : l1_(l1), l2_(l2) {}
  // l1 * sum(|w|) + l2 * sum(w^2), a scalar in w's dtype (Keras: no 1/2 factor).
  Tensor operator()(const Tensor& weight) const;
  double l1() const { return l1_; }
  double l2() const { return l2_; }
  std::string class_name() const;  // "L1", "L2" or "L1L2"
  Json get_config() const;

 private:
  double l1_, l2_;
};

// Keras defaults: l1(0.01), l2(0.01), l1_l2(l1=0.01, l2=0.01).
std::shared_ptr<Regularizer> l1_regularizer(double l1 = 0.01);
std::shared_ptr<Regularizer> l2_regularizer(double l2 = 0.01);
std::shared_ptr<Regularizer> l1_l2_regularizer(double l1 = 0.01, double l2 = 0.01);
// {"class_name", "config"} of a regularizer; null for nullptr (how layer configs store them).
Json regularizer_to_config(const std::shared_ptr<Regularizer>& regularizer);
// "l1", "l2", "l1_l2" or {"class_name", "config"}; null -> nullptr.
std::shared_ptr<Regularizer> regularizer_from_config(const Json& config);

}  // namespace pitfall
