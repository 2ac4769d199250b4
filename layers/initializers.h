// Weight initializers: the Keras table plus the PyTorch defaults. Fans follow Keras: a Dense kernel
// (in, out) has fan_in = in, fan_out = out; a Conv2D kernel (kh, kw, in, out) has fan_in = kh*kw*in,
// fan_out = kh*kw*out.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "pitfall/core/json.h"
#include "pitfall/core/random.h"
#include "pitfall/core/tensor.h"

namespace pitfall {

class Initializer {
 public:
  virtual ~Initializer() = default;
  // Values for `shape` in `dtype`, drawn with `key` (deterministic in it).
  virtual Tensor operator()(const Shape& shape, DType dtype, RandomKey key) const = 0;
  virtual std::string class_name() const = 0;
  virtual Json get_config() const = 0;
};

// Fans as Keras computes them (kernel shapes as above; 1-D: fan_in = fan_out = size).
std::pair<double, double> compute_fans(const Shape& shape);

// The built-in classes by name (Zeros, RandomNormal, GlorotUniform, ..., TorchKernel, TorchBias),
// from Keras-named arguments (a JSON object) checked against the class's argument table (family
// "initializers"); unset ones take the table's defaults. Unknown names raise with "did you mean".
std::shared_ptr<Initializer> make_initializer_of_class(const std::string& class_name,
                                                       const Json& arguments = Json::object());
// Typed shortcuts (Keras names); an argument left unset takes the table's default.
std::shared_ptr<Initializer> zeros_initializer();
std::shared_ptr<Initializer> ones_initializer();
std::shared_ptr<Initializer> constant_initializer(std::optional<double> value = {});
std::shared_ptr<Initializer> random_normal_initializer(std::optional<double> mean = {}, std::optional<double> stddev = {});
std::shared_ptr<Initializer> random_uniform_initializer(std::optional<double> minval = {},
                                                        std::optional<double> maxval = {});
std::shared_ptr<Initializer> truncated_normal_initializer(std::optional<double> mean = {},
                                                          std::optional<double> stddev = {});
// VarianceScaling: scale, mode fan_in|fan_out|fan_avg, distribution truncated_normal|untruncated_normal|uniform.
// truncated_normal divides the stddev by 0.87962566103423978 (the std of a unit normal cut at 2).
std::shared_ptr<Initializer> variance_scaling_initializer(std::optional<double> scale = {},
                                                          std::optional<std::string> mode = {},
                                                          std::optional<std::string> distribution = {});
std::shared_ptr<Initializer> orthogonal_initializer(std::optional<double> gain = {});
// PyTorch's nn.Linear / nn.Conv weight default: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)).
std::shared_ptr<Initializer> torch_kernel_initializer();
// PyTorch's bias default: U(+-1/sqrt(fan_in)) where fan_in is the kernel's (passed in).
std::shared_ptr<Initializer> torch_bias_initializer(double fan_in);
// A user function (shape, dtype, key) -> Tensor; name is used in configs.
std::shared_ptr<Initializer> function_initializer(
    std::string name, std::function<Tensor(const Shape&, DType, RandomKey)> fn);

// Keras's `seed=`: every call draws with RandomKey{seed, 0}; the config records the seed (a built-in
// class takes it as its own argument).
std::shared_ptr<Initializer> seeded_initializer(std::shared_ptr<Initializer> base, uint64_t seed);
// Makes `name` resolvable by get_initializer / initializer_from_config (custom objects, e.g. a
// Python function passed as kernel_initializer). A later registration under the same name replaces it.
void register_initializer(const std::string& name, std::shared_ptr<Initializer> initializer);

// By Keras name: "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
// "lecun_normal", "random_normal", "random_uniform", "truncated_normal", "zeros", "ones",
// "orthogonal", "torch_kernel" (and CamelCase class names). Unknown names: ValueError with "did you mean".
std::shared_ptr<Initializer> get_initializer(const std::string& name);
// From {"class_name": ..., "config": {...}} or a bare name string; null -> nullptr (the layer's default).
std::shared_ptr<Initializer> initializer_from_config(const Json& config);
Json initializer_to_config(const Initializer& initializer);  // {"class_name", "config"}

}  // namespace pitfall
