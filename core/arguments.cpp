// Argument tables (core/arguments.h): checking, resolution, the conventions rows, the registry.
#include "pitfall/core/arguments.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <mutex>

#include "pitfall/core/error.h"

namespace pitfall {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_int(const Json& v) {
  return v.is_int() || (v.is_number() && !v.is_bool() && std::isfinite(v.as_double()) &&
                        std::floor(v.as_double()) == v.as_double() && std::fabs(v.as_double()) < 9.0e15);
}

// Each kind's type check: "" when `value` is of the kind, else what the kind allows.
std::string kind_check(const Argument& a, const Json& value) {
  switch (a.kind) {
    case ArgKind::boolean:
      return value.is_bool() ? "" : "True or False";
    case ArgKind::integer:
      return !value.is_bool() && is_int(value) ? "" : "an integer";
    case ArgKind::number:
      if (value.is_bool() || !value.is_number()) return "a number";
      return std::isfinite(value.as_double()) ? "" : "a finite number";
    case ArgKind::string:
      return value.is_string() ? "" : "a string";
    case ArgKind::ints: {
      const std::string what = a.size > 0 ? "an integer or a tuple of " + std::to_string(a.size) + " integers"
                                          : "an integer or a tuple of integers";
      if (!value.is_bool() && is_int(value)) return "";
      if (!value.is_array()) return what;
      if (a.size > 0 && static_cast<int>(value.as_array().size()) != a.size) return what;
      for (const Json& item : value.as_array()) {
        if (item.is_bool() || !is_int(item)) return what;
      }
      return "";
    }
    case ArgKind::int_list: {
      if (!value.is_bool() && is_int(value)) return "";
      if (!value.is_array() || value.as_array().empty()) return "an integer or a non-empty list of integers";
      for (const Json& item : value.as_array()) {
        if (item.is_bool() || !is_int(item)) return "an integer or a non-empty list of integers";
      }
      return "";
    }
    case ArgKind::shape: {
      if (!value.is_array()) return "a tuple of integers (None for an unknown size)";
      for (const Json& item : value.as_array()) {
        if (!item.is_null() && (item.is_bool() || !is_int(item))) return "a tuple of integers (None for an unknown size)";
      }
      return "";
    }
    case ArgKind::initializer:
    case ArgKind::regularizer:
      return value.is_string() || (value.is_object() && value.contains("class_name"))
                 ? ""
                 : "a name or a {\"class_name\": ..., \"config\": ...} dict";
    case ArgKind::activation:
    case ArgKind::dtype:
      return value.is_string() ? "" : "a name";
    case ArgKind::schedule:
      if (value.is_object() && value.contains("class_name")) return "";
      if (value.is_bool() || !value.is_number()) return "a number or a learning-rate schedule";
      return std::isfinite(value.as_double()) ? "" : "a finite number";
    case ArgKind::json:
    case ArgKind::object:
      return "";
  }
  return "";
}

// ints / int_list values in their stored form: a list (a single int repeated `size` times for ints).
Json stored_form(const Argument& a, const Json& value) {
  if (value.is_null()) return value;
  if (a.kind == ArgKind::integer) return Json(value.as_int());
  if (a.kind == ArgKind::ints) {
    if (value.is_array()) {
      Json out = Json::array();
      for (const Json& item : value.as_array()) out.as_array().push_back(Json(item.as_int()));
      return out;
    }
    Json out = Json::array();
    for (int i = 0; i < std::max(a.size, 1); ++i) out.as_array().push_back(Json(value.as_int()));
    return out;
  }
  if (a.kind == ArgKind::int_list && !value.is_array()) return Json(value.as_int());
  if (a.kind == ArgKind::number && value.is_int()) return value;
  return value;
}

std::string allowed_text(const Argument& a, const std::string& what) {
  std::string text = what;
  if (a.nullable) text += " or None";
  return text;
}

struct ConventionRows {
  std::mutex mutex;
  std::map<std::string, std::pair<Json, Json>> rows;
};
ConventionRows& convention_rows() {
  static ConventionRows* rows = new ConventionRows;  // never destroyed: read by static tables at exit
  return *rows;
}

struct TableRegistry {
  std::mutex mutex;
  std::map<std::pair<std::string, std::string>, const ArgumentTable*> tables;
};
TableRegistry& table_registry() {
  static TableRegistry* registry = new TableRegistry;
  return *registry;
}

}  // namespace

