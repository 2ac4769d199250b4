// Weight initializers (layers/initializers.h): the Keras classes, each declared by its argument
// table (keras/src/initializers/*.py), and PyTorch's defaults.
#include "pitfall/layers/initializers.h"

#include <cmath>
#include <map>
#include <mutex>

#include "pitfall/core/arguments.h"
#include "pitfall/core/ops.h"
#include "pitfall/layers/layer.h"

namespace pitfall {
namespace {

// The standard deviation of a unit normal truncated at +-2 (keras VarianceScaling divides by it so
// the truncated draw keeps the intended variance).
constexpr double kTruncatedNormalStd = 0.87962566103423978;

void require_floating(DType dtype, const std::string& who) {
  if (!is_floating(dtype)) {
    throw DTypeError(who + ": random initializers produce floating dtypes, got " + std::string(dtype_name(dtype)) +
                     "; create the weight as float32 (or cast afterwards)");
  }
}

// A built-in initializer: its class's resolved arguments are its config; a `seed` argument makes
// every call draw with RandomKey{seed, 0} (Keras 3: a seeded initializer object gives the same
// values on every call), else the key the caller drew from the global generator.
class BuiltinInitializer : public Initializer {
 public:
  BuiltinInitializer(std::string class_name, Arguments arguments)
      : class_name_(std::move(class_name)), arguments_(std::move(arguments)) {}
  Tensor operator()(const Shape& shape, DType dtype, RandomKey key) const override {
    const Json* seed = arguments_.values().contains("seed") ? &arguments_.at("seed") : nullptr;
    return draw(shape, dtype, seed && !seed->is_null() ? RandomKey{static_cast<uint64_t>(seed->as_int()), 0} : key);
  }
  std::string class_name() const override { return class_name_; }
  Json get_config() const override { return arguments_.values(); }

 protected:
  virtual Tensor draw(const Shape& shape, DType dtype, RandomKey key) const = 0;
  const Arguments& arguments() const { return arguments_; }

 private:
  std::string class_name_;
  Arguments arguments_;
};

class Constant : public BuiltinInitializer {
 public:
  Constant(std::string class_name, Arguments arguments, double value)
      : BuiltinInitializer(std::move(class_name), std::move(arguments)), value_(value) {}

 protected:
  Tensor draw(const Shape& shape, DType dtype, RandomKey) const override { return Tensor::full(shape, value_, dtype); }

 private:
  double value_;
};

class RandomNormal : public BuiltinInitializer {
 public:
  RandomNormal(std::string class_name, Arguments arguments, bool truncated)
      : BuiltinInitializer(std::move(class_name), std::move(arguments)), truncated_(truncated) {}

 protected:
  Tensor draw(const Shape& shape, DType dtype, RandomKey key) const override {
    require_floating(dtype, class_name());
    const double mean = arguments().number("mean"), stddev = arguments().number("stddev");
    return truncated_ ? truncated_normal(shape, mean, stddev, dtype, key) : random_normal(shape, mean, stddev, dtype, key);
  }

 private:
  bool truncated_;
};

class RandomUniform : public BuiltinInitializer {
 public:
  using BuiltinInitializer::BuiltinInitializer;

 protected:
  Tensor draw(const Shape& shape, DType dtype, RandomKey key) const override {
    require_floating(dtype, class_name());
    return random_uniform(shape, arguments().number("minval"), arguments().number("maxval"), dtype, key);
  }
};

// keras.initializers.VarianceScaling; GlorotUniform etc. are presets of it, their own parameters fixed.
class VarianceScaling : public BuiltinInitializer {
 public:
  struct Parameters {
    double scale;
    std::string mode, distribution;
  };
  VarianceScaling(std::string class_name, Arguments arguments, Parameters parameters)
      : BuiltinInitializer(std::move(class_name), std::move(arguments)), p_(std::move(parameters)) {}

