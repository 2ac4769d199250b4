// Json <-> Python values (configs, logs). Tuples become lists, NumPy scalars become numbers, and
// objects that carry a config (initializers, regularizers) become {"class_name", "config"}.
#include "bindings.h"

namespace pitfall_python {

using pitfall::Json;

py::object to_python(const Json& value) {
  if (value.is_null()) return py::none();
  if (value.is_bool()) return py::bool_(value.as_bool());
  if (value.is_int()) return py::int_(value.as_int());
  if (value.is_number()) return py::float_(value.as_double());
  if (value.is_string()) return py::str(value.as_string());
  if (value.is_array()) {
    py::list out;
    for (const auto& item : value.as_array()) out.append(to_python(item));
    return out;
  }
  py::dict out;
  for (const auto& [key, item] : value.as_object()) out[py::str(key)] = to_python(item);
  return out;
}

Json to_json(const py::handle& value, const std::string& where) {
  if (value.is_none()) return Json();
  if (py::isinstance<py::bool_>(value)) return Json(value.cast<bool>());
  if (py::isinstance<py::int_>(value)) return Json(value.cast<int64_t>());
  if (py::isinstance<py::float_>(value)) return Json(value.cast<double>());
  if (py::isinstance<py::str>(value)) return Json(value.cast<std::string>());
  if (py::isinstance<py::dict>(value)) {
    Json::Object out;
    for (const auto& [key, item] : value.cast<py::dict>()) {
      out[py::str(key).cast<std::string>()] = to_json(item, where);
    }
    return Json(std::move(out));
  }
  if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
    Json::Array out;
    for (const auto& item : value) out.push_back(to_json(item, where));
    return Json(std::move(out));
  }
  // NumPy scalars and anything else with a number protocol.
  const py::module_ numbers = py::module_::import("numbers");
  if (py::isinstance(value, numbers.attr("Integral"))) return Json(value.attr("__index__")().cast<int64_t>());
  if (py::isinstance(value, numbers.attr("Real"))) return Json(value.attr("__float__")().cast<double>());
  if (py::hasattr(value, "_config_entry")) return to_json(value.attr("_config_entry")(), where);
  if (py::hasattr(value, "get_config") && py::hasattr(value, "__class__")) {
    Json::Object out;
    out["class_name"] = Json(py::str(value.attr("__class__").attr("__name__")).cast<std::string>());
    out["config"] = to_json(value.attr("get_config")(), where);
    return Json(std::move(out));
  }
  throw py::type_error(where + ": cannot store a value of type " +
                           py::str(value.get_type().attr("__name__")).cast<std::string>() +
                           " in a config; use numbers, strings, lists, dicts or objects with get_config()");
}

}  // namespace pitfall_python
