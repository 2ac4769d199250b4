#include "pitfall/core/gradcheck.h"

#include <cmath>
#include <sstream>

#include "pitfall/core/autograd.h"
#include "pitfall/core/random.h"

namespace pitfall {
namespace {

double contract(const Tensor& out, const std::vector<double>& weights) {
  const auto values = out.contiguous().to_vector<double>();
  double total = 0.0;
  for (size_t i = 0; i < values.size(); ++i) total += values[i] * weights[i];
  return total;
}

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, double eps, double tolerance) {
  std::vector<Tensor> leaves;
  for (const auto& input : inputs) {
    Tensor leaf = input.clone();
    if (leaf.dtype() == DType::float64) leaf.set_requires_grad(true);
    leaves.push_back(leaf);
  }
  const Tensor out = fn(leaves);
  if (out.dtype() != DType::float64) {
    throw DTypeError("gradcheck needs a float64 output, got " + std::string(dtype_name(out.dtype())));
  }
  const Tensor weights_tensor = random_uniform(out.shape(), 0.5, 1.5, DType::float64, RandomKey{12345, 1});
  const auto weights = weights_tensor.to_vector<double>();
  const auto analytic = gradients(out, leaves, weights_tensor);

  GradcheckResult result;
  result.ok = true;
  std::ostringstream report;
  for (size_t k = 0; k < leaves.size(); ++k) {
    if (leaves[k].dtype() != DType::float64) continue;
    const std::vector<double> base = leaves[k].to_vector<double>();
    const std::vector<double> grad =
        analytic[k].defined() ? analytic[k].contiguous().to_vector<double>() : std::vector<double>(base.size(), 0.0);
    for (size_t i = 0; i < base.size(); ++i) {
      auto evaluate = [&](double delta) {
        std::vector<double> shifted = base;
        shifted[i] += delta;
        std::vector<Tensor> probe = leaves;
        probe[k] = Tensor::from_vector(shifted, leaves[k].shape());
        NoGradGuard no_grad;
        return contract(fn(probe), weights);
      };
      const double numeric = (evaluate(eps) - evaluate(-eps)) / (2 * eps);
      const double error = std::abs(grad[i] - numeric) / std::max(1.0, std::abs(numeric));
      if (!(error <= result.max_error)) {
        result.max_error = std::isnan(error) ? INFINITY : error;
        report.str("");
        report << "input " << k << " element " << i << ": analytic " << grad[i] << " vs numeric " << numeric;
      }
    }
  }
  result.ok = result.max_error <= tolerance;
  result.report = report.str();
  return result;
}

}  // namespace pitfall
