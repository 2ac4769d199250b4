// pf.layers: the Layer base (subclassable from Python), the built-in layers, KerasTensor and Input.
//
// Built-in layers are constructed from their Keras arguments through their config: pitfall._arguments
// binds the call against the layer's argument table (layers/*.cpp: names, order, defaults; unknown
// keywords raise with "did you mean") and returns the config, and the C++ layer registry builds the
// layer from it. So a layer made in Python and one loaded from a file take the same path.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <unordered_map>

#include "python_layer.h"

namespace pitfall_python {

using pitfall::Json;
using pitfall::KerasTensor;
using pitfall::Layer;
using pitfall::Shape;
using pitfall::Tensor;

// ---------------------------------------------------------------- shapes and outputs

py::object shapes_to_python(const std::vector<Shape>& shapes) {
  auto one = [](const Shape& shape) {
    py::tuple out(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) out[i] = shape[i] < 0 ? py::object(py::none()) : py::int_(shape[i]);
    return out;
  };
  if (shapes.size() == 1) return one(shapes[0]);
  py::list out;
  for (const auto& s : shapes) out.append(one(s));
  return out;
}

Shape shape_from_python(const py::handle& shape, const std::string& where) {
  if (py::isinstance<py::int_>(shape)) return {shape.cast<int64_t>()};
  if (!py::isinstance<py::sequence>(shape) || py::isinstance<py::str>(shape)) {
    throw py::type_error(where + ": expected a shape tuple such as (None, 784), got " +
                         py::repr(shape).cast<std::string>());
  }
  Shape out;
  for (const auto& d : shape) {
    if (d.is_none()) {
      out.push_back(-1);
    } else if (py::isinstance<py::int_>(d) || py::hasattr(d, "__index__")) {
      out.push_back(d.attr("__index__")().cast<int64_t>());
    } else {
      throw py::type_error(where + ": shape dimensions must be ints or None, got " + py::repr(shape).cast<std::string>());
    }
  }
  return out;
}

std::vector<Shape> shapes_from_python(const py::handle& shapes, const std::string& where) {
  std::vector<Shape> out;
  for (const auto& s : shapes) out.push_back(shape_from_python(s, where));
  return out;
}

void warn_if_disconnected(pitfall::Layer& layer, const std::vector<Tensor>& inputs,
                          const std::vector<Tensor>& outputs) {
  if (!pitfall::grad_enabled()) return;
  auto tracked = [](const Tensor& t) { return t.defined() && pitfall::is_floating(t.dtype()) && t.requires_grad(); };
  auto floating = [](const Tensor& t) { return t.defined() && pitfall::is_floating(t.dtype()); };
  const auto weights = layer.trainable_weights();
  const bool upstream = std::any_of(inputs.begin(), inputs.end(), tracked) ||
                        std::any_of(weights.begin(), weights.end(), tracked);
  const bool connected = std::any_of(outputs.begin(), outputs.end(), tracked) ||
                         std::none_of(outputs.begin(), outputs.end(), floating);
  if (!upstream || connected) return;
  pitfall::warn_once("disconnected-output:" + layer.describe(),
      layer.describe() + " call() returned a tensor that is not connected to its inputs or weights: "
      "no gradient will reach the layers before it (or its own weights), so they stop training. "
      "This happens after a NumPy round trip such as pf.tensor(np.f(np.asarray(x))) or .numpy(). "
      "Compute with pf.ops inside call(); use pf.ops.stop_gradient where cutting the gradient is intended.");
}

std::vector<Tensor> call_outputs_from_python(const py::handle& result) {
  auto one = [&](const py::handle& value) {
    if (py::isinstance<Tensor>(value)) return value.cast<Tensor>();
    const std::string type = py::str(value.get_type().attr("__module__")).cast<std::string>() + "." +
                             py::str(value.get_type().attr("__name__")).cast<std::string>();
    if (type.rfind("numpy.", 0) == 0) {
      throw pitfall::DTypeError(
          "call() returned a NumPy array (" + type + "); gradients cannot flow through NumPy, "
          "so the weights before it would never train. Compute with pf.ops (pf.ops.matmul, pf.ops.relu, ...) "
          "on the input tensors instead of np.* functions or .numpy()");
    }
    throw pitfall::DTypeError("call() must return a tensor or a list of tensors, got " + type);
  };
  std::vector<Tensor> out;
  if (py::isinstance<py::list>(result) || py::isinstance<py::tuple>(result)) {
    for (const auto& item : result) out.push_back(one(item));
  } else {
    out.push_back(one(result));
  }
  return out;
}

bool names_parameter(const py::handle& function, const char* name) {
  return py::module_::import("inspect").attr("signature")(function).attr("parameters").contains(name);
}

bool accepts_training(const py::handle& function) {
  const py::object parameters = py::module_::import("inspect").attr("signature")(function).attr("parameters");
  if (parameters.contains("training")) return true;
  for (const auto& p : parameters.attr("values")()) {
    if (py::str(p.attr("kind")).cast<std::string>() == "VAR_KEYWORD") return true;
  }
  return false;
}

AutocastWeightAttributes::AutocastWeightAttributes(Layer& layer, const py::object& self) {
  const pitfall::DTypePolicy& policy = layer.dtype_policy();
  if (!self || !policy.is_mixed() || !layer.autocasts()) return;
  // The casts, made once per call, of the weights stored in another floating dtype.
  std::unordered_map<const void*, Tensor> casts;
  for (const pitfall::Weight* w : layer.weights()) {
    const Tensor& value = w->value;
    if (pitfall::is_floating(value.dtype()) && value.dtype() != policy.compute_dtype) {
      casts.emplace(value.impl(), Tensor());
    }
  }
  if (casts.empty()) return;
  const auto cast_of = [&](const py::handle& item) -> std::optional<Tensor> {
    if (!py::isinstance<Tensor>(item)) return std::nullopt;
    const Tensor& t = item.cast<const Tensor&>();
    const auto found = casts.find(t.impl());
    if (found == casts.end()) return std::nullopt;
    if (!found->second.defined()) found->second = pitfall::cast(t, policy.compute_dtype);
    return found->second;
  };
  // A value with the weights in it cast, or None when it holds none.
  const auto replaced = [&](const py::handle& value) -> py::object {
    if (auto c = cast_of(value)) return py::cast(*c);
    const bool is_list = py::isinstance<py::list>(value), is_tuple = py::isinstance<py::tuple>(value);
    if (is_list || is_tuple) {
      py::list items;
      bool any = false;
      for (const auto& item : value) {
        auto c = cast_of(item);
        any = any || c.has_value();
        items.append(c ? py::cast(*c) : py::reinterpret_borrow<py::object>(item));
      }
      if (!any) return py::none();
      return is_tuple ? py::object(py::tuple(items)) : py::object(items);
    }
    if (py::isinstance<py::dict>(value)) {
      py::dict items;
      bool any = false;
      for (const auto& [key, item] : py::reinterpret_borrow<py::dict>(value)) {
        auto c = cast_of(item);
        any = any || c.has_value();
        items[key] = c ? py::cast(*c) : py::reinterpret_borrow<py::object>(item);
      }
      return any ? py::object(items) : py::none();
    }
    return py::none();
  };
  if (!py::hasattr(self, "__dict__")) return;
  const py::dict attributes = self.attr("__dict__");
  std::vector<std::pair<py::object, py::object>> replacements;
  for (const auto& [name, value] : attributes) {
    py::object with_casts = replaced(value);
    if (!with_casts.is_none()) {
      saved_.emplace_back(py::reinterpret_borrow<py::object>(name), py::reinterpret_borrow<py::object>(value));
      replacements.emplace_back(py::reinterpret_borrow<py::object>(name), std::move(with_casts));
    }
  }
  for (auto& [name, value] : replacements) attributes[name] = value;
  self_ = self;
}

AutocastWeightAttributes::~AutocastWeightAttributes() {
  if (!self_) return;
  const py::dict attributes = self_.attr("__dict__");
  for (auto& [name, original] : saved_) attributes[name] = original;
}

namespace {

// ---------------------------------------------------------------- base-layer keyword arguments

const std::vector<std::string> kBaseKeywords = {"name", "trainable", "dtype", "input_shape", "input_dim",
                                                "batch_input_shape"};

pitfall::LayerOptions base_options(const std::string& class_name, const py::kwargs& kwargs,
                                   const std::vector<std::string>& extra_allowed = {}) {
  pitfall::LayerOptions options;
  for (const auto& [key, value] : kwargs) {
    const std::string k = py::str(key).cast<std::string>();
    if (std::find(extra_allowed.begin(), extra_allowed.end(), k) != extra_allowed.end()) continue;
    if (std::find(kBaseKeywords.begin(), kBaseKeywords.end(), k) == kBaseKeywords.end()) {
      std::vector<std::string> accepted = kBaseKeywords;
      accepted.insert(accepted.end(), extra_allowed.begin(), extra_allowed.end());
      throw py::type_error(class_name + ".__init__() got an unexpected keyword argument '" + k + "'; " +
                           pitfall::did_you_mean(k, accepted));
    }
    if (value.is_none()) continue;
    const std::string where = class_name + "(" + k + "=...)";
    if (k == "name") options.name = value.cast<std::string>();
    if (k == "trainable") options.trainable = value.cast<bool>();
    if (k == "dtype") {
      options.dtype = pitfall::dtype_policy(
          py::module_::import("pitfall.mixed_precision").attr("policy_name")(value).cast<std::string>());
    }
    if (k == "input_shape") options.input_shape = shape_from_python(value, where);
    if (k == "input_dim") options.input_shape = Shape{value.cast<int64_t>()};
    if (k == "batch_input_shape") {
      Shape shape = shape_from_python(value, where);
      options.input_shape = Shape(shape.begin() + (shape.empty() ? 0 : 1), shape.end());
    }
  }
  return options;
}

// ---------------------------------------------------------------- calling a layer from Python

std::vector<Tensor> tensors_from_python(const py::handle& value) {
  const py::object convert = py::module_::import("pitfall._convert").attr("convert_to_tensor");
  std::vector<Tensor> out;
  if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
    for (const auto& item : value) out.push_back(convert(item).cast<Tensor>());
  } else {
    out.push_back(convert(value).cast<Tensor>());
  }
  return out;
}

bool is_symbolic(const py::handle& value) {
  if (py::isinstance<KerasTensor>(value)) return true;
  if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
    for (const auto& item : value) {
      if (py::isinstance<KerasTensor>(item)) return true;
    }
  }
  return false;
}

