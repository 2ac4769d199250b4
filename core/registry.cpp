#include "pitfall/core/registry.h"

#include <atomic>
#include <cmath>
#include <optional>

#include "pitfall/core/cpu/kernels.h"
#include "pitfall/core/cpu/scalar.h"
#include "pitfall/core/ops/op_table.h"

namespace pitfall {
namespace {

std::atomic<bool> check_numerics_flag{false};
std::atomic<bool> op_determinism_flag{false};
std::atomic<bool> tensor_float_32_flag{false};
thread_local bool thread_check_numerics = false;
thread_local const char* numerics_phase = "";
thread_local std::optional<NumericFailure> numeric_failure;

bool all_finite(const Tensor& t) {
  if (!is_floating(t.dtype())) return true;
  const Tensor host = t.to(Device{}).contiguous();
  return visit_floating(host.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* p = host.data<T>();
    for (int64_t i = 0, n = host.numel(); i < n; ++i) {
      if (!std::isfinite(static_cast<double>(p[i]))) return false;
    }
    return true;
  });
}

std::string numeric_fix(std::string_view op) {
  if (op == "log") return "log of zero or a negative value; clip the input to a small positive value, or use "
                          "log_softmax / a loss with from_logits=True";
  if (op == "sqrt") return "sqrt of a negative value; clip the input at 0 (and add a small epsilon if it is "
                           "differentiated at 0)";
  if (op == "divide") return "division by zero; add a small epsilon to the denominator";
  if (op == "exp") return "exp overflowed (float16 overflows for x > 11.09, float32 for x > 88.7); subtract "
                          "the maximum first (softmax does) or compute in float32";
  if (op == "power") return "power of a negative base with a fractional exponent, or an overflow; clip the base";
  return "a value overflowed the dtype's range; scale the inputs, lower the learning rate, or compute in a "
         "wider dtype (float32)";
}

void verify_numerics(const char* op, const std::vector<Tensor>& inputs, const Tensor& output) {
  if (all_finite(output)) return;
  for (const auto& input : inputs) {
    if (!all_finite(input)) return;  // non-finite in, non-finite out: the cause is upstream
  }
  std::string described;
  for (const auto& input : inputs) {
    described += (described.empty() ? "" : ", ") + shape_str(input.shape()) + " " +
                 std::string(dtype_name(input.dtype()));
  }
  int64_t first = 0;
  const Tensor host = output.to(Device{});
  while (first < host.numel() && std::isfinite(host.value_at(first))) ++first;
  const double bad = host.value_at(first);
  const std::string bad_str = std::isnan(bad) ? "nan" : (bad > 0 ? "inf" : "-inf");
  NumericError error(std::string(op) + " produced a non-finite value (" + bad_str +
                     " at flat index " + std::to_string(first) + " of output " + shape_str(output.shape()) + " " +
                     std::string(dtype_name(output.dtype())) + ") from finite inputs [" + described +
                     "]. Likely cause and fix: " + numeric_fix(op));
  // The op chain as the error saw it, ending with the kernel's op (a composite's kernel may run
  // without an OpScope of its own).
  std::string chain = error.op();
  const size_t cut = chain.rfind(" > ");
  if ((cut == std::string::npos ? chain : chain.substr(cut + 3)) != op) chain += (chain.empty() ? "" : " > ") + std::string(op);
  numeric_failure = NumericFailure{chain, error.layer(), numerics_phase, error.message(), error.what()};
  throw error;
}

}  // namespace

OpRegistry& OpRegistry::instance() {
  static OpRegistry* registry = [] {
    auto* r = new OpRegistry();
    define_builtin_ops(*r);
    register_cpu_kernels(*r);
    return r;
  }();
  return *registry;
}

void OpRegistry::define(OpInfo info) {
  const std::string name = info.name;
  infos_[name] = std::move(info);
}

