// pf.data: the C++ Dataset behind the Python class in python/pitfall/data.py.
//
// Python functions given to map / filter / from_generator run with the GIL taken only around the
// call; built-in transforms (pf.data.transforms) never take it. Iterators are created, advanced and
// destroyed with the GIL released, so background threads waiting for the GIL cannot deadlock
// against a consumer that holds it.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <pitfall/data/transforms.h>

#include "bindings.h"

namespace pitfall_python {

namespace data = pitfall::data;
using pitfall::Tensor;

namespace {

pitfall::ErrorKind kind_for(const py::error_already_set& e) {
  if (e.matches(PyExc_TypeError)) return pitfall::ErrorKind::dtype;
  if (e.matches(PyExc_IndexError)) return pitfall::ErrorKind::index;
  if (e.matches(PyExc_ValueError)) return pitfall::ErrorKind::value;
  if (e.matches(PyExc_FloatingPointError)) return pitfall::ErrorKind::numeric;
  if (e.matches(PyExc_NotImplementedError)) return pitfall::ErrorKind::not_implemented;
  return pitfall::ErrorKind::runtime;
}

// A Python exception raised by a function the pipeline called: "ValueError: message", with the
// exception object kept so the consumer can re-raise it with its own type and traceback.
class PythonFunctionError : public pitfall::Error {
 public:
  explicit PythonFunctionError(py::error_already_set& e)
      : Error(kind_for(e), py::str(e.type().attr("__name__")).cast<std::string>() + ": " + py::str(e.value()).cast<std::string>()) {
    e.restore();
    PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (traceback && value) PyException_SetTraceback(value, traceback);
    Py_XDECREF(type);
    Py_XDECREF(traceback);
    exception_ = keep_python(py::reinterpret_steal<py::object>(value));
  }
  PyObject* exception() const { return exception_.get(); }

