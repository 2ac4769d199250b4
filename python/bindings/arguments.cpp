// The argument tables (core/arguments.h) as Python data: pitfall._arguments builds each class's
// keyword binding, inspect.signature and help text from them, so nothing is restated in Python.
#include <pybind11/stl.h>

#include "bindings.h"

namespace pitfall_python {

using pitfall::Argument;
using pitfall::ArgumentTable;
using pitfall::Json;

namespace {

// The Keras default of an argument (a conventions argument: Keras's row), then PyTorch's when it
// differs by convention.
py::dict argument_dict(const Argument& a) {
  py::dict out;
  out["name"] = a.name;
  out["kind"] = pitfall::arg_kind_name(a.kind);
  out["kind_id"] = static_cast<int>(a.kind);
  out["required"] = a.required;
  out["nullable"] = a.nullable;
  out["keras"] = a.keras;
  out["supported"] = a.supported;
  out["keyword_only"] = a.keyword_only;
  out["size"] = a.size;
  out["choices"] = a.choices;
  out["doc"] = a.doc;
  out["object_type"] = a.object_type;
  out["convention_key"] = a.convention_key;
  if (a.convention_key.empty()) {
    out["default"] = to_python(a.default_value);
  } else {
    out["default"] = to_python(pitfall::convention_default(a.convention_key, pitfall::Convention::keras));
    out["torch_default"] = to_python(pitfall::convention_default(a.convention_key, pitfall::Convention::torch));
  }
  return out;
}

py::dict table_dict(const ArgumentTable& t) {
  py::dict out;
  out["family"] = t.family;
  out["class_name"] = t.class_name;
  out["source"] = t.source;
  out["doc"] = t.doc;
  py::list arguments;
  for (const auto& a : t.arguments) arguments.append(argument_dict(a));
  out["arguments"] = arguments;
  out["hints"] = t.hints;
  out["base_names"] = t.base_names;
  return out;
}

}  // namespace

void bind_arguments(py::module_& m) {
  m.def("argument_tables", [] {
    py::list out;
    for (const ArgumentTable* t : pitfall::argument_tables()) out.append(table_dict(*t));
    return out;
  }, "Every registered argument table (core/arguments.h), as dicts.");
  m.def("argument_table", [](const std::string& family, const std::string& class_name) -> py::object {
    const ArgumentTable* t = pitfall::find_argument_table(family, class_name);
    if (!t) return py::none();
    return table_dict(*t);
  }, py::arg("family"), py::arg("class_name"));
  m.def("python_repr", [](const py::handle& value) { return pitfall::python_repr(to_json(value, "python_repr")); });
}

}  // namespace pitfall_python
