// Adjoints of conv2d and the pooling ops, used by their backward passes. Public so that each one is
// gradchecked like every op (and so that double backward through a CNN works: each is linear in its
// tensor arguments, and its own backward is built from conv2d / avg_pool2d and the others here).
//
// Layout and padding rules are those of conv2d / avg_pool2d in core/ops.h (NHWC, kernel
// (kh, kw, in, out), "valid" / "same" with TensorFlow's split).
#pragma once
#include <string>
#include <vector>

#include "pitfall/core/tensor.h"

namespace pitfall {

// d(conv2d(x, kernel))/dx contracted with `grad`: grad (N, OH, OW, out) -> (N, H, W, in) of
// `input_shape` (a transposed convolution; overlapping windows add in a fixed order).
Tensor conv2d_backprop_input(const Tensor& grad, const Tensor& kernel, const Shape& input_shape,
                             const std::vector<int64_t>& strides, const std::string& padding);
// d(conv2d(x, kernel))/dkernel contracted with `grad`: -> (kh, kw, in, out) of `kernel_shape`.
// The sum over batch and positions is cut into fixed blocks added in order (deterministic).
Tensor conv2d_backprop_filter(const Tensor& x, const Tensor& grad, const Shape& kernel_shape,
                              const std::vector<int64_t>& strides, const std::string& padding);
// The adjoint of avg_pool2d: each output gradient spread evenly over its window's in-bounds inputs.
Tensor avg_pool2d_grad(const Tensor& grad, const Shape& input_shape, const std::vector<int64_t>& pool_size,
                       const std::vector<int64_t>& strides, const std::string& padding);
// The adjoint of max_pool2d at x: zeros of x's shape with each output gradient added at its window's
// first maximum (the element max_pool2d_argmax names); overlapping windows add in output order.
// Linear in grad (its own adjoint is a gather at those maxima); x only selects positions.
Tensor max_pool2d_grad(const Tensor& grad, const Tensor& x, const std::vector<int64_t>& pool_size,
                       const std::vector<int64_t>& strides, const std::string& padding);
// For each max_pool2d output element, the flat (row-major) index into x of the FIRST maximum of its
// window (window scanned row by row; a NaN wins, so NaNs propagate). int64, shape of the output.
Tensor max_pool2d_argmax(const Tensor& x, const std::vector<int64_t>& pool_size, const std::vector<int64_t>& strides,
                         const std::string& padding);

}  // namespace pitfall
