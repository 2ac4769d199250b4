// The built-in Keras callbacks (C++ classes, training/training_callbacks.h) with Keras's arguments,
// bound through their argument tables. Python functions given to LambdaCallback /
// LearningRateScheduler are called with the GIL taken.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "bindings.h"
#include "python_layer.h"
#include "pitfall/training/callback_arguments.h"

namespace pitfall_python {

namespace {

template <class T>
using CallbackClass = py::class_<T, pitfall::Callback, std::shared_ptr<T>>;

// A Python function as the C++ function type its argument holds (its table's object_type).
std::shared_ptr<void> callback_object(const std::string& where, const pitfall::Argument& argument,
                                      const py::object& value) {
  if (!PyCallable_Check(value.ptr())) {
    throw py::type_error(where + ": argument '" + argument.name + "' must be a function " + argument.doc + ", got " +
                         py::repr(value).cast<std::string>());
  }
  const std::string& type = argument.object_type;
  if (type == "epoch_schedule") {
    // Keras 3 (keras/src/callbacks/learning_rate_scheduler.py) calls schedule(epoch, lr) and, on
    // TypeError, the older schedule(epoch); the result must be a float.
    // The function is released with the GIL taken, wherever the last copy goes.
    const std::shared_ptr<py::object> schedule(new py::object(value), [](py::object* f) {
      py::gil_scoped_acquire gil;
      delete f;
    });
    return std::make_shared<pitfall::EpochLearningRateFunction>([schedule](int epoch, double lr) {
      py::gil_scoped_acquire gil;
      py::object result;
      try {
        result = (*schedule)(epoch, lr);
      } catch (py::error_already_set& e) {
        if (!e.matches(PyExc_TypeError)) throw;
        result = (*schedule)(epoch);
      }
      if (py::isinstance<py::bool_>(result) || !(py::isinstance<py::float_>(result) || py::isinstance<py::int_>(result) ||
                                                 py::hasattr(result, "__float__"))) {
        throw pitfall::ValueError("LearningRateScheduler: the output of the `schedule` function should be a float. Got: " +
                                  py::repr(result).cast<std::string>());
      }
      return result.cast<double>();
    });
  }
  if (type == "epoch_hook") {
    return std::make_shared<std::function<void(int, const pitfall::Logs&)>>(
        value.cast<std::function<void(int, const pitfall::Logs&)>>());
  }
  if (type == "logs_hook") {
    return std::make_shared<std::function<void(const pitfall::Logs&)>>(value.cast<std::function<void(const pitfall::Logs&)>>());
  }
  if (type == "batch_hook") {
    return std::make_shared<std::function<void(int64_t, const pitfall::Logs&)>>(
        value.cast<std::function<void(int64_t, const pitfall::Logs&)>>());
  }
  throw pitfall::RuntimeError(where + ": no conversion for object argument '" + argument.name + "' (" + type + ")");
}

// A built-in callback class, constructed from its Keras arguments through its argument table
// (training/callback_arguments.cpp); pitfall.callbacks installs its signature and help text. The
// functions it was given stay on the instance, so that get_config() returns them and
// from_config(config) rebuilds the callback.
template <class T>
CallbackClass<T> bind_builtin(py::module_& m, const char* class_name) {
  CallbackClass<T> cls(m, class_name);
  cls.def(
      "__init__",
      [class_name](py::detail::value_and_holder& v_h, py::args args, py::kwargs kwargs) {
        const py::module_ arguments = py::module_::import("pitfall._arguments");
        const pitfall::ArgumentTable* table = pitfall::find_argument_table("callbacks", class_name);
        const py::tuple bound = arguments.attr("bind")(arguments.attr("table")("callbacks", class_name), args, kwargs);
        const py::dict given_objects = bound[1];
        std::map<std::string, std::shared_ptr<void>> objects;
        for (const auto& [key, value] : given_objects) {
          const std::string name = key.template cast<std::string>();
          objects[name] = callback_object(class_name, *table->find(name), py::reinterpret_borrow<py::object>(value));
        }
        auto callback = std::dynamic_pointer_cast<T>(pitfall::make_callback(class_name, to_json(bound[0], class_name), objects));
        if (!callback) throw pitfall::RuntimeError(std::string(class_name) + ": the registry built another class");
        py::detail::initimpl::construct<CallbackClass<T>>(v_h, std::move(callback), false);
        python_instance(v_h).attr("_functions") = given_objects;
      },
      py::detail::is_new_style_constructor());
  cls.def("get_config", [](const py::object& self) {
    py::dict config = to_python(self.template cast<const T&>().config());
    if (py::hasattr(self, "_functions")) {
      for (const auto& [key, value] : self.attr("_functions").cast<py::dict>()) config[key] = value;
    }
    return config;
  });
  cls.def_static("from_config", [class_name](const py::dict& config) {
    return py::module_::import("pitfall").attr("callbacks").attr(class_name)(**config);
  });
  return cls;
}

}  // namespace

void bind_callbacks(py::module_& m) {
  // Keras's EarlyStopping attributes (keras/src/callbacks/early_stopping.py).
  bind_builtin<pitfall::EarlyStopping>(m, "EarlyStopping")
      .def_property_readonly("wait", &pitfall::EarlyStopping::wait)
      .def_property_readonly("stopped_epoch", &pitfall::EarlyStopping::stopped_epoch)
      .def_property_readonly("best_epoch", &pitfall::EarlyStopping::best_epoch)
      .def_property_readonly("best", &pitfall::EarlyStopping::best)
      .def_property_readonly("best_weights", [](const pitfall::EarlyStopping& e) -> py::object {
        if (!e.best_weights()) return py::none();
        py::list arrays;
        for (const pitfall::Tensor& w : *e.best_weights()) arrays.append(py::module_::import("numpy").attr("asarray")(w));
        return arrays;
      });
  bind_builtin<pitfall::ReduceLROnPlateau>(m, "ReduceLROnPlateau");
  bind_builtin<pitfall::LearningRateScheduler>(m, "LearningRateScheduler");
  bind_builtin<pitfall::TerminateOnNaN>(m, "TerminateOnNaN");
  bind_builtin<pitfall::CheckNumerics>(m, "CheckNumerics")
      .def_property_readonly("raise_error", &pitfall::CheckNumerics::raise_error)
      // dict(step, epoch, batch, phase, layer, op, message, cause, line) or None when training stayed finite.
      .def_property_readonly("report", [](const pitfall::CheckNumerics& self) -> py::object {
        if (!self.report()) return py::none();
        const pitfall::NumericReport& r = *self.report();
        py::dict out;
        out["step"] = r.step;
        out["epoch"] = r.epoch;
        out["batch"] = r.batch;
        out["phase"] = r.phase;
        out["layer"] = r.layer;
        out["op"] = r.op;
        out["message"] = r.message;
        out["cause"] = r.cause;
        out["line"] = r.str();
        return out;
      });
  bind_builtin<pitfall::CSVLogger>(m, "CSVLogger");
  bind_builtin<pitfall::ModelCheckpoint>(m, "ModelCheckpoint");
  bind_builtin<pitfall::LambdaCallback>(m, "LambdaCallback");
}

}  // namespace pitfall_python