 protected:
  Tensor draw(const Shape& shape, DType dtype, RandomKey key) const override {
    require_floating(dtype, class_name());
    const auto [fan_in, fan_out] = compute_fans(shape);
    double n = p_.mode == "fan_in" ? fan_in : p_.mode == "fan_out" ? fan_out : (fan_in + fan_out) / 2.0;
    const double scale = p_.scale / std::max(1.0, n);
    if (p_.distribution == "truncated_normal") {
      return truncated_normal(shape, 0.0, std::sqrt(scale) / kTruncatedNormalStd, dtype, key);
    }
    if (p_.distribution == "untruncated_normal") return random_normal(shape, 0.0, std::sqrt(scale), dtype, key);
    const double limit = std::sqrt(3.0 * scale);
    return random_uniform(shape, -limit, limit, dtype, key);
  }

 private:
  Parameters p_;
};

class Orthogonal : public BuiltinInitializer {
 public:
  using BuiltinInitializer::BuiltinInitializer;

 protected:
  Tensor draw(const Shape& shape, DType dtype, RandomKey key) const override {
    const double gain_ = arguments().number("gain");
    require_floating(dtype, class_name());
    if (shape.size() < 2) {
      throw ValueError("Orthogonal: the shape must have at least 2 dimensions, got " + shape_str(shape) +
                       "; use another initializer for biases and vectors");
    }
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
    const int64_t cols = shape.back();
    // As Keras: QR of a (max, min) normal matrix, Q's columns signed by diag(R), transposed when the
    // kernel is wide.
    const int64_t m = std::max(rows, cols), n = std::min(rows, cols);
    std::vector<double> a = random_normal({m, n}, 0.0, 1.0, DType::float64, key).to_vector<double>();
    // Modified Gram-Schmidt on the columns, in double. It yields R with a positive diagonal, i.e. the
    // Householder Q multiplied by sign(diag(R)): exactly Keras's sign-corrected factor.
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t k = 0; k < j; ++k) {
        double dot = 0.0;
        for (int64_t i = 0; i < m; ++i) dot += a[i * n + k] * a[i * n + j];
        for (int64_t i = 0; i < m; ++i) a[i * n + j] -= dot * a[i * n + k];
      }
      double norm = 0.0;
      for (int64_t i = 0; i < m; ++i) norm += a[i * n + j] * a[i * n + j];
      norm = std::sqrt(norm);
      if (norm == 0.0) throw NumericError("Orthogonal: degenerate random matrix (a zero column); use another seed");
      for (int64_t i = 0; i < m; ++i) a[i * n + j] /= norm;
    }
    std::vector<double> q(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        // wide kernels (rows < cols) take the transpose of the (cols, rows) factor
        q[r * cols + c] = gain_ * (rows >= cols ? a[r * n + c] : a[c * n + r]);
      }
    }
    return cast(Tensor::from_vector(q, shape), dtype);
  }
};

// U(+-bound) where bound = 1/sqrt(fan_in): torch.nn.Linear/Conv weight and bias defaults. The
// kernel's fan_in comes from its own shape; a bias's is the kernel's, which the layer supplies (a
// "TorchBias" without it stands for "the layer's kernel fan_in" in an argument's default).
class TorchUniform : public BuiltinInitializer {
 public:
  TorchUniform(std::string class_name, Arguments arguments, bool bias)
      : BuiltinInitializer(std::move(class_name), std::move(arguments)), bias_(bias) {}

 protected:
  Tensor draw(const Shape& shape, DType dtype, RandomKey key) const override {
    require_floating(dtype, class_name());
    const bool given = bias_ && !arguments().is_none("fan_in");
    if (bias_ && !given) {
      throw ValueError("TorchBias: a bias's bound is 1/sqrt(fan_in) of its layer's kernel, which was not given; "
                       "use it as a layer's bias_initializer under convention='torch', or give config {'fan_in': n}");
    }
    // kaiming_uniform(a=sqrt(5)): gain sqrt(2/(1+5)), bound gain*sqrt(3/fan_in) = 1/sqrt(fan_in).
    const double fan_in = given ? arguments().number("fan_in") : compute_fans(shape).first;
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(fan_in) : 0.0;
    return random_uniform(shape, -bound, bound, dtype, key);
  }

