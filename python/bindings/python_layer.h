// Layers and models written in Python: the C++ side of `class MyLayer(pf.layers.Layer)`.
//
// PythonOverrides<Base> forwards the virtual methods a Python subclass defines (build, call,
// compute_output_shape, get_config) to Python, taking the GIL only around the Python code, so the
// training loop itself runs without it. Errors raised by the Python code come back as pitfall errors
// of the matching kind, so the layer wraps them with its name, class and input shapes like any other.
#pragma once
#include <pybind11/stl.h>

#include <optional>
#include <type_traits>

#include "bindings.h"

namespace pitfall_python {

// Keras input_shape conventions: (None, 784) for one input, [(None, 2), (None, 3)] for several.
py::object shapes_to_python(const std::vector<pitfall::Shape>& shapes);
pitfall::Shape shape_from_python(const py::handle& shape, const std::string& where);
std::vector<pitfall::Shape> shapes_from_python(const py::handle& shapes, const std::string& where);

// A Tensor (or list of them) a Python call() returned; NumPy arrays raise (the layer adds its name).
std::vector<pitfall::Tensor> call_outputs_from_python(const py::handle& result);

// Warns once per layer when gradients were being recorded for its inputs or weights but none of its
// floating outputs is connected to them (a NumPy round trip inside call() cut the graph).
void warn_if_disconnected(pitfall::Layer& layer, const std::vector<pitfall::Tensor>& inputs,
                          const std::vector<pitfall::Tensor>& outputs);

// "layer 'model/dense': add: ..." -> "add: ...": the path prefix an engine error got inside the
// layer's scope (the layer adds its full context again when the error comes back to C++). A
// prefix naming a class ("layer 'x' (Dense) ...") is an inner layer's own report and stays.
inline std::string without_layer_path_prefix(std::string message) {
  while (message.rfind("layer '", 0) == 0) {
    const size_t end = message.find("': ", 7);
    const size_t quote = message.find('\'', 7);
    if (end == std::string::npos || quote != end) break;
    message = message.substr(end + 3);
  }
  return message;
}

// Runs `fn` (which calls Python, GIL held) and converts a Python exception of a known kind into the
// pitfall error of that kind (the layer then adds its context).
template <class Fn>
auto translate_python_errors(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (py::error_already_set& e) {
    const std::string message = without_layer_path_prefix(py::str(e.value()).cast<std::string>());
    if (e.matches(PyExc_ValueError)) throw pitfall::ValueError(message);
    if (e.matches(PyExc_TypeError)) throw pitfall::DTypeError(message);
    if (e.matches(PyExc_IndexError)) throw pitfall::IndexError(message);
    if (e.matches(PyExc_FloatingPointError)) throw pitfall::NumericError(message);
    if (e.matches(PyExc_NotImplementedError)) throw pitfall::NotImplementedError(message);
    throw;
  }
}

// For custom __init__ bindings of classes Python may subclass: the Python class's name ("MyLayer")
// and a new reference to the instance being constructed.
inline py::object python_instance(const py::detail::value_and_holder& v_h) {
  return py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(v_h.inst));
}
// Whether `self`'s C++ object exists: false while (or after) a Python __init__ that failed before
// calling the base __init__. Methods that may run on such an object (__repr__, which tracebacks
// and debuggers call) check it instead of reading an object that is not there.
inline bool cpp_object_constructed(const py::handle& self) {
  auto* inst = reinterpret_cast<py::detail::instance*>(self.ptr());
  const py::detail::value_and_holder v_h = inst->get_value_and_holder(nullptr, false);
  return v_h && v_h.holder_constructed();
}
inline std::string not_constructed_repr(const py::handle& self) {
  return "<" + self.get_type().attr("__name__").cast<std::string>() +
         " (not constructed: its __init__ did not reach the base class's __init__)>";
}

inline std::string python_class_name(const py::detail::value_and_holder& v_h) {
  return python_instance(v_h).get_type().attr("__name__").cast<std::string>();
}