 private:
  std::shared_ptr<PyObject> exception_;
};

// Calls Python (GIL held by the caller): a Python exception becomes a PythonFunctionError.
template <class Fn>
auto calling_python(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (py::error_already_set& e) {
    throw PythonFunctionError(e);
  }
}

// ---------------------------------------------------------------- element conversion

// Leaked on purpose: a static py::object would be released after the interpreter has finalized.
const py::object& convert_module() {
  static const auto* module = new py::object(py::module_::import("pitfall._convert"));
  return *module;
}

// Python value -> element. Tuples, lists and dicts nest (from_tensor_slices and from_tensors read
// a list as one tensor, as tf.data does: lists_are_tensors); anything else becomes one tensor.
void flatten(const py::handle& value, bool lists_are_tensors, std::vector<Tensor>& components, data::Structure& structure,
             int depth) {
  if (depth > 64) throw pitfall::ValueError("Dataset: the element is nested deeper than 64 levels");
  if (py::isinstance<py::tuple>(value) || (!lists_are_tensors && py::isinstance<py::list>(value))) {
    std::vector<data::Structure> children;
    for (const auto& item : value) {
      children.emplace_back();
      flatten(item, lists_are_tensors, components, children.back(), depth + 1);
    }
    structure = py::isinstance<py::tuple>(value) ? data::Structure::tuple(std::move(children))
                                                 : data::Structure::list(std::move(children));
    return;
  }
  if (py::isinstance<py::dict>(value)) {
    const py::dict d = py::reinterpret_borrow<py::dict>(value);
    std::vector<std::string> keys;
    for (const auto& [key, item] : d) {
      if (!py::isinstance<py::str>(key)) {
        throw pitfall::DTypeError("Dataset: dict keys of an element must be strings, got " + py::repr(key).cast<std::string>());
      }
      keys.push_back(key.cast<std::string>());
    }
    std::sort(keys.begin(), keys.end());
    std::vector<data::Structure> children;
    for (const auto& key : keys) {
      children.emplace_back();
      flatten(d[py::str(key)], lists_are_tensors, components, children.back(), depth + 1);
    }
    structure = data::Structure::dict(std::move(keys), std::move(children));
    return;
  }
  if (py::isinstance<Tensor>(value)) {
    components.push_back(value.cast<Tensor>());
  } else {
    components.push_back(convert_module().attr("convert_to_tensor")(value).cast<Tensor>());
  }
  structure = data::Structure();
}

data::Element element_from_python(const py::handle& value, bool lists_are_tensors) {
  data::Element e;
  data::Structure structure;
  flatten(value, lists_are_tensors, e.components, structure, 0);
  e.structure = structure.kind() == data::Structure::Kind::leaf ? data::leaf_structure()
                                                                 : std::make_shared<const data::Structure>(std::move(structure));
  return e;
}

py::object unflatten(const data::Structure& s, const std::vector<Tensor>& components, size_t& next) {
  switch (s.kind()) {
    case data::Structure::Kind::leaf: return py::cast(components.at(next++));
    case data::Structure::Kind::tuple:
    case data::Structure::Kind::list: {
      py::list items;
      for (const auto& c : s.children()) items.append(unflatten(c, components, next));
      if (s.kind() == data::Structure::Kind::list) return items;
      return py::tuple(items);
    }
    case data::Structure::Kind::dict: {
      py::dict d;
      for (size_t i = 0; i < s.children().size(); ++i) d[py::str(s.keys()[i])] = unflatten(s.children()[i], components, next);
      return d;
    }
  }
  return py::none();
}

py::object element_to_python(const data::Element& e) {
  size_t next = 0;
  return unflatten(*e.structure, e.components, next);
}

// Calls a Python function of an element (GIL held): a tuple element is passed as positional
// arguments, as tf.data does.
py::object call_with_element(const std::shared_ptr<PyObject>& held, const data::Element& e) {
  py::handle function(held.get());
  const py::object args = element_to_python(e);
  return py::isinstance<py::tuple>(args) ? function(*args) : function(args);
}

data::ElementFunction python_map_function(py::function fn) {
  auto held = keep_python(std::move(fn));
  return [held](data::Element e, const data::ElementContext&) {
    py::gil_scoped_acquire gil;
    pitfall::NoGradGuard no_grad;
    return calling_python([&] { return element_from_python(call_with_element(held, e), false); });
  };
}

data::ElementPredicate python_predicate(py::function fn) {
  auto held = keep_python(std::move(fn));
  return [held](const data::Element& e, const data::ElementContext&) {
    py::gil_scoped_acquire gil;
    pitfall::NoGradGuard no_grad;
    return calling_python([&] {
      return py::module_::import("pitfall.data").attr("_predicate_value")(call_with_element(held, e)).cast<bool>();
    });
  };
}

// `factory()` returns a Python iterator whose items are elements (already converted by the Python
// side to the declared signature).
data::GeneratorFactory python_generator_factory(py::function factory) {
  auto held = keep_python(std::move(factory));
  return [held]() -> data::ElementGenerator {
    py::gil_scoped_acquire gil;
    auto iterator = calling_python([&] { return keep_python(py::iter(py::handle(held.get())())); });
    return [iterator]() -> std::optional<data::Element> {
      py::gil_scoped_acquire gil;
      pitfall::NoGradGuard no_grad;
      return calling_python([&]() -> std::optional<data::Element> {
        PyObject* item = PyIter_Next(iterator.get());
        if (!item) {
          if (PyErr_Occurred()) throw py::error_already_set();
          return std::nullopt;
        }
        return element_from_python(py::reinterpret_steal<py::object>(item), false);
      });
    };
  };
}

// ---------------------------------------------------------------- built-in transforms

// Which flat component a transform applies to: `component` is None (the element itself when it
// is one tensor, else its first part, the x of (x, y)), a position or a dict key.
size_t component_index(const data::Element& e, const std::optional<int64_t>& position, const std::optional<std::string>& key,
                       const std::string& transform) {
  const data::Structure& s = *e.structure;
  auto fail = [&](const std::string& why) -> size_t {
    throw pitfall::ValueError("pf.data.transforms." + transform + ": " + why + " (the element is " + e.describe() +
                              "); choose the tensor with component=<position or dict key>");
  };
  if (s.kind() == data::Structure::Kind::leaf) {
    if (key || (position && *position != 0)) return fail("the element is a single tensor");
    return 0;
  }
  size_t child = 0;
  if (key) {
    if (s.kind() != data::Structure::Kind::dict) return fail("component='" + *key + "' needs dict elements");
    const auto it = std::find(s.keys().begin(), s.keys().end(), *key);
    if (it == s.keys().end()) return fail("no key '" + *key + "'");
    child = static_cast<size_t>(it - s.keys().begin());
  } else {
    const int64_t p = position.value_or(0);
    if (p < 0 || p >= static_cast<int64_t>(s.children().size())) return fail("no component " + std::to_string(p));
    child = static_cast<size_t>(p);
  }
  if (s.children()[child].kind() != data::Structure::Kind::leaf) return fail("the chosen part is not a single tensor");
  return static_cast<size_t>(s.child_offset(child));
}

struct Transform {
  std::string name;
  data::ElementFunction fn;
};

Transform component_transform(std::string name, py::object component,
                              std::function<Tensor(const Tensor&, const data::ElementContext&)> apply) {
  std::optional<int64_t> position;
  std::optional<std::string> key;
  if (py::isinstance<py::str>(component)) {
    key = component.cast<std::string>();
  } else if (!component.is_none()) {
    position = component.cast<int64_t>();
  }
  auto fn = [name, position, key, apply = std::move(apply)](data::Element e, const data::ElementContext& context) {
    const size_t index = component_index(e, position, key, name);
    e.components[index] = apply(e.components[index], context);
    return e;
  };
  return Transform{name, fn};
}

pitfall::RandomKey transform_key(const py::object& seed) {
  return seed.is_none() ? pitfall::next_random_key() : pitfall::RandomKey{seed.cast<uint64_t>(), 0};
}

struct PyIterator {
  std::unique_ptr<data::Iterator> iterator;
  ~PyIterator() {
    if (!iterator) return;
    if (!Py_IsInitialized() || _Py_IsFinalizing()) {
      (void)iterator.release();  // threads were stopped at exit; never wait for the GIL here
      return;
    }
    py::gil_scoped_release release;
    iterator.reset();
  }
};

}  // namespace

void bind_data(py::module_& m) {
  py::module_ d = m.def_submodule("data", "The C++ side of pf.data");

  // An ElementError whose original is a Python exception is re-raised as that exception's type with
  // the pipeline's message (op, element index, original message), chained to the original.
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const data::ElementError& e) {
      const PythonFunctionError* python = nullptr;
      try {
        std::rethrow_exception(e.original());
      } catch (const PythonFunctionError& p) {
        python = &p;
        PyObject* original = p.exception();
        PyObject* type = reinterpret_cast<PyObject*>(Py_TYPE(original));
        PyObject* raised = PyObject_CallFunction(type, "s", e.what());
        if (!raised) {
          PyErr_Clear();
          type = python_exception_type(e.kind());
          raised = PyObject_CallFunction(type, "s", e.what());
        }
        Py_INCREF(original);
        PyException_SetCause(raised, original);
        PyErr_SetObject(type, raised);
        Py_DECREF(raised);
      } catch (...) {
      }
      if (!python) PyErr_SetString(python_exception_type(e.kind()), e.what());
    }
  });

  py::class_<data::Dataset>(d, "Dataset")
      .def_static("from_tensor_slices", [](const py::object& value) {
        data::Element e = element_from_python(value, true);
        py::gil_scoped_release release;
        return data::Dataset::from_tensor_slices(e);
      })
      .def_static("from_tensors", [](const py::object& value) {
        data::Element e = element_from_python(value, true);
        py::gil_scoped_release release;
        return data::Dataset::from_tensors(e);
      })
      .def_static("range", &data::Dataset::range, py::arg("start"), py::arg("stop"), py::arg("step"))
      .def_static("from_generator", [](py::function factory) {
        return data::Dataset::from_generator(python_generator_factory(std::move(factory)));
      })
      .def_static("zip", &data::Dataset::zip)
      .def_static("from_array_batches",
                  [](const std::vector<Tensor>& arrays, int64_t batch_size, bool shuffle) {
                    return data::Dataset::from_array_batches(arrays, batch_size, shuffle);
                  })
      .def("shuffle", &data::Dataset::shuffle, py::arg("buffer_size"), py::arg("seed"), py::arg("reshuffle_each_iteration"))
      .def("batch", &data::Dataset::batch, py::arg("batch_size"), py::arg("drop_remainder"))
      .def("unbatch", &data::Dataset::unbatch)
      .def("map_python",
           [](const data::Dataset& self, py::function fn, std::optional<int64_t> threads, std::optional<bool> deterministic,
              const std::string& name) { return self.map(python_map_function(std::move(fn)), threads, deterministic, name); })
      .def("map_transform",
           [](const data::Dataset& self, const Transform& transform, std::optional<int64_t> threads,
              std::optional<bool> deterministic) { return self.map(transform.fn, threads, deterministic, transform.name); })
      .def("filter_python",
           [](const data::Dataset& self, py::function fn, const std::string& name) {
             return self.filter(python_predicate(std::move(fn)), name);
           })
      .def("repeat", &data::Dataset::repeat)
      .def("take", &data::Dataset::take)
      .def("skip", &data::Dataset::skip)
      .def("cache", &data::Dataset::cache)
      .def("prefetch", &data::Dataset::prefetch)
      .def("copy_to_device",
           [](const data::Dataset& self, const std::string& device) { return self.copy_to_device(pitfall::parse_device(device)); })
      .def("prefetch_to_device",
           [](const data::Dataset& self, const std::string& device, int64_t buffer_size) {
             return self.prefetch_to_device(pitfall::parse_device(device), buffer_size);
           })
      .def("shard", &data::Dataset::shard)
      .def("enumerate", &data::Dataset::enumerate)
      .def("concatenate", &data::Dataset::concatenate)
      .def("with_deterministic", [](const data::Dataset& self, std::optional<bool> deterministic) {
        data::Options options;
        options.deterministic = deterministic;
        return self.with_options(options);
      })
      .def("deterministic", [](const data::Dataset& self) { return self.options().deterministic; })
      .def("cardinality", &data::Dataset::cardinality)
      .def("describe", &data::Dataset::describe)
      .def("iterator", [](const data::Dataset& self) {
        auto it = std::make_unique<PyIterator>();
        py::gil_scoped_release release;
        it->iterator = self.make_iterator();
        return it;
      });

  py::class_<PyIterator>(d, "Iterator")
      .def("next", [](PyIterator& self) -> py::object {
        if (!self.iterator) throw py::stop_iteration();
        std::optional<data::Element> e;
        {
          py::gil_scoped_release release;
          e = self.iterator->next();
        }
        if (!e) throw py::stop_iteration();
        return element_to_python(*e);
      })
      .def("close", [](PyIterator& self) {
        py::gil_scoped_release release;
        self.iterator.reset();
      });

  py::class_<Transform>(d, "Transform").def_readonly("name", &Transform::name);
  d.def("rescale", [](double scale, double offset, const std::string& dtype, py::object component) {
    const pitfall::DType t = pitfall::parse_dtype(dtype);
    return component_transform("Rescale", std::move(component), [=](const Tensor& x, const data::ElementContext&) {
      return data::rescale(x, scale, offset, t);
    });
  });
  d.def("normalize", [](std::vector<double> mean, std::vector<double> stddev, const std::string& dtype, py::object component) {
    const pitfall::DType t = pitfall::parse_dtype(dtype);
    return component_transform("Normalize", std::move(component), [=](const Tensor& x, const data::ElementContext&) {
      return data::normalize(x, mean, stddev, t);
    });
  });
  d.def("cast", [](const std::string& dtype, py::object component) {
    const pitfall::DType t = pitfall::parse_dtype(dtype);
    return component_transform("Cast", std::move(component), [=](const Tensor& x, const data::ElementContext&) {
      return x.dtype() == t ? x : pitfall::cast(x, t);
    });
  });
  d.def("one_hot", [](int64_t depth, const std::string& dtype, py::object component) {
    const pitfall::DType t = pitfall::parse_dtype(dtype);
    return component_transform("OneHot", std::move(component), [=](const Tensor& x, const data::ElementContext&) {
      return data::one_hot_labels(x, depth, t);
    });
  });
  d.def("random_flip", [](const std::string& mode, const py::object& seed, py::object component) {
    const pitfall::RandomKey base = transform_key(seed);
    return component_transform("RandomFlip", std::move(component), [=](const Tensor& x, const data::ElementContext& c) {
      return data::random_flip(x, mode, data::element_key(base, c.iteration, c.index));
    });
  });
  d.def("random_crop", [](int64_t height, int64_t width, const py::object& seed, py::object component) {
    const pitfall::RandomKey base = transform_key(seed);
    return component_transform("RandomCrop", std::move(component), [=](const Tensor& x, const data::ElementContext& c) {
      return data::random_crop(x, height, width, data::element_key(base, c.iteration, c.index));
    });
  });
  d.def("compose", [](const std::vector<Transform>& transforms) {
    std::string name;
    for (const auto& t : transforms) name += (name.empty() ? "" : "+") + t.name;
    return Transform{name, [transforms](data::Element e, const data::ElementContext& c) {
                       for (const auto& t : transforms) e = t.fn(std::move(e), c);
                       return e;
                     }};
  });

  d.def("live_pipeline_threads", &data::live_pipeline_threads);
  d.def("shutdown_all_pipelines", &data::shutdown_all_pipelines, py::call_guard<py::gil_scoped_release>());
  d.attr("AUTOTUNE") = data::kAutotune;
  d.attr("INFINITE_CARDINALITY") = data::kInfiniteCardinality;
  d.attr("UNKNOWN_CARDINALITY") = data::kUnknownCardinality;
}

}  // namespace pitfall_python
