// Learning-rate schedules: the built-in Keras schedules and `class MySchedule(LearningRateSchedule)`
// written in Python.
//
// Every schedule Python sees is a _pitfall.LearningRateSchedule, so an optimizer takes a built-in and
// a Python subclass alike. The Python classes of the built-ins (pitfall.schedules.ExponentialDecay,
// ...) wrap the C++ schedule: while their __call__ is not overridden the optimizer evaluates the C++
// schedule directly, without taking the GIL. A Python __call__ is run with the GIL taken only for its
// duration, so a training loop that released the GIL can still step a Python schedule.
#include <cmath>

#include "python_layer.h"

namespace pitfall_python {

using pitfall::Json;
using pitfall::LearningRateSchedule;

namespace {

// The C++ side of a Python schedule object.
class PythonSchedule : public LearningRateSchedule {
 public:
  PythonSchedule(std::string class_name, std::shared_ptr<const LearningRateSchedule> builtin, bool direct)
      : class_name_(std::move(class_name)), builtin_(std::move(builtin)), direct_(direct) {}

  // The Python object, kept alive as long as the C++ side: an optimizer holding only the C++ side of
  // a Python schedule must still reach its __call__.
  std::shared_ptr<PyObject> self;

  double operator()(int64_t step) const override {
    if (direct_) return (*builtin_)(step);
    py::gil_scoped_acquire gil;
    py::function call = py::get_override(static_cast<const LearningRateSchedule*>(this), "__call__");
    if (!call) {
      if (builtin_) return (*builtin_)(step);
      throw pitfall::NotImplementedError(missing_call_message());
    }
    py::object result;
    try {
      result = call(step);
    } catch (py::error_already_set& e) {
      rethrow_with_context(e, step);
    }
    return value_of(result, step);
  }

  std::string class_name() const override { return class_name_; }

  Json get_config() const override {
    {
      py::gil_scoped_acquire gil;
      if (py::function fn = py::get_override(static_cast<const LearningRateSchedule*>(this), "get_config")) {
        return translate_python_errors([&] { return to_json(fn(), "learning-rate schedule " + class_name_ + ".get_config()"); });
      }
    }
    if (builtin_) return builtin_->get_config();
    throw pitfall::NotImplementedError(missing_get_config_message());
  }

  const std::shared_ptr<const LearningRateSchedule>& builtin() const { return builtin_; }

  std::string missing_call_message() const {
    return "learning-rate schedule '" + class_name_ + "' must override __call__(self, step), returning the learning "
           "rate (a float) for the optimizer step `step`";
  }
  std::string missing_get_config_message() const {
    return "learning-rate schedule '" + class_name_ + "' must override get_config() in order to be serializable "
           "(return the keyword arguments of its __init__ as a dict)";
  }

 private:
  std::string where(int64_t step) const {
    return "learning-rate schedule '" + class_name_ + "' at step " + std::to_string(step);
  }

  // A Python exception becomes the pitfall error of the same kind (so Python sees the same type
  // again), its message naming the schedule class, the step and the original exception.
  [[noreturn]] void rethrow_with_context(py::error_already_set& e, int64_t step) const {
    const std::string type = py::str(e.type().attr("__name__")).cast<std::string>();
    const std::string message = where(step) + ": __call__ raised " + type + ": " + py::str(e.value()).cast<std::string>();
    pitfall::ErrorKind kind = pitfall::ErrorKind::runtime;
    if (e.matches(PyExc_ValueError)) kind = pitfall::ErrorKind::value;
    else if (e.matches(PyExc_TypeError)) kind = pitfall::ErrorKind::dtype;
    else if (e.matches(PyExc_IndexError)) kind = pitfall::ErrorKind::index;
    else if (e.matches(PyExc_FloatingPointError)) kind = pitfall::ErrorKind::numeric;
    else if (e.matches(PyExc_NotImplementedError)) kind = pitfall::ErrorKind::not_implemented;
    pitfall::throw_error(kind, message);
  }

  // A float, a NumPy scalar or a one-element tensor; a learning rate must be finite.
  double value_of(const py::object& result, int64_t step) const {
    // Numbers and one-element tensors define __float__; a string would parse, but is a mistake.
    double value = 0;
    try {
      if (py::isinstance<py::bool_>(result) || !py::hasattr(result, "__float__")) throw py::type_error("not a number");
      value = py::float_(result).cast<double>();
    } catch (const std::exception&) {
      throw pitfall::DTypeError(where(step) + ": __call__ returned " + py::repr(result).cast<std::string>() + " of type " +
                                py::str(result.get_type().attr("__name__")).cast<std::string>() +
                                "; it must return the learning rate as a float");
    }
    if (!std::isfinite(value)) {
      throw pitfall::ValueError(where(step) + ": __call__ returned " + py::repr(result).cast<std::string>() +
                                "; a learning rate must be finite");
    }
    return value;
  }

