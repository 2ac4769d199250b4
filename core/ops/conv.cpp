// Convolution and pooling front-ends: conv2d, max_pool2d, avg_pool2d and their adjoints
// (core/ops/conv_grads.h). Layout NHWC, kernel (kh, kw, in, out) as in Keras; padding "valid" or
// "same" with TensorFlow's split. Kernels read the window from Attrs::window and the rest of the
// geometry from the shapes (core/shape.h window_geometry).
#include <algorithm>
#include <cctype>

#include "pitfall/core/ops/conv_grads.h"
#include "pitfall/core/ops/op_helpers.h"

namespace pitfall {

using detail::describe;

namespace {

// A window (core/shape.h) planned for an input: the output's spatial size too.
struct PlannedWindow : Window {
  int64_t out_h = 0, out_w = 0;
  Attrs attrs() const {
    Attrs a;
    a.window = *this;
    return a;
  }
};

std::string pair_str(int64_t a, int64_t b) { return "(" + std::to_string(a) + ", " + std::to_string(b) + ")"; }

// Keras accepts "valid"/"same" in any case.
bool parse_same_padding(const char* op, const std::string& padding) {
  std::string lower = padding;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "valid") return false;
  if (lower == "same") return true;
  throw ValueError(std::string(op) + ": padding must be \"valid\" or \"same\", got \"" + padding + "\"");
}

// One value means the same for height and width (Keras accepts an int); every value must be >= 1.
std::pair<int64_t, int64_t> parse_pair(const char* op, const char* what, const std::vector<int64_t>& values) {
  if (values.size() != 1 && values.size() != 2) {
    throw ValueError(std::string(op) + ": " + what + " needs 2 values (height, width), got " +
                     std::to_string(values.size()) + " values");
  }
  const int64_t h = values[0], w = values.size() == 2 ? values[1] : values[0];
  if (h < 1 || w < 1) {
    throw ValueError(std::string(op) + ": " + what + " must be positive, got " + pair_str(h, w));
  }
  return {h, w};
}

void check_nhwc(const char* op, const char* role, const Tensor& x) {
  if (x.ndim() != 4) {
    throw ShapeError(std::string(op) + ": " + role + " must be 4-D (batch, height, width, channels), got shape " +
                     shape_str(x.shape()) + "; pitfall uses the NHWC (channels_last) layout" +
                     (x.ndim() == 3 ? ", add the batch axis with expand_dims(x, 0)" : ""));
  }
}

// Output size and padding along one axis (TensorFlow's rule). `dim` is "height" or "width".
void plan_axis(const char* op, const char* dim, int64_t in, int64_t k, int64_t s, bool same, int64_t& out,
               int64_t& pad_before, const std::string& window_desc, const Shape& input_shape) {
  if (same) {
    out = (in + s - 1) / s;
    const int64_t total = std::max<int64_t>((out - 1) * s + k - in, 0);
    pad_before = total / 2;
    if (in == 0) out = 0, pad_before = 0;
    return;
  }
  pad_before = 0;
  if (k > in) {
    throw ShapeError(std::string(op) + ": the " + window_desc + " is larger than the input " + shape_str(input_shape) +
                     " along " + dim + " (" + std::to_string(k) + " > " + std::to_string(in) +
                     ") with padding \"valid\"; use padding=\"same\", a smaller window, or a larger input");
  }
  out = (in - k) / s + 1;
}

PlannedWindow plan_window(const char* op, const Shape& input_shape, int64_t kh, int64_t kw, const std::vector<int64_t>& strides,
                   const std::string& padding, const char* window_name) {
  const bool same = parse_same_padding(op, padding);
  const auto [sh, sw] = parse_pair(op, "strides", strides);
  PlannedWindow w;
  w.kh = kh, w.kw = kw, w.sh = sh, w.sw = sw;
  const std::string desc = std::string(window_name) + " " + pair_str(kh, kw);
  plan_axis(op, "height", input_shape[1], kh, sh, same, w.out_h, w.pad_top, desc, input_shape);
  plan_axis(op, "width", input_shape[2], kw, sw, same, w.out_w, w.pad_left, desc, input_shape);
  return w;
}

void check_conv_operands(const char* op, const Tensor& x, const Tensor& kernel) {
  detail::check_floating(op, x);
  detail::check_same_dtype(op, x, kernel);
}

Shape kernel_shape_checked(const char* op, const Tensor& kernel) {
  if (kernel.ndim() != 4) {
    throw ShapeError(std::string(op) + ": the kernel must be 4-D (kernel_height, kernel_width, in_channels, "
                     "out_channels) as in Keras, got shape " + shape_str(kernel.shape()));
  }
  if (kernel.dim(0) < 1 || kernel.dim(1) < 1) {
    throw ShapeError(std::string(op) + ": the kernel's spatial size must be >= 1, got kernel shape " +
                     shape_str(kernel.shape()));
  }
  return kernel.shape();
}

void check_channels(const char* op, const Shape& input_shape, const Shape& kernel_shape) {
  if (input_shape[3] != kernel_shape[2]) {
    throw ShapeError(std::string(op) + ": the input has " + std::to_string(input_shape[3]) +
                     " channels (last axis of NHWC shape " + shape_str(input_shape) + ") but the kernel " +
                     shape_str(kernel_shape) + " expects " + std::to_string(kernel_shape[2]) +
                     " input channels (its axis 2); the kernel layout is (kernel_height, kernel_width, in_channels, "
                     "out_channels)");
  }
}

void check_shape_is(const char* op, const char* what, const Tensor& t, const Shape& expected) {
  if (t.shape() != expected) {
    throw ShapeError(std::string(op) + ": " + what + " " + describe(t) + " does not match the expected shape " +
                     shape_str(expected));
  }
}

void check_input_shape(const char* op, const Shape& input_shape) {
  if (input_shape.size() != 4) {
    throw ShapeError(std::string(op) + ": input_shape must be 4-D (batch, height, width, channels) in NHWC layout, "
                     "got " + shape_str(input_shape));
  }
}

std::pair<int64_t, int64_t> pool_pair(const char* op, const std::vector<int64_t>& pool_size) {
  return parse_pair(op, "pool_size", pool_size);
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& kernel, const std::vector<int64_t>& strides, const std::string& padding) {
  OpScope scope("conv2d");
  check_nhwc("conv2d", "the input", x);
  const Shape ks = kernel_shape_checked("conv2d", kernel);
  check_channels("conv2d", x.shape(), ks);
  check_conv_operands("conv2d", x, kernel);
  const PlannedWindow w = plan_window("conv2d", x.shape(), ks[0], ks[1], strides, padding, "kernel");
  Tensor out = dispatch("conv2d", {x, kernel}, {x.dim(0), w.out_h, w.out_w, ks[3]}, x.dtype(), w.attrs());
  if (needs_record({x, kernel})) {
    // A network's first convolution reads data that needs no gradient: skip that adjoint.
    const bool need_dx = x.requires_grad(), need_dkernel = kernel.requires_grad();
    record(out, "conv2d", {x, kernel},
           [x = x.detach(), kernel = kernel.detach(), strides, padding, need_dx, need_dkernel](const Tensor& g) {
             return std::vector<Tensor>{
                 need_dx ? conv2d_backprop_input(g, kernel, x.shape(), strides, padding) : Tensor(),
                 need_dkernel ? conv2d_backprop_filter(x, g, kernel.shape(), strides, padding) : Tensor()};
           });
  }
  return out;
}

Tensor conv2d_backprop_input(const Tensor& grad, const Tensor& kernel, const Shape& input_shape,
                             const std::vector<int64_t>& strides, const std::string& padding) {
  OpScope scope("conv2d_backprop_input");
  const char* op = "conv2d_backprop_input";
  check_input_shape(op, input_shape);
  check_nhwc(op, "the gradient", grad);
  const Shape ks = kernel_shape_checked(op, kernel);
  check_channels(op, input_shape, ks);
  check_conv_operands(op, grad, kernel);
  const PlannedWindow w = plan_window(op, input_shape, ks[0], ks[1], strides, padding, "kernel");
  check_shape_is(op, "the gradient", grad, {input_shape[0], w.out_h, w.out_w, ks[3]});
  Tensor out = dispatch(op, {grad, kernel}, input_shape, grad.dtype(), w.attrs());
  if (needs_record({grad, kernel})) {
    // Linear in both operands: <gg, dx(g, K)> = <g, conv2d(gg, K)> = <K, filter_grad(gg, g)>.
    record(out, op, {grad, kernel}, [kernel = kernel.detach(), grad = grad.detach(), strides, padding](const Tensor& gg) {
      return std::vector<Tensor>{conv2d(gg, kernel, strides, padding),
                                 conv2d_backprop_filter(gg, grad, kernel.shape(), strides, padding)};
    });
  }
  return out;
}

Tensor conv2d_backprop_filter(const Tensor& x, const Tensor& grad, const Shape& kernel_shape,
                              const std::vector<int64_t>& strides, const std::string& padding) {
  OpScope scope("conv2d_backprop_filter");
  const char* op = "conv2d_backprop_filter";
  check_nhwc(op, "the input", x);
  check_nhwc(op, "the gradient", grad);
  if (kernel_shape.size() != 4 || kernel_shape[0] < 1 || kernel_shape[1] < 1) {
    throw ShapeError(std::string(op) + ": kernel_shape must be 4-D (kernel_height, kernel_width, in_channels, "
                     "out_channels) with a positive window, got " + shape_str(kernel_shape));
  }
  check_channels(op, x.shape(), kernel_shape);
  check_conv_operands(op, x, grad);
  const PlannedWindow w = plan_window(op, x.shape(), kernel_shape[0], kernel_shape[1], strides, padding, "kernel");
  check_shape_is(op, "the gradient", grad, {x.dim(0), w.out_h, w.out_w, kernel_shape[3]});
  Tensor out = dispatch(op, {x, grad}, kernel_shape, x.dtype(), w.attrs());
  if (needs_record({x, grad})) {
    // Linear in both operands: <gg, dK(x, g)> = <g, conv2d(x, gg)> = <x, input_grad(g, gg)>.
    record(out, op, {x, grad}, [x = x.detach(), grad = grad.detach(), strides, padding](const Tensor& gg) {
      return std::vector<Tensor>{conv2d_backprop_input(grad, gg, x.shape(), strides, padding),
                                 conv2d(x, gg, strides, padding)};
    });
  }
  return out;
}

Tensor max_pool2d_argmax(const Tensor& x, const std::vector<int64_t>& pool_size, const std::vector<int64_t>& strides,
                         const std::string& padding) {
  OpScope scope("max_pool2d_argmax");
  const char* op = "max_pool2d_argmax";
  check_nhwc(op, "the input", x);
  detail::check_floating(op, x);
  const auto [ph, pw] = pool_pair(op, pool_size);
  const PlannedWindow w = plan_window(op, x.shape(), ph, pw, strides, padding, "pooling window");
  return dispatch(op, {x.detach()}, {x.dim(0), w.out_h, w.out_w, x.dim(3)}, DType::int64, w.attrs());
}

// Each window's maximum. The gradient goes to the window's first maximum (max_pool2d_grad, which
// finds it again from x), adding over overlapping windows in output order.
Tensor max_pool2d(const Tensor& x, const std::vector<int64_t>& pool_size, const std::vector<int64_t>& strides,
                  const std::string& padding) {
  OpScope scope("max_pool2d");
  check_nhwc("max_pool2d", "the input", x);
  detail::check_floating("max_pool2d", x);
  const auto [ph, pw] = pool_pair("max_pool2d", pool_size);
  const PlannedWindow w = plan_window("max_pool2d", x.shape(), ph, pw, strides, padding, "pooling window");
  Tensor out = dispatch("max_pool2d", {x}, {x.dim(0), w.out_h, w.out_w, x.dim(3)}, x.dtype(), w.attrs());
  if (needs_record({x})) {
    record(out, "max_pool2d", {x}, [x = x.detach(), pool_size, strides, padding](const Tensor& g) {
      return std::vector<Tensor>{max_pool2d_grad(g, x, pool_size, strides, padding)};
    });
  }
  return out;
}

Tensor max_pool2d_grad(const Tensor& grad, const Tensor& x, const std::vector<int64_t>& pool_size,
                       const std::vector<int64_t>& strides, const std::string& padding) {
  OpScope scope("max_pool2d_grad");
  const char* op = "max_pool2d_grad";
  check_nhwc(op, "the input", x);
  check_nhwc(op, "the gradient", grad);
  detail::check_floating(op, grad);
  detail::check_same_dtype(op, grad, x);
  const auto [ph, pw] = pool_pair(op, pool_size);
  const PlannedWindow w = plan_window(op, x.shape(), ph, pw, strides, padding, "pooling window");
  check_shape_is(op, "the gradient", grad, {x.dim(0), w.out_h, w.out_w, x.dim(3)});
  Tensor out = dispatch(op, {grad, x.detach()}, x.shape(), grad.dtype(), w.attrs());
  if (needs_record({grad, x})) {
    // Linear in grad, its adjoint is a gather at the first maxima; x only picks the positions
    // (piecewise constant: no gradient).
    record(out, op, {grad, x}, [x = x.detach(), pool_size, strides, padding](const Tensor& gg) {
      const Tensor index = max_pool2d_argmax(x, pool_size, strides, padding);
      const Tensor picked = take(reshape(gg, {gg.numel()}), reshape(index, {index.numel()}), 0);
      return std::vector<Tensor>{reshape(picked, index.shape()), Tensor()};
    });
  }
  return out;
}

Tensor avg_pool2d(const Tensor& x, const std::vector<int64_t>& pool_size, const std::vector<int64_t>& strides,
                  const std::string& padding) {
  OpScope scope("avg_pool2d");
  check_nhwc("avg_pool2d", "the input", x);
  detail::check_floating("avg_pool2d", x);
  const auto [ph, pw] = pool_pair("avg_pool2d", pool_size);
  const PlannedWindow w = plan_window("avg_pool2d", x.shape(), ph, pw, strides, padding, "pooling window");
  Tensor out = dispatch("avg_pool2d", {x}, {x.dim(0), w.out_h, w.out_w, x.dim(3)}, x.dtype(), w.attrs());
  if (needs_record({x})) {
    record(out, "avg_pool2d", {x}, [shape = x.shape(), pool_size, strides, padding](const Tensor& g) {
      return std::vector<Tensor>{avg_pool2d_grad(g, shape, pool_size, strides, padding)};
    });
  }
  return out;
}

Tensor avg_pool2d_grad(const Tensor& grad, const Shape& input_shape, const std::vector<int64_t>& pool_size,
                       const std::vector<int64_t>& strides, const std::string& padding) {
  OpScope scope("avg_pool2d_grad");
  const char* op = "avg_pool2d_grad";
  check_input_shape(op, input_shape);
  check_nhwc(op, "the gradient", grad);
  detail::check_floating(op, grad);
  const auto [ph, pw] = pool_pair(op, pool_size);
  const PlannedWindow w = plan_window(op, input_shape, ph, pw, strides, padding, "pooling window");
  check_shape_is(op, "the gradient", grad, {input_shape[0], w.out_h, w.out_w, input_shape[3]});
  Tensor out = dispatch(op, {grad}, input_shape, grad.dtype(), w.attrs());
  if (needs_record({grad})) {
    // The adjoint of the adjoint is the average itself.
    record(out, op, {grad}, [pool_size, strides, padding](const Tensor& gg) {
      return std::vector<Tensor>{avg_pool2d(gg, pool_size, strides, padding)};
    });
  }
  return out;
}

}  // namespace pitfall