 private:
  bool bias_;
};

class FunctionInitializer : public Initializer {
 public:
  FunctionInitializer(std::string name, std::function<Tensor(const Shape&, DType, RandomKey)> fn)
      : name_(std::move(name)), fn_(std::move(fn)) {}
  Tensor operator()(const Shape& shape, DType dtype, RandomKey key) const override {
    Tensor out = fn_(shape, dtype, key);
    if (out.shape() != shape || out.dtype() != dtype) {
      throw ValueError("initializer '" + name_ + "' returned shape " + shape_str(out.shape()) + " " +
                       std::string(dtype_name(out.dtype())) + " but the weight is " + shape_str(shape) + " " +
                       std::string(dtype_name(dtype)));
    }
    return out;
  }
  std::string class_name() const override { return name_; }
  Json get_config() const override { return Json::object(); }

 private:
  std::string name_;
  std::function<Tensor(const Shape&, DType, RandomKey)> fn_;
};

// Keras's `seed=` argument: every call draws with the same key, so two weights initialized by
// the same seeded object get the same values (as in Keras 3).
class Seeded : public Initializer {
 public:
  Seeded(std::shared_ptr<Initializer> base, uint64_t seed) : base_(std::move(base)), seed_(seed) {}
  Tensor operator()(const Shape& shape, DType dtype, RandomKey) const override {
    return (*base_)(shape, dtype, RandomKey{seed_, 0});
  }
  std::string class_name() const override { return base_->class_name(); }
  Json get_config() const override {
    Json config = base_->get_config();
    config["seed"] = static_cast<int64_t>(seed_);
    return config;
  }

 private:
  std::shared_ptr<Initializer> base_;
  uint64_t seed_;
};

// ---------------------------------------------------------------- the argument tables

// Keras's fan axes of an einsum kernel (VarianceScaling and its presets): accepted at None only.
std::vector<Argument> fan_axes_arguments() {
  return {Argument("input_axes", ArgKind::json).allow_none().unsupported()
              .described("the kernel's input axes for the fans (None: all but the last)"),
          Argument("output_axes", ArgKind::json).allow_none().unsupported()
              .described("the kernel's output axes for the fans (None: the last)")};
}

Argument seed_argument() {
  return Argument("seed", ArgKind::integer).allow_none().checked(non_negative_integer)
      .described("a seed: the initializer then gives the same values on every call (None: the global generator)");
}

ArgumentTable initializer_table(std::string class_name, const std::string& source, std::string doc,
                                std::vector<Argument> arguments) {
  return argument_table("initializers", std::move(class_name), source.empty() ? "" : "keras/src/initializers/" + source,
                        std::move(doc), std::move(arguments));
}

