// Every op of core/ops.h on Tensor arguments, with the engine's own argument conventions. Keras
// names, defaults, axis=None and Python-scalar handling are applied by python/pitfall/ops.py.
#include <pybind11/stl.h>

#include "bindings.h"

namespace pitfall_python {

using pitfall::Tensor;
using Axes = std::vector<int64_t>;
using Release = py::call_guard<py::gil_scoped_release>;

namespace {

template <Tensor (*Op)(const Tensor&, const Tensor&)>
void def_binary(py::module_& ops, const char* name) {
  ops.def(name, [](const Tensor& a, const Tensor& b) { return Op(a, b); }, py::arg("x1"), py::arg("x2"), Release());
}

template <Tensor (*Op)(const Tensor&)>
void def_unary(py::module_& ops, const char* name) {
  ops.def(name, [](const Tensor& x) { return Op(x); }, py::arg("x"), Release());
}

template <Tensor (*Op)(const Tensor&, const Axes&, bool)>
void def_reduction(py::module_& ops, const char* name) {
  ops.def(name, [](const Tensor& x, const Axes& axes, bool keepdims) { return Op(x, axes, keepdims); },
          py::arg("x"), py::arg("axes"), py::arg("keepdims"), Release());
}

}  // namespace

void bind_ops(py::module_& m) {
  py::module_ ops = m.def_submodule("ops", "Raw engine ops on Tensors (see pitfall.ops for the Keras API)");

  def_binary<pitfall::add>(ops, "add");
  def_binary<pitfall::subtract>(ops, "subtract");
  def_binary<pitfall::multiply>(ops, "multiply");
  def_binary<pitfall::divide>(ops, "divide");
  def_binary<pitfall::power>(ops, "power");
  def_binary<pitfall::maximum>(ops, "maximum");
  def_binary<pitfall::minimum>(ops, "minimum");
  def_binary<pitfall::equal>(ops, "equal");
  def_binary<pitfall::not_equal>(ops, "not_equal");
  def_binary<pitfall::less>(ops, "less");
  def_binary<pitfall::less_equal>(ops, "less_equal");
  def_binary<pitfall::greater>(ops, "greater");
  def_binary<pitfall::greater_equal>(ops, "greater_equal");
  def_binary<pitfall::matmul>(ops, "matmul");
  def_binary<pitfall::logical_and>(ops, "logical_and");
  def_binary<pitfall::logical_or>(ops, "logical_or");
  def_binary<pitfall::divide_no_nan>(ops, "divide_no_nan");
  ops.def("scalar_like",
          [](double value, const Tensor& like, const std::string& op) {
            return pitfall::scalar_like(value, like, op.c_str());
          },
          py::arg("value"), py::arg("like"), py::arg("op"), Release());
  ops.def("where", &pitfall::where, py::arg("condition"), py::arg("x1"), py::arg("x2"), Release());

  def_unary<pitfall::negative>(ops, "negative");
  def_unary<pitfall::exp>(ops, "exp");
  def_unary<pitfall::log>(ops, "log");
  def_unary<pitfall::sqrt>(ops, "sqrt");
  def_unary<pitfall::square>(ops, "square");
  def_unary<pitfall::abs>(ops, "abs");
  def_unary<pitfall::tanh>(ops, "tanh");
  def_unary<pitfall::sigmoid>(ops, "sigmoid");
  def_unary<pitfall::relu>(ops, "relu");
  def_unary<pitfall::sin>(ops, "sin");
  def_unary<pitfall::cos>(ops, "cos");
  def_unary<pitfall::floor>(ops, "floor");
  def_unary<pitfall::ceil>(ops, "ceil");
  def_unary<pitfall::sign>(ops, "sign");
  def_unary<pitfall::logical_not>(ops, "logical_not");
  def_unary<pitfall::silu>(ops, "silu");
  ops.def("round", &pitfall::round, py::arg("x"), py::arg("decimals"), Release());
  ops.def("leaky_relu", &pitfall::leaky_relu, py::arg("x"), py::arg("negative_slope"), Release());
  ops.def("elu", &pitfall::elu, py::arg("x"), py::arg("alpha"), Release());
  ops.def("gelu", &pitfall::gelu, py::arg("x"), py::arg("approximate"), Release());
  ops.def("clip", &pitfall::clip, py::arg("x"), py::arg("x_min"), py::arg("x_max"), Release());
  ops.def("cast",
          [](const Tensor& x, const std::string& dtype) { return pitfall::cast(x, pitfall::parse_dtype(dtype)); },
          py::arg("x"), py::arg("dtype"), Release());
  ops.def("softmax", &pitfall::softmax, py::arg("x"), py::arg("axis"), Release());
  ops.def("log_softmax", &pitfall::log_softmax, py::arg("x"), py::arg("axis"), Release());
  ops.def("sparse_softmax_cross_entropy", &pitfall::sparse_softmax_cross_entropy, py::arg("logits"),
          py::arg("labels"), Release());

  ops.def("reshape", &pitfall::reshape, py::arg("x"), py::arg("shape"), Release());
  ops.def("transpose", &pitfall::transpose, py::arg("x"), py::arg("axes"), Release());
  ops.def("expand_dims", &pitfall::expand_dims, py::arg("x"), py::arg("axis"), Release());
  ops.def("squeeze", &pitfall::squeeze, py::arg("x"), py::arg("axes"), Release());
  ops.def("broadcast_to", &pitfall::broadcast_to, py::arg("x"), py::arg("shape"), Release());
  ops.def("concatenate", &pitfall::concatenate, py::arg("xs"), py::arg("axis"), Release());
  ops.def("stack", &pitfall::stack, py::arg("xs"), py::arg("axis"), Release());
  ops.def("strided_slice", &pitfall::strided_slice, py::arg("x"), py::arg("begin"), py::arg("end"),
          py::arg("step"), Release());
  ops.def("slice", &pitfall::slice, py::arg("x"), py::arg("start"), py::arg("size"), Release());
  ops.def("take", &pitfall::take, py::arg("x"), py::arg("indices"), py::arg("axis"), Release());
  ops.def("one_hot",
          [](const Tensor& x, int64_t depth, const std::string& dtype, int64_t axis) {
            return pitfall::one_hot(x, depth, pitfall::parse_dtype(dtype), axis);
          },
          py::arg("x"), py::arg("depth"), py::arg("dtype"), py::arg("axis"), Release());
  ops.def("take_along_axis", &pitfall::take_along_axis, py::arg("x"), py::arg("indices"), py::arg("axis"), Release());
  ops.def("tile", &pitfall::tile, py::arg("x"), py::arg("repeats"), Release());
  ops.def("repeat", py::overload_cast<const Tensor&, const Axes&, int64_t>(&pitfall::repeat), py::arg("x"),
          py::arg("repeats"), py::arg("axis"), Release());
  ops.def("split", py::overload_cast<const Tensor&, int64_t, int64_t>(&pitfall::split), py::arg("x"),
          py::arg("sections"), py::arg("axis"), Release());
  ops.def("split", py::overload_cast<const Tensor&, const Axes&, int64_t>(&pitfall::split), py::arg("x"),
          py::arg("indices"), py::arg("axis"), Release());
  ops.def("pad", &pitfall::pad, py::arg("x"), py::arg("pad_width"), py::arg("mode"), py::arg("constant_value"),
          Release());
  ops.def("slice_update", &pitfall::slice_update, py::arg("x"), py::arg("start"), py::arg("updates"), Release());
  ops.def("einsum", &pitfall::einsum, py::arg("subscripts"), py::arg("operands"), Release());
  ops.def("tensordot", &pitfall::tensordot, py::arg("x1"), py::arg("x2"), py::arg("axes1"), py::arg("axes2"),
          Release());
  ops.def("cumsum", &pitfall::cumsum, py::arg("x"), py::arg("axis"), Release());
  ops.def("cumprod", &pitfall::cumprod, py::arg("x"), py::arg("axis"), Release());
  ops.def("argsort", &pitfall::argsort, py::arg("x"), py::arg("axis"), py::arg("descending"), Release());
  ops.def("sort", &pitfall::sort, py::arg("x"), py::arg("axis"), Release());
  ops.def("top_k", &pitfall::top_k, py::arg("x"), py::arg("k"), Release());
  ops.def("binary_crossentropy", &pitfall::binary_crossentropy, py::arg("target"), py::arg("output"),
          py::arg("from_logits"), Release());
  ops.def("categorical_crossentropy", &pitfall::categorical_crossentropy, py::arg("target"), py::arg("output"),
          py::arg("from_logits"), py::arg("axis"), Release());
  ops.def("sparse_categorical_crossentropy", &pitfall::sparse_categorical_crossentropy, py::arg("target"),
          py::arg("output"), py::arg("from_logits"), py::arg("axis"), Release());
  ops.def("conv2d", &pitfall::conv2d, py::arg("x"), py::arg("kernel"), py::arg("strides"), py::arg("padding"),
          Release());
  ops.def("sum_to_shape", &pitfall::sum_to_shape, py::arg("x"), py::arg("shape"), Release());

  def_reduction<pitfall::sum>(ops, "sum");
  def_reduction<pitfall::mean>(ops, "mean");
  def_reduction<pitfall::max>(ops, "max");
  def_reduction<pitfall::min>(ops, "min");
  def_reduction<pitfall::var>(ops, "var");
  def_reduction<pitfall::standard_deviation>(ops, "std");
  def_reduction<pitfall::any>(ops, "any");
  def_reduction<pitfall::all>(ops, "all");
  ops.def("argmax", &pitfall::argmax, py::arg("x"), py::arg("axis"), py::arg("keepdims"), Release());
  ops.def("argmin", &pitfall::argmin, py::arg("x"), py::arg("axis"), py::arg("keepdims"), Release());
}

}  // namespace pitfall_python
