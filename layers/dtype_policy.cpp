#include "pitfall/layers/dtype_policy.h"

#include <atomic>
#include <mutex>

#include "pitfall/core/error.h"

namespace pitfall {
namespace {


struct GlobalPolicy {
  std::mutex mutex;
  std::optional<DTypePolicy> policy;  // unset: follow floatx()
};

GlobalPolicy& global() {
  static GlobalPolicy* instance = new GlobalPolicy();  // outlives static destructors of callers
  return *instance;
}

DTypePolicy mixed(const char* name, DType compute) {
  DTypePolicy policy(DType::float32);
  policy.name = name;
  policy.compute_dtype = compute;
  return policy;
}

}  // namespace

DTypePolicy::DTypePolicy(DType dtype) : name(dtype_name(dtype)), variable_dtype(dtype), compute_dtype(dtype) {}

std::string DTypePolicy::describe() const {
  if (!is_mixed()) return "'" + name + "'";
  return "'" + name + "' (computes in " + std::string(dtype_name(compute_dtype)) + ", variables in " +
         std::string(dtype_name(variable_dtype)) + ")";
}

DTypePolicy dtype_policy(std::string_view name) {
  if (name == "mixed_float16") return mixed("mixed_float16", DType::float16);
  if (name == "mixed_bfloat16") return mixed("mixed_bfloat16", DType::bfloat16);
  try {
    return DTypePolicy(parse_dtype(name));
  } catch (const Error&) {
    throw ValueError("unknown dtype policy '" + std::string(name) + "'; expected 'mixed_float16', 'mixed_bfloat16' "
                     "or a dtype name ('float32', 'float64', 'float16', 'bfloat16', 'int32', ...)");
  }
}

DTypePolicy global_policy() {
  std::lock_guard<std::mutex> lock(global().mutex);
  return global().policy ? *global().policy : DTypePolicy(floatx());
}

void set_global_policy(const DTypePolicy& policy) {
  if (!is_floating(policy.compute_dtype)) {
    throw ValueError("set_global_policy: the global policy must compute in a floating dtype, got " + policy.describe() +
                     "; give integer dtypes to single layers (Input(dtype='int32'), Embedding indices)");
  }
  std::lock_guard<std::mutex> lock(global().mutex);
  global().policy = policy;
}

void set_global_policy(std::string_view name) { set_global_policy(dtype_policy(name)); }

void reset_global_policy() {
  std::lock_guard<std::mutex> lock(global().mutex);
  global().policy.reset();
}

std::optional<DTypePolicy> explicit_global_policy() {
  std::lock_guard<std::mutex> lock(global().mutex);
  return global().policy;
}

}  // namespace pitfall
