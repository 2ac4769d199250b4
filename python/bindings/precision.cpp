// Precision settings: floatx, dtype policies, and the engine's dtype mode (core/dtype_rules.h).
#include "bindings.h"

#include "pitfall/core/dtype_rules.h"
#include "pitfall/layers/dtype_policy.h"
#include "pitfall/layers/layer.h"

namespace pitfall_python {

namespace {

py::tuple policy_tuple(const pitfall::DTypePolicy& policy) {
  return py::make_tuple(policy.name, std::string(pitfall::dtype_name(policy.variable_dtype)),
                        std::string(pitfall::dtype_name(policy.compute_dtype)));
}

}  // namespace

void bind_precision(py::module_& m) {
  m.def("floatx", [] { return std::string(pitfall::dtype_name(pitfall::floatx())); });
  m.def("set_floatx", [](const std::string& name) { pitfall::set_floatx(pitfall::parse_dtype(name)); });
  // (name, variable_dtype, compute_dtype) of a policy name; ValueError for unknown names.
  m.def("dtype_policy_info", [](const std::string& name) { return policy_tuple(pitfall::dtype_policy(name)); });
  m.def("global_policy", [] { return policy_tuple(pitfall::global_policy()); });
  // The explicitly set policy's name, or None while the global policy follows floatx.
  m.def("explicit_global_policy", []() -> py::object {
    const auto policy = pitfall::explicit_global_policy();
    return policy ? py::object(py::str(policy->name)) : py::object(py::none());
  });
  m.def("set_global_policy", [](const py::object& name) {
    if (name.is_none()) {
      pitfall::reset_global_policy();
    } else {
      pitfall::set_global_policy(name.cast<std::string>());
    }
  });
  m.def("dtype_mode", [] { return std::string(pitfall::dtype_mode_name(pitfall::dtype_mode())); });
  m.def("set_dtype_mode", [](const std::string& mode) { pitfall::set_dtype_mode(pitfall::parse_dtype_mode(mode)); });
  m.def("promoted_dtype", [](const std::string& a, const std::string& b) {
    return std::string(pitfall::dtype_name(pitfall::promoted_dtype(pitfall::parse_dtype(a), pitfall::parse_dtype(b))));
  });
}

}  // namespace pitfall_python
