// Constructor arguments as data.
//
// Every class a user constructs by name (a layer, optimizer, loss, metric, initializer,
// regularizer, learning-rate schedule or callback) declares its arguments once, as an
// ArgumentTable: each argument's name, kind, default (a Keras value, or a key into a conventions
// table for a default that differs by convention), check, and a one-line doc. From that one table
// come:
//   - parse_arguments: every value checked and normalized, every missing one resolved; errors name
//     the class, the argument, the value received and what is allowed;
//   - get_config (the resolved values) and one generic from_config (parse the config again);
//   - the Python side (python/bindings/arguments.cpp): keyword binding, inspect.signature(cls) and
//     help(cls), with Keras's names, order and defaults.
// Tables register themselves by (family, class name); the tests walk all of them.
#pragma once
#include <functional>
#include <map>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pitfall/core/conventions.h"
#include "pitfall/core/json.h"

namespace pitfall {

// What an argument holds. The kind decides the type check and how Python values convert (an
// initializer object into its config, a function into its name, a NumPy scalar into a number).
enum class ArgKind {
  boolean,
  integer,
  number,        // an int or a float, finite
  string,
  ints,          // an int or a tuple of `size` ints (kernel_size=3 or (3, 3)); kept as a list
  int_list,      // an int or a list of ints (axes); kept as a list when given as one
  shape,         // a tuple of ints (None or -1 for an unknown size)
  initializer,   // a name or {"class_name", "config"} (Python: an initializer object or a function)
  regularizer,   // a name or {"class_name", "config"} (Python: a regularizer object)
  activation,    // a name (Python: a function of pf.activations / keras.activations)
  dtype,         // a dtype or dtype-policy name
  schedule,      // a number or a schedule's {"class_name", "config"} (Python: a schedule object)
  json,          // any JSON value
  object,        // a value JSON cannot hold (a function, another object): kept beside the config
};
std::string arg_kind_name(ArgKind kind);

struct Argument {
  Argument(std::string name, ArgKind kind, Json default_value = Json());

  std::string name;
  ArgKind kind;
  // The Keras default (what signatures show); for a convention_key argument, Keras's row of it.
  Json default_value;
  bool required = false;      // no default: the caller must pass it
  bool nullable = false;      // None is accepted besides the kind's values
  bool keras = true;          // false: pitfall's own argument (convention, PyTorch-only hyperparameters)
  bool supported = true;      // false: a Keras argument accepted only at its default
  bool keyword_only = false;  // not bound by position
  int size = 0;               // ints: the tuple's length
  std::string convention_key;           // the default comes from this conventions row, per convention
  std::vector<std::string> choices;     // string: the values allowed (compared lower-case)
  // Checks a value of the right kind: "" when it is fine, else what is allowed ("a positive
  // integer"). normalize maps an accepted value to its stored form (a name to a canonical name, an
  // initializer name to its config); it may raise ValueError naming what is wrong.
  std::function<std::string(const Json&)> check;
  std::function<Json(const Json&)> normalize;
  std::string doc;
  // object: what the value is, for the bindings that make one ("optimizer", "epoch_schedule",
  // "epoch_hook", "batch_hook", "logs_hook"); the class casts Arguments::object() to it.
  std::string object_type;

