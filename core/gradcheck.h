// Checks autograd against central finite differences (in float64), like torch.autograd.gradcheck.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "pitfall/core/tensor.h"

namespace pitfall {

struct GradcheckResult {
  bool ok = false;
  // max over all checked elements of |analytic - numeric| / max(1, |numeric|)
  double max_error = 0.0;
  std::string report;  // where the worst element is, with both values
};

// `fn` maps the inputs to one output. Every float64 input is differentiated (integer inputs, e.g.
// indices, are passed through). The output is contracted with fixed pseudo-random weights so every
// output element contributes. Each input element is perturbed by +-eps.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, double eps = 1e-6, double tolerance = 1e-6);

}  // namespace pitfall
