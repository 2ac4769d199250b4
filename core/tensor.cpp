#include "pitfall/core/tensor.h"

#include <cmath>
#include <sstream>

#include "pitfall/core/autograd.h"
#include "pitfall/core/cpu/scalar.h"
#include "pitfall/core/registry.h"

namespace pitfall {
namespace {

std::shared_ptr<TensorImpl> make_impl(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) {
    if (d < 0) throw ShapeError("negative dimension in shape " + shape_str(shape));
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return impl;
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  return Tensor(make_impl(shape, dtype, device));
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Attrs attrs;
  attrs.fill_value = value;
  Tensor out = empty(shape, dtype, device);
  OpRegistry::instance().kernel("fill", device.type)({}, out, attrs);
  return out;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor Tensor::from_buffer(const void* data, const Shape& shape, DType dtype, Device device) {
  Tensor out = empty(shape, dtype, device);
  const size_t nbytes = static_cast<size_t>(out.numel()) * dtype_size(dtype);
  allocator_for(device.type)->copy(out.data_ptr(), data, nbytes, device.type != DeviceType::cpu, false);
  return out;
}

TensorImpl* Tensor::checked() const {
  if (!impl_) throw ValueError("use of an undefined (empty) Tensor handle");
  return impl_.get();
}

int64_t Tensor::dim(int64_t axis) const { return shape()[normalize_axis(axis, ndim(), "dim")]; }

bool Tensor::is_contiguous() const {
  const auto* impl = checked();
  int64_t expected = 1;
  for (size_t i = impl->shape.size(); i-- > 0;) {
    if (impl->shape[i] != 1 && impl->strides[i] != expected) return false;
    expected *= impl->shape[i];
  }
  return true;
}

Tensor& Tensor::set_name(std::string name) {
  checked()->name = std::move(name);
  return *this;
}

void* Tensor::data_ptr() const {
  const auto* impl = checked();
  return static_cast<char*>(impl->storage->data()) + impl->offset * static_cast<int64_t>(dtype_size(impl->dtype));
}

void Tensor::check_access(DType dtype, size_t item_size) const {
  const auto* impl = checked();
  if (impl->dtype != dtype || dtype_size(dtype) != item_size) {
    throw DTypeError("data access as " + std::string(dtype_name(dtype)) + " on a " +
                     std::string(dtype_name(impl->dtype)) + " tensor; cast it first");
  }
  if (!is_contiguous()) throw ValueError("data access on a strided view; call contiguous() first");
  if (device().type != DeviceType::cpu) {
    throw ValueError("host data access on a tensor on " + device().str() + "; call to(cpu) first");
  }
}

double Tensor::value_at(int64_t flat_index) const {
  const Tensor host = to(Device{});
  if (flat_index < 0 || flat_index >= host.numel()) {
    throw IndexError("value_at(" + std::to_string(flat_index) + ") on a tensor of " +
                     std::to_string(host.numel()) + " elements");
  }
  int64_t offset = host.offset(), rem = flat_index;
  for (size_t i = host.shape().size(); i-- > 0;) {
    offset += (rem % host.shape()[i]) * host.strides()[i];
    rem /= host.shape()[i];
  }
  const char* base = static_cast<const char*>(host.impl()->storage->data());
  return visit_dtype(host.dtype(), [&](auto zero) -> double {
    using T = decltype(zero);
    return static_cast<double>(reinterpret_cast<const T*>(base)[offset]);
  });
}

double Tensor::item() const {
  if (numel() != 1) {
    throw ValueError("item() needs a tensor with exactly one element, got shape " + shape_str(shape()));
  }
  return value_at(0);
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  Tensor out = empty(shape(), dtype(), device());
  OpRegistry::instance().kernel("copy", device().type)({*this}, out, Attrs());
  if (needs_record({*this})) {
    record(out, "contiguous", {*this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  }
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  OpRegistry::instance().kernel("copy", device().type)({*this}, out, Attrs());
  return out;
}

Tensor Tensor::to(Device target) const {
  if (device() == target) return *this;
  const Tensor packed = contiguous();
  Tensor out = empty(shape(), dtype(), target);
  const size_t nbytes = static_cast<size_t>(numel()) * dtype_size(dtype());
  // The non-CPU side's allocator knows how to move bytes across.
  const DeviceType other = target.type != DeviceType::cpu ? target.type : device().type;
  allocator_for(other)->copy(out.data_ptr(), packed.data_ptr(), nbytes, target.type != DeviceType::cpu,
                             device().type != DeviceType::cpu);
  return out;
}

Tensor Tensor::as_strided(const Shape& shape, const std::vector<int64_t>& strides, int64_t offset) const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = checked()->storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = dtype();
  return Tensor(impl);
}

void Tensor::assign(const Tensor& value) const {
  if (value.shape() != shape() || value.dtype() != dtype()) {
    throw ShapeError("assign: value of shape " + shape_str(value.shape()) + " and dtype " +
                     std::string(dtype_name(value.dtype())) + " into a tensor of shape " + shape_str(shape()) +
                     " and dtype " + std::string(dtype_name(dtype())) + "; reshape or cast the value first");
  }
  const Tensor source = value.to(device()).contiguous();
  if (is_contiguous()) {
    allocator_for(device().type)->copy(data_ptr(), source.data_ptr(), static_cast<size_t>(numel()) * dtype_size(dtype()),
                                       device().type != DeviceType::cpu, device().type != DeviceType::cpu);
    return;
  }
  // Write through a strided view: the "copy_into" kernel scatters packed values to strided places.
  Tensor target = *this;
  OpRegistry::instance().kernel("copy_into", device().type)({source}, target, Attrs());
}

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  auto* impl = checked();
  if (requires_grad && !is_floating(impl->dtype)) {
    throw DTypeError("only floating tensors can require gradients; this one is " +
                     std::string(dtype_name(impl->dtype)) + " (cast it to float32 first)");
  }
  if (!requires_grad && impl->grad_fn) {
    throw ValueError("requires_grad cannot be turned off on a non-leaf tensor; use detach()");
  }
  impl->requires_grad = requires_grad;
  return *this;
}

Tensor Tensor::grad() const { return Tensor(checked()->grad); }

void Tensor::set_grad(const Tensor& grad) const {
  if (grad.defined() && (grad.shape() != shape() || grad.dtype() != dtype())) {
    throw ShapeError("set_grad: gradient of shape " + shape_str(grad.shape()) + " and dtype " +
                     std::string(dtype_name(grad.dtype())) + " for a tensor of shape " + shape_str(shape()) +
                     " and dtype " + std::string(dtype_name(dtype())));
  }
  checked()->grad = grad.impl_ptr();
}

void Tensor::backward(const Tensor& gradient) const { pitfall::backward(*this, gradient); }

Tensor Tensor::detach() const {
  Tensor out = as_strided(shape(), strides(), offset());
  out.impl()->name = name();
  return out;
}

namespace {

// Nested brackets like NumPy; only the first and last `edge` entries of a long axis are shown.
void print_axis(std::ostringstream& os, const Tensor& t, size_t axis, int64_t offset, int64_t edge) {
  const int64_t n = t.shape()[axis];
  const int64_t stride = shape_numel(Shape(t.shape().begin() + static_cast<std::ptrdiff_t>(axis) + 1, t.shape().end()));
  os << "[";
  for (int64_t i = 0; i < n; ++i) {
    if (n > 2 * edge && i == edge) {
      os << ", ...";
      i = n - edge;
    }
    if (i > 0) os << ", ";
    if (axis + 1 == t.shape().size()) {
      os << t.value_at(offset + i);
    } else {
      print_axis(os, t, axis + 1, offset + i * stride, edge);
    }
  }
  os << "]";
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream os;
  os << "tensor(";
  if (ndim() == 0) {
    os << value_at(0);
  } else {
    print_axis(os, *this, 0, 0, numel() > 1000 ? 3 : 1000);
  }
  os << ", shape=" << shape_str(shape()) << ", dtype=" << dtype_name(dtype());
  if (device().type != DeviceType::cpu) os << ", device=" << device().str();
  os << ")";
  return os.str();
}

}  // namespace pitfall
