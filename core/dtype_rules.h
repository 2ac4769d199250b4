// How strictly the engine treats dtypes that do not match, in one engine-wide mode.
//
//   mode        op on mixed dtypes (add float32 + float64)   cast at a layer/model input (uint8 -> float32)
//   strict      error naming both dtypes                      error naming the layer, both dtypes and the fix
//   warn        error naming both dtypes          (default)   cast, with a warning once per layer
//   permissive  promoted silently, NumPy/PyTorch style        cast silently (what Keras does)
//
// `permissive` exists to reproduce other frameworks' behaviour in a pitfall example; the default
// never promotes inside an op and always says when a boundary casts. Casts a dtype policy asks
// for (a mixed_float16 layer computing its float32 inputs in float16) are not mismatches: they
// happen in every mode, with one warning per layer unless the mode is permissive.
#pragma once
#include <optional>
#include <string>
#include <utility>

#include "pitfall/core/tensor.h"

namespace pitfall {

enum class DTypeMode { strict, warn, permissive };

DTypeMode dtype_mode();
void set_dtype_mode(DTypeMode mode);
std::string_view dtype_mode_name(DTypeMode mode);
DTypeMode parse_dtype_mode(std::string_view name);  // "strict" | "warn" | "permissive"

// The dtype NumPy/PyTorch give a binary op on `a` and `b`: a float beats an integer, the wider
// float or integer wins, float16 with bfloat16 gives float32, bool yields to anything.
DType promoted_dtype(DType a, DType b);

// In permissive mode, the operands of `op` cast to their promoted dtype when they differ; nullopt
// otherwise (the op then applies its own same-dtype check). Ops call this first.
std::optional<std::pair<Tensor, Tensor>> promote_operands(const Tensor& a, const Tensor& b);

// Why a boundary casts, which decides the message and whether strict mode refuses it.
enum class CastReason {
  policy,   // the layer's dtype policy computes in another dtype (mixed_float16): always allowed
  input,    // the data's dtype is not the one the layer/model computes in: a mismatch
};

// Casts `x` to `to` where a layer or model receives it (`where`: "layer 'dense' (Dense)"), under
// the current mode: strict raises DTypeError (except for CastReason::policy), warn casts and warns
// once per `key`, permissive casts silently. Integer inputs are described with the range of their
// values ("uint8 input with values in [0, 255] cast to float32; did you mean to scale it?").
Tensor boundary_cast(const Tensor& x, DType to, const std::string& where, const std::string& key,
                     CastReason reason, const std::string& policy_name = "");

}  // namespace pitfall
