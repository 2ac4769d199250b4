#include "bindings.h"

PYBIND11_MODULE(_pitfall, m) {
  m.doc() = "pitfall C++ engine (use the `pitfall` package, not this module directly)";
  pitfall_python::bind_errors(m);
  pitfall_python::bind_arguments(m);
  pitfall_python::bind_warnings(m);
  pitfall_python::bind_tensor(m);
  pitfall_python::bind_ops(m);
  pitfall_python::bind_runtime(m);
  pitfall_python::bind_precision(m);
  pitfall_python::bind_schedules(m);
  pitfall_python::bind_training(m);
  pitfall_python::bind_callbacks(m);
  pitfall_python::bind_layers(m);
  pitfall_python::bind_data(m);
  pitfall_python::bind_models(m);
  pitfall_python::bind_readers(m);
}