// Whether a Python `call` accepts a `training` keyword (Keras passes it only then).
bool accepts_training(const py::handle& function);
// Whether a Python function names a parameter `name` (Keras passes `mask` to a call that names it).
bool names_parameter(const py::handle& function, const char* name);

// Keras's variable autocasting for layers written in Python: under a mixed dtype policy, the
// layer's floating weights read inside call() are in the compute dtype (float16), while the stored
// weights, their gradients and updates stay in the variable dtype (float32). While alive, the
// instance attributes of `self` that hold one of `layer`'s weights (directly, or in a list, tuple or
// dict) hold a cast of it instead (recorded by autograd, so gradients reach the float32 weight); the
// originals are put back when it ends, also when call() raises. A no-op for a plain policy.
class AutocastWeightAttributes {
 public:
  AutocastWeightAttributes(pitfall::Layer& layer, const py::object& self);
  ~AutocastWeightAttributes();
  AutocastWeightAttributes(const AutocastWeightAttributes&) = delete;
  AutocastWeightAttributes& operator=(const AutocastWeightAttributes&) = delete;

 private:
  py::object self_;
  std::vector<std::pair<py::object, py::object>> saved_;  // attribute name, original value
};

template <class Base>
class PythonOverrides : public Base {
 public:
  using Base::Base;

  // The Python object, kept alive as long as the C++ layer: a model holding only the C++ side of a
  // Python layer must still reach its call().
  py::object self;

  // Keras passes integer inputs of a custom layer through unchanged (token ids for a lookup written in
  // Python); only floating inputs are autocast to the compute dtype.
  bool takes_float_inputs() const override { return false; }

  void build(const std::vector<pitfall::Shape>& input_shapes) override {
    {
      py::gil_scoped_acquire gil;
      if (py::function build = py::get_override(static_cast<const Base*>(this), "build")) {
        translate_python_errors([&] { build(shapes_to_python(input_shapes)); });
        return;
      }
    }
    Base::build(input_shapes);
  }

  std::vector<pitfall::Tensor> call(const std::vector<pitfall::Tensor>& inputs, bool training) override {
    return invoke_call(inputs, nullptr, training);
  }

  std::vector<pitfall::Tensor> call_masked(const std::vector<pitfall::Tensor>& inputs,
                                           const std::vector<pitfall::Tensor>& masks, bool training) override {
    return invoke_call(inputs, &masks, training);
  }

  // Keras: a subclass passes masks on when it sets self.supports_masking = True or defines
  // compute_mask (keras/src/layers/layer.py).
  bool supports_masking() const override {
    if (supports_masking_) return *supports_masking_;
    py::gil_scoped_acquire gil;
    return static_cast<bool>(py::get_override(static_cast<const Base*>(this), "compute_mask"));
  }
  void set_supports_masking(bool value) { supports_masking_ = value; }

  std::vector<pitfall::Tensor> compute_mask(const std::vector<pitfall::Tensor>& inputs,
                                            const std::vector<pitfall::Tensor>& masks) override {
    {
      py::gil_scoped_acquire gil;
      if (py::function fn = py::get_override(static_cast<const Base*>(this), "compute_mask")) {
        return translate_python_errors([&] {
          py::object result = fn(python_structure(inputs), python_masks(masks));
          if (result.is_none()) return std::vector<pitfall::Tensor>{};
          std::vector<pitfall::Tensor> out;
          const bool several = py::isinstance<py::list>(result) || py::isinstance<py::tuple>(result);
          for (const py::handle item : several ? py::list(result) : py::list(py::make_tuple(result))) {
            out.push_back(item.is_none() ? pitfall::Tensor() : item.cast<pitfall::Tensor>());
          }
          return out;
        });
      }
    }
    return Base::compute_mask(inputs, masks);
  }

