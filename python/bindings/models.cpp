// pf.Model (functional and subclassed) and pf.Sequential. The Keras argument handling (arrays,
// dicts, defaults) is in python/pitfall/models.py; these are the entry points it calls, and every
// one of them runs with the GIL released, so a training loop pays nothing for Python unless a layer,
// loss, metric or callback is written in Python.
#include <pybind11/stl.h>

#include "python_layer.h"

namespace pitfall_python {

using pitfall::KerasTensor;
using pitfall::Layer;
using pitfall::Logs;
using pitfall::Model;
using pitfall::Sequential;
using pitfall::Tensor;

namespace {

using Release = py::call_guard<py::gil_scoped_release>;

std::vector<KerasTensor> keras_tensors(const py::handle& value, const std::string& what) {
  std::vector<KerasTensor> out;
  auto one = [&](const py::handle& item) {
    if (!py::isinstance<KerasTensor>(item)) {
      throw py::type_error("Model(" + what + "=...): expected tensors from pf.Input or from calling layers on them, got " +
                           py::repr(item).cast<std::string>());
    }
    out.push_back(item.cast<KerasTensor>());
  };
  if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
    for (const auto& item : value) one(item);
  } else if (py::isinstance<py::dict>(value)) {
    for (const auto& [key, item] : value.cast<py::dict>()) one(item);
  } else {
    one(value);
  }
  return out;
}

py::dict logs_to_python(const Logs& logs) {
  py::dict out;
  for (const auto& [name, value] : pitfall::display_order(logs)) out[py::str(name)] = value;
  return out;
}

std::shared_ptr<pitfall::Metric> metric_from_python(const py::handle& item, Model& model, size_t output,
                                                    const std::vector<std::shared_ptr<pitfall::Loss>>& losses) {
  if (py::isinstance<pitfall::Metric>(item)) return item.cast<std::shared_ptr<pitfall::Metric>>();
  if (py::isinstance<py::str>(item)) return model.metric_for_output(item.cast<std::string>(), output, losses);
  return py::module_::import("pitfall.metrics").attr("get")(item).cast<std::shared_ptr<pitfall::Metric>>();
}

// train_on_batch / test_on_batch: run without the GIL, logs back as a dict.
template <class Method>
auto on_batch(Method method) {
  return [method](Model& self, const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                  const std::optional<Tensor>& w) {
    Logs logs;
    {
      py::gil_scoped_release release;
      logs = (self.*method)(x, y, w.value_or(Tensor()));
    }
    return logs_to_python(logs);
  };
}

// A layer, or a pf.Input (Keras 3 accepts keras.Input(...) as a Sequential's first entry).
std::shared_ptr<Layer> layer_or_input(const py::handle& item) {
  if (py::isinstance<KerasTensor>(item)) return item.cast<KerasTensor>().node->layer;
  if (!py::isinstance<Layer>(item)) {
    throw py::type_error("Sequential: expected a layer or pf.Input(...), got " + py::repr(item).cast<std::string>());
  }
  return item.cast<std::shared_ptr<Layer>>();
}

// Shared by the Model and Sequential constructors: base keyword arguments of a model.
pitfall::LayerOptions model_options(const std::string& class_name, const py::kwargs& kwargs) {
  pitfall::LayerOptions options;
  for (const auto& [key, value] : kwargs) {
    const std::string k = py::str(key).cast<std::string>();
    if (value.is_none()) continue;
    if (k == "name") {
      options.name = value.cast<std::string>();
    } else if (k == "trainable") {
      options.trainable = value.cast<bool>();
    } else {
      throw py::type_error(class_name + "() got an unexpected keyword argument '" + k + "'; " +
                           pitfall::did_you_mean(k, {"inputs", "outputs", "name", "trainable"}));
    }
  }
  return options;
}


// The doctor's tap (training/monitor.h). A sample comes back as a dict of tensors; the custom-loop
// watcher (pf.debug.Doctor.watch) drives the same steps from Python.
void bind_monitor(py::module_& m) {
  using pitfall::TrainingMonitor;
  py::class_<TrainingMonitor, std::shared_ptr<TrainingMonitor>>(m, "TrainingMonitor")
      .def(py::init<>())
      .def("arm", &TrainingMonitor::arm)
      .def_property_readonly("armed", &TrainingMonitor::armed)
      .def_property_readonly("recording", &TrainingMonitor::recording)
      .def_property_readonly("steps", &TrainingMonitor::steps)
      .def("set_record_targets", &TrainingMonitor::set_record_targets, py::arg("on"))
      .def("begin_step", &TrainingMonitor::begin_step)
      .def(
          "record_batch",
          [](TrainingMonitor& self, const std::vector<Tensor>& x, const std::vector<Tensor>& y,
             const std::optional<Tensor>& sample_weight, const std::vector<Tensor>& y_pred) {
            self.record_batch(x, y, sample_weight.value_or(Tensor()), y_pred);
          },
          py::arg("x"), py::arg("y"), py::arg("sample_weight"), py::arg("y_pred"))
      .def("record_update", &TrainingMonitor::record_update, py::arg("paths"), py::arg("gradients"),
           py::arg("variables"), py::arg("gradient_scale") = 1.0)
      .def("end_step", &TrainingMonitor::end_step, py::arg("loss"))
      .def("take_targets", &TrainingMonitor::take_targets)
      .def("take_sample", [](TrainingMonitor& self) -> py::object {
        TrainingMonitor::Sample s = self.take_sample();
        if (s.step < 0) return py::none();
        py::dict out;
        out["step"] = s.step;
        out["x"] = s.x;
        out["y"] = s.y;
        out["y_pred"] = s.y_pred;
        out["sample_weight"] = s.sample_weight.defined() ? py::cast(s.sample_weight) : py::none();
        out["loss"] = s.loss;
        out["loss_tensor"] = s.loss_tensor.defined() ? py::cast(s.loss_tensor) : py::none();
        out["gradient_scale"] = s.gradient_scale;
        out["variable_paths"] = s.variable_paths;
        out["gradients"] = s.gradients;
        out["values_before"] = s.values_before;
        out["layer_names"] = s.layer_names;
        out["layer_outputs"] = s.layer_outputs;
        return out;
      });
}

}  // namespace