py::object call_layer(Layer& layer, const py::object& inputs, const py::object& training) {
  const bool several = py::isinstance<py::list>(inputs) || py::isinstance<py::tuple>(inputs);
  if (is_symbolic(inputs)) {
    std::vector<KerasTensor> xs;
    if (several) {
      for (const auto& item : inputs) {
        if (!py::isinstance<KerasTensor>(item)) {
          throw py::type_error(layer.describe() + ": cannot mix symbolic tensors (pf.Input) with concrete values in one call");
        }
        xs.push_back(item.cast<KerasTensor>());
      }
    } else {
      xs.push_back(inputs.cast<KerasTensor>());
    }
    std::vector<KerasTensor> out;
    const std::optional<bool> mode = training.is_none() ? std::nullopt : std::optional<bool>(training.cast<bool>());
    {
      py::gil_scoped_release release;
      out = layer(xs, mode);
    }
    if (out.size() == 1) return py::cast(out[0]);
    return py::cast(out);
  }
  const std::vector<Tensor> xs = tensors_from_python(inputs);
  const bool is_training = !training.is_none() && training.cast<bool>();
  std::vector<Tensor> out;
  {
    py::gil_scoped_release release;
    out = layer(xs, is_training);
  }
  if (out.size() == 1) return py::cast(out[0]);
  return py::cast(out);
}