const ArgumentClasses<Initializer>& initializer_classes() {
  static const ArgumentClasses<Initializer> classes = [] {
    ArgumentClasses<Initializer> c;
    const auto constant = [&](const char* name, const char* doc, double value) {
      c[name] = {initializer_table(name, "constant_initializers.py", doc, {}), [name, value](const Arguments& a) {
                   return std::make_shared<Constant>(name, a, value);
                 }};
    };
    constant("Zeros", "all zeros", 0.0);
    constant("Ones", "all ones", 1.0);
    c["Constant"] = {initializer_table("Constant", "constant_initializers.py", "every value the same",
                                       {Argument("value", ArgKind::number, 0.0).described("the value")}),
                     [](const Arguments& a) { return std::make_shared<Constant>("Constant", a, a.number("value")); }};
    const auto normal = [&](const char* name, bool truncated, const char* doc) {
      c[name] = {initializer_table(name, "random_initializers.py", doc,
                                   {Argument("mean", ArgKind::number, 0.0).described("the mean"),
                                    Argument("stddev", ArgKind::number, 0.05).checked(non_negative_number)
                                        .described("the standard deviation"),
                                    seed_argument()}),
                 [name, truncated](const Arguments& a) { return std::make_shared<RandomNormal>(name, a, truncated); }};
    };
    normal("RandomNormal", false, "a normal distribution");
    normal("TruncatedNormal", true, "a normal distribution, redrawn beyond two standard deviations");
    c["RandomUniform"] = {initializer_table("RandomUniform", "random_initializers.py", "a uniform distribution",
                                            {Argument("minval", ArgKind::number, -0.05).described("the lower bound"),
                                             Argument("maxval", ArgKind::number, 0.05).described("the upper bound"),
                                             seed_argument()}),
                          [](const Arguments& a) { return std::make_shared<RandomUniform>("RandomUniform", a); }};
    c["VarianceScaling"] = {
        initializer_table(
            "VarianceScaling", "random_initializers.py", "a distribution scaled to the weight's fans",
            {Argument("scale", ArgKind::number, 1.0).checked(positive_number).described("the variance scale"),
             Argument("mode", ArgKind::string, "fan_in").one_of({"fan_in", "fan_out", "fan_avg"})
                 .described("which fan the scale divides by"),
             Argument("distribution", ArgKind::string, "truncated_normal")
                 .normalized([](const Json& v) {  // Keras 2's spelling of truncated_normal
                   return v.as_string() == "normal" ? Json("truncated_normal") : v;
                 })
                 .checked([](const Json& v) -> std::string {
                   const std::string d = v.as_string();
                   return d == "truncated_normal" || d == "untruncated_normal" || d == "uniform" || d == "normal"
                              ? ""
                              : "one of 'truncated_normal', 'untruncated_normal', 'uniform'";
                 })
                 .described("truncated_normal, untruncated_normal or uniform"),
             seed_argument(), fan_axes_arguments()[0], fan_axes_arguments()[1]}),
        [](const Arguments& a) {
          return std::make_shared<VarianceScaling>(
              "VarianceScaling", a,
              VarianceScaling::Parameters{a.number("scale"), a.text("mode"), a.text("distribution")});
        }};
    const auto preset = [&](const char* name, double scale, const char* mode, const char* distribution,
                            const char* doc) {
      c[name] = {initializer_table(name, "random_initializers.py", doc,
                                   {seed_argument(), fan_axes_arguments()[0], fan_axes_arguments()[1]}),
                 [=](const Arguments& a) {
                   return std::make_shared<VarianceScaling>(name, a,
                                                            VarianceScaling::Parameters{scale, mode, distribution});
                 }};
    };
    preset("GlorotUniform", 1.0, "fan_avg", "uniform", "U(+-sqrt(6 / (fan_in + fan_out)))");
    preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal", "truncated N(0, 2 / (fan_in + fan_out))");
    preset("HeUniform", 2.0, "fan_in", "uniform", "U(+-sqrt(6 / fan_in))");
    preset("HeNormal", 2.0, "fan_in", "truncated_normal", "truncated N(0, 2 / fan_in)");
    preset("LecunUniform", 1.0, "fan_in", "uniform", "U(+-sqrt(3 / fan_in))");
    preset("LecunNormal", 1.0, "fan_in", "truncated_normal", "truncated N(0, 1 / fan_in)");
    c["Orthogonal"] = {initializer_table("Orthogonal", "random_initializers.py", "an orthogonal matrix (QR of a normal draw)",
                                         {Argument("gain", ArgKind::number, 1.0).described("the matrix's scale"),
                                          seed_argument()}),
                       [](const Arguments& a) { return std::make_shared<Orthogonal>("Orthogonal", a); }};
    c["TorchKernel"] = {initializer_table("TorchKernel", "", "PyTorch's nn.Linear / Conv weight default: "
                                          "kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in))", {}),
                        [](const Arguments& a) { return std::make_shared<TorchUniform>("TorchKernel", a, false); }};
    c["TorchBias"] = {initializer_table("TorchBias", "", "PyTorch's bias default: U(+-1/sqrt(fan_in)), fan_in of the "
                                        "layer's kernel",
                                        {Argument("fan_in", ArgKind::number).allow_none().checked(positive_number)
                                             .described("the kernel's fan_in (None: the layer supplies it)")}),
                      [](const Arguments& a) { return std::make_shared<TorchUniform>("TorchBias", a, true); }};
    for (auto& [name, cls] : c) {
      if (cls.table.class_name.rfind("Torch", 0) == 0) {
        for (auto& argument : cls.table.arguments) argument.pitfall_only();
      }
    }
    return c;
  }();
  return classes;
}