std::string arg_kind_name(ArgKind kind) {
  switch (kind) {
    case ArgKind::boolean: return "bool";
    case ArgKind::integer: return "int";
    case ArgKind::number: return "float";
    case ArgKind::string: return "str";
    case ArgKind::ints: return "int or tuple of ints";
    case ArgKind::int_list: return "int or list of ints";
    case ArgKind::shape: return "shape tuple";
    case ArgKind::initializer: return "initializer";
    case ArgKind::regularizer: return "regularizer";
    case ArgKind::activation: return "activation";
    case ArgKind::dtype: return "dtype";
    case ArgKind::schedule: return "float or LearningRateSchedule";
    case ArgKind::json: return "JSON value";
    case ArgKind::object: return "object";
  }
  return "?";
}

Argument::Argument(std::string name_, ArgKind kind_, Json default_value_)
    : name(std::move(name_)), kind(kind_), default_value(std::move(default_value_)) {}

namespace {
// Every number of a value (one, or each of a list; None entries skipped) satisfies `ok`.
template <class Ok>
bool each(const Json& value, Ok ok) {
  if (!value.is_array()) return ok(value.as_double());
  for (const Json& item : value.as_array()) {
    if (!item.is_null() && !ok(item.as_double())) return false;
  }
  return true;
}
}  // namespace

std::string positive_integer(const Json& value) {
  return each(value, [](double v) { return v > 0; }) ? "" : value.is_array() ? "positive integers" : "a positive integer";
}

std::string non_negative_integer(const Json& value) {
  return each(value, [](double v) { return v >= 0; }) ? "" : "an integer >= 0";
}

std::string positive_number(const Json& value) {
  return each(value, [](double v) { return v > 0; }) ? "" : "a number > 0";
}

std::string non_negative_number(const Json& value) {
  return each(value, [](double v) { return v >= 0; }) ? "" : "a number >= 0";
}

std::string unit_interval(const Json& value) {
  return each(value, [](double v) { return v >= 0.0 && v <= 1.0; }) ? "" : "a number in [0, 1]";
}

std::function<std::string(const Json&)> in_range(double low, bool low_open, double high, bool high_open) {
  return [=](const Json& value) -> std::string {
    const double v = value.as_double();
    const bool ok = (low_open ? v > low : v >= low) && (high_open ? v < high : v <= high);
    if (ok) return "";
    return std::string("a number in ") + (low_open ? "(" : "[") + python_repr(Json(low)) + ", " + python_repr(Json(high)) +
           (high_open ? ")" : "]");
  };
}

