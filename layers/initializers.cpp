#include "pitfall/layers/initializers.h"

#include <cmath>
#include <map>

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

class Constant : public Initializer {
 public:
  Constant(std::string class_name, double value) : class_name_(std::move(class_name)), value_(value) {}
  Tensor operator()(const Shape& shape, DType dtype, RandomKey) const override {
    return Tensor::full(shape, value_, dtype);
  }
  std::string class_name() const override { return class_name_; }
  Json get_config() const override {
    Json config = Json::object();
    if (class_name_ == "Constant") config["value"] = value_;
    return config;
  }

 private:
  std::string class_name_;
  double value_;
};

class RandomNormal : public Initializer {
 public:
  RandomNormal(double mean, double stddev, bool truncated) : mean_(mean), stddev_(stddev), truncated_(truncated) {}
  Tensor operator()(const Shape& shape, DType dtype, RandomKey key) const override {
    require_floating(dtype, class_name());
    return truncated_ ? truncated_normal(shape, mean_, stddev_, dtype, key)
                      : random_normal(shape, mean_, stddev_, dtype, key);
  }
  std::string class_name() const override { return truncated_ ? "TruncatedNormal" : "RandomNormal"; }
  Json get_config() const override {
    Json config = Json::object();
    config["mean"] = mean_;
    config["stddev"] = stddev_;
    config["seed"] = Json();
    return config;
  }

 private:
  double mean_, stddev_;
  bool truncated_;
};

class RandomUniform : public Initializer {
 public:
  RandomUniform(double minval, double maxval) : minval_(minval), maxval_(maxval) {}
  Tensor operator()(const Shape& shape, DType dtype, RandomKey key) const override {
    require_floating(dtype, class_name());
    return random_uniform(shape, minval_, maxval_, dtype, key);
  }
  std::string class_name() const override { return "RandomUniform"; }
  Json get_config() const override {
    Json config = Json::object();
    config["minval"] = minval_;
    config["maxval"] = maxval_;
    config["seed"] = Json();
    return config;
  }

 private:
  double minval_, maxval_;
};

// keras.initializers.VarianceScaling; GlorotUniform etc. are named presets of it.
class VarianceScaling : public Initializer {
 public:
  VarianceScaling(double scale, std::string mode, std::string distribution, std::string preset = "")
      : scale_(scale), mode_(std::move(mode)), distribution_(std::move(distribution)), preset_(std::move(preset)) {
    if (!(scale_ > 0.0)) {
      throw ValueError("VarianceScaling: `scale` must be positive, got " + std::to_string(scale_));
    }
    if (mode_ != "fan_in" && mode_ != "fan_out" && mode_ != "fan_avg") {
      throw ValueError("VarianceScaling: `mode` must be one of fan_in, fan_out, fan_avg, got '" + mode_ + "'; " +
                       did_you_mean(mode_, {"fan_in", "fan_out", "fan_avg"}));
    }
    if (distribution_ == "normal") distribution_ = "truncated_normal";  // Keras 2 spelling
    if (distribution_ != "truncated_normal" && distribution_ != "untruncated_normal" && distribution_ != "uniform") {
      throw ValueError("VarianceScaling: `distribution` must be one of truncated_normal, untruncated_normal, uniform, "
                       "got '" + distribution_ + "'; " +
                       did_you_mean(distribution_, {"truncated_normal", "untruncated_normal", "uniform"}));
    }
  }
  Tensor operator()(const Shape& shape, DType dtype, RandomKey key) const override {
    require_floating(dtype, class_name());
    const auto [fan_in, fan_out] = compute_fans(shape);
    double n = mode_ == "fan_in" ? fan_in : mode_ == "fan_out" ? fan_out : (fan_in + fan_out) / 2.0;
    const double scale = scale_ / std::max(1.0, n);
    if (distribution_ == "truncated_normal") {
      return truncated_normal(shape, 0.0, std::sqrt(scale) / kTruncatedNormalStd, dtype, key);
    }
    if (distribution_ == "untruncated_normal") return random_normal(shape, 0.0, std::sqrt(scale), dtype, key);
    const double limit = std::sqrt(3.0 * scale);
    return random_uniform(shape, -limit, limit, dtype, key);
  }
  std::string class_name() const override { return preset_.empty() ? "VarianceScaling" : preset_; }
  Json get_config() const override {
    Json config = Json::object();
    config["seed"] = Json();
    if (!preset_.empty()) return config;  // GlorotUniform() etc. take only a seed
    config["scale"] = scale_;
    config["mode"] = mode_;
    config["distribution"] = distribution_;
    return config;
  }

 private:
  double scale_;
  std::string mode_, distribution_, preset_;
};