const bool initializer_tables_registered = register_argument_classes(initializer_classes());

// Keras's lower-case names and aliases -> the class: "glorot_uniform" -> GlorotUniform, "normal" ->
// RandomNormal (keras/src/initializers/__init__.py).
std::string class_for(const std::string& name) {
  static const std::map<std::string, std::string> aliases = {
      {"zero", "Zeros"}, {"one", "Ones"}, {"normal", "RandomNormal"}, {"uniform", "RandomUniform"}};
  const auto alias = aliases.find(name);
  if (alias != aliases.end()) return alias->second;
  for (const auto& [class_name, cls] : initializer_classes()) {
    if (class_name == name || to_snake_case(class_name) == name || to_snake_case(class_name) == to_snake_case(name)) {
      return class_name;
    }
  }
  return "";
}

// Initializers registered by name at run time (custom functions from the Python API).
std::mutex& custom_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, std::shared_ptr<Initializer>>& custom_initializers() {
  static std::map<std::string, std::shared_ptr<Initializer>> table;
  return table;
}
std::shared_ptr<Initializer> find_custom(const std::string& name) {
  std::lock_guard<std::mutex> lock(custom_mutex());
  const auto found = custom_initializers().find(name);
  return found == custom_initializers().end() ? nullptr : found->second;
}

std::vector<std::string> known_names() {
  std::vector<std::string> names;
  for (const auto& [name, cls] : initializer_classes()) names.push_back(to_snake_case(name));
  std::lock_guard<std::mutex> lock(custom_mutex());
  for (const auto& [name, initializer] : custom_initializers()) names.push_back(name);
  return names;
}


}  // namespace

std::pair<double, double> compute_fans(const Shape& shape) {
  if (shape.empty()) return {1.0, 1.0};
  if (shape.size() == 1) return {static_cast<double>(shape[0]), static_cast<double>(shape[0])};
  if (shape.size() == 2) return {static_cast<double>(shape[0]), static_cast<double>(shape[1])};
  double receptive_field = 1.0;
  for (size_t i = 0; i + 2 < shape.size(); ++i) receptive_field *= static_cast<double>(shape[i]);
  return {static_cast<double>(shape[shape.size() - 2]) * receptive_field,
          static_cast<double>(shape.back()) * receptive_field};
}

std::shared_ptr<Initializer> make_initializer_of_class(const std::string& class_name, const Json& arguments) {
  return make_argument_class(initializer_classes(), class_name, "initializer class", arguments);
}

