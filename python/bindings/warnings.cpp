// Engine warnings (core/warnings.h) become Python warnings of category pitfall.PitfallWarning (a
// UserWarning), so warnings.catch_warnings / filterwarnings / pytest.warns see them, and an "error"
// filter turns them into exceptions. The handler
// takes the GIL itself: pipeline threads warn without holding it. At interpreter exit the handler is
// removed (atexit), and later warnings go to stderr instead of into a finalizing interpreter.
#include "bindings.h"

#include "pitfall/core/warnings.h"

namespace pitfall_python {

void bind_warnings(py::module_& m) {
  // Leaked on purpose: a static py::object would be destroyed after the interpreter is gone.
  auto* category = new py::object(py::reinterpret_steal<py::object>(
      PyErr_NewExceptionWithDoc("pitfall.PitfallWarning",
                                "Warnings from the pitfall engine (dtype casts, softmax fed to a from_logits loss, ...)",
                                PyExc_UserWarning, nullptr)));
  m.attr("PitfallWarning") = *category;
  pitfall::set_warning_handler([category](const std::string& message) {
    py::gil_scoped_acquire gil;
    // Observers (pitfall/_hooks.py engine_warning: the doctor) see every engine warning first.
    const py::object hooks = py::module_::import("sys").attr("modules").attr("get")("pitfall._hooks");
    if (!hooks.is_none()) {
      for (const auto& hook : hooks.attr("engine_warning")) hook(message);
    }
    // A filter set to "error" (python -W error::pitfall.PitfallWarning) makes warn() raise: the
    // exception unwinds the engine call like any engine error and reaches the caller as that warning.
    py::module_::import("warnings").attr("warn")(message, *category, 2);
  });
  py::module_::import("atexit").attr("register")(
      py::cpp_function([] { pitfall::set_warning_handler(nullptr); }));
}

}  // namespace pitfall_python
