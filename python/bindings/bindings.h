// Shared declarations of the _pitfall extension. The bindings are thin: argument conversion from
// Python (NumPy, scalars, Keras conventions) lives in the pure-Python package python/pitfall/.
#pragma once
#include <pybind11/pybind11.h>

#include <pitfall/pitfall.h>

namespace pitfall_python {

namespace py = pybind11;

void bind_errors(py::module_& m);
void bind_tensor(py::module_& m);
void bind_ops(py::module_& m);
void bind_runtime(py::module_& m);  // autograd, random, threads, numeric checking, op table

// An undefined Tensor handle (no gradient, no value) is None on the Python side.
inline py::object tensor_or_none(const pitfall::Tensor& tensor) {
  return tensor.defined() ? py::cast(tensor) : py::none();
}

}  // namespace pitfall_python
