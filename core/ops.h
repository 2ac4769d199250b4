// The op set. Every function here infers the output shape and dtype, raises a contextual error on
// bad input, dispatches to the kernel registered for the inputs' device, and records a backward
// node when an input requires grad.
//
// Dtype rules (no silent promotion; see docs/dtypes.md):
//  - binary arithmetic and comparisons need both operands of the same dtype; a Python/C++ scalar
//    operand takes the tensor's dtype (a fractional scalar with an integer tensor is an error);
//  - float-only ops (exp, log, sqrt, tanh, sigmoid, softmax, divide, ...) reject integer and bool
//    tensors and name `cast` as the fix;
//  - comparisons and the logical ops return bool; argmax, argmin, argsort and top_k's indices are
//    int64; cast is the only op that changes dtype.
// float16 / bfloat16 elementwise ops compute in float32 and round once to the format, as GPUs do;
// reductions and matmul accumulate in float32 and round the result.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "pitfall/core/tensor.h"

namespace pitfall {

// ---- elementwise binary, NumPy broadcasting
Tensor add(const Tensor& a, const Tensor& b);
Tensor subtract(const Tensor& a, const Tensor& b);
Tensor multiply(const Tensor& a, const Tensor& b);
Tensor divide(const Tensor& a, const Tensor& b);      // floating only
Tensor power(const Tensor& a, const Tensor& b);       // floating only
Tensor maximum(const Tensor& a, const Tensor& b);     // gradient goes to `a` on ties (TF rule)
Tensor minimum(const Tensor& a, const Tensor& b);
// Scalar operand, converted to the tensor's dtype.
Tensor add(const Tensor& a, double b);
Tensor subtract(const Tensor& a, double b);
Tensor subtract(double a, const Tensor& b);
Tensor multiply(const Tensor& a, double b);
Tensor divide(const Tensor& a, double b);
Tensor divide(double a, const Tensor& b);
Tensor power(const Tensor& a, double b);
// A scalar tensor holding `value` in the dtype and device of `like` (errors on a lossy conversion
// such as 2.5 into an integer dtype).
Tensor scalar_like(double value, const Tensor& like, const char* op);

// ---- comparisons (bool result, not differentiable) and selection
Tensor equal(const Tensor& a, const Tensor& b);
Tensor not_equal(const Tensor& a, const Tensor& b);
Tensor less(const Tensor& a, const Tensor& b);
Tensor less_equal(const Tensor& a, const Tensor& b);
Tensor greater(const Tensor& a, const Tensor& b);
Tensor greater_equal(const Tensor& a, const Tensor& b);
// cond must be bool; a and b share a dtype; all three broadcast together.
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);

// ---- elementwise unary
Tensor negative(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor abs(const Tensor& x);   // gradient sign(x), 0 at 0
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);  // gradient 0 at 0
// relu's gradient: g where x > 0, else 0 (at 0 and at NaN too). Same shape and dtype.
// overwrite_g: the result may be written over g when nothing else can see g (autograd's backward
// hands over gradients it no longer holds).
Tensor relu_grad(const Tensor& g, const Tensor& x, bool overwrite_g = false);
// activation(x + bias) with bias (units,) along x's last axis, in one pass, for activation "relu" or
// "linear" (is_fused_activation; others raise ValueError). overwrite_x: x may be overwritten when no
// other handle shares it (pass it with std::move); layers use it for their own product.
// Values and gradients equal add + relu's bit for bit.
Tensor bias_activation(Tensor x, const Tensor& bias, const std::string& activation, bool overwrite_x = false);
bool is_fused_activation(const std::string& activation);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.2);
Tensor elu(const Tensor& x, double alpha = 1.0);
// Default as keras.ops.gelu: the tanh approximation; approximate=false is the exact erf form
// (the default of torch.nn.functional.gelu and keras.activations.gelu).
Tensor gelu(const Tensor& x, bool approximate = true);
// Gradient passes where min <= x <= max.
Tensor clip(const Tensor& x, double min_value, double max_value);
Tensor cast(const Tensor& x, DType dtype);  // differentiable between floating dtypes
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
// Piecewise constant, so not differentiable: the result carries no gradient. floor and ceil take
// floating tensors; round(x, decimals) rounds half to even at 10^-decimals (np.round; an integer
// tensor is returned as is for decimals >= 0); sign is -1, 0 or 1 (NaN stays NaN).
Tensor floor(const Tensor& x);
Tensor ceil(const Tensor& x);
Tensor round(const Tensor& x, int64_t decimals = 0);
Tensor sign(const Tensor& x);
// Any dtypes (nonzero and NaN are true), broadcasting; bool result, not differentiable.
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& x);
// a / b, and 0 where b == 0 (with a gradient of 0 there for both operands). Floating only.
Tensor divide_no_nan(const Tensor& a, const Tensor& b);