std::shared_ptr<Initializer> zeros_initializer() { return make_initializer_of_class("Zeros"); }
std::shared_ptr<Initializer> ones_initializer() { return make_initializer_of_class("Ones"); }
std::shared_ptr<Initializer> constant_initializer(std::optional<double> value) {
  return make_initializer_of_class("Constant", given_arguments({{"value", given_value(value)}}));
}
std::shared_ptr<Initializer> random_normal_initializer(std::optional<double> mean, std::optional<double> stddev) {
  return make_initializer_of_class("RandomNormal", given_arguments({{"mean", given_value(mean)}, {"stddev", given_value(stddev)}}));
}
std::shared_ptr<Initializer> random_uniform_initializer(std::optional<double> minval, std::optional<double> maxval) {
  return make_initializer_of_class("RandomUniform", given_arguments({{"minval", given_value(minval)}, {"maxval", given_value(maxval)}}));
}
std::shared_ptr<Initializer> truncated_normal_initializer(std::optional<double> mean, std::optional<double> stddev) {
  return make_initializer_of_class("TruncatedNormal", given_arguments({{"mean", given_value(mean)}, {"stddev", given_value(stddev)}}));
}
std::shared_ptr<Initializer> variance_scaling_initializer(std::optional<double> scale, std::optional<std::string> mode,
                                                          std::optional<std::string> distribution) {
  return make_initializer_of_class(
      "VarianceScaling",
      given_arguments({{"scale", given_value(scale)}, {"mode", given_value(mode)}, {"distribution", given_value(distribution)}}));
}
std::shared_ptr<Initializer> orthogonal_initializer(std::optional<double> gain) {
  return make_initializer_of_class("Orthogonal", given_arguments({{"gain", given_value(gain)}}));
}
std::shared_ptr<Initializer> torch_kernel_initializer() { return make_initializer_of_class("TorchKernel"); }
std::shared_ptr<Initializer> torch_bias_initializer(double fan_in) {
  return make_initializer_of_class("TorchBias", Json(Json::Object{{"fan_in", fan_in}}));
}
std::shared_ptr<Initializer> function_initializer(std::string name,
                                                  std::function<Tensor(const Shape&, DType, RandomKey)> fn) {
  return std::make_shared<FunctionInitializer>(std::move(name), std::move(fn));
}

std::shared_ptr<Initializer> seeded_initializer(std::shared_ptr<Initializer> base, uint64_t seed) {
  // A built-in class takes the seed as its own argument; other initializers are wrapped.
  if (dynamic_cast<const BuiltinInitializer*>(base.get())) {
    Json config = base->get_config();
    if (config.contains("seed")) {
      config["seed"] = static_cast<int64_t>(seed);
      return make_initializer_of_class(base->class_name(), config);
    }
  }
  return std::make_shared<Seeded>(std::move(base), seed);
}

void register_initializer(const std::string& name, std::shared_ptr<Initializer> initializer) {
  std::lock_guard<std::mutex> lock(custom_mutex());
  custom_initializers()[name] = std::move(initializer);
}

std::shared_ptr<Initializer> get_initializer(const std::string& name) {
  if (auto custom = find_custom(name)) return custom;
  const std::string class_name = class_for(name);
  if (class_name.empty()) {
    throw ValueError("unknown initializer '" + name + "'; " + did_you_mean(to_snake_case(name), known_names()));
  }
  return make_initializer_of_class(class_name);
}

std::shared_ptr<Initializer> initializer_from_config(const Json& config) {
  if (config.is_null()) return nullptr;  // "use the layer's default", as regularizer_from_config
  if (config.is_string()) return get_initializer(config.as_string());
  const ClassAndConfig entry = class_and_config(config, "initializer_from_config");
  const std::string& name = entry.class_name;
  const Json& arguments = entry.config;
  if (auto custom = find_custom(name)) {
    const Json seed = arguments.is_object() ? arguments.get("seed", Json()) : Json();
    return seed.is_null() ? custom : seeded_initializer(custom, static_cast<uint64_t>(seed.as_int()));
  }
  const std::string class_name = class_for(name);
  if (class_name.empty()) {
    throw ValueError("unknown initializer class '" + name + "'; " + did_you_mean(to_snake_case(name), known_names()));
  }
  return make_initializer_of_class(class_name, arguments);
}

Json initializer_to_config(const Initializer& initializer) {
  Json out = Json::object();
  out["class_name"] = initializer.class_name();
  out["config"] = initializer.get_config();
  return out;
}

}  // namespace pitfall
