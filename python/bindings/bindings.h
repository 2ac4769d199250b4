// Shared declarations of the _pitfall extension. The bindings are thin: argument conversion from
// Python (NumPy, scalars, Keras conventions) lives in the pure-Python package python/pitfall/.
#pragma once
#include <pybind11/pybind11.h>

#include <pitfall/pitfall.h>

namespace pitfall_python {

namespace py = pybind11;

void bind_errors(py::module_& m);
void bind_arguments(py::module_& m);  // the argument tables (core/arguments.h) as Python data
void bind_tensor(py::module_& m);
void bind_ops(py::module_& m);
void bind_runtime(py::module_& m);  // autograd, random, threads, numeric checking, op table
void bind_precision(py::module_& m);  // floatx, dtype policies, dtype mode
void bind_warnings(py::module_& m);   // engine warnings -> Python warnings (PitfallWarning)
void bind_layers(py::module_& m);   // Layer (Python subclassing), built-in layers, KerasTensor, Input
void bind_models(py::module_& m);   // Model, Sequential, compile / fit / evaluate / predict
void bind_callbacks(py::module_& m);  // EarlyStopping, ReduceLROnPlateau, ... (after bind_training)
void bind_schedules(py::module_& m);  // LearningRateSchedule (Python subclassing), the Keras schedules
void bind_training(py::module_& m);  // initializers, regularizers, losses, metrics, optimizers, callbacks
void bind_data(py::module_& m);     // pf.data: Dataset, iterators, built-in transforms
void bind_readers(py::module_& m);   // read_idx, read_npy, save_npy, read_npz, read_csv (data/*_reader.h)

// The Python exception type for an engine error kind (ValueError for value/shape/axis, ...).
PyObject* python_exception_type(pitfall::ErrorKind kind);

// Json <-> Python values (json_convert.cpp). `where` names the caller in errors.
py::object to_python(const pitfall::Json& value);
pitfall::Json to_json(const py::handle& value, const std::string& where);

// A reference to a Python object owned by a C++ object that may be destroyed after the interpreter
// has finalized (a static table at exit): released with the GIL while Python runs, leaked after.
inline std::shared_ptr<PyObject> keep_python(py::object object) {
  return std::shared_ptr<PyObject>(object.release().ptr(), [](PyObject* p) {
    if (!Py_IsInitialized() || _Py_IsFinalizing()) return;
    py::gil_scoped_acquire gil;
    Py_DECREF(p);
  });
}

// An undefined Tensor handle (no gradient, no value) is None on the Python side.
inline py::object tensor_or_none(const pitfall::Tensor& tensor) {
  return tensor.defined() ? py::cast(tensor) : py::none();
}

}  // namespace pitfall_python