// ---- normalizing activations (max-subtracted, stable for any finite input)
Tensor softmax(const Tensor& x, int64_t axis = -1);
Tensor log_softmax(const Tensor& x, int64_t axis = -1);
// -log(softmax(logits)[label]) per row, in one pass: logits (..., classes) floating, labels (...)
// int32/int64 in [0, classes) (ValueError naming the first one outside). The gradient,
// (softmax(logits) - one_hot(label)) * g, is one pass too. tf.nn.sparse_softmax_cross_entropy_with_logits.
Tensor sparse_softmax_cross_entropy(const Tensor& logits, const Tensor& labels);

// ---- batch normalization's fused passes, along channel axis `axis` of x
// Per channel: [mean; biased variance] as a (2, C) tensor, mean = sum(x) / n and variance =
// sum((x - mean)^2) / n, each sum accumulated in double in index order (the sum, the squared
// difference and the divisions rounded to x's dtype as mean/subtract/multiply/divide would round
// them). One pass per moment, no full-size temporaries; differentiable (first order).
Tensor batch_norm_moments(const Tensor& x, int64_t axis);
// (x - mean) * scale + offset per channel (mean, scale, offset: (C,) of x's dtype; offset may be an
// undefined Tensor), rounded after each operation as subtract, multiply and add would round it, in
// one pass. Differentiable (first order).
Tensor batch_norm_apply(const Tensor& x, const Tensor& mean, const Tensor& scale, const Tensor& offset, int64_t axis);

// ---- linear algebra
// (..., M, K) @ (..., K, N) with broadcast batch dimensions; 1-D operands follow NumPy (a vector is
// promoted to a matrix and the added axis removed from the result).
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- keras.ops.nn functions (composites)
Tensor silu(const Tensor& x);  // x * sigmoid(x)
// Elementwise, target and output of one shape: -(t log p + (1 - t) log(1 - p)) with p clipped to
// [1e-7, 1 - 1e-7]; from_logits: the stable logits form (tf.nn.sigmoid_cross_entropy_with_logits).
// Integer or bool targets are cast to the output's dtype; a floating target must share it.
Tensor binary_crossentropy(const Tensor& target, const Tensor& output, bool from_logits = false);
// -sum(target * log p) along `axis`: p = softmax(output) from logits, else output / sum(output)
// clipped to [1e-7, 1 - 1e-7]. Target and output of one shape.
Tensor categorical_crossentropy(const Tensor& target, const Tensor& output, bool from_logits = false,
                                int64_t axis = -1);
// The same with integer class indices: target has output's shape without `axis` (a trailing axis
// of 1 is squeezed); indices outside [0, classes) are errors.
Tensor sparse_categorical_crossentropy(const Tensor& target, const Tensor& output, bool from_logits = false,
                                       int64_t axis = -1);

