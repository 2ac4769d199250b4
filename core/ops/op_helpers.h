// Internal helpers shared by op front-ends: validation with contextual messages, and recording.
#pragma once
#include <string>
#include <vector>

#include "pitfall/core/autograd.h"
#include "pitfall/core/ops.h"
#include "pitfall/core/registry.h"

namespace pitfall::detail {

inline std::string describe(const Tensor& t) {
  return shape_str(t.shape()) + " " + std::string(dtype_name(t.dtype()));
}

// Both operands must share a dtype: no silent promotion.
inline void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype()) {
    const DType wider = dtype_size(a.dtype()) >= dtype_size(b.dtype()) ? a.dtype() : b.dtype();
    throw DTypeError(std::string(op) + ": operands have different dtypes, " + std::string(dtype_name(a.dtype())) +
                     " " + shape_str(a.shape()) + " and " + std::string(dtype_name(b.dtype())) + " " +
                     shape_str(b.shape()) + "; pitfall never promotes silently. Cast one operand, e.g. cast(x, '" +
                     std::string(dtype_name(wider)) + "')");
  }
}

inline void check_floating(const char* op, const Tensor& x) {
  if (!is_floating(x.dtype())) {
    throw DTypeError(std::string(op) + " needs a floating tensor, got " + describe(x) +
                     "; cast it first, e.g. cast(x, 'float32')");
  }
}

// Bool tensors take part in comparisons and where only.
inline void check_numeric(const char* op, const Tensor& x) {
  if (x.dtype() == DType::bool_) {
    throw DTypeError(std::string(op) + " does not accept bool tensors (got " + describe(x) +
                     "); cast it to a numeric dtype first");
  }
}

inline std::string dtype_str(DType dtype) { return std::string(dtype_name(dtype)); }

// The truth values of any tensor for the logical ops and any/all: nonzero (and NaN) is true, as in
// NumPy. Not differentiable.
inline Tensor truth_values(const Tensor& x) {
  return x.dtype() == DType::bool_ ? x.detach() : cast(x.detach(), DType::bool_);
}

// For ops that were told they may write their result over an input (dispatch's overwrite_input):
// true when nothing else can see `t` (no other handle, no view on its storage), and it is contiguous
// from the start of its storage, so an elementwise kernel can read and write it in the same pass.
// Whether t's autograd history may lose t's values is the caller's to know.
inline bool can_overwrite(const Tensor& t) {
  return t.defined() && t.impl_ptr().use_count() == 1 && t.impl()->storage.use_count() == 1 && t.offset() == 0 &&
         t.is_contiguous();
}

}  // namespace pitfall::detail

namespace pitfall {
// Runs the reduction kernel `op` over normalized, sorted `axes` (see reduction.cpp).
Tensor reduce_with_kernel(const char* op, const Tensor& x, const std::vector<int64_t>& axes, bool keepdims,
                          DType out_dtype);
}  // namespace pitfall
