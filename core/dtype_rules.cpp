#include "pitfall/core/dtype_rules.h"

#include <atomic>
#include <cmath>

#include "pitfall/core/autograd.h"
#include "pitfall/core/error.h"
#include "pitfall/core/ops.h"
#include "pitfall/core/warnings.h"

namespace pitfall {
namespace {

std::atomic<DTypeMode> mode_slot{DTypeMode::warn};

std::string name_of(DType dtype) { return std::string(dtype_name(dtype)); }

// Rank of a float dtype by range and precision (float16 and bfloat16 share a rank: neither holds
// the other, so together they promote to float32).
int float_rank(DType dtype) {
  switch (dtype) {
    case DType::float16: case DType::bfloat16: return 1;
    case DType::float32: return 2;
    default: return 3;
  }
}

int integer_rank(DType dtype) {
  switch (dtype) {
    case DType::uint8: return 1;
    case DType::int32: return 2;
    default: return 3;
  }
}

std::string format_integer(double value) {
  return std::to_string(static_cast<long long>(value));
}

// "uint8 input with values in [0, 255]" (the range read from the data, without recording gradients).
std::string describe_integer_input(const Tensor& x, double* max_out) {
  std::string text = name_of(x.dtype()) + " input";
  if (x.numel() == 0) return text + " (empty)";
  NoGradGuard no_grad;
  const double lo = min(x).item(), hi = max(x).item();
  *max_out = hi;
  return text + " with values in [" + format_integer(lo) + ", " + format_integer(hi) + "]";
}

std::string scale_hint(DType from, double max_value) {
  if (from == DType::uint8 || max_value > 1) {
    return "; did you mean to scale it (e.g. x / 255 for pixels), or are these class ids (use an Embedding "
           "or one-hot encode them)?";
  }
  return "";
}

}  // namespace

DTypeMode dtype_mode() { return mode_slot.load(std::memory_order_relaxed); }
void set_dtype_mode(DTypeMode mode) { mode_slot.store(mode, std::memory_order_relaxed); }

std::string_view dtype_mode_name(DTypeMode mode) {
  switch (mode) {
    case DTypeMode::strict: return "strict";
    case DTypeMode::permissive: return "permissive";
    case DTypeMode::warn: break;
  }
  return "warn";
}

DTypeMode parse_dtype_mode(std::string_view name) {
  if (name == "strict") return DTypeMode::strict;
  if (name == "warn") return DTypeMode::warn;
  if (name == "permissive") return DTypeMode::permissive;
  throw ValueError("unknown dtype mode '" + std::string(name) + "'; expected 'strict', 'warn' (the default) or "
                   "'permissive'");
}

DType promoted_dtype(DType a, DType b) {
  if (a == b) return a;
  if (a == DType::bool_) return b;
  if (b == DType::bool_) return a;
  const bool fa = is_floating(a), fb = is_floating(b);
  if (fa != fb) return fa ? a : b;
  if (fa) {
    const int ra = float_rank(a), rb = float_rank(b);
    if (ra == rb) return DType::float32;  // float16 with bfloat16
    return ra > rb ? a : b;
  }
  return integer_rank(a) >= integer_rank(b) ? a : b;
}

std::optional<std::pair<Tensor, Tensor>> promote_operands(const Tensor& a, const Tensor& b) {
  if (dtype_mode() != DTypeMode::permissive || a.dtype() == b.dtype()) return std::nullopt;
  const DType to = promoted_dtype(a.dtype(), b.dtype());
  return std::make_pair(a.dtype() == to ? a : cast(a, to), b.dtype() == to ? b : cast(b, to));
}

Tensor boundary_cast(const Tensor& x, DType to, const std::string& where, const std::string& key, CastReason reason,
                     const std::string& policy_name) {
  const DTypeMode mode = dtype_mode();
  const DType from = x.dtype();
  if (from == to) return x;
  const bool quiet = mode == DTypeMode::permissive || (mode == DTypeMode::warn && has_warned(key));
  if (reason == CastReason::policy) {
    if (!quiet) {
      warn_once(key, where + ": " + name_of(from) + " input autocast to " + name_of(to) + " by its dtype policy " +
                         policy_name + " (Keras casts silently; pass " + name_of(to) + " data to avoid the cast)");
    }
    return cast(x, to);
  }
  if (quiet) return cast(x, to);
  std::string what, hint, fix;
  if (is_floating(to) && from == DType::bool_) {
    what = "bool input";  // True/False become 1/0
    fix = "Convert the data yourself, e.g. x.astype('" + name_of(to) + "')";
  } else if (is_floating(to) && !is_floating(from)) {
    double max_value = 0;
    what = describe_integer_input(x, &max_value);
    hint = scale_hint(from, max_value);
    fix = "Convert the data yourself, e.g. x.astype('" + name_of(to) + "')" + (from == DType::uint8 ? " / 255" : "");
  } else {
    what = name_of(from) + " input";
    const bool narrowing = is_floating(from) && is_floating(to) && dtype_size(to) < dtype_size(from);
    hint = narrowing ? "; the extra precision (and range) is lost" : "";
    fix = "Cast the data yourself, or create the layers in " + name_of(from) + " (pf.backend.set_floatx('" +
          name_of(from) + "') before building them, or dtype='" + name_of(from) + "')";
  }
  if (mode == DTypeMode::strict) {
    throw DTypeError(where + ": " + what + " where " + name_of(to) + " is expected; strict dtypes " +
                     "(pf.config.set_strict_dtypes(True)) never cast implicitly. " + fix);
  }
  const bool question = !hint.empty() && hint.back() == '?';
  warn_once(key, where + ": " + what + " cast to " + name_of(to) + hint + (question ? " " : ". ") + fix +
                     ". pf.config.set_strict_dtypes(True) makes this an error");
  return cast(x, to);
}

}  // namespace pitfall
