// Tensor: a cheap handle to shared storage + shape + strides + dtype + device (+ autograd meta).
//
// Copying a Tensor copies the handle; views (reshape of a contiguous tensor, transpose, slices,
// broadcast_to) share storage. Kernels see contiguous inputs: the dispatcher makes a packed copy of a
// strided view before calling them.
#pragma once
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "pitfall/core/device.h"
#include "pitfall/core/dtype.h"
#include "pitfall/core/error.h"
#include "pitfall/core/shape.h"

namespace pitfall {

struct Node;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  std::vector<int64_t> strides;  // in elements
  int64_t offset = 0;            // in elements, from storage->data()
  DType dtype = DType::float32;
  // Autograd. A leaf with requires_grad accumulates into `grad`; a non-leaf has `grad_fn`.
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;
  std::shared_ptr<TensorImpl> grad;
  std::string name;
  // Keras's _keras_mask (see Tensor::keras_mask); null when none.
  std::shared_ptr<TensorImpl> keras_mask;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- creation (uninitialized / filled / copied from host memory)
  static Tensor empty(const Shape& shape, DType dtype = DType::float32, Device device = {});
  static Tensor zeros(const Shape& shape, DType dtype = DType::float32, Device device = {});
  static Tensor ones(const Shape& shape, DType dtype = DType::float32, Device device = {});
  static Tensor full(const Shape& shape, double value, DType dtype = DType::float32, Device device = {});
  static Tensor scalar(double value, DType dtype = DType::float32, Device device = {});
  // Copies `numel(shape)` packed elements of `dtype` from host memory.
  static Tensor from_buffer(const void* data, const Shape& shape, DType dtype, Device device = {});
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = {}) {
    if (static_cast<int64_t>(values.size()) != shape_numel(shape)) {
      throw ShapeError("from_vector: " + std::to_string(values.size()) + " values cannot fill shape " +
                       shape_str(shape) + " (" + std::to_string(shape_numel(shape)) + " elements)");
    }
    return from_buffer(values.data(), shape, DTypeOf<T>::value, device);
  }
  template <class T>
  static Tensor from_vector(const std::vector<T>& values) {
    return from_vector(values, Shape{static_cast<int64_t>(values.size())});
  }

  // ---- metadata
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return checked()->shape; }
  int64_t ndim() const { return static_cast<int64_t>(checked()->shape.size()); }
  int64_t numel() const { return shape_numel(checked()->shape); }
  int64_t dim(int64_t axis) const;  // negative axes count from the end
  DType dtype() const { return checked()->dtype; }
  Device device() const { return checked()->storage->device(); }
  const std::vector<int64_t>& strides() const { return checked()->strides; }
  int64_t offset() const { return checked()->offset; }
  bool is_contiguous() const;
  const std::string& name() const { return checked()->name; }
  Tensor& set_name(std::string name);
  // Keras's _keras_mask: a bool tensor over this tensor's leading axes ((batch, timesteps) for a
  // sequence) that a layer attached to its output to mark the positions later layers and the losses
  // use (layers/layer.h). Ops do not carry it to their results. Undefined when there is none.
  Tensor keras_mask() const { return Tensor(checked()->keras_mask); }
  // Attaches `mask` (undefined: removes it) to this tensor's handle, seen by every copy of the handle.
  void set_keras_mask(const Tensor& mask) const { checked()->keras_mask = mask.impl_; }

  // ---- data access (host memory; CPU tensors)
  // Address of this view's first element.
  void* data_ptr() const;
  template <class T>
  T* data() const {
    check_access(DTypeOf<T>::value, sizeof(T));
    return static_cast<T*>(data_ptr());
  }
  template <class T>
  std::vector<T> to_vector() const {
    const Tensor packed = contiguous().to(Device{});
    packed.check_access(DTypeOf<T>::value, sizeof(T));
    std::vector<T> out(static_cast<size_t>(packed.numel()));
    if (!out.empty()) std::memcpy(static_cast<void*>(out.data()), packed.data_ptr(), out.size() * sizeof(T));
    return out;
  }
  // The value of a one-element tensor, converted to double.
  double item() const;
  // Element `flat_index` (row-major over the logical shape) converted to double; any dtype.
  double value_at(int64_t flat_index) const;

  // ---- copies and views
  Tensor contiguous() const;  // *this if already packed
  Tensor clone() const;       // always a fresh packed copy (not recorded by autograd)
  Tensor to(Device device) const;
  // A view with the given geometry over the same storage (no checks beyond bounds).
  Tensor as_strided(const Shape& shape, const std::vector<int64_t>& strides, int64_t offset) const;
  // Overwrites this tensor's elements with `value` (same shape and dtype), outside autograd. Used by
  // optimizers and set_weights; views see the change.
  void assign(const Tensor& value) const;

  // ---- autograd
  bool requires_grad() const { return checked()->requires_grad; }
  Tensor& set_requires_grad(bool requires_grad);
  bool is_leaf() const { return checked()->grad_fn == nullptr; }
  Tensor grad() const;
  void set_grad(const Tensor& grad) const;
  const std::shared_ptr<Node>& grad_fn() const { return checked()->grad_fn; }
  // Accumulates d(this)/d(leaf) into every leaf's grad. `gradient` defaults to ones for a scalar.
  void backward(const Tensor& gradient = Tensor()) const;
  // Same storage, cut from the graph.
  Tensor detach() const;

  // "tensor([[1, 2], [3, 4]], dtype=float32)" with long tensors summarized.
  std::string str() const;
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same_as(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  TensorImpl* checked() const;
  void check_access(DType dtype, size_t item_size) const;
  std::shared_ptr<TensorImpl> impl_;
};

}  // namespace pitfall