void OpRegistry::add_kernel(std::string_view op, DeviceType device, KernelFn kernel) {
  kernels_[static_cast<int>(device)][std::string(op)].one = kernel;
}

void OpRegistry::add_kernel(std::string_view op, DeviceType device, MultiKernelFn kernel) {
  kernels_[static_cast<int>(device)][std::string(op)].many = kernel;
}

namespace {

[[noreturn]] void no_kernel(std::string_view op, DeviceType device) {
  throw NotImplementedError("no " + Device{device, 0}.str() + " kernel is registered for op '" + std::string(op) +
                            "'; move the inputs to a device that implements it (e.g. cpu)");
}

}  // namespace

KernelFn OpRegistry::kernel(std::string_view op, DeviceType device) const {
  load_device_module(device);  // a device's kernels register when its module loads
  const auto& table = kernels_[static_cast<int>(device)];
  auto it = table.find(op);
  if (it == table.end() || !it->second.one) no_kernel(op, device);
  return it->second.one;
}

MultiKernelFn OpRegistry::multi_kernel(std::string_view op, DeviceType device) const {
  load_device_module(device);
  const auto& table = kernels_[static_cast<int>(device)];
  auto it = table.find(op);
  if (it == table.end() || !it->second.many) no_kernel(op, device);
  return it->second.many;
}

bool OpRegistry::has_kernel(std::string_view op, DeviceType device) const {
  load_device_module(device);
  return kernels_[static_cast<int>(device)].count(op) != 0;
}

const OpInfo* OpRegistry::find(std::string_view op) const {
  auto it = infos_.find(op);
  return it == infos_.end() ? nullptr : &it->second;
}

std::vector<OpInfo> OpRegistry::ops() const {
  std::vector<OpInfo> out;
  for (const auto& [name, info] : infos_) out.push_back(info);
  return out;
}

namespace {

// The inputs packed and on one device: a 0-d CPU tensor (a number: a loss scale, a step count,
// where's zero) joins an op on any device, as in PyTorch; the op runs on the device of its other
// inputs. Returns that device.
Device pack_inputs(const char* op, const std::vector<Tensor>& inputs, std::vector<Tensor>& packed) {
  auto is_cpu_number = [](const Tensor& t) { return t.ndim() == 0 && t.device() == Device{}; };
  Device device = inputs.empty() ? Device{} : inputs[0].device();
  for (const auto& input : inputs) {
    if (!is_cpu_number(input)) {
      device = input.device();
      break;
    }
  }
  packed.reserve(inputs.size());
  for (const auto& input : inputs) {
    if (is_cpu_number(input) && device != Device{}) {
      packed.push_back(input.to(device));
      continue;
    }
    if (input.device() != device) {
      throw ValueError(std::string(op) + ": inputs are on different devices (" + device.str() + " and " +
                       input.device().str() + "); move them to one device with .to(device)");
    }
    packed.push_back(input.is_contiguous() ? input : input.clone());
  }
  return device;
}

}  // namespace

Tensor dispatch(const char* op, const std::vector<Tensor>& inputs, const Shape& out_shape, DType out_dtype,
                const Attrs& attrs, int overwrite_input) {
  std::vector<Tensor> packed;
  const Device device = pack_inputs(op, inputs, packed);
  const KernelFn kernel = OpRegistry::instance().kernel(op, device.type);
  Tensor output;
  if (overwrite_input >= 0) {
    const Tensor& over = packed.at(static_cast<size_t>(overwrite_input));
    if (over.impl() != inputs[static_cast<size_t>(overwrite_input)].impl() || over.shape() != out_shape ||
        over.dtype() != out_dtype) {
      throw RuntimeError(std::string(op) + ": asked to write its output over input " +
                         std::to_string(overwrite_input) + ", which is not a packed tensor of the output's shape and dtype");
    }
    // A new handle on its storage, without its autograd state.
    output = Tensor(std::make_shared<TensorImpl>(*over.impl()));
    output.impl()->grad_fn = nullptr;
    output.impl()->grad = nullptr;
    output.impl()->requires_grad = false;
    output.impl()->name.clear();
  } else {
    output = Tensor::empty(out_shape, out_dtype, device);
  }
  kernel(packed, output, attrs);
  if (check_numerics_active()) verify_numerics(op, packed, output);
  return output;
}