// ---- placement
// x's values on `device` (a copy; x itself when already there), recorded by autograd: the gradient
// goes back to x's device. Raises when the device is not available (no GPU, no CUDA build).
Tensor to_device(const Tensor& x, const Device& device);

// ---- shape and indexing
Tensor reshape(const Tensor& x, const Shape& shape);  // one -1 allowed; a view when x is packed
Tensor transpose(const Tensor& x, const std::vector<int64_t>& axes = {});  // view; default reverses
Tensor expand_dims(const Tensor& x, int64_t axis);
Tensor squeeze(const Tensor& x, const std::vector<int64_t>& axes = {});  // default: all size-1 axes
Tensor broadcast_to(const Tensor& x, const Shape& shape);               // view with zero strides
Tensor concatenate(const std::vector<Tensor>& xs, int64_t axis = 0);
Tensor stack(const std::vector<Tensor>& xs, int64_t axis = 0);
// Strided slice over every axis: begin/end/step per axis (NumPy semantics after normalization:
// begin in [0, dim], end in [-1, dim], step != 0). A view.
Tensor strided_slice(const Tensor& x, const std::vector<int64_t>& begin, const std::vector<int64_t>& end,
                     const std::vector<int64_t>& step);
// keras.ops.slice: the block starting at `start` with extent `size` (-1 = to the end).
Tensor slice(const Tensor& x, const std::vector<int64_t>& start, const std::vector<int64_t>& size);
// np.take / keras.ops.take: integer indices (negative wrap once) along `axis`.
Tensor take(const Tensor& x, const Tensor& indices, int64_t axis = 0);
// Integer labels -> one-hot of `depth` along a new axis at `axis` of the result (default last).
// Labels outside [0, depth) are errors.
Tensor one_hot(const Tensor& indices, int64_t depth, DType dtype = DType::float32, int64_t axis = -1);
// Sums x over broadcast axes so the result has `shape` (the adjoint of broadcast_to).
Tensor sum_to_shape(const Tensor& x, const Shape& shape);
// np.take_along_axis: out[..., j, ...] = x[..., indices[..., j, ...], ...] along `axis`; indices
// (int32/int64, negatives wrap once) have x's rank, and the other axes broadcast.
Tensor take_along_axis(const Tensor& x, const Tensor& indices, int64_t axis);
// np.tile: x repeated `repeats[d]` times along each axis (the shorter of the two padded with 1s).
Tensor tile(const Tensor& x, const std::vector<int64_t>& repeats);
// np.repeat along `axis`: each element `repeats` times, or repeats[i] times for element i.
Tensor repeat(const Tensor& x, int64_t repeats, int64_t axis);
Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats, int64_t axis);
// np.split along `axis` into `sections` equal pieces, or at the given indices (views).
std::vector<Tensor> split(const Tensor& x, int64_t sections, int64_t axis = 0);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& indices, int64_t axis = 0);
// np.pad with (before, after) per axis. mode "constant" (constant_value), "edge", "reflect",
// "symmetric" or "wrap"; reflect pads at most size - 1 per side, symmetric and wrap at most size.
Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& pad_width,
           const std::string& mode = "constant", double constant_value = 0.0);
// keras.ops.slice_update: a copy of x with the block at `start` replaced by `updates` (same rank
// and dtype; the block must lie inside x).
Tensor slice_update(const Tensor& x, const std::vector<int64_t>& start, const Tensor& updates);
// np.einsum: NumPy subscripts ("ij,jk->ik", "...", implicit output, diagonals "ii->i"). The
// operands share a dtype; they are contracted pairwise from left to right.
Tensor einsum(const std::string& subscripts, const std::vector<Tensor>& operands);
// np.tensordot: sums a's axes a_axes against b's b_axes; the result has a's free axes, then b's.
Tensor tensordot(const Tensor& a, const Tensor& b, const std::vector<int64_t>& a_axes,
                 const std::vector<int64_t>& b_axes);

