// pitfall::Error kinds -> the Python exception a Python user expects, with the engine's message
// (context prefix included: "layer 'model/dense_1', op 'matmul': ...").
#include "bindings.h"

namespace pitfall_python {

PyObject* python_exception_type(pitfall::ErrorKind kind) {
  switch (kind) {
    case pitfall::ErrorKind::value:
    case pitfall::ErrorKind::shape:
    case pitfall::ErrorKind::axis: return PyExc_ValueError;
    case pitfall::ErrorKind::dtype: return PyExc_TypeError;
    case pitfall::ErrorKind::index: return PyExc_IndexError;
    case pitfall::ErrorKind::numeric: return PyExc_FloatingPointError;
    case pitfall::ErrorKind::not_implemented: return PyExc_NotImplementedError;
    case pitfall::ErrorKind::runtime: return PyExc_RuntimeError;
  }
  return PyExc_RuntimeError;
}

void bind_errors(py::module_& m) {
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const pitfall::Error& e) {
      PyErr_SetString(python_exception_type(e.kind()), e.what());
    }
  });
  m.def("_raise_for_test", [](const std::string& kind, const std::string& message) {
    static const std::pair<const char*, pitfall::ErrorKind> kinds[] = {
        {"value", pitfall::ErrorKind::value},     {"shape", pitfall::ErrorKind::shape},
        {"dtype", pitfall::ErrorKind::dtype},     {"axis", pitfall::ErrorKind::axis},
        {"index", pitfall::ErrorKind::index},     {"numeric", pitfall::ErrorKind::numeric},
        {"not_implemented", pitfall::ErrorKind::not_implemented},
        {"runtime", pitfall::ErrorKind::runtime}};
    for (const auto& [name, error_kind] : kinds) {
      if (kind == name) throw pitfall::Error(error_kind, message);
    }
    throw pitfall::ValueError("unknown error kind '" + kind + "'");
  }, "Raises a pitfall::Error of the given kind (used by the tests of error translation).");
}

}  // namespace pitfall_python
