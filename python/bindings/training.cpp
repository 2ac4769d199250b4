// What compile() and a custom training loop take: initializers, regularizers, losses, metrics,
// optimizers and callbacks. Python functions and subclasses are wrapped so the C++ training loop
// calls them with the GIL taken only for their duration.
#include <iostream>

#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "python_layer.h"
#include "pitfall/training/progress_bar.h"

namespace pitfall_python {

using pitfall::Json;
using pitfall::Logs;
using pitfall::Tensor;

namespace {

py::object config_entry(const std::string& class_name, const Json& config) {
  py::dict out;
  out["class_name"] = class_name;
  out["config"] = to_python(config);
  return out;
}

Tensor as_tensor(const py::handle& value) {
  return py::module_::import("pitfall._convert").attr("convert_to_tensor")(value).cast<Tensor>();
}

// A loss given as a Python function fn(y_true, y_pred) -> per-sample (or scalar) losses, or a
// Python subclass of pf.losses.Loss that defines call().
class PythonLoss : public pitfall::Loss {
 public:
  PythonLoss(std::string class_name, std::string name, py::object fn = py::none())
      : Loss(std::move(class_name), std::move(name)), fn_(keep_python(std::move(fn))) {}
  Tensor call(const Tensor& y_true, const Tensor& y_pred) const override {
    py::gil_scoped_acquire gil;
    py::object fn = py::reinterpret_borrow<py::object>(fn_.get());
    if (fn.is_none()) fn = py::get_override(static_cast<const pitfall::Loss*>(this), "call");
    if (!fn) throw pitfall::NotImplementedError("loss '" + name() + "' (" + class_name() + ") defines no call(y_true, y_pred)");
    return translate_python_errors([&] {
      // A loss function is wrapped as Keras 3's compile wraps it (LossFunctionWrapper.call in
      // keras/src/losses/losses.py): y_true and y_pred reach it at the same rank. A Loss subclass's
      // own call() gets them as given, as in Keras.
      const auto [t, p] = fn_wrapped() ? pitfall::squeeze_or_expand_to_same_rank(y_true, y_pred)
                                       : std::pair<Tensor, Tensor>(y_true, y_pred);
      const py::object result = fn(t, p);
      if (!py::isinstance<Tensor>(result)) {
        throw pitfall::DTypeError("loss '" + name() + "' returned " + py::repr(result.get_type()).cast<std::string>() +
                                  "; a loss must return a tensor computed with pf.ops so gradients can flow");
      }
      return result.cast<Tensor>();
    });
  }
  py::object self;

 private:
  bool fn_wrapped() const { return fn_.get() != Py_None; }
  std::shared_ptr<PyObject> fn_;
};

// A subclass of pf.metrics.Metric written in Python (Keras's Metric subclassing): the engine's
// loops call its update_state / result / reset_state. reset_state defaults to Keras's: every
// variable made with add_variable back to zeros.
class PythonMetric : public pitfall::Metric {
 public:
  PythonMetric(std::string class_name, std::string name) : Metric(std::move(class_name), std::move(name)) {}
  void update_state(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) override {
    py::gil_scoped_acquire gil;
    py::function fn = override_of("update_state");
    translate_python_errors([&] {
      fn(y_true.defined() ? py::cast(y_true) : py::none(), y_pred.defined() ? py::cast(y_pred) : py::none(),
         sample_weight.defined() ? py::cast(sample_weight) : py::none());
      return 0;
    });
  }
  double result() const override {
    py::gil_scoped_acquire gil;
    py::function fn = override_of("result");
    return translate_python_errors([&] {
      py::object value = fn();
      if (py::isinstance<Tensor>(value)) value = py::float_(value.cast<Tensor>().item());
      return value.cast<double>();
    });
  }
  void reset_state() override {
    py::gil_scoped_acquire gil;
    py::function fn = py::get_override(static_cast<const pitfall::Metric*>(this), "reset_state");
    translate_python_errors([&] {
      if (fn) {
        fn();
      } else {
        // The Python object wrapping this metric (registered, so cast finds it).
        py::cast(static_cast<const pitfall::Metric*>(this), py::return_value_policy::reference).attr("_reset_variables")();
      }
      return 0;
    });
  }