  std::string class_name_;
  std::shared_ptr<const LearningRateSchedule> builtin_;
  bool direct_;
};

using ScheduleClass = py::class_<LearningRateSchedule, PythonSchedule, std::shared_ptr<LearningRateSchedule>>;

// Whether `type(self).<method>` is still the one bound here (not overridden in Python).
bool inherits(const py::handle& self, const char* method, const py::handle& base) {
  return self.get_type().attr(method).is(base.attr(method));
}

void construct(py::detail::value_and_holder& v_h, std::shared_ptr<const LearningRateSchedule> builtin) {
  const py::object self = python_instance(v_h);
  const bool direct = builtin && inherits(self, "__call__", py::type::of<LearningRateSchedule>());
  auto schedule = std::make_shared<PythonSchedule>(python_class_name(v_h), std::move(builtin), direct);
  schedule->self = keep_python(self);
  py::detail::initimpl::construct<ScheduleClass>(v_h, std::shared_ptr<LearningRateSchedule>(schedule), true);
}


}  // namespace

void bind_schedules(py::module_& m) {
  ScheduleClass cls(m, "LearningRateSchedule", py::dynamic_attr(), R"doc(
The learning-rate schedule base class (keras.optimizers.schedules.LearningRateSchedule).

Subclass it and define __call__(self, step) -> float (step: the number of optimizer updates made so
far) and, to make it serializable, get_config(). Any optimizer accepts it as learning_rate.)doc");
  cls.def("__init__", [](py::detail::value_and_holder& v_h) { construct(v_h, nullptr); }, py::detail::is_new_style_constructor())
      .def("__init__",
           [](py::detail::value_and_holder& v_h, std::shared_ptr<LearningRateSchedule> builtin) {
             // A C++ schedule wrapped by a Python class (pitfall.schedules.ExponentialDecay, ...).
             if (const auto* python = dynamic_cast<const PythonSchedule*>(builtin.get())) {
               builtin = std::const_pointer_cast<LearningRateSchedule>(python->builtin());
               if (!builtin) throw pitfall::ValueError("LearningRateSchedule(schedule): `schedule` must be a built-in schedule");
             }
             construct(v_h, std::move(builtin));
           },
           py::detail::is_new_style_constructor(), py::arg("schedule"))
      .def(
          "__call__",
          [](const LearningRateSchedule& schedule, int64_t step) {
            if (const auto* python = dynamic_cast<const PythonSchedule*>(&schedule)) {
              // Reached only when Python did not override __call__ (or calls super().__call__).
              if (!python->builtin()) throw pitfall::NotImplementedError(python->missing_call_message());
              return (*python->builtin())(step);
            }
            return schedule(step);
          },
          py::arg("step"))
      .def("get_config",
           [](const LearningRateSchedule& schedule) {
             if (const auto* python = dynamic_cast<const PythonSchedule*>(&schedule)) {
               if (!python->builtin()) throw pitfall::NotImplementedError(python->missing_get_config_message());
               return to_python(python->builtin()->get_config());
             }
             return to_python(schedule.get_config());
           })
      .def_property_readonly("class_name", &LearningRateSchedule::class_name)
      .def("_config_entry", [](const LearningRateSchedule& s) { return to_python(pitfall::schedule_to_config(s)); })
      .def("__repr__", [](const py::object& self) {
        if (!cpp_object_constructed(self)) return not_constructed_repr(self);
        const LearningRateSchedule& s = self.cast<const LearningRateSchedule&>();
        const auto* python = dynamic_cast<const PythonSchedule*>(&s);
        if (python && !python->builtin()) return "<LearningRateSchedule " + s.class_name() + ">";
        const Json config = python ? python->builtin()->get_config() : s.get_config();
        return "<LearningRateSchedule " + s.class_name() + " " + config.dump() + ">";
      });
  cls.attr("from_config") = py::module_::import("builtins").attr("classmethod")(py::cpp_function(
      [](const py::object& type, const py::dict& config) { return type(**config); }, py::arg("cls"), py::arg("config"),
      "Instantiates the schedule from the output of its get_config(): cls(**config)."));

  m.def("make_schedule", [](const std::string& class_name, const py::dict& config) {
    return pitfall::make_schedule(class_name, to_json(config, class_name));
  }, py::arg("class_name"), py::arg("config"));
  m.def("schedule_from_config", [](const py::object& entry) {
    return pitfall::schedule_from_config(to_json(entry, "schedule_from_config"));
  }, py::arg("entry"));
  m.def("schedule_to_config", [](const LearningRateSchedule& s) { return to_python(pitfall::schedule_to_config(s)); },
        py::arg("schedule"));
  // The schedule evaluated the way an optimizer does: from C++, with the GIL released.
  m.def("_evaluate_schedule", [](const LearningRateSchedule& schedule, int64_t step) {
    py::gil_scoped_release release;
    return schedule(step);
  }, py::arg("schedule"), py::arg("step"));
}

}  // namespace pitfall_python