std::shared_ptr<pitfall::Initializer> initializer_from_python(const py::handle& value, const std::string& where) {
  if (value.is_none()) return pitfall::get_initializer("glorot_uniform");
  if (py::isinstance<py::str>(value)) return pitfall::get_initializer(value.cast<std::string>());
  if (py::isinstance<pitfall::Initializer>(value)) return value.cast<std::shared_ptr<pitfall::Initializer>>();
  if (PyCallable_Check(value.ptr())) {
    return py::module_::import("pitfall.initializers").attr("_from_callable")(value).cast<std::shared_ptr<pitfall::Initializer>>();
  }
  throw py::type_error(where + ": initializer must be a name, a pf.initializers object or a callable, got " +
                       py::repr(value).cast<std::string>());
}

template <class T>
using LayerClass = py::class_<T, Layer, std::shared_ptr<T>>;

// A built-in layer class: constructed from its Keras arguments through its config. Its signature and
// help text come from its argument table too (pitfall.layers installs them).
template <class T>
LayerClass<T> bind_builtin(py::module_& m, const char* class_name) {
  LayerClass<T> cls(m, class_name);
  cls.def(py::init([class_name](py::args args, py::kwargs kwargs) {
    const py::module_ arguments = py::module_::import("pitfall._arguments");
    const py::tuple bound =
        arguments.attr("bind")(arguments.attr("table")("layers", class_name), args, kwargs);
    Json entry = Json::object();
    entry["class_name"] = class_name;
    entry["config"] = to_json(bound[0], class_name);
    const py::dict objects = bound[1].cast<py::dict>();
    if (!objects.empty()) {
      // A layer argument given as a layer (Bidirectional, TimeDistributed): passed as the object.
      std::map<std::string, std::shared_ptr<void>> held;
      for (const std::pair<py::handle, py::handle> item : objects) {
        const std::string name = py::cast<std::string>(item.first);
        if (!py::isinstance<Layer>(item.second)) {
          throw py::type_error(std::string(class_name) + "(): argument '" + name + "' must be a layer, got " +
                               py::cast<std::string>(py::repr(item.second)));
        }
        held[name] = py::cast<std::shared_ptr<Layer>>(item.second);
      }
      const pitfall::ArgumentTable* table = pitfall::find_argument_table("layers", class_name);
      return std::make_shared<T>(pitfall::parse_arguments(*table, entry["config"], held),
                                 pitfall::layer_options_from_config(entry["config"]));
    }
    auto layer = std::dynamic_pointer_cast<T>(pitfall::layer_from_config(entry));
    if (!layer) throw pitfall::RuntimeError(std::string(class_name) + ": the registry built another class");
    return layer;
  }));
  return cls;
}

}  // namespace