 private:
  py::function override_of(const char* method) const {
    py::function fn = py::get_override(static_cast<const pitfall::Metric*>(this), method);
    if (!fn) {
      throw pitfall::NotImplementedError("metric '" + name() + "' (" + class_name() + ") defines no " + method +
                                         "(); a Metric subclass implements update_state(y_true, y_pred, "
                                         "sample_weight=None) and result()");
    }
    return fn;
  }
};

// A metric given as a Python function fn(y_true, y_pred): the weighted mean of its values (Keras's
// MeanMetricWrapper).
class FunctionMetric : public pitfall::Metric {
 public:
  FunctionMetric(std::string name, py::object fn) : Metric("MeanMetricWrapper", name), fn_(keep_python(std::move(fn))), mean_(name) {}
  void update_state(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) override {
    Tensor values;
    {
      py::gil_scoped_acquire gil;
      values = translate_python_errors([&] { return as_tensor(py::handle(fn_.get())(y_true, y_pred)); });
    }
    mean_.update_state(values, Tensor(), sample_weight);
  }
  double result() const override { return mean_.result(); }
  void reset_state() override { mean_.reset_state(); }

 private:
  std::shared_ptr<PyObject> fn_;
  pitfall::Mean mean_;
};

// A callback written in Python (subclass of pf.callbacks.Callback).
class PythonCallback : public pitfall::Callback {
 public:
  void on_train_begin(const Logs& logs) override { forward("on_train_begin", logs); }
  void on_train_end(const Logs& logs) override { forward("on_train_end", logs); }
  void on_epoch_begin(int epoch, const Logs& logs) override { forward("on_epoch_begin", logs, epoch); }
  void on_epoch_end(int epoch, const Logs& logs) override { forward("on_epoch_end", logs, epoch); }
  void on_train_batch_begin(int64_t batch, const Logs& logs) override { forward("on_train_batch_begin", logs, batch); }
  void on_train_batch_end(int64_t batch, const Logs& logs) override { forward("on_train_batch_end", logs, batch); }
  void on_test_begin(const Logs& logs) override { forward("on_test_begin", logs); }
  void on_test_end(const Logs& logs) override { forward("on_test_end", logs); }
  void on_test_batch_begin(int64_t batch, const Logs& logs) override { forward("on_test_batch_begin", logs, batch); }
  void on_test_batch_end(int64_t batch, const Logs& logs) override { forward("on_test_batch_end", logs, batch); }
  pitfall::Model* model() const { return model_; }
  py::object self;