// ---- scans and sorting along one axis
// Running sum / product (numeric; floating values accumulate in double and each output is rounded
// once; integers wrap like NumPy's). cumprod's gradient is exact where x has zeros (first order).
Tensor cumsum(const Tensor& x, int64_t axis);
Tensor cumprod(const Tensor& x, int64_t axis);
// Stable: equal values keep their index order. Ascending puts NaN last; descending puts it first.
Tensor argsort(const Tensor& x, int64_t axis = -1, bool descending = false);
Tensor sort(const Tensor& x, int64_t axis = -1);  // ascending, NaN last
// The k largest entries along the last axis, largest first (ties by index), and their indices.
std::pair<Tensor, Tensor> top_k(const Tensor& x, int64_t k);

// ---- adjoints used by backward passes (public so that they are gradchecked like every op)
// Zeros of `input_shape` with `grad` written at the positions strided_slice(begin, step) selected.
Tensor strided_slice_grad(const Tensor& grad, const Shape& input_shape, const std::vector<int64_t>& begin,
                          const std::vector<int64_t>& step);
// Zeros of `input_shape` with `grad` scatter-added at take(x, indices, axis)'s positions.
Tensor take_grad(const Tensor& grad, const Tensor& indices, const Shape& input_shape, int64_t axis);
// Zeros of `input_shape` with `grad` scatter-added at take_along_axis(x, indices, axis)'s positions
// (grad and indices of one shape: input_shape with `axis` resized).
Tensor take_along_axis_grad(const Tensor& grad, const Tensor& indices, const Shape& input_shape, int64_t axis);

// ---- reductions (axes empty = all axes)
Tensor sum(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdims = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdims = false);
Tensor max(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdims = false);
Tensor min(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdims = false);
Tensor var(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdims = false);  // ddof 0
// sqrt(var): keras.ops.std (ddof 0).
Tensor standard_deviation(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdims = false);
Tensor argmax(const Tensor& x, int64_t axis = -1, bool keepdims = false);  // int64; first on ties
Tensor argmin(const Tensor& x, int64_t axis = -1, bool keepdims = false);  // int64; first on ties
// Any dtype (nonzero is true); bool result; an empty reduction gives false (any) / true (all).
Tensor any(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdims = false);
Tensor all(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdims = false);

// ---- convolution and pooling: channels_last (N, H, W, C); kernel (kh, kw, in, out) as in Keras.
// padding "valid" or "same" (TensorFlow's rule: total padding max((ceil(in/stride) - 1) * stride +
// k - in, 0), the odd extra row/column at the bottom/right). Dilation 1.
Tensor conv2d(const Tensor& x, const Tensor& kernel, const std::vector<int64_t>& strides = {1, 1},
              const std::string& padding = "valid");
Tensor max_pool2d(const Tensor& x, const std::vector<int64_t>& pool_size, const std::vector<int64_t>& strides,
                  const std::string& padding = "valid");
// "same" padding averages over the window's in-bounds elements only (TensorFlow's rule).
Tensor avg_pool2d(const Tensor& x, const std::vector<int64_t>& pool_size, const std::vector<int64_t>& strides,
                  const std::string& padding = "valid");

// ---- operators
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return subtract(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return multiply(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return divide(a, b); }
inline Tensor operator-(const Tensor& x) { return negative(x); }
inline Tensor operator+(const Tensor& a, double b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, double b) { return subtract(a, b); }
inline Tensor operator*(const Tensor& a, double b) { return multiply(a, b); }
inline Tensor operator/(const Tensor& a, double b) { return divide(a, b); }
inline Tensor operator+(double a, const Tensor& b) { return add(b, a); }
inline Tensor operator-(double a, const Tensor& b) { return subtract(a, b); }
inline Tensor operator*(double a, const Tensor& b) { return multiply(b, a); }
inline Tensor operator/(double a, const Tensor& b) { return divide(a, b); }

}  // namespace pitfall