const Argument* ArgumentTable::find(const std::string& name) const {
  for (const auto& a : arguments) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

void register_convention_default(const std::string& key, Json keras, Json torch) {
  ConventionRows& r = convention_rows();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.rows[key] = {std::move(keras), std::move(torch)};
}

Json convention_default(const std::string& key, Convention convention) {
  ConventionRows& r = convention_rows();
  std::lock_guard<std::mutex> lock(r.mutex);
  const auto found = r.rows.find(key);
  if (found == r.rows.end()) {
    throw RuntimeError("no conventions row '" + key + "' is registered (layers/conventions.cpp, optim/defaults.cpp)");
  }
  return convention == Convention::keras ? found->second.first : found->second.second;
}

const Json& Arguments::at(const std::string& name) const {
  if (!table_ || !values_.contains(name)) {
    throw RuntimeError((table_ ? table_->class_name : std::string("Arguments")) + " has no argument '" + name + "'");
  }
  return values_.at(name);
}

bool Arguments::given(const std::string& name) const {
  return std::find(given_.begin(), given_.end(), name) != given_.end();
}

void Arguments::resolve(const std::string& name, Json value) {
  at(name);  // raises for an unknown name
  values_[name] = std::move(value);
}

std::shared_ptr<void> Arguments::object(const std::string& name) const {
  const auto found = objects_.find(name);
  return found == objects_.end() ? nullptr : found->second;
}

Arguments parse_arguments(const ArgumentTable& table, const Json& given,
                          const std::map<std::string, std::shared_ptr<void>>& objects) {
  const std::string& where = table.class_name;
  if (!given.is_null() && !given.is_object()) {
    throw ValueError(where + ": arguments must be a JSON object of names to values, got " + given.type_name());
  }
  const Json::Object supplied = given.is_null() ? Json::Object{} : given.as_object();
  std::vector<std::string> accepted;
  for (const auto& a : table.arguments) accepted.push_back(a.name);
  for (const auto& [key, value] : supplied) {
    if (table.find(key) || std::find(table.base_names.begin(), table.base_names.end(), key) != table.base_names.end()) {
      continue;
    }
    const auto hint = table.hints.find(key);
    if (hint != table.hints.end()) throw ValueError(where + ": unknown argument '" + key + "'; " + hint->second);
    std::vector<std::string> names = accepted;
    names.insert(names.end(), table.base_names.begin(), table.base_names.end());
    throw ValueError(where + ": unknown argument '" + key + "'; " + did_you_mean(key, names));
  }
  for (const auto& [key, object] : objects) {
    const Argument* a = table.find(key);
    if (!a || a->kind != ArgKind::object) throw RuntimeError(where + ": '" + key + "' is not an object argument");
  }

  Arguments out(&table);
  if (const auto c = supplied.find("convention"); c != supplied.end() && table.find("convention")) {
    const std::string text = c->second.is_string() ? lower(c->second.as_string()) : "";
    if (text != "keras" && text != "torch") {
      throw ValueError(where + ": argument 'convention' must be one of 'keras', 'torch' (Keras 3's or PyTorch's "
                       "defaults and rules), got convention=" + python_repr(c->second));
    }
    out.convention_ = parse_convention(text);
  }
  for (const Argument& a : table.arguments) {
    const std::string at = where + ": argument '" + a.name + "'";
    const auto found = supplied.find(a.name);
    const bool has_object = objects.count(a.name) != 0;
    Json value;
    if (found != supplied.end()) {
      value = found->second;
      out.given_.push_back(a.name);
    } else if (has_object) {
      out.given_.push_back(a.name);
    } else if (a.required) {
      throw ValueError(at + " is required (" + allowed_text(a, arg_kind_name(a.kind)) + ")" +
                       (a.doc.empty() ? "" : ": " + a.doc));
    } else if (!a.convention_key.empty()) {
      value = convention_default(a.convention_key, out.convention_);
    } else {
      value = a.default_value;
    }
    if (has_object) out.objects_[a.name] = objects.at(a.name);
    if (!a.supported) {
      if (!(value == a.default_value) && !(value.is_bool() && !value.as_bool() && a.default_value.is_null())) {
        throw NotImplementedError(at + " is not supported by pitfall (got " + a.name + "=" + python_repr(value) +
                                  "); leave it at its default, " + python_repr(a.default_value));
      }
      out.values_[a.name] = a.default_value;
      continue;
    }
    if (value.is_null()) {
      const bool default_is_null = a.convention_key.empty() ? a.default_value.is_null()
                                                            : convention_default(a.convention_key, out.convention_).is_null();
      if (!a.nullable && (a.required || !default_is_null) && a.kind != ArgKind::object) {
        const std::string kind = arg_kind_name(a.kind);
        const bool vowel = std::string("aeiou").find(kind[0]) != std::string::npos;
        throw ValueError(at + " cannot be None; pass " + (vowel ? "an " : "a ") + kind +
                         (a.doc.empty() ? "" : " (" + a.doc + ")"));
      }
      out.values_[a.name] = a.normalize ? a.normalize(value) : value;  // normalizers take None too
      continue;
    }
    // A value of the wrong kind shows itself ("got 1"); a value of the right kind outside what is
    // allowed shows the assignment it came from ("got units=0"), as Keras's "Received: units=0".
    if (const std::string wrong = kind_check(a, value); !wrong.empty()) {
      throw ValueError(at + " must be " + allowed_text(a, wrong) + ", got " + python_repr(value));
    }
    value = stored_form(a, value);
    if (!a.choices.empty()) {
      const std::string text = lower(value.as_string());
      if (std::find(a.choices.begin(), a.choices.end(), text) == a.choices.end()) {
        std::string listing;
        for (const auto& c : a.choices) listing += (listing.empty() ? "" : ", ") + python_repr(Json(c));
        const std::string hint = did_you_mean(text, a.choices);
        throw ValueError(at + " must be one of " + listing + ", got " + a.name + "=" + python_repr(value) +
                         (hint.rfind("did you mean", 0) == 0 ? "; " + hint : ""));
      }
      value = Json(text);
    }
    if (a.check) {
      std::string wrong;
      try {
        wrong = a.check(value);
      } catch (const Error& e) {
        throw_error(e.kind(), at + ": " + e.message());
      }
      if (!wrong.empty()) {
        throw ValueError(at + " must be " + allowed_text(a, wrong) + ", got " + a.name + "=" + python_repr(value));
      }
    }
    if (a.normalize) {
      try {
        value = a.normalize(value);
      } catch (const Error& e) {
        throw_error(e.kind(), at + ": " + e.message());
      }
    }
    out.values_[a.name] = std::move(value);
  }
  return out;
}

ArgumentTable argument_table(std::string family, std::string class_name, std::string source, std::string doc,
                             std::vector<Argument> arguments) {
  ArgumentTable table;
  table.family = std::move(family);
  table.class_name = std::move(class_name);
  table.source = std::move(source);
  table.doc = std::move(doc);
  table.arguments = std::move(arguments);
  return table;
}

void throw_unknown_class(const std::string& what, const std::string& name, const std::vector<std::string>& names) {
  throw ValueError("unknown " + what + " '" + name + "'; " + did_you_mean(name, names));
}

Json given_arguments(std::initializer_list<std::pair<const char*, std::optional<Json>>> values) {
  Json out = Json::object();
  for (const auto& [name, value] : values) {
    if (value) out[name] = *value;
  }
  return out;
}

void register_argument_table(const ArgumentTable* table) {
  TableRegistry& r = table_registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.tables[{table->family, table->class_name}] = table;
}

const ArgumentTable* find_argument_table(const std::string& family, const std::string& class_name) {
  TableRegistry& r = table_registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  const auto found = r.tables.find({family, class_name});
  return found == r.tables.end() ? nullptr : found->second;
}

std::vector<const ArgumentTable*> argument_tables() {
  TableRegistry& r = table_registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<const ArgumentTable*> out;
  for (const auto& [key, table] : r.tables) out.push_back(table);
  return out;
}

std::string python_repr(const Json& value) {
  if (value.is_null()) return "None";
  if (value.is_bool()) return value.as_bool() ? "True" : "False";
  if (value.is_int()) return std::to_string(value.as_int());
  if (value.is_number()) return python_float_repr(value.as_double());
  if (value.is_string()) return "'" + value.as_string() + "'";
  if (value.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < value.as_array().size(); ++i) out += (i ? ", " : "") + python_repr(value.as_array()[i]);
    return out + "]";
  }
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : value.as_object()) {
    out += (first ? "'" : ", '") + k + "': " + python_repr(v);
    first = false;
  }
  return out + "}";
}

ClassAndConfig class_and_config(const Json& entry, const std::string& where, const std::string& expected) {
  if (!entry.is_object() || !entry.contains("class_name") || !entry.at("class_name").is_string()) {
    throw ValueError(where + ": expected " + expected + ", got " + entry.dump());
  }
  return {entry.at("class_name").as_string(), entry.get("config", Json::object())};
}

}  // namespace pitfall