void bind_models(py::module_& m) {
  bind_monitor(m);
  using ModelClass = py::class_<Model, Layer, PythonModel, std::shared_ptr<Model>>;
  ModelClass model(m, "Model", py::dynamic_attr());
  model
      .def("__init__",
           [](py::detail::value_and_holder& v_h, py::args args, py::kwargs kwargs) {
             const std::string class_name = python_class_name(v_h);
             py::object inputs = args.size() > 0 ? py::object(args[0]) : py::object(py::none());
             py::object outputs = args.size() > 1 ? py::object(args[1]) : py::object(py::none());
             if (args.size() > 2) throw py::type_error("Model() takes at most 2 positional arguments (inputs, outputs)");
             if (kwargs.contains("inputs")) inputs = kwargs.attr("pop")("inputs");
             if (kwargs.contains("outputs")) outputs = kwargs.attr("pop")("outputs");
             const pitfall::LayerOptions options = model_options(class_name, kwargs);
             std::shared_ptr<PythonModel> instance;
             if (inputs.is_none() != outputs.is_none()) {
               throw py::type_error("Model(): a functional model needs both inputs= and outputs=");
             }
             if (inputs.is_none()) {
               instance = std::make_shared<PythonModel>(options, class_name);
             } else {
               // A subclass of pf.Model built functionally keeps its class name (its config loads as it).
               instance = std::make_shared<PythonModel>(keras_tensors(inputs, "inputs"), keras_tensors(outputs, "outputs"),
                                                        options, class_name == "Model" ? "Functional" : class_name);
             }
             instance->self = python_instance(v_h);
             py::detail::initimpl::construct<ModelClass>(v_h, std::shared_ptr<Model>(instance), true);
             if (!inputs.is_none()) {
               // The structures the model was built from (a tensor, a list or a dict), which
               // model.input / model.output return and predict follows (keras Functional).
               const py::handle self(python_instance(v_h));
               py::setattr(self, "_keras_inputs_structure", inputs);
               py::setattr(self, "_keras_outputs_structure", outputs);
             }
           },
           py::detail::is_new_style_constructor())
      .def_property_readonly("layers", &Model::layers)
      .def("get_layer", &Model::get_layer, py::arg("name"))
      .def_property_readonly("inputs", &Model::inputs)
      .def_property_readonly("outputs", &Model::outputs)
      .def_property_readonly("output_names", &Model::output_names)
      .def_property_readonly("is_functional", &Model::is_functional)
      .def_property_readonly("compiled", &Model::compiled)
      .def_property_readonly("optimizer", &Model::optimizer)
      .def_property_readonly("compiled_losses", &Model::compiled_losses)
      .def_property_readonly("_compiled_metric_lists", &Model::compiled_metrics)
      .def_property_readonly("_loss_tracker", [](const Model& m) -> std::shared_ptr<pitfall::Metric> { return m.loss_tracker(); })
      .def_property_readonly("_output_loss_trackers", [](const Model& m) {
        std::vector<std::shared_ptr<pitfall::Metric>> out;
        for (const auto& t : m.output_loss_trackers()) {
          if (t) out.push_back(t);  // outputs compiled without a loss have none
        }
        return out;
      })
      .def("_reset_compiled_metrics", &Model::reset_metrics)
      .def(
          "_compute_loss",
          [](Model& self, const std::vector<Tensor>& y, const std::vector<Tensor>& y_pred, const std::optional<Tensor>& w) {
            py::gil_scoped_release release;  // a Python loss takes the GIL itself
            return self.compute_loss(y, y_pred, w.value_or(Tensor()));
          },
          py::arg("y"), py::arg("y_pred"), py::arg("sample_weight") = py::none())
      .def(
          "_compiled_loss",
          [](Model& self, const std::vector<Tensor>& y, const std::vector<Tensor>& y_pred,
             const std::optional<Tensor>& w) -> std::optional<Tensor> {
            py::gil_scoped_release release;
            const Tensor loss = self.compiled_loss(y, y_pred, w.value_or(Tensor()));
            return loss.defined() ? std::optional<Tensor>(loss) : std::nullopt;
          },
          py::arg("y"), py::arg("y_pred"), py::arg("sample_weight") = py::none())
      .def_readwrite("stop_training", &Model::stop_training)
      .def_property("check_numerics", &Model::check_numerics, &Model::set_check_numerics)
      .def_property("_monitor", &Model::monitor, &Model::set_monitor)
      .def("summary_text", &Model::summary, py::arg("line_length") = 80)
      .def("_get_weight_tensors", &Model::get_weights, Release())
      .def("_set_weight_tensors", &Model::set_weights, py::arg("weights"), Release())
      .def("reset_metrics", &Model::reset_metrics, Release())
      .def(
          "_compile",
          [](Model& self, std::shared_ptr<pitfall::Optimizer> optimizer, std::vector<std::shared_ptr<pitfall::Loss>> losses,
             const py::list& metrics, std::vector<double> loss_weights) {
            std::vector<std::vector<std::shared_ptr<pitfall::Metric>>> metric_objects;
            for (size_t output = 0; output < metrics.size(); ++output) {
              std::vector<std::shared_ptr<pitfall::Metric>> list;
              for (const auto& item : metrics[output]) list.push_back(metric_from_python(item, self, output, losses));
              metric_objects.push_back(std::move(list));
            }
            py::gil_scoped_release release;
            self.compile(std::move(optimizer), std::move(losses), std::move(metric_objects), std::move(loss_weights));
          },
          py::arg("optimizer"), py::arg("losses"), py::arg("metrics"), py::arg("loss_weights"))
      .def(
          "_fit",
          [](Model& self, const std::vector<Tensor>& x, const std::vector<Tensor>& y, int64_t batch_size, int epochs,
             int verbose, bool shuffle, double validation_split, const std::vector<Tensor>& val_x,
             const std::vector<Tensor>& val_y, int initial_epoch, std::vector<std::shared_ptr<pitfall::Callback>> callbacks,
             std::map<int64_t, double> class_weight, const std::optional<Tensor>& sample_weight, int validation_freq,
             std::vector<int> validation_epochs) {
            pitfall::FitOptions options;
            options.validation_freq = validation_freq;
            options.validation_epochs = std::move(validation_epochs);
            options.batch_size = batch_size;
            options.epochs = epochs;
            options.verbose = verbose;
            options.shuffle = shuffle;
            options.validation_split = validation_split;
            if (!val_x.empty()) options.validation_data = std::make_pair(val_x, val_y);
            options.initial_epoch = initial_epoch;
            options.callbacks = std::move(callbacks);
            options.class_weight = std::move(class_weight);
            options.sample_weight = sample_weight.value_or(Tensor());
            pitfall::History history;
            {
              py::gil_scoped_release release;
              history = self.fit(x, y, options);
            }
            return py::make_tuple(history.epoch, history.history, history.timing);
          })
      .def(
          "_fit_dataset",
          [](Model& self, const pitfall::data::Dataset& dataset, int epochs, int verbose, int initial_epoch,
             std::vector<std::shared_ptr<pitfall::Callback>> callbacks, std::map<int64_t, double> class_weight,
             int64_t steps_per_epoch, const std::optional<pitfall::data::Dataset>& validation_dataset,
             int64_t validation_steps, const std::vector<Tensor>& val_x, const std::vector<Tensor>& val_y,
             int64_t validation_batch_size, int validation_freq, std::vector<int> validation_epochs) {
            pitfall::FitOptions options;
            options.validation_freq = validation_freq;
            options.validation_epochs = std::move(validation_epochs);
            options.epochs = epochs;
            options.verbose = verbose;
            options.initial_epoch = initial_epoch;
            options.callbacks = std::move(callbacks);
            options.class_weight = std::move(class_weight);
            options.steps_per_epoch = steps_per_epoch;
            options.validation_dataset = validation_dataset;
            options.validation_steps = validation_steps;
            options.batch_size = validation_batch_size;
            if (!val_x.empty()) options.validation_data = std::make_pair(val_x, val_y);
            pitfall::History history;
            {
              py::gil_scoped_release release;
              history = self.fit(dataset, options);
            }
            return py::make_tuple(history.epoch, history.history, history.timing);
          })
      .def("_evaluate_dataset",
           [](Model& self, const pitfall::data::Dataset& dataset, int verbose, int64_t steps) {
             Logs logs;
             {
               py::gil_scoped_release release;
               logs = self.evaluate(dataset, verbose, steps);
             }
             return logs_to_python(logs);
           })
      .def("_predict_dataset",
           [](Model& self, const pitfall::data::Dataset& dataset, int verbose, int64_t steps) {
             py::gil_scoped_release release;
             return self.predict(dataset, verbose, steps);
           })
      .def("_evaluate",
           [](Model& self, const std::vector<Tensor>& x, const std::vector<Tensor>& y, int64_t batch_size, int verbose,
              const std::optional<Tensor>& sample_weight) {
             Logs logs;
             {
               py::gil_scoped_release release;
               logs = self.evaluate(x, y, batch_size, verbose, sample_weight.value_or(Tensor()));
             }
             return logs_to_python(logs);
           })
      .def("_predict",
           [](Model& self, const std::vector<Tensor>& x, int64_t batch_size, int verbose) {
             return self.predict(x, batch_size, verbose);
           },
           Release())
      .def("_train_on_batch", on_batch(&Model::train_on_batch))
      .def("_test_on_batch", on_batch(&Model::test_on_batch))
      .def("_predict_on_batch", &Model::predict_on_batch, Release())
      .def("save", [](Model& self, const std::string& path) { pitfall::save_model(self, path); }, py::arg("filepath"), Release(),
           "Config, compile config and weights in one checksummed file (docs/file-format.md), written atomically.")
      .def("save_weights", [](Model& self, const std::string& path) { pitfall::save_weights(self, path); },
           py::arg("filepath"), Release())
      .def("load_weights", [](Model& self, const std::string& path) { pitfall::load_weights(self, path); },
           py::arg("filepath"), Release());

  m.def("load_model", &pitfall::load_model, py::arg("filepath"), py::arg("compile") = true, Release());
  m.def("read_saved_header", [](const std::string& path) { return to_python(pitfall::read_saved_header(path)); });
  m.def(
      "register_python_layer_class",
      [](const std::string& name, const py::object& cls) {
        auto held = keep_python(cls);
        pitfall::register_layer_class(name, [held, name](const pitfall::Json& config) {
          py::gil_scoped_acquire gil;
          py::object layer = py::handle(held.get()).attr("from_config")(to_python(config));
          if (!py::isinstance<Layer>(layer)) {
            throw pitfall::ValueError("custom object '" + name + "': from_config did not return a layer");
          }
          return layer.cast<std::shared_ptr<Layer>>();
        });
      },
      py::arg("name"), py::arg("cls"), "Makes load_model / layer_from_config build `name` with cls.from_config(config).");

  py::class_<Sequential, Model, std::shared_ptr<Sequential>>(m, "Sequential")
      .def(py::init([](const py::object& layers, py::kwargs kwargs) {
             auto model = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{}, model_options("Sequential", kwargs));
             if (!layers.is_none()) {
               for (const auto& layer : layers) model->add(layer_or_input(layer));
             }
             return model;
           }),
           py::arg("layers") = py::none())
      .def("add", [](Sequential& self, const py::object& layer) { self.add(layer_or_input(layer)); }, py::arg("layer"))
      .def("pop", &Sequential::pop);
}

}  // namespace pitfall_python
