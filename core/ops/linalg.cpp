// Linear algebra front-ends: matmul.
#include "pitfall/core/dtype_rules.h"
#include "pitfall/core/ops/op_helpers.h"

namespace pitfall {

using detail::describe;

namespace {

// Swaps the last two axes (a view).
Tensor matrix_transpose(const Tensor& x) {
  std::vector<int64_t> perm(static_cast<size_t>(x.ndim()));
  for (int64_t i = 0; i < x.ndim(); ++i) perm[i] = i;
  std::swap(perm[perm.size() - 1], perm[perm.size() - 2]);
  return transpose(x, perm);
}

// When x (rank >= 2) is the matrix transpose of a packed tensor, returns that packed tensor and sets
// `transposed`; otherwise returns x.
Tensor as_transposed_packed(const Tensor& x, bool& transposed) {
  transposed = false;
  if (x.is_contiguous() || x.ndim() < 2) return x;
  const Tensor swapped = matrix_transpose(x.detach());
  if (!swapped.is_contiguous()) return x;
  transposed = true;
  return swapped;
}

// Both operands have rank >= 2 and matching K; batch dimensions broadcast.
Tensor matmul_batched(const Tensor& a, const Tensor& b, const std::string& shapes) {
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  Shape batch;
  try {
    batch = broadcast_shapes(Shape(sa.begin(), sa.end() - 2), Shape(sb.begin(), sb.end() - 2), "matmul");
  } catch (const ShapeError&) {
    throw ShapeError("matmul: the batch dimensions of " + shapes +
                     " do not broadcast; leading dimensions must be equal or 1");
  }
  Shape out_shape = batch;
  out_shape.push_back(sa[sa.size() - 2]);
  out_shape.push_back(sb[sb.size() - 1]);
  // An operand that is the matrix transpose of a packed tensor (what backward passes make) goes to
  // the kernel as that packed tensor plus a transpose flag, instead of being copied.
  Attrs attrs;
  const Tensor a_arg = as_transposed_packed(a, attrs.transpose_a);
  const Tensor b_arg = as_transposed_packed(b, attrs.transpose_b);
  Tensor out = dispatch("matmul", {a_arg, b_arg}, out_shape, a.dtype(), attrs);
  if (needs_record({a, b})) {
    record(out, "matmul", {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g) {
      // dA = g @ B^T and dB = A^T @ g, summed over the batch dimensions the operand was broadcast along.
      return std::vector<Tensor>{sum_to_shape(matmul(g, matrix_transpose(b)), a.shape()),
                                 sum_to_shape(matmul(matrix_transpose(a), g), b.shape())};
    });
  }
  return out;
}

}  // namespace

// NumPy semantics: a 1-D first operand is a row vector and a 1-D second operand a column vector,
// and the added axis is removed from the result; 0-D operands are errors (use multiply).
// Integer operands (int32, int64, uint8) are allowed: they accumulate in int64 and the result wraps
// to the operands' dtype, as in NumPy. bool operands are rejected. float16/bfloat16 compute in
// float32 and round the result once.
Tensor matmul(const Tensor& a, const Tensor& b) {
  if (auto promoted = promote_operands(a, b)) return matmul(promoted->first, promoted->second);
  OpScope scope("matmul");
  detail::check_numeric("matmul", a);
  detail::check_same_dtype("matmul", a, b);
  const std::string shapes = shape_str(a.shape()) + " and " + shape_str(b.shape());
  if (a.ndim() == 0 || b.ndim() == 0) {
    throw ShapeError("matmul: operands need at least 1 dimension, got shapes " + shapes +
                     "; use multiply for a scalar factor");
  }
  const int64_t ka = a.shape().back();
  const int64_t kb = b.ndim() == 1 ? b.shape()[0] : b.shape()[b.ndim() - 2];
  if (ka != kb) {
    const std::string b_dim = b.ndim() == 1 ? "only dimension" : "second-to-last dimension";
    throw ShapeError("matmul: shapes " + shapes + " are not aligned: the first operand's last dimension (K=" +
                     std::to_string(ka) + ") must equal the second operand's " + b_dim + " (K=" + std::to_string(kb) +
                     "); did you mean to transpose an operand (e.g. transpose(b))?");
  }
  const Tensor a2 = a.ndim() == 1 ? reshape(a, {1, ka}) : a;
  const Tensor b2 = b.ndim() == 1 ? reshape(b, {kb, 1}) : b;
  Tensor out = matmul_batched(a2, b2, shapes);
  if (a.ndim() == 1 || b.ndim() == 1) {
    Shape shape = out.shape();
    if (b.ndim() == 1) shape.erase(shape.end() - 1);
    if (a.ndim() == 1) shape.erase(shape.end() - (b.ndim() == 1 ? 1 : 2));
    out = reshape(out, shape);
  }
  return out;
}

}  // namespace pitfall
