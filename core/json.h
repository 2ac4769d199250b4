// A small JSON value: layer/optimizer configs (get_config), saved-model headers, Python dicts.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace pitfall {

class Json {
 public:
  using Array = std::vector<Json>;
  using Object = std::map<std::string, Json>;  // keys sorted: dumps are canonical

  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool value) : value_(value) {}
  Json(int value) : value_(static_cast<int64_t>(value)) {}
  Json(int64_t value) : value_(value) {}
  Json(double value) : value_(value) {}
  Json(const char* value) : value_(std::string(value)) {}
  Json(std::string value) : value_(std::move(value)) {}
  Json(Array value) : value_(std::move(value)) {}
  Json(Object value) : value_(std::move(value)) {}
  static Json array() { return Json(Array{}); }
  static Json object() { return Json(Object{}); }
  template <class T>
  static Json from_vector(const std::vector<T>& values) {
    Array out;
    for (const auto& v : values) out.emplace_back(v);
    return Json(std::move(out));
  }

  bool is_null() const { return std::holds_alternative<std::monostate>(value_); }
  bool is_bool() const { return std::holds_alternative<bool>(value_); }
  bool is_int() const { return std::holds_alternative<int64_t>(value_); }
  bool is_number() const { return is_int() || std::holds_alternative<double>(value_); }
  bool is_string() const { return std::holds_alternative<std::string>(value_); }
  bool is_array() const { return std::holds_alternative<Array>(value_); }
  bool is_object() const { return std::holds_alternative<Object>(value_); }

  // Typed access; a wrong type throws ValueError naming the expected and actual type.
  bool as_bool() const;
  int64_t as_int() const;     // an integral double is accepted
  double as_double() const;   // ints convert
  const std::string& as_string() const;
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;
  Object& as_object();
  std::vector<int64_t> as_int_vector() const;

  // Object access. operator[] on a null value makes it an object.
  Json& operator[](const std::string& key);
  const Json& at(const std::string& key) const;  // ValueError naming the missing key
  bool contains(const std::string& key) const;
  // The value at key, or `fallback` when absent or null.
  Json get(const std::string& key, Json fallback) const;

  std::string dump(int indent = -1) const;  // -1: compact; numbers round-trip exactly
  static Json parse(const std::string& text);  // ValueError with line and column on bad input
  std::string type_name() const;
  bool operator==(const Json& other) const { return value_ == other.value_; }

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, Array, Object> value_;
};

// A double as Python's repr() writes it ("0.1", "1e-05", "1.5e+16", "nan", "inf", "-0.0"): the
// messages, logs and tables that quote a value read exactly as Keras's do.
std::string python_float_repr(double value);

}  // namespace pitfall