  // Fluent setters for the tables.
  Argument& make_required() { required = true; return *this; }
  Argument& allow_none() { nullable = true; return *this; }
  Argument& pitfall_only() { keras = false; keyword_only = true; return *this; }
  Argument& unsupported() { supported = false; return *this; }
  Argument& keyword() { keyword_only = true; return *this; }
  Argument& tuple_of(int n) { size = n; return *this; }
  Argument& from_convention(std::string key) { convention_key = std::move(key); return *this; }
  Argument& one_of(std::vector<std::string> values) { choices = std::move(values); return *this; }
  Argument& checked(std::function<std::string(const Json&)> fn) { check = std::move(fn); return *this; }
  Argument& normalized(std::function<Json(const Json&)> fn) { normalize = std::move(fn); return *this; }
  Argument& described(std::string text) { doc = std::move(text); return *this; }
  Argument& holding(std::string type) { object_type = std::move(type); return *this; }
};

// Common checks ("" = fine, else what is allowed, as the message's "must be ...").
std::string positive_integer(const Json& value);    // an integer (or each of a tuple) > 0
std::string non_negative_integer(const Json& value);
std::string positive_number(const Json& value);
std::string non_negative_number(const Json& value);
std::string unit_interval(const Json& value);       // a number in [0, 1]
std::function<std::string(const Json&)> in_range(double low, bool low_open, double high, bool high_open);

struct ArgumentTable {
  std::string family;      // "layers", "optimizers", "losses", "metrics", "initializers", ...
  std::string class_name;  // "Dense"
  std::string source;      // the upstream file: "keras/src/layers/core/dense.py"
  std::string doc;         // one line
  std::vector<Argument> arguments;
  // Other frameworks' spellings that point to an argument ("lr" -> "learning_rate (PyTorch's spelling)").
  std::map<std::string, std::string> hints;
  // Names accepted besides the arguments and handled by the base class (a layer's name, trainable,
  // dtype, input_shape, ...): parse_arguments leaves them out of the values.
  std::vector<std::string> base_names;

  const Argument* find(const std::string& name) const;
  std::string where() const { return class_name; }
};

// A conventions row: Keras's and PyTorch's default for one key ("BatchNormalization.momentum").
// The tables that own these facts (layers/conventions.h, optim/defaults.h) register their rows.
void register_convention_default(const std::string& key, Json keras, Json torch);
Json convention_default(const std::string& key, Convention convention);

class Arguments {
 public:
  // No arguments (a class without a table). There is deliberately no default constructor: `{}` must
  // not convert to Arguments, so a constructor taking Arguments never competes with one taking an
  // options struct written `{}`.
  static Arguments none() { return Arguments(nullptr); }
  const ArgumentTable& table() const { return *table_; }
  bool empty() const { return table_ == nullptr; }
  Convention convention() const { return convention_; }
  // Every argument, resolved, in declaration order (what get_config shows).
  const Json& values() const { return values_; }
  const Json& at(const std::string& name) const;
  bool is_none(const std::string& name) const { return at(name).is_null(); }
  int64_t integer(const std::string& name) const { return at(name).as_int(); }
  double number(const std::string& name) const { return at(name).as_double(); }
  bool flag(const std::string& name) const { return at(name).as_bool(); }
  const std::string& text(const std::string& name) const { return at(name).as_string(); }
  std::vector<int64_t> ints(const std::string& name) const { return at(name).as_int_vector(); }
  // Whether the caller passed `name` (false: the default was taken).
  bool given(const std::string& name) const;
  // An object argument's value (kind object), or null when none was passed.
  std::shared_ptr<void> object(const std::string& name) const;
  // Replaces a value its class derives from the others (a pooling layer's strides=None resolves to
  // its pool_size), so that get_config shows what is used.
  void resolve(const std::string& name, Json value);