 private:
  void forward(const char* hook, const Logs& logs, std::optional<int64_t> index = std::nullopt) {
    py::gil_scoped_acquire gil;
    py::function fn = py::get_override(static_cast<const pitfall::Callback*>(this), hook);
    if (!fn) return;
    py::dict py_logs;
    for (const auto& [name, value] : pitfall::display_order(logs)) py_logs[py::str(name)] = value;
    if (index) {
      fn(*index, py_logs);
    } else {
      fn(py_logs);
    }
  }
};

using Release = py::call_guard<py::gil_scoped_release>;

}  // namespace

void bind_training(py::module_& m) {
  // ---- initializers
  py::class_<pitfall::Initializer, std::shared_ptr<pitfall::Initializer>>(m, "Initializer")
      .def(
          "__call__",
          [](const pitfall::Initializer& init, const py::object& shape, const py::object& dtype) {
            const std::string name = dtype.is_none() ? std::string(pitfall::dtype_name(pitfall::floatx()))
                                                     : py::module_::import("pitfall._convert").attr("standardize_dtype")(dtype).cast<std::string>();
            const pitfall::Shape dims = shape_from_python(shape, init.class_name() + "(shape=...)");
            py::gil_scoped_release release;
            return init(dims, pitfall::parse_dtype(name), pitfall::next_random_key());
          },
          py::arg("shape"), py::arg("dtype") = py::none())
      .def_property_readonly("class_name", &pitfall::Initializer::class_name)
      .def("get_config", [](const pitfall::Initializer& i) { return to_python(i.get_config()); })
      .def("_config_entry", [](const pitfall::Initializer& i) { return to_python(pitfall::initializer_to_config(i)); })
      .def("__repr__", [](const pitfall::Initializer& i) { return "<Initializer " + i.class_name() + " " + i.get_config().dump() + ">"; });
  m.def("get_initializer", &pitfall::get_initializer, py::arg("name"));
  m.def("initializer_from_config", [](const py::object& entry) { return pitfall::initializer_from_config(to_json(entry, "initializer")); });
  m.def(
      "function_initializer",
      [](const std::string& name, py::function function) {
        auto held = keep_python(function);
        return pitfall::function_initializer(name, [held](const pitfall::Shape& shape, pitfall::DType dtype, pitfall::RandomKey) {
          py::gil_scoped_acquire gil;
          py::handle fn(held.get());
          py::tuple dims(shape.size());
          for (size_t i = 0; i < shape.size(); ++i) dims[i] = shape[i];
          const std::string dtype_name(pitfall::dtype_name(dtype));
          return translate_python_errors([&] {
            return py::module_::import("pitfall._convert").attr("convert_to_tensor")(fn(dims, dtype_name), dtype_name).cast<Tensor>();
          });
        });
      },
      py::arg("name"), py::arg("fn"));
  m.def("register_initializer", &pitfall::register_initializer, py::arg("name"), py::arg("initializer"));

  // ---- regularizers
  py::class_<pitfall::Regularizer, std::shared_ptr<pitfall::Regularizer>>(m, "Regularizer")
      .def("__call__", &pitfall::Regularizer::operator(), py::arg("x"), Release())
      .def_property_readonly("l1", &pitfall::Regularizer::l1)
      .def_property_readonly("l2", &pitfall::Regularizer::l2)
      .def_property_readonly("class_name", &pitfall::Regularizer::class_name)
      .def("get_config", [](const pitfall::Regularizer& r) { return to_python(r.get_config()); })
      .def("_config_entry", [](const pitfall::Regularizer& r) { return config_entry(r.class_name(), r.get_config()); })
      .def("__repr__", [](const pitfall::Regularizer& r) { return "<Regularizer " + r.class_name() + " " + r.get_config().dump() + ">"; });
  m.def("regularizer_from_config", [](const py::object& entry) { return pitfall::regularizer_from_config(to_json(entry, "regularizer")); });

  // ---- losses
  py::class_<pitfall::Loss, PythonLoss, std::shared_ptr<pitfall::Loss>>(m, "Loss", py::dynamic_attr())
      .def("__init__",
           [](py::detail::value_and_holder& v_h, const py::object& name) {
             const std::string class_name = python_class_name(v_h);
             auto loss = std::make_shared<PythonLoss>(class_name, name.is_none() ? pitfall::to_snake_case(class_name) : name.cast<std::string>());
             loss->self = python_instance(v_h);
             py::detail::initimpl::construct<py::class_<pitfall::Loss, PythonLoss, std::shared_ptr<pitfall::Loss>>>(
                 v_h, std::shared_ptr<pitfall::Loss>(loss), true);
           },
           py::detail::is_new_style_constructor(), py::arg("name") = py::none())
      .def(
          "__call__",
          [](const pitfall::Loss& loss, const py::object& y_true, const py::object& y_pred, const py::object& sample_weight) {
            const Tensor t = as_tensor(y_true), p = as_tensor(y_pred);
            const Tensor w = sample_weight.is_none() ? Tensor() : as_tensor(sample_weight);
            py::gil_scoped_release release;
            return loss(t, p, w);
          },
          py::arg("y_true"), py::arg("y_pred"), py::arg("sample_weight") = py::none())
      .def("call", [](const pitfall::Loss& loss, const py::object& y_true, const py::object& y_pred) {
        const Tensor t = as_tensor(y_true), p = as_tensor(y_pred);
        py::gil_scoped_release release;
        return loss.call(t, p);
      }, py::arg("y_true"), py::arg("y_pred"))
      .def_property_readonly("name", &pitfall::Loss::name)
      .def_property_readonly("class_name", &pitfall::Loss::class_name)
      .def("get_config", [](const pitfall::Loss& l) { return to_python(l.get_config()); })
      .def("_config_entry", [](const pitfall::Loss& l) { return config_entry(l.class_name(), l.get_config()); })
      .def("__repr__", [](const pitfall::Loss& l) { return "<Loss " + l.class_name() + " " + l.get_config().dump() + ">"; });
  m.def("get_loss", &pitfall::get_loss, py::arg("name"));
  m.def("loss_from_config", [](const py::object& entry) { return pitfall::loss_from_config(to_json(entry, "loss")); });
  m.def("function_loss", [](const std::string& name, py::function fn) -> std::shared_ptr<pitfall::Loss> {
    return std::make_shared<PythonLoss>(name, name, fn);
  });

  // ---- metrics
  py::class_<pitfall::Metric, PythonMetric, std::shared_ptr<pitfall::Metric>>(m, "Metric", py::dynamic_attr())
      .def("__init__",
           [](py::detail::value_and_holder& v_h, const py::object& name, const py::object& dtype) {
             const std::string class_name = python_class_name(v_h);
             auto metric = std::make_shared<PythonMetric>(
                 class_name, name.is_none() ? pitfall::to_snake_case(class_name) : name.cast<std::string>());
             python_instance(v_h).attr("_dtype") = dtype.is_none() ? py::str("float32") : dtype;
             py::detail::initimpl::construct<py::class_<pitfall::Metric, PythonMetric, std::shared_ptr<pitfall::Metric>>>(
                 v_h, std::shared_ptr<pitfall::Metric>(metric), true);
           },
           py::detail::is_new_style_constructor(), py::arg("name") = py::none(), py::arg("dtype") = py::none())
      .def(
          "update_state",
          [](pitfall::Metric& metric, const py::object& y_true, const py::object& y_pred, const py::object& sample_weight) {
            // Mean-like metrics take one argument: update_state(values, sample_weight=...).
            const Tensor t = as_tensor(y_true), p = y_pred.is_none() ? Tensor() : as_tensor(y_pred);
            const Tensor w = sample_weight.is_none() ? Tensor() : as_tensor(sample_weight);
            py::gil_scoped_release release;
            metric.update_state(t, p, w);
          },
          py::arg("y_true"), py::arg("y_pred") = py::none(), py::arg("sample_weight") = py::none())
      .def("result", [](const pitfall::Metric& metric) { return Tensor::full({}, metric.result(), pitfall::DType::float32); })
      .def("_value", &pitfall::Metric::result)  // the double the engine logs
      .def("reset_state", &pitfall::Metric::reset_state)
      .def_property_readonly("name", &pitfall::Metric::name)
      .def_property_readonly("class_name", &pitfall::Metric::class_name)
      .def("get_config", [](const pitfall::Metric& metric) { return to_python(metric.get_config()); })
      .def("__repr__", [](const pitfall::Metric& metric) { return "<Metric " + metric.class_name() + " name=" + metric.name() + ">"; });
  m.def("get_metric", [](const std::string& name) { return pitfall::get_metric(name); }, py::arg("name"));
  m.def("function_metric", [](const std::string& name, py::function fn) -> std::shared_ptr<pitfall::Metric> {
    return std::make_shared<FunctionMetric>(name, fn);
  });
  m.def("metric_from_config", [](const py::object& entry) { return pitfall::metric_from_config(to_json(entry, "metric")); });

  // ---- optimizers
  py::class_<pitfall::Optimizer, std::shared_ptr<pitfall::Optimizer>>(m, "Optimizer", py::dynamic_attr())
      .def(
          "apply_gradients",
          [](pitfall::Optimizer& opt, const py::iterable& grads_and_vars) {
            std::vector<Tensor> grads, vars;
            for (const auto& pair : grads_and_vars) {
              const py::tuple gv = py::reinterpret_borrow<py::object>(pair).cast<py::tuple>();
              grads.push_back(gv[0].is_none() ? Tensor() : gv[0].cast<Tensor>());
              vars.push_back(gv[1].cast<Tensor>());
            }
            py::gil_scoped_release release;
            opt.apply_gradients(grads, vars);
          },
          py::arg("grads_and_vars"))
      .def_property(
          "learning_rate",
          [](const pitfall::Optimizer& o) {
            py::gil_scoped_release release;  // a Python schedule takes the GIL itself
            return o.learning_rate();
          },
          [](pitfall::Optimizer& o, const py::object& value) {
            if (py::isinstance<pitfall::LearningRateSchedule>(value)) {
              o.set_learning_rate(value.cast<std::shared_ptr<pitfall::LearningRateSchedule>>());
            } else {
              const double lr = value.cast<double>();
              py::gil_scoped_release release;
              o.set_learning_rate(lr);
            }
          })
      .def_property_readonly("learning_rate_schedule",
                             [](const pitfall::Optimizer& o) -> py::object {
                               if (!o.learning_rate_schedule()) return py::none();
                               return py::cast(o.learning_rate_schedule());
                             })
      .def_property_readonly("iterations", &pitfall::Optimizer::iterations)
      .def_property_readonly("class_name", &pitfall::Optimizer::class_name)
      .def_property_readonly("convention", [](const pitfall::Optimizer& o) { return pitfall::convention_name(o.convention()); })
      .def("get_config", [](const pitfall::Optimizer& o) { return to_python(o.get_config()); })
      .def("_config_entry", [](const pitfall::Optimizer& o) { return config_entry(o.class_name(), o.get_config()); })
      .def("scale_loss", &pitfall::Optimizer::scale_loss, py::arg("loss"))
      .def("_exclude_from_weight_decay", &pitfall::Optimizer::exclude_from_weight_decay, py::arg("name_parts"))
      .def_property_readonly("_excluded_from_weight_decay", &pitfall::Optimizer::excluded_from_weight_decay)
      .def("_state",
           [](const pitfall::Optimizer& o) {
             py::dict tensors;
             for (const auto& [name, tensor] : o.state_tensors()) tensors[py::str(name)] = tensor;
             return py::make_tuple(to_python(o.state_scalars()), tensors);
           })
      .def("_load_state",
           [](pitfall::Optimizer& o, const py::object& scalars, const py::dict& tensors) {
             std::vector<std::pair<std::string, Tensor>> list;
             for (const auto& [name, tensor] : tensors) list.emplace_back(name.cast<std::string>(), tensor.cast<Tensor>());
             o.load_state(to_json(scalars, "Optimizer._load_state"), list);
           })
      .def("__repr__", [](const pitfall::Optimizer& o) {
        return "<Optimizer " + o.class_name() + " (" + pitfall::convention_name(o.convention()) + ") " +
               o.get_config().dump() + ">";
      });
  py::class_<pitfall::LossScaleOptimizer, pitfall::Optimizer, std::shared_ptr<pitfall::LossScaleOptimizer>>(
      m, "LossScaleOptimizer")
      .def_property_readonly("inner_optimizer", &pitfall::LossScaleOptimizer::inner_optimizer)
      .def_property_readonly("dynamic_scale", &pitfall::LossScaleOptimizer::dynamic_scale)
      .def_property_readonly("step_counter", &pitfall::LossScaleOptimizer::step_counter)
      .def_property_readonly("skipped_steps", &pitfall::LossScaleOptimizer::skipped_steps);
  m.def(
      "make_optimizer",
      [](const std::string& name, const py::dict& arguments, const std::string& convention,
         const py::object& schedule) {
        pitfall::Json args = to_json(arguments, name);
        auto optimizer = pitfall::make_optimizer(name, args, pitfall::parse_convention(convention));
        if (!schedule.is_none()) {
          optimizer->set_learning_rate(schedule.cast<std::shared_ptr<pitfall::LearningRateSchedule>>());
        }
        return optimizer;
      },
      py::arg("name"), py::arg("arguments"), py::arg("convention"), py::arg("schedule"));
  m.def(
      "loss_scale_optimizer",
      [](std::shared_ptr<pitfall::Optimizer> inner, const py::dict& arguments, const std::string& convention) {
        return pitfall::loss_scale_optimizer(std::move(inner), to_json(arguments, "LossScaleOptimizer"),
                                             pitfall::parse_convention(convention));
      },
      py::arg("inner_optimizer"), py::arg("arguments"), py::arg("convention"));
  m.def(
      "optimizer_from_config",
      [](const std::string& class_name, const py::object& config) {
        return pitfall::optimizer_from_config(class_name, to_json(config, class_name + ".from_config"));
      },
      py::arg("class_name"), py::arg("config"));
  m.def("get_optimizer", &pitfall::get_optimizer, py::arg("name"));
  m.def("format_optimizer_defaults", &pitfall::format_optimizer_defaults, py::arg("only") = "");
  m.def("format_defaults", &pitfall::format_defaults);
  m.def("optimizer_defaults_table", [] {
    py::list rows;
    for (const auto& row : pitfall::optimizer_defaults_table()) {
      py::dict entry;
      entry["class_name"] = row.class_name;
      entry["keras_source"] = row.keras_source;
      entry["torch_class"] = row.torch_class;
      entry["torch_source"] = row.torch_source;
      py::list hyper;
      for (const auto& h : row.hyperparameters) {
        py::dict d;
        d["name"] = h.name;
        d["keras"] = to_python(h.keras);
        d["torch"] = to_python(h.torch);
        d["keras_argument"] = h.keras_argument;
        d["torch_name"] = h.torch_name.empty() ? py::object(py::none()) : py::object(py::str(h.torch_name));
        d["meaning"] = h.meaning;
        hyper.append(d);
      }
      entry["hyperparameters"] = hyper;
      for (const auto& [key, rule] : {std::pair<const char*, const pitfall::UpdateRule*>{"keras_rule", &row.keras_rule},
                                      {"torch_rule", &row.torch_rule}}) {
        py::dict r;
        r["epsilon"] = pitfall::describe(rule->epsilon);
        r["momentum"] = pitfall::describe(rule->momentum);
        r["weight_decay"] = pitfall::describe(rule->weight_decay);
        r["step_counting"] = pitfall::describe(rule->step_counting);
        r["global_clipnorm"] = pitfall::describe(rule->global_clip);
        entry[key] = r;
      }
      entry["keras_formula"] = row.keras_formula;
      entry["torch_formula"] = row.torch_formula;
      entry["note"] = row.note;
      rows.append(entry);
    }
    return rows;
  });

  // ---- callbacks
  py::class_<pitfall::Callback, PythonCallback, std::shared_ptr<pitfall::Callback>>(m, "Callback", py::dynamic_attr())
      .def("__init__",
           [](py::detail::value_and_holder& v_h) {
             auto callback = std::make_shared<PythonCallback>();
             callback->self = python_instance(v_h);
             py::detail::initimpl::construct<py::class_<pitfall::Callback, PythonCallback, std::shared_ptr<pitfall::Callback>>>(
                 v_h, std::shared_ptr<pitfall::Callback>(callback), true);
           },
           py::detail::is_new_style_constructor())
      .def_property_readonly("model", [](const pitfall::Callback& c) -> py::object {
        const auto* python = dynamic_cast<const PythonCallback*>(&c);
        if (!python || !python->model()) return py::none();
        return py::cast(python->model(), py::return_value_policy::reference);
      })
      .def("on_train_begin", [](pitfall::Callback&, const py::object&) {}, py::arg("logs") = py::none())
      .def("on_train_end", [](pitfall::Callback&, const py::object&) {}, py::arg("logs") = py::none())
      .def("on_epoch_begin", [](pitfall::Callback&, int, const py::object&) {}, py::arg("epoch"), py::arg("logs") = py::none())
      .def("on_epoch_end", [](pitfall::Callback&, int, const py::object&) {}, py::arg("epoch"), py::arg("logs") = py::none())
      .def("on_train_batch_begin", [](pitfall::Callback&, int64_t, const py::object&) {}, py::arg("batch"), py::arg("logs") = py::none())
      .def("on_train_batch_end", [](pitfall::Callback&, int64_t, const py::object&) {}, py::arg("batch"), py::arg("logs") = py::none())
      // The hooks as the engine's loop calls them (a built-in callback's C++ code, or a Python
      // subclass's overrides), for a loop driven from Python (a model with its own train_step).
      .def("_set_model", [](pitfall::Callback& c, pitfall::Model* model) { c.set_model(model); })
      .def("_train_begin", [](pitfall::Callback& c) { c.on_train_begin({}); })
      .def("_train_end", [](pitfall::Callback& c, const Logs& logs) { c.on_train_end(logs); })
      .def("_epoch_begin", [](pitfall::Callback& c, int epoch) { c.on_epoch_begin(epoch, {}); })
      .def("_epoch_end", [](pitfall::Callback& c, int epoch, Logs logs) {
        c.on_epoch_end_with_logs(epoch, logs);
        return logs;  // with what the callback added (learning_rate)
      })
      .def("_batch_begin", [](pitfall::Callback& c, int64_t batch) { c.on_train_batch_begin(batch, {}); })
      .def("_batch_end", [](pitfall::Callback& c, int64_t batch, const Logs& logs) { c.on_train_batch_end(batch, logs); });

  // ---- the progress bar of fit / evaluate (training/progress_bar.h), for loops driven from Python
  py::class_<pitfall::ProgressBar>(m, "_ProgressBar")
      .def(py::init([](int64_t target) { return std::make_unique<pitfall::ProgressBar>(target, std::cout); }),
           py::arg("target"))
      .def("update", &pitfall::ProgressBar::update, py::arg("current"), py::arg("values"))
      .def("finish", [](pitfall::ProgressBar& bar, const pitfall::LogValues& values) { bar.finish(values); },
           py::arg("values"));
}

}  // namespace pitfall_python