class Orthogonal : public Initializer {
 public:
  explicit Orthogonal(double gain) : gain_(gain) {}
  Tensor operator()(const Shape& shape, DType dtype, RandomKey key) const override {
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
  std::string class_name() const override { return "Orthogonal"; }
  Json get_config() const override {
    Json config = Json::object();
    config["gain"] = gain_;
    config["seed"] = Json();
    return config;
  }

 private:
  double gain_;
};

// U(+-bound) where bound = 1/sqrt(fan_in): torch.nn.Linear/Conv weight and bias defaults. The
// kernel's fan_in comes from its own shape; a bias's is the kernel's, which the layer supplies (a
// "TorchBias" made without it stands for "the layer's kernel fan_in" in an argument's default).
class TorchUniform : public Initializer {
 public:
  TorchUniform(bool bias, std::optional<double> fan_in) : bias_(bias), fan_in_(fan_in) {}
  Tensor operator()(const Shape& shape, DType dtype, RandomKey key) const override {
    require_floating(dtype, class_name());
    if (bias_ && !fan_in_) {
      throw ValueError("TorchBias: a bias's bound is 1/sqrt(fan_in) of its layer's kernel, which was not given; "
                       "use it as a layer's bias_initializer under convention='torch', or give config {'fan_in': n}");
    }
    // kaiming_uniform(a=sqrt(5)): gain sqrt(2/(1+5)), bound gain*sqrt(3/fan_in) = 1/sqrt(fan_in).
    const double fan_in = fan_in_ ? *fan_in_ : compute_fans(shape).first;
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(fan_in) : 0.0;
    return random_uniform(shape, -bound, bound, dtype, key);
  }
  std::string class_name() const override { return bias_ ? "TorchBias" : "TorchKernel"; }
  Json get_config() const override {
    Json config = Json::object();
    if (fan_in_) config["fan_in"] = *fan_in_;
    return config;
  }

 private:
  bool bias_;
  std::optional<double> fan_in_;
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

using Factory = std::function<std::shared_ptr<Initializer>()>;

const std::map<std::string, Factory>& named_initializers() {
  static const std::map<std::string, Factory> table = {
      {"zeros", [] { return zeros_initializer(); }},
      {"ones", [] { return ones_initializer(); }},
      {"constant", [] { return constant_initializer(0.0); }},
      {"random_normal", [] { return random_normal_initializer(); }},
      {"random_uniform", [] { return random_uniform_initializer(); }},
      {"truncated_normal", [] { return truncated_normal_initializer(); }},
      {"variance_scaling", [] { return variance_scaling_initializer(1.0, "fan_in", "truncated_normal"); }},
      {"glorot_uniform", [] { return std::make_shared<VarianceScaling>(1.0, "fan_avg", "uniform", "GlorotUniform"); }},
      {"glorot_normal",
       [] { return std::make_shared<VarianceScaling>(1.0, "fan_avg", "truncated_normal", "GlorotNormal"); }},
      {"he_uniform", [] { return std::make_shared<VarianceScaling>(2.0, "fan_in", "uniform", "HeUniform"); }},
      {"he_normal", [] { return std::make_shared<VarianceScaling>(2.0, "fan_in", "truncated_normal", "HeNormal"); }},
      {"lecun_uniform", [] { return std::make_shared<VarianceScaling>(1.0, "fan_in", "uniform", "LecunUniform"); }},
      {"lecun_normal",
       [] { return std::make_shared<VarianceScaling>(1.0, "fan_in", "truncated_normal", "LecunNormal"); }},
      {"orthogonal", [] { return orthogonal_initializer(); }},
      {"torch_kernel", [] { return torch_kernel_initializer(); }},
  };
  return table;
}

// Keras aliases of the table's names.
std::string canonical_name(const std::string& name) {
  static const std::map<std::string, std::string> aliases = {
      {"zero", "zeros"}, {"one", "ones"}, {"normal", "random_normal"}, {"uniform", "random_uniform"}};
  bool has_upper = false;
  for (char c : name) has_upper = has_upper || std::isupper(static_cast<unsigned char>(c));
  const std::string snake = has_upper ? to_snake_case(name) : name;
  const auto it = aliases.find(snake);
  return it == aliases.end() ? snake : it->second;
}

// Initializers registered by name at run time (custom functions from the Python API).
std::map<std::string, std::shared_ptr<Initializer>>& custom_initializers() {
  static std::map<std::string, std::shared_ptr<Initializer>> table;
  return table;
}

std::vector<std::string> known_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : named_initializers()) names.push_back(name);
  for (const auto& [name, initializer] : custom_initializers()) names.push_back(name);
  return names;
}

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