void bind_layers(py::module_& m) {
  // ---- KerasTensor and Input
  py::class_<KerasTensor>(m, "KerasTensor", "A symbolic tensor of the functional API (what pf.Input returns).")
      .def_property_readonly("shape", [](const KerasTensor& t) { return shapes_to_python({t.shape}); })
      .def_property_readonly("dtype", [](const KerasTensor& t) { return std::string(pitfall::dtype_name(t.dtype)); })
      .def_property_readonly("ndim", [](const KerasTensor& t) { return t.shape.size(); })
      .def_property_readonly("name", [](const KerasTensor& t) { return t.node ? t.node->layer->name() : std::string(); })
      .def_property_readonly(
          "_keras_mask",
          [](const KerasTensor& t) -> std::optional<KerasTensor> {
            if (!t.mask_shape) return std::nullopt;
            return KerasTensor{*t.mask_shape, pitfall::DType::bool_, nullptr, 0, {}};
          },
          "The symbolic mask a layer attaches to this output (bool, over its leading axes), or None.")
      .def("__repr__", &KerasTensor::str);

  m.def(
      "Input",
      [](const py::object& shape, const py::object& dtype, const std::string& name) {
        const std::string dtype_name =
            dtype.is_none() ? std::string(pitfall::dtype_name(pitfall::floatx()))
                            : py::module_::import("pitfall._convert").attr("standardize_dtype")(dtype).cast<std::string>();
        return pitfall::Input(shape_from_python(shape, "Input(shape=...)"), pitfall::parse_dtype(dtype_name), name);
      },
      py::arg("shape"), py::arg("dtype") = py::none(), py::arg("name") = "");

  // ---- Layer
  py::class_<Layer, PythonLayer, std::shared_ptr<Layer>> layer(m, "Layer", py::dynamic_attr());
  layer
      .def("__init__",
           [](py::detail::value_and_holder& v_h, py::args args, py::kwargs kwargs) {
             const std::string class_name = python_class_name(v_h);
             if (!args.empty()) {
               throw py::type_error(class_name + ".__init__(): the Layer base takes keyword arguments only (name=, "
                                    "trainable=, dtype=, input_shape=), got positional arguments");
             }
             auto layer = std::make_shared<PythonLayer>(class_name, base_options(class_name, kwargs));
             layer->self = python_instance(v_h);
             py::detail::initimpl::construct<py::class_<Layer, PythonLayer, std::shared_ptr<Layer>>>(
                 v_h, std::shared_ptr<Layer>(layer), true);
           },
           py::detail::is_new_style_constructor())
      .def_property_readonly("name", &Layer::name)
      .def_property_readonly("class_name", &Layer::class_name)
      .def_property(
          "supports_masking", &Layer::supports_masking,
          [](Layer& l, bool value) {
            if (auto* python = dynamic_cast<PythonLayer*>(&l)) return python->set_supports_masking(value);
            if (auto* model = dynamic_cast<PythonModel*>(&l)) return model->set_supports_masking(value);
            throw py::attribute_error(l.describe() + ": supports_masking of a built-in layer is fixed by its class");
          },
          "Whether the layer passes its input's mask on (Keras's supports_masking); a subclass may set it.")
      .def(
          "compute_mask",
          [](Layer& l, const py::object& inputs, const py::object& mask) {
            const std::vector<Tensor> xs = tensors_from_python(inputs);
            std::vector<Tensor> masks;
            if (mask.is_none()) {
              masks.resize(xs.size());
            } else if (py::isinstance<py::list>(mask) || py::isinstance<py::tuple>(mask)) {
              for (const py::handle m : mask) masks.push_back(m.is_none() ? Tensor() : m.cast<Tensor>());
            } else {
              masks.push_back(mask.cast<Tensor>());
            }
            const std::vector<Tensor> out = l.compute_mask(xs, masks);
            if (out.size() <= 1) return out.empty() ? py::object(py::none()) : tensor_or_none(out[0]);
            py::list result;
            for (const auto& m : out) result.append(tensor_or_none(m));
            return py::object(result);
          },
          py::arg("inputs"), py::arg("previous_mask") = py::none(),
          "The outputs' masks for these inputs and their masks (Keras's compute_mask).")
      .def_property("trainable", &Layer::trainable, &Layer::set_trainable)
      .def_property_readonly("built", &Layer::built)
      .def_property_readonly("dtype", [](const Layer& l) { return std::string(pitfall::dtype_name(l.dtype())); })
      .def_property_readonly("variable_dtype", [](const Layer& l) { return std::string(pitfall::dtype_name(l.dtype())); })
      .def_property_readonly("compute_dtype",
                             [](const Layer& l) { return std::string(pitfall::dtype_name(l.compute_dtype())); })
      .def_property_readonly("dtype_policy", [](const Layer& l) {
        return py::module_::import("pitfall.mixed_precision").attr("DTypePolicy")(l.dtype_policy().name);
      })
      .def_property_readonly("weights", [](Layer& l) {
        std::vector<Tensor> out;
        for (auto* w : l.weights()) out.push_back(w->value);
        return out;
      })
      .def_property_readonly("trainable_weights", &Layer::trainable_weights)
      .def_property_readonly("non_trainable_weights", &Layer::non_trainable_weights)
      .def_property_readonly("trainable_variables", &Layer::trainable_weights)
      .def_property_readonly("losses", &Layer::losses)
      .def("_weight_paths", [](Layer& l) {
        std::vector<std::string> out;
        for (auto* w : l.weights()) out.push_back(w->path);
        return out;
      })
      .def("_weight_names", [](Layer& l) {
        std::vector<std::string> out;
        for (auto* w : l.weights()) out.push_back(w->name);
        return out;
      })
      .def("count_params", &Layer::count_params)
      .def("_inbound_node_count", [](const Layer& l) { return l.inbound_nodes().size(); })
      .def("_inbound_node", [](const Layer& l, size_t index) {
        // (input KerasTensors, output KerasTensors) of the layer's index-th live symbolic call.
        const auto nodes = l.inbound_nodes();
        const auto& node = nodes.at(index);
        std::vector<KerasTensor> outputs;
        for (size_t i = 0; i < node->output_shapes.size(); ++i) {
          outputs.push_back(KerasTensor{node->output_shapes[i], node->output_dtypes[i], node, static_cast<int>(i)});
        }
        return py::make_tuple(node->inputs, outputs);
      })
      .def(
          "__call__",
          [](Layer& l, const py::object& inputs, const py::object& training) { return call_layer(l, inputs, training); },
          py::arg("inputs"), py::arg("training") = py::none())
      .def("build", [](Layer& l, const py::object& input_shape) {
        // Explicit build (model.build((None, 784)) / super().build(input_shape)): shapes only.
        auto* python = dynamic_cast<PythonLayer*>(&l);
        if (python) return;  // the Python subclass's own build() already ran
        l.ensure_built(py::isinstance<py::list>(input_shape) ? shapes_from_python(input_shape, l.describe() + ".build")
                                                             : std::vector<Shape>{shape_from_python(input_shape, l.describe() + ".build")});
      }, py::arg("input_shape"))
      .def("call", [](Layer& l, const py::object& inputs, bool training) {
        if (dynamic_cast<PythonLayer*>(&l)) {
          throw py::type_error(l.describe() + " defines no call(self, inputs); a layer subclass must implement call()");
        }
        std::vector<Tensor> out;
        const std::vector<Tensor> xs = tensors_from_python(inputs);
        {
          py::gil_scoped_release release;
          out = l.call(xs, training);
        }
        return out.size() == 1 ? py::cast(out[0]) : py::cast(out);
      }, py::arg("inputs"), py::arg("training") = false)
      .def("compute_output_shape", [](Layer& l, const py::object& input_shape) {
        const bool several = py::isinstance<py::list>(input_shape) && py::len(input_shape) > 0 &&
                             !py::isinstance<py::int_>(input_shape[py::int_(0)]) && !input_shape[py::int_(0)].is_none();
        const std::vector<Shape> shapes = several ? shapes_from_python(input_shape, l.describe())
                                                  : std::vector<Shape>{shape_from_python(input_shape, l.describe())};
        // A Python subclass reaching this base method has no compute_output_shape of its own.
        return shapes_to_python(dynamic_cast<PythonLayer*>(&l) ? l.Layer::compute_output_shape(shapes)
                                                               : l.compute_output_shape(shapes));
      }, py::arg("input_shape"))
      .def("get_config", [](const Layer& l) {
        // super().get_config() from a Python subclass gets the base config, not its own override.
        if (dynamic_cast<const PythonLayer*>(&l)) return to_python(l.Layer::get_config());
        if (auto* model = dynamic_cast<const PythonModel*>(&l)) return to_python(model->pitfall::Model::get_config());
        return to_python(l.get_config());
      })
      .def(
          "add_weight",
          [](Layer& l, const py::object& shape, const py::object& initializer, const py::object& dtype, bool trainable,
             const py::object& regularizer, const py::object& name) {
            const std::string where = l.describe() + ".add_weight";
            std::optional<pitfall::DType> weight_dtype;
            if (!dtype.is_none()) {
              weight_dtype = pitfall::parse_dtype(
                  py::module_::import("pitfall._convert").attr("standardize_dtype")(dtype).cast<std::string>());
            }
            std::shared_ptr<pitfall::Regularizer> reg;
            if (!regularizer.is_none()) {
              reg = py::module_::import("pitfall.regularizers").attr("get")(regularizer).cast<std::shared_ptr<pitfall::Regularizer>>();
            }
            const Shape weight_shape = shape.is_none() ? Shape{} : shape_from_python(shape, where);
            const auto init = initializer_from_python(initializer, where);
            const std::string weight_name = name.is_none() ? "variable" : name.cast<std::string>();
            py::gil_scoped_release release;
            return l.add_weight(weight_name, weight_shape, init, trainable, reg, weight_dtype);
          },
          py::arg("shape") = py::none(), py::arg("initializer") = py::none(), py::arg("dtype") = py::none(),
          py::arg("trainable") = true, py::arg("regularizer") = py::none(), py::arg("name") = py::none())
      .def("add_loss", &Layer::add_loss, py::arg("loss"))
      .def("_track", &Layer::track)
      .def_property_readonly("_tracked_layers", &Layer::tracked_layers)
      .def("_set_seed", &Layer::set_seed)
      .def("__repr__", [](const py::object& self) {
        if (!cpp_object_constructed(self)) return not_constructed_repr(self);
        const Layer& l = self.cast<const Layer&>();
        return "<" + l.class_name() + " name=" + l.name() + ", built=" + (l.built() ? "True" : "False") + ">";
      });

  // ---- built-in layers
  bind_builtin<pitfall::InputLayer>(m, "InputLayer")
      // The symbolic tensor the layer produces (what pf.Input returns; Keras's InputLayer.output).
      .def("_keras_tensor", &pitfall::InputLayer::output);
  bind_builtin<pitfall::Dense>(m, "Dense");
  bind_builtin<pitfall::Activation>(m, "Activation");
  bind_builtin<pitfall::Dropout>(m, "Dropout");
  bind_builtin<pitfall::Flatten>(m, "Flatten");
  bind_builtin<pitfall::Reshape>(m, "Reshape");
  bind_builtin<pitfall::Add>(m, "Add");
  bind_builtin<pitfall::Subtract>(m, "Subtract");
  bind_builtin<pitfall::Multiply>(m, "Multiply");
  bind_builtin<pitfall::Average>(m, "Average");
  bind_builtin<pitfall::Maximum>(m, "Maximum");
  bind_builtin<pitfall::Minimum>(m, "Minimum");
  bind_builtin<pitfall::Dot>(m, "Dot");
  bind_builtin<pitfall::Concatenate>(m, "Concatenate");
  bind_builtin<pitfall::Embedding>(m, "Embedding");
  bind_builtin<pitfall::BatchNormalization>(m, "BatchNormalization");
  bind_builtin<pitfall::LayerNormalization>(m, "LayerNormalization");
  bind_builtin<pitfall::Conv2D>(m, "Conv2D");
  bind_builtin<pitfall::MaxPooling2D>(m, "MaxPooling2D");
  bind_builtin<pitfall::AveragePooling2D>(m, "AveragePooling2D");
  bind_builtin<pitfall::GlobalAveragePooling2D>(m, "GlobalAveragePooling2D");
  bind_builtin<pitfall::SimpleRNN>(m, "SimpleRNN");
  bind_builtin<pitfall::LSTM>(m, "LSTM");
  bind_builtin<pitfall::LeakyReLU>(m, "LeakyReLU");
  bind_builtin<pitfall::PReLU>(m, "PReLU");
  bind_builtin<pitfall::ReLU>(m, "ReLU");
  bind_builtin<pitfall::Softmax>(m, "Softmax");
  bind_builtin<pitfall::ELU>(m, "ELU");
  bind_builtin<pitfall::UpSampling1D>(m, "UpSampling1D");
  bind_builtin<pitfall::UpSampling2D>(m, "UpSampling2D");
  bind_builtin<pitfall::ZeroPadding1D>(m, "ZeroPadding1D");
  bind_builtin<pitfall::ZeroPadding2D>(m, "ZeroPadding2D");
  bind_builtin<pitfall::Cropping1D>(m, "Cropping1D");
  bind_builtin<pitfall::Cropping2D>(m, "Cropping2D");
  bind_builtin<pitfall::Permute>(m, "Permute");
  bind_builtin<pitfall::RepeatVector>(m, "RepeatVector");
  bind_builtin<pitfall::SpatialDropout1D>(m, "SpatialDropout1D");
  bind_builtin<pitfall::SpatialDropout2D>(m, "SpatialDropout2D");
  bind_builtin<pitfall::GaussianNoise>(m, "GaussianNoise");
  bind_builtin<pitfall::GaussianDropout>(m, "GaussianDropout");
  bind_builtin<pitfall::ActivityRegularization>(m, "ActivityRegularization");
  bind_builtin<pitfall::UnitNormalization>(m, "UnitNormalization");
  bind_builtin<pitfall::Rescaling>(m, "Rescaling");
  bind_builtin<pitfall::CategoryEncoding>(m, "CategoryEncoding");
  bind_builtin<pitfall::Normalization>(m, "Normalization")
      .def("_begin_adapt", [](pitfall::Normalization& l, const py::object& shape) {
        l.begin_adapt(shape_from_python(shape, l.describe() + ".adapt"));
      })
      .def("_adapt_batch", &pitfall::Normalization::adapt_batch, py::arg("batch"), py::call_guard<py::gil_scoped_release>())
      .def("_finish_adapt", &pitfall::Normalization::finish_adapt);
  bind_builtin<pitfall::GRU>(m, "GRU");
  bind_builtin<pitfall::Conv1D>(m, "Conv1D");
  bind_builtin<pitfall::Conv2DTranspose>(m, "Conv2DTranspose");
  bind_builtin<pitfall::DepthwiseConv2D>(m, "DepthwiseConv2D");
  bind_builtin<pitfall::SeparableConv2D>(m, "SeparableConv2D");
  bind_builtin<pitfall::MaxPooling1D>(m, "MaxPooling1D");
  bind_builtin<pitfall::AveragePooling1D>(m, "AveragePooling1D");
  bind_builtin<pitfall::GlobalMaxPooling1D>(m, "GlobalMaxPooling1D");
  bind_builtin<pitfall::GlobalAveragePooling1D>(m, "GlobalAveragePooling1D");
  bind_builtin<pitfall::GlobalMaxPooling2D>(m, "GlobalMaxPooling2D");
  bind_builtin<pitfall::Masking>(m, "Masking");
  bind_builtin<pitfall::Bidirectional>(m, "Bidirectional")
      .def_property_readonly("forward_layer", [](const pitfall::Bidirectional& l) { return std::shared_ptr<Layer>(l.forward_layer()); })
      .def_property_readonly("backward_layer", [](const pitfall::Bidirectional& l) { return std::shared_ptr<Layer>(l.backward_layer()); });
  bind_builtin<pitfall::TimeDistributed>(m, "TimeDistributed")
      .def_property_readonly("layer", &pitfall::TimeDistributed::layer);

  m.def("layer_from_config", [](const py::object& entry) { return pitfall::layer_from_config(to_json(entry, "from_config")); });
  m.def("registered_layer_classes", &pitfall::registered_layer_classes);
  m.def("clear_session", &pitfall::clear_session);
  m.def("did_you_mean", &pitfall::did_you_mean);
  m.def("activation_names", &pitfall::activation_names);
  // A Python function as a named activation, called with the GIL held.
  m.def(
      "register_activation",
      [](const std::string& name, const py::function& fn) {
        auto held = keep_python(fn);
        pitfall::register_activation(name, [held](const Tensor& x) -> Tensor {
          py::gil_scoped_acquire gil;
          return translate_python_errors([&] {
            return py::module_::import("pitfall").attr("convert_to_tensor")(py::handle(held.get())(x)).cast<Tensor>();
          });
        });
      },
      py::arg("name"), py::arg("fn"));
}

}  // namespace pitfall_python