std::vector<Tensor> dispatch_outputs(const char* op, const std::vector<Tensor>& inputs,
                                     const std::vector<std::pair<Shape, DType>>& outputs, const Attrs& attrs) {
  std::vector<Tensor> packed;
  const Device device = pack_inputs(op, inputs, packed);
  const MultiKernelFn kernel = OpRegistry::instance().multi_kernel(op, device.type);
  std::vector<Tensor> results;
  results.reserve(outputs.size());
  for (const auto& [shape, dtype] : outputs) results.push_back(Tensor::empty(shape, dtype, device));
  kernel(packed, results, attrs);
  if (check_numerics_active()) {
    for (const Tensor& result : results) verify_numerics(op, packed, result);
  }
  return results;
}

void dispatch_update(const char* op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& updated,
                     const Attrs& attrs) {
  if (updated.empty()) throw ValueError(std::string(op) + ": nothing to update");
  const Device device = updated[0].device();
  for (const Tensor& t : updated) {
    if (!t.defined() || t.device() != device || !t.is_contiguous()) {
      throw ValueError(std::string(op) + ": the tensors it updates must be packed and on one device (" +
                       device.str() + "); got " + (t.defined() ? shape_str(t.shape()) + " " + std::string(dtype_name(t.dtype())) + " on " + t.device().str() +
                                     (t.is_contiguous() ? "" : " (a strided view)")
                                   : std::string("an undefined tensor")));
    }
  }
  for (const Tensor& t : inputs) {
    if (t.device() != device) {
      throw ValueError(std::string(op) + ": inputs are on different devices (" + device.str() + " and " +
                       t.device().str() + "); move them to one device with .to(device)");
    }
  }
  std::vector<Tensor> packed;
  pack_inputs(op, inputs, packed);
  const MultiKernelFn kernel = OpRegistry::instance().multi_kernel(op, device.type);
  std::vector<Tensor> targets = updated;
  kernel(packed, targets, attrs);
  if (check_numerics_active()) {
    for (const Tensor& t : targets) verify_numerics(op, packed, t);
  }
}

void set_op_determinism(bool enabled) { op_determinism_flag = enabled; }
bool op_determinism_enabled() { return op_determinism_flag; }
void set_tensor_float_32(bool enabled) { tensor_float_32_flag = enabled; }
bool tensor_float_32_enabled() { return tensor_float_32_flag; }

void set_check_numerics(bool enabled) { check_numerics_flag = enabled; }
bool check_numerics_enabled() { return check_numerics_flag; }

void set_thread_check_numerics(bool enabled) { thread_check_numerics = enabled; }
bool thread_check_numerics_enabled() { return thread_check_numerics; }
bool check_numerics_active() {
  return thread_check_numerics || check_numerics_flag.load(std::memory_order_relaxed);
}

CheckNumericsScope::CheckNumericsScope(bool enabled) : previous_(thread_check_numerics) {
  thread_check_numerics = enabled;
}
CheckNumericsScope::~CheckNumericsScope() { thread_check_numerics = previous_; }

NumericsPhaseScope::NumericsPhaseScope(const char* phase) : previous_(numerics_phase) { numerics_phase = phase; }
NumericsPhaseScope::~NumericsPhaseScope() { numerics_phase = previous_; }
const char* current_numerics_phase() { return numerics_phase; }

const NumericFailure* last_numeric_failure() { return numeric_failure ? &*numeric_failure : nullptr; }
void clear_numeric_failure() { numeric_failure.reset(); }

}  // namespace pitfall