std::shared_ptr<Initializer> zeros_initializer() { return std::make_shared<Constant>("Zeros", 0.0); }
std::shared_ptr<Initializer> ones_initializer() { return std::make_shared<Constant>("Ones", 1.0); }
std::shared_ptr<Initializer> constant_initializer(double value) { return std::make_shared<Constant>("Constant", value); }
std::shared_ptr<Initializer> random_normal_initializer(double mean, double stddev) {
  return std::make_shared<RandomNormal>(mean, stddev, false);
}
std::shared_ptr<Initializer> random_uniform_initializer(double minval, double maxval) {
  return std::make_shared<RandomUniform>(minval, maxval);
}
std::shared_ptr<Initializer> truncated_normal_initializer(double mean, double stddev) {
  return std::make_shared<RandomNormal>(mean, stddev, true);
}
std::shared_ptr<Initializer> variance_scaling_initializer(double scale, const std::string& mode,
                                                          const std::string& distribution) {
  return std::make_shared<VarianceScaling>(scale, mode, distribution);
}
std::shared_ptr<Initializer> orthogonal_initializer(double gain) { return std::make_shared<Orthogonal>(gain); }
std::shared_ptr<Initializer> torch_kernel_initializer() { return std::make_shared<TorchUniform>(false, std::nullopt); }
std::shared_ptr<Initializer> torch_bias_initializer(double fan_in) { return std::make_shared<TorchUniform>(true, fan_in); }
std::shared_ptr<Initializer> function_initializer(std::string name,
                                                  std::function<Tensor(const Shape&, DType, RandomKey)> fn) {
  return std::make_shared<FunctionInitializer>(std::move(name), std::move(fn));
}

std::shared_ptr<Initializer> seeded_initializer(std::shared_ptr<Initializer> base, uint64_t seed) {
  return std::make_shared<Seeded>(std::move(base), seed);
}

void register_initializer(const std::string& name, std::shared_ptr<Initializer> initializer) {
  custom_initializers()[name] = std::move(initializer);
}

std::shared_ptr<Initializer> get_initializer(const std::string& name) {
  if (const auto custom = custom_initializers().find(name); custom != custom_initializers().end()) {
    return custom->second;
  }
  const auto& table = named_initializers();
  const auto it = table.find(canonical_name(name));
  if (it == table.end()) {
    throw ValueError("unknown initializer '" + name + "'; " + did_you_mean(canonical_name(name), known_names()));
  }
  return it->second();
}

std::shared_ptr<Initializer> initializer_from_config(const Json& config) {
  if (config.is_null()) return nullptr;  // "use the layer's default", as regularizer_from_config
  if (config.is_string()) return get_initializer(config.as_string());
  if (!config.is_object() || !config.contains("class_name")) {
    throw ValueError("initializer_from_config: expected a name or {\"class_name\": ..., \"config\": {...}}, got " +
                     config.dump());
  }
  const std::string class_name = config.at("class_name").as_string();
  const Json args = config.get("config", Json::object());
  if (args.is_object() && !args.get("seed", Json()).is_null()) {
    Json unseeded = config;
    unseeded["config"]["seed"] = Json();
    return seeded_initializer(initializer_from_config(unseeded), static_cast<uint64_t>(args.at("seed").as_int()));
  }
  const std::string name = canonical_name(class_name);
  if (name == "constant") return constant_initializer(args.get("value", 0.0).as_double());
  if (name == "random_normal") {
    return random_normal_initializer(args.get("mean", 0.0).as_double(), args.get("stddev", 0.05).as_double());
  }
  if (name == "truncated_normal") {
    return truncated_normal_initializer(args.get("mean", 0.0).as_double(), args.get("stddev", 0.05).as_double());
  }
  if (name == "random_uniform") {
    return random_uniform_initializer(args.get("minval", -0.05).as_double(), args.get("maxval", 0.05).as_double());
  }
  if (name == "variance_scaling") {
    return variance_scaling_initializer(args.get("scale", 1.0).as_double(),
                                        args.get("mode", "fan_in").as_string(),
                                        args.get("distribution", "truncated_normal").as_string());
  }
  if (name == "orthogonal") return orthogonal_initializer(args.get("gain", 1.0).as_double());
  if (name == "torch_bias") {
    if (args.get("fan_in", Json()).is_null()) return std::make_shared<TorchUniform>(true, std::nullopt);
    return torch_bias_initializer(args.at("fan_in").as_double());
  }
  return get_initializer(class_name);
}

Json initializer_to_config(const Initializer& initializer) {
  Json out = Json::object();
  out["class_name"] = initializer.class_name();
  out["config"] = initializer.get_config();
  return out;
}

}  // namespace pitfall