  std::vector<pitfall::Shape> compute_output_shape(const std::vector<pitfall::Shape>& input_shapes) override {
    {
      py::gil_scoped_acquire gil;
      if (py::function fn = py::get_override(static_cast<const Base*>(this), "compute_output_shape")) {
        return translate_python_errors([&] {
          py::object result = fn(shapes_to_python(input_shapes));
          const bool several = py::isinstance<py::list>(result) && py::len(result) > 0 &&
                               !py::isinstance<py::int_>(result[py::int_(0)]) && !result[py::int_(0)].is_none();
          if (several) return shapes_from_python(result, this->describe() + ".compute_output_shape");
          return std::vector<pitfall::Shape>{shape_from_python(result, this->describe() + ".compute_output_shape")};
        });
      }
    }
    return Base::compute_output_shape(input_shapes);
  }

  pitfall::Json get_config() const override {
    {
      py::gil_scoped_acquire gil;
      if (py::function fn = py::get_override(static_cast<const Base*>(this), "get_config")) {
        return translate_python_errors([&] { return to_json(fn(), this->describe() + ".get_config()"); });
      }
    }
    return Base::get_config();
  }

  int num_inputs() const override {
    // A Python call() takes whatever the user passes (one tensor or a list).
    if constexpr (std::is_same_v<Base, pitfall::Layer>) {
      return -1;
    } else {
      return this->is_functional() ? Base::num_inputs() : -1;
    }
  }

 private:
  static py::object python_structure(const std::vector<pitfall::Tensor>& inputs) {
    return inputs.size() == 1 ? py::cast(inputs[0]) : py::cast(inputs);
  }
  static py::object python_masks(const std::vector<pitfall::Tensor>& masks) {
    if (masks.size() == 1) return tensor_or_none(masks[0]);
    py::list out;
    for (const auto& m : masks) out.append(tensor_or_none(m));
    return out;
  }

  // The Python call(), given `training` when it takes it and the inputs' masks when it names `mask`.
  std::vector<pitfall::Tensor> invoke_call(const std::vector<pitfall::Tensor>& inputs,
                                           const std::vector<pitfall::Tensor>* masks, bool training) {
    {
      py::gil_scoped_acquire gil;
      if (py::function call = py::get_override(static_cast<const Base*>(this), "call")) {
        return translate_python_errors([&] {
          py::object arg = python_structure(inputs);
          if (!accepts_training_) accepts_training_ = accepts_training(call);
          if (!accepts_mask_) accepts_mask_ = names_parameter(call, "mask");
          try {
            const AutocastWeightAttributes autocast(*const_cast<PythonOverrides*>(this), self);
            py::dict keywords;
            if (*accepts_training_) keywords["training"] = training;
            if (*accepts_mask_ && masks) keywords["mask"] = python_masks(*masks);
            py::object result = call(arg, **keywords);
            auto outputs = call_outputs_from_python(result);
            warn_if_disconnected(*const_cast<PythonOverrides*>(this), inputs, outputs);
            return outputs;
          } catch (py::error_already_set& e) {
            // np.sin(tensor) and friends: tensors refuse NumPy ufuncs so that gradients are never lost.
            if (e.matches(PyExc_TypeError) && py::str(e.value()).cast<std::string>().find("ufunc") != std::string::npos) {
              throw pitfall::DTypeError(
                  "call() applied a NumPy function to a tensor (" + py::str(e.value()).cast<std::string>() +
                  "); gradients cannot flow through NumPy, so the weights before it would never train. "
                  "Use pf.ops (pf.ops.matmul, pf.ops.tanh, ...) instead of np.* inside call()");
            }
            throw;
          }
        });
      }
    }
    if constexpr (std::is_abstract_v<Base>) {
      throw pitfall::NotImplementedError("the class defines no call(self, inputs); a layer subclass must "
                                         "implement call()");
    } else {
      return masks ? Base::call_masked(inputs, *masks, training) : Base::call(inputs, training);
    }
  }

  mutable std::optional<bool> accepts_training_, accepts_mask_;
  std::optional<bool> supports_masking_;
};

using PythonLayer = PythonOverrides<pitfall::Layer>;
using PythonModel = PythonOverrides<pitfall::Model>;

}  // namespace pitfall_python
