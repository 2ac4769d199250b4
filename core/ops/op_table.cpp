#include "pitfall/core/ops/op_table.h"

namespace pitfall {

void define_builtin_ops(OpRegistry& r) {
  struct Row {
    const char* name;
    bool differentiable;
    bool composite;
    const char* summary;
  };
  static const Row rows[] = {
      // internal data movement
      {"copy", false, false, "packs a strided view into a new contiguous tensor"},
      {"copy_into", false, false, "writes packed values into a strided view"},
      {"fill", false, false, "fills a tensor with one value"},
      {"contiguous", true, true, "a packed copy that keeps the gradient path"},
      // elementwise binary
      {"add", true, false, "a + b with broadcasting"},
      {"subtract", true, false, "a - b with broadcasting"},
      {"multiply", true, false, "a * b with broadcasting"},
      {"divide", true, false, "a / b with broadcasting (floating)"},
      {"power", true, false, "a ** b with broadcasting (floating)"},
      {"maximum", true, false, "elementwise maximum; ties send the gradient to a"},
      {"minimum", true, false, "elementwise minimum; ties send the gradient to a"},
      {"equal", false, false, "a == b (bool)"},
      {"not_equal", false, false, "a != b (bool)"},
      {"less", false, false, "a < b (bool)"},
      {"less_equal", false, false, "a <= b (bool)"},
      {"greater", false, false, "a > b (bool)"},
      {"greater_equal", false, false, "a >= b (bool)"},
      {"where", true, false, "condition ? a : b with broadcasting"},
      // elementwise unary
      {"negative", true, false, "-x"},
      {"exp", true, false, "e^x"},
      {"log", true, false, "natural logarithm"},
      {"sqrt", true, false, "square root"},
      {"square", true, false, "x^2"},
      {"abs", true, false, "|x|"},
      {"tanh", true, false, "hyperbolic tangent"},
      {"sigmoid", true, false, "1 / (1 + e^-x)"},
      {"relu", true, false, "max(x, 0)"},
      {"relu_grad", true, false, "g where x > 0 else 0: relu's gradient in one pass"},
      {"bias_activation", true, false, "act(x + bias) along the last axis, act relu or linear: Dense/Conv2D's epilogue"},
      {"leaky_relu", true, false, "x if x > 0 else slope * x"},
      {"elu", true, false, "x if x > 0 else alpha * (e^x - 1)"},
      {"gelu", true, false, "x * Phi(x), exact or tanh-approximated"},
      {"gelu_grad", false, false, "g * gelu'(x): the backward kernel of gelu (first order only)"},
      {"clip", true, false, "min(max(x, lo), hi)"},
      {"cast", true, false, "dtype conversion (differentiable between floating dtypes)"},
      {"sin", true, false, "sine"},
      {"cos", true, false, "cosine"},
      {"floor", false, false, "largest integer <= x"},
      {"ceil", false, false, "smallest integer >= x"},
      {"round", false, false, "round half to even at 10^-decimals"},
      {"sign", false, false, "-1, 0 or 1 by the sign of x"},
      {"logical_and", false, false, "a and b, nonzero is true (bool)"},
      {"logical_or", false, false, "a or b, nonzero is true (bool)"},
      {"logical_not", false, false, "not x, nonzero is true (bool)"},
      {"divide_no_nan", true, true, "a / b, 0 where b == 0"},
      {"softmax", true, false, "max-subtracted softmax along an axis"},
      {"log_softmax", true, false, "max-subtracted log-softmax along an axis"},
      {"sparse_softmax_cross_entropy", true, false, "-log softmax(logits)[label] per row, in one pass"},
      {"sparse_softmax_cross_entropy_grad", false, false,
       "(softmax(logits) - one_hot(label)) * g: the backward kernel of sparse_softmax_cross_entropy"},
      // keras.ops.nn composites
      {"silu", true, true, "x * sigmoid(x)"},
      {"binary_crossentropy", true, true, "elementwise binary crossentropy from probabilities or logits"},
      {"categorical_crossentropy", true, true, "crossentropy of one-hot targets along an axis"},
      {"sparse_categorical_crossentropy", true, true, "crossentropy of integer class targets along an axis"},
      // batch normalization
      {"batch_norm_moments", true, false, "per-channel [mean; biased variance] as (2, C), one pass each"},
      {"batch_norm_moments_grad", false, false,
       "g_mean / n + g_var * 2 (x - mean) / n: the backward kernel of batch_norm_moments"},
      {"batch_norm_apply", true, false, "(x - mean) * scale + offset per channel, in one pass"},
      {"batch_norm_channel_sums", false, false,
       "per-channel [sum(g); sum(g * (x - mean))] as (2, C): the backward kernel of batch_norm_apply"},
      // linear algebra
      {"matmul", true, false, "batched matrix product with broadcast batch dimensions"},
      // shape and indexing
      {"reshape", true, true, "new shape over the same elements"},
      {"transpose", true, true, "axis permutation (a view)"},
      {"expand_dims", true, true, "inserts a size-1 axis"},
      {"squeeze", true, true, "removes size-1 axes"},
      {"broadcast_to", true, true, "broadcast view with zero strides"},
      {"concatenate", true, false, "joins tensors along an axis"},
      {"stack", true, true, "joins tensors along a new axis"},
      {"strided_slice", true, true, "begin/end/step slice (a view)"},
      {"strided_slice_grad", true, false, "scatters a slice's gradient into zeros of the input shape"},
      {"slice", true, true, "keras.ops.slice(start, size)"},
      {"take", true, false, "gathers entries along an axis"},
      {"take_grad", true, false, "scatter-adds a take's gradient along the axis"},
      {"one_hot", false, false, "integer labels to one-hot rows"},
      {"sum_to_shape", true, true, "sums broadcast axes away (adjoint of broadcast_to)"},
      {"take_along_axis", true, false, "gathers along an axis with indices of x's rank"},
      {"take_along_axis_grad", true, false, "scatter-adds a take_along_axis's gradient"},
      {"tile", true, true, "repeats the whole tensor along each axis"},
      {"repeat", true, true, "repeats each element along an axis"},
      {"split", true, true, "pieces along an axis (views)"},
      {"pad", true, true, "pads with a constant, edge, reflect, symmetric or wrap values"},
      {"slice_update", true, true, "a copy with one block replaced"},
      {"einsum", true, true, "Einstein summation via diagonals, sums and batched matmul"},
      {"tensordot", true, true, "sums pairs of axes of two tensors (an einsum)"},
      // scans and sorting
      {"cumsum", true, false, "running sum along an axis"},
      {"cumprod", true, false, "running product along an axis"},
      {"cumprod_grad", false, false, "cumprod's gradient without division: the backward kernel of cumprod"},
      {"argsort", false, false, "stable sorting positions along an axis (int64)"},
      {"sort", true, true, "ascending values along an axis"},
      {"top_k", true, true, "the k largest values along the last axis and their indices"},
      // reductions
      {"sum", true, false, "sum over axes"},
      {"mean", true, true, "mean over axes"},
      {"max", true, false, "maximum over axes; ties share the gradient"},
      {"min", true, false, "minimum over axes; ties share the gradient"},
      {"var", true, true, "population variance over axes"},
      {"standard_deviation", true, true, "population standard deviation over axes"},
      {"argmax", false, false, "index of the first maximum (int64)"},
      {"argmin", false, false, "index of the first minimum (int64)"},
      {"any", false, false, "whether any element is nonzero over axes (bool)"},
      {"all", false, false, "whether every element is nonzero over axes (bool)"},
      // convolution and pooling (NHWC)
      {"conv2d", true, false, "2-D convolution, NHWC input, (kh, kw, in, out) kernel, valid/same padding"},
      {"conv2d_backprop_input", true, false, "conv2d's input gradient (transposed convolution)"},
      {"conv2d_backprop_filter", true, false, "conv2d's kernel gradient"},
      {"max_pool2d", true, false, "window maximum (gradient to the first max, NaN propagates)"},
      {"max_pool2d_grad", true, false, "max_pool2d's adjoint: each gradient added at its window's first max"},
      {"max_pool2d_argmax", false, false, "flat index of each pooling window's first maximum (int64)"},
      {"avg_pool2d", true, false, "window mean over in-bounds elements"},
      {"avg_pool2d_grad", true, false, "avg_pool2d's adjoint: spreads each gradient over its window"},
  };
  for (const auto& row : rows) r.define(OpInfo{row.name, row.differentiable, row.composite, row.summary});
}

}  // namespace pitfall