 private:
  friend Arguments parse_arguments(const ArgumentTable&, const Json&, const std::map<std::string, std::shared_ptr<void>>&);
  explicit Arguments(const ArgumentTable* table) : table_(table) {}
  const ArgumentTable* table_ = nullptr;
  Convention convention_ = Convention::keras;
  Json values_ = Json::object();
  std::vector<std::string> given_;
  std::map<std::string, std::shared_ptr<void>> objects_;
};

// Checks `given` (a JSON object of argument names to values) against `table`: unknown names raise
// ValueError with "did you mean" (or the table's hint), a missing required argument and a value of
// the wrong kind or outside what is allowed raise ValueError "<Class>: argument '<name>' must be
// <allowed>, got <value>", an unsupported Keras argument given another value than its default
// raises NotImplementedError. A "convention" entry ("keras" | "torch") picks the conventions row of
// every from_convention argument not given. `objects` holds the values of object arguments.
Arguments parse_arguments(const ArgumentTable& table, const Json& given,
                          const std::map<std::string, std::shared_ptr<void>>& objects = {});

// The arguments a typed C++ shortcut was given, as parse_arguments takes them: only the optionals
// that hold a value, so the others take the table's default.
//   make_loss("Huber", given_arguments({{"delta", given_value(delta)}}))
Json given_arguments(std::initializer_list<std::pair<const char*, std::optional<Json>>> values);
template <class T>
std::optional<Json> given_value(const std::optional<T>& value) {
  return value ? std::optional<Json>(Json(*value)) : std::nullopt;
}

// ---- a family's classes
// Each class of a family (losses, metrics, initializers, callbacks, schedules, ...): its table and
// the function that builds one from its parsed arguments. A family keeps them in a function-local
// static ArgumentClasses (the registry keeps pointers to the tables) and registers the tables once.
ArgumentTable argument_table(std::string family, std::string class_name, std::string source, std::string doc,
                             std::vector<Argument> arguments);

template <class T>
struct ArgumentClass {
  ArgumentTable table;
  std::function<std::shared_ptr<T>(const Arguments&)> make;
};
template <class T>
using ArgumentClasses = std::map<std::string, ArgumentClass<T>>;

template <class T>
bool register_argument_classes(const ArgumentClasses<T>& classes);

// Raises ValueError "unknown <what> '<name>'; did you mean ..." listing `names`.
[[noreturn]] void throw_unknown_class(const std::string& what, const std::string& name,
                                      const std::vector<std::string>& names);

// The class named `class_name`, or the ValueError of throw_unknown_class.
template <class T>
const ArgumentClass<T>& find_argument_class(const ArgumentClasses<T>& classes, const std::string& class_name,
                                            const std::string& what) {
  const auto found = classes.find(class_name);
  if (found != classes.end()) return found->second;
  std::vector<std::string> names;
  for (const auto& [name, c] : classes) names.push_back(name);
  throw_unknown_class(what, class_name, names);
}

// Parses `arguments` against the class's table and builds one.
template <class T>
std::shared_ptr<T> make_argument_class(const ArgumentClasses<T>& classes, const std::string& class_name,
                                       const std::string& what, const Json& arguments,
                                       const std::map<std::string, std::shared_ptr<void>>& objects = {}) {
  const ArgumentClass<T>& c = find_argument_class(classes, class_name, what);
  return c.make(parse_arguments(c.table, arguments, objects));
}

// ---- the registry of tables
void register_argument_table(const ArgumentTable* table);
template <class T>
bool register_argument_classes(const ArgumentClasses<T>& classes) {
  for (const auto& [name, c] : classes) register_argument_table(&c.table);
  return true;
}
// By family and class name; null when none.
const ArgumentTable* find_argument_table(const std::string& family, const std::string& class_name);
// Every registered table, by family then class name.
std::vector<const ArgumentTable*> argument_tables();

// A value as Python's repr writes it, for messages: None, True, 'text', 1e-07, [3, 3].
std::string python_repr(const Json& value);

// A {"class_name": ..., "config": {...}} entry as get_config / serialize write it: its class name and
// its config ({} when absent). Anything else raises ValueError "<where>: expected <expected>, got <value>".
struct ClassAndConfig {
  std::string class_name;
  Json config;
};
inline constexpr const char* kNameOrClassAndConfig = "a name or {\"class_name\": ..., \"config\": {...}}";
ClassAndConfig class_and_config(const Json& entry, const std::string& where,
                                const std::string& expected = kNameOrClassAndConfig);

// What a built-in object of a family made from its argument table (a loss, a metric) shares with
// one that has no table (a Python function's wrapper): its class name, its name, and its config
// (the resolved arguments; for one without a table, its name and the `fixed` entries).
class ConfiguredObject {
 public:
  ConfiguredObject(std::string class_name, std::string name)
      : class_name_(std::move(class_name)), name_(std::move(name)), arguments_(Arguments::none()) {}
  ConfiguredObject(std::string class_name, Arguments arguments)
      : class_name_(std::move(class_name)), name_(arguments.text("name")), arguments_(std::move(arguments)) {}
  const std::string& class_name() const { return class_name_; }
  const std::string& name() const { return name_; }

 protected:
  Json config_with(const Json& fixed) const {
    if (!arguments_.empty()) return arguments_.values();
    Json config = Json::object();
    config["name"] = name_;
    for (const auto& [key, value] : fixed.as_object()) config[key] = value;
    return config;
  }

 private:
  std::string class_name_, name_;
  Arguments arguments_;
};

}  // namespace pitfall
