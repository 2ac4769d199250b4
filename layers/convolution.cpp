#include "pitfall/layers/convolution.h"

#include <algorithm>

#include "pitfall/core/ops.h"
#include "pitfall/layers/conv2d.h"

namespace pitfall {

int64_t dilated_size(int64_t size, int64_t rate) { return (size - 1) * rate + 1; }

Tensor dilate_kernel(const Tensor& kernel, const std::vector<int64_t>& rates) {
  Tensor out = kernel;
  for (size_t axis = 0; axis < rates.size(); ++axis) {
    const int64_t rate = rates[axis], taps = out.dim(static_cast<int64_t>(axis));
    if (rate == 1) continue;
    // (..., k, ...) -> (..., k, 1, ...) next to (..., k, rate - 1, ...) zeros -> (..., k * rate, ...),
    // then drop the zeros after the last tap.
    const int64_t a = static_cast<int64_t>(axis);
    const Tensor taps_axis = expand_dims(out, a + 1);
    Shape zeros_shape = taps_axis.shape();
    zeros_shape[a + 1] = rate - 1;
    const Tensor spread = concatenate({taps_axis, Tensor::zeros(zeros_shape, out.dtype(), out.device())}, a + 1);
    Shape flat = out.shape();
    flat[a] = taps * rate;
    std::vector<int64_t> start(out.ndim(), 0), size(out.ndim(), -1);
    size[a] = dilated_size(taps, rate);
    out = slice(reshape(spread, flat), start, size);
  }
  return out;
}

Tensor block_diagonal_kernel(const Tensor& kernel, int64_t groups) {
  if (groups == 1) return kernel;
  // kernel (S..., in_per_group, filters) viewed as (S..., 1, in_per_group, groups, filters_per_group),
  // times the identity over (input group, output group) placed at axes -5 and -2.
  const int64_t r = kernel.ndim();
  const Shape& shape = kernel.shape();
  const int64_t in_per_group = shape[r - 2], filters = shape[r - 1], per_group = filters / groups;
  Shape spatial(shape.begin(), shape.end() - 2);
  Shape grouped = spatial;
  grouped.insert(grouped.end(), {1, in_per_group, groups, per_group});
  std::vector<double> identity(static_cast<size_t>(groups * groups), 0.0);
  for (int64_t g = 0; g < groups; ++g) identity[static_cast<size_t>(g * groups + g)] = 1.0;
  Shape eye_shape(spatial.size(), 1);
  eye_shape.insert(eye_shape.end(), {groups, 1, groups, 1});
  const Tensor eye = cast(Tensor::from_vector(identity, eye_shape), kernel.dtype()).to(kernel.device());
  Shape dense = spatial;
  dense.insert(dense.end(), {groups * in_per_group, filters});
  return reshape(multiply(reshape(kernel, grouped), eye), dense);
}

Argument kernel_convention_argument() {
  return Argument("convention", ArgKind::string, "keras").one_of({"keras", "torch"}).pitfall_only().described(
      "whose default initializers: keras (glorot_uniform, zeros) or torch (kaiming_uniform(a=sqrt(5)), "
      "U(+-1/sqrt(fan_in)))");
}

Argument dilation_argument(int rank, Json default_value) {
  return window_argument("dilation_rate", rank, std::move(default_value),
                         "the spacing between the kernel's taps (a rate r spreads k taps over (k - 1) * r + 1 "
                         "positions); cannot exceed 1 together with strides");
}

ConvolutionBase::ConvolutionBase(const std::string& class_name, int rank, Arguments arguments,
                                 const LayerOptions& options)
    : Layer(class_name, options, std::move(arguments)),
      rank_(rank),
      kernel_size_(arguments_.ints("kernel_size")),
      strides_(arguments_.ints("strides")),
      dilation_rate_(arguments_.ints("dilation_rate")),
      padding_(arguments_.text("padding")),
      use_bias_(arguments_.flag("use_bias")),
      activation_name_(arguments_.text("activation")),
      activation_(get_activation(activation_name_)) {
  check_strides_and_dilation(class_name, strides_, dilation_rate_);
}

void check_strides_and_dilation(const std::string& class_name, const std::vector<int64_t>& strides,
                                const std::vector<int64_t>& dilation_rate) {
  const auto above_one = [](const std::vector<int64_t>& v) {
    return std::any_of(v.begin(), v.end(), [](int64_t x) { return x > 1; });
  };
  if (!above_one(strides) || !above_one(dilation_rate)) return;
  const auto text = [](const std::vector<int64_t>& v) { return python_repr(Json::from_vector(v)); };
  throw ValueError(class_name + ": strides > 1 is not supported together with dilation_rate > 1, got strides=" +
                   text(strides) + " and dilation_rate=" + text(dilation_rate) +
                   "; use strides=1 with the dilation, or dilation_rate=1 with the strides");
}

void ConvolutionBase::check_input(const Shape& shape) const {
  const size_t want = static_cast<size_t>(rank_) + 2;
  if (shape.size() == want && shape.back() >= 0) return;
  const std::string layout = rank_ == 1 ? "(batch, steps, channels)" : "(batch, height, width, channels)";
  const std::string example = rank_ == 1 ? "a single sequence of 100 steps with 3 features is (1, 100, 3)"
                                         : "a single grayscale image of 28x28 is (1, 28, 28, 1)";
  throw ShapeError(describe() + " needs a " + std::to_string(want) + "-D input " + layout +
                   " with a known channel count, got shape " + keras_shape_str(shape) +
                   "; pitfall uses channels_last: " + example);
}

Tensor ConvolutionBase::epilogue(const Tensor& y, const Tensor& bias) const {
  return add_bias_and_activate(y, bias.defined() ? in_compute_dtype(bias) : Tensor(), activation_, activation_name_);
}

std::vector<int64_t> ConvolutionBase::output_spatial(const Shape& input_shape) const {
  std::vector<int64_t> out;
  for (int i = 0; i < rank_; ++i) {
    out.push_back(conv_output_length(input_shape[1 + i], dilated_size(kernel_size_[i], dilation_rate_[i]), strides_[i],
                                     padding_));
  }
  return out;
}

std::vector<DType> ConvolutionBase::compute_output_dtype(const std::vector<DType>&) const {
  return {activation_output_dtype(activation_name_, compute_dtype())};
}

bool ConvolutionBase::input_shape_compatible(size_t, const Shape& built, const Shape& got) {
  return got.size() == built.size() && (got.back() < 0 || got.back() == built.back());
}

}  // namespace pitfall
