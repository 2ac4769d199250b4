// The Tensor handle. Operators, indexing, __repr__ and NumPy conversion rules are added by
// python/pitfall/_tensor.py; here are only the accessors that need C++.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstring>
#include <unordered_set>

#include "bindings.h"

namespace pitfall_python {

using pitfall::DType;
using pitfall::Tensor;

namespace {

py::tuple shape_tuple(const pitfall::Shape& shape) {
  py::tuple out(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) out[i] = py::int_(shape[i]);
  return out;
}

// Copies `numel(shape)` packed elements out of a C-contiguous buffer (the Python side has already
// made it contiguous and native-endian, and chose the dtype).
Tensor from_buffer(const py::buffer& buffer, const pitfall::Shape& shape, const std::string& dtype_name) {
  const DType dtype = pitfall::parse_dtype(dtype_name);
  const py::buffer_info info = buffer.request();
  const auto expected = static_cast<py::ssize_t>(pitfall::shape_numel(shape)) *
                        static_cast<py::ssize_t>(pitfall::dtype_size(dtype));
  if (info.size * info.itemsize != expected) {
    throw pitfall::ValueError("from_buffer: buffer of " + std::to_string(info.size * info.itemsize) +
                              " bytes for shape " + pitfall::shape_str(shape) + " of " + dtype_name + " (" +
                              std::to_string(expected) + " bytes)");
  }
  py::gil_scoped_release release;
  return Tensor::from_buffer(info.ptr, shape, dtype);
}

// A fresh NumPy array (never a view: tensors may live on a device or be strided).
py::array to_numpy(const Tensor& tensor) {
  if (tensor.dtype() == DType::bfloat16) {
    throw pitfall::DTypeError(
        "NumPy has no bfloat16 dtype; convert explicitly with t.numpy('float32') or "
        "pf.ops.cast(t, 'float32') first");
  }
  Tensor packed;
  {
    py::gil_scoped_release release;
    packed = (tensor.is_contiguous() ? tensor : tensor.clone()).to(pitfall::Device{});
  }
  const py::dtype dtype = py::dtype::from_args(py::str(std::string(pitfall::dtype_name(tensor.dtype()))));
  std::vector<py::ssize_t> shape(tensor.shape().begin(), tensor.shape().end());
  py::array out(dtype, shape);
  const size_t nbytes = static_cast<size_t>(packed.numel()) * pitfall::dtype_size(packed.dtype());
  if (nbytes) std::memcpy(out.mutable_data(), packed.data_ptr(), nbytes);
  return out;
}

// The one-element value as a Python int / bool / float, by dtype.
py::object item(const Tensor& tensor) {
  const double value = tensor.item();
  if (tensor.dtype() == DType::bool_) return py::bool_(value != 0.0);
  if (pitfall::is_integral(tensor.dtype())) return py::int_(static_cast<int64_t>(value));
  return py::float_(value);
}

// The autograd graph that produced `root`, for inspection (the doctor reads it): one tuple per
// recorded result, (id, op, layer path, shape, dtype, input ids, input shapes), each result once, root
// first. Ids are the tensors' identities (Tensor._impl_id); a leaf appears only as an input.
py::list graph_nodes(const Tensor& root) {
  py::list out;
  std::vector<Tensor> stack{root};
  std::unordered_set<const void*> seen;
  while (!stack.empty()) {
    const Tensor t = stack.back();
    stack.pop_back();
    if (!t.defined() || !t.grad_fn() || !seen.insert(t.impl()).second) continue;
    const pitfall::Node& node = *t.grad_fn();
    py::list inputs, shapes;
    for (const Tensor& input : node.inputs) {
      inputs.append(py::int_(reinterpret_cast<uintptr_t>(input.impl())));
      shapes.append(input.defined() ? py::object(shape_tuple(input.shape())) : py::object(py::none()));
      stack.push_back(input);
    }
    out.append(py::make_tuple(reinterpret_cast<uintptr_t>(t.impl()), node.op, node.layer, shape_tuple(t.shape()),
                              std::string(pitfall::dtype_name(t.dtype())), inputs, shapes));
  }
  return out;
}

}  // namespace

void bind_tensor(py::module_& m) {
  py::class_<Tensor>(m, "Tensor", "A handle to an n-dimensional array; see pitfall.tensor() to make one.")
      .def(py::init([](const Tensor& other) { return Tensor(other.impl_ptr()); }), py::arg("other"),
           "Another handle to the same tensor (same storage, same autograd identity).")
      .def_property_readonly("shape", [](const Tensor& t) { return shape_tuple(t.shape()); })
      .def_property_readonly("dtype", [](const Tensor& t) { return std::string(pitfall::dtype_name(t.dtype())); })
      .def_property_readonly("ndim", &Tensor::ndim)
      .def_property_readonly("size", &Tensor::numel)
      .def_property_readonly("device", [](const Tensor& t) { return t.device().str(); })
      .def_property_readonly("is_leaf", &Tensor::is_leaf)
      .def_property(
          "requires_grad", &Tensor::requires_grad,
          [](Tensor& t, bool requires_grad) { t.set_requires_grad(requires_grad); })
      .def_property(
          "grad", [](const Tensor& t) { return tensor_or_none(t.grad()); },
          [](const Tensor& t, const std::optional<Tensor>& grad) { t.set_grad(grad.value_or(Tensor())); },
          "The gradient accumulated by backward() (None until then).")
      .def_property(
          "name", &Tensor::name, [](Tensor& t, std::string name) { t.set_name(std::move(name)); })
      .def_property(
          "_keras_mask", [](const Tensor& t) { return tensor_or_none(t.keras_mask()); },
          [](const Tensor& t, const std::optional<Tensor>& mask) { t.set_keras_mask(mask.value_or(Tensor())); },
          "The mask a layer attached to this output (Keras's _keras_mask): bool over the leading axes, or None.")
      .def("is_contiguous", &Tensor::is_contiguous)
      .def("item", &item, "The value of a one-element tensor as a Python scalar.")
      .def(
          "backward",
          [](const Tensor& t, const std::optional<Tensor>& gradient) {
            py::gil_scoped_release release;
            t.backward(gradient.value_or(Tensor()));
          },
          py::arg("gradient") = py::none(),
          "Accumulates d(self)/d(leaf) into the .grad of every leaf that requires grad.")
      .def("detach", &Tensor::detach, "Same storage, cut from the autograd graph.")
      .def("clone", &Tensor::clone, py::call_guard<py::gil_scoped_release>(),
           "A fresh packed copy (not recorded by autograd).")
      .def("contiguous", &Tensor::contiguous, py::call_guard<py::gil_scoped_release>())
      .def(
          "to",
          [](const Tensor& t, const std::string& device) {
            const pitfall::Device target = pitfall::parse_device(device);
            py::gil_scoped_release release;
            return pitfall::to_device(t, target);
          },
          py::arg("device"),
          "The values on `device` ('cpu', 'gpu', 'cuda:0', '/GPU:0'); recorded by autograd (the gradient "
          "returns to this tensor's device).")
      .def("_assign", &Tensor::assign, py::arg("value"), py::call_guard<py::gil_scoped_release>(),
           "Overwrites the elements in place, outside autograd.")
      .def("_to_numpy", &to_numpy)
      .def("_same_as", &Tensor::same_as)
      .def("_impl_id", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.impl()); })
      .def("_graph", &graph_nodes,
           "The recorded autograd graph behind this tensor: (id, op, layer, shape, dtype, input ids,\n"
           "input shapes) per result.")
      .def("_str", &Tensor::str);

  m.def("from_buffer", &from_buffer, py::arg("buffer"), py::arg("shape"), py::arg("dtype"));
  m.def(
      "full",
      [](const pitfall::Shape& shape, double value, const std::string& dtype) {
        return Tensor::full(shape, value, pitfall::parse_dtype(dtype));
      },
      py::arg("shape"), py::arg("value"), py::arg("dtype"), py::call_guard<py::gil_scoped_release>());
  m.def("dtype_size", [](const std::string& name) { return pitfall::dtype_size(pitfall::parse_dtype(name)); });
  m.def("canonical_dtype", [](const std::string& name) {
    return std::string(pitfall::dtype_name(pitfall::parse_dtype(name)));
  }, "Validates a dtype name ('float', 'half', ...) and returns its canonical spelling.");
}

}  // namespace pitfall_python
