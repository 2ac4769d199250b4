// The built-in Keras callbacks (C++ classes, training/training_callbacks.h) with Keras's arguments.
// Python functions given to LambdaCallback / LearningRateScheduler are called with the GIL taken.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "bindings.h"

namespace pitfall_python {

namespace {

template <class T>
using CallbackClass = py::class_<T, pitfall::Callback, std::shared_ptr<T>>;

std::optional<double> optional_double(const py::object& value) {
  if (value.is_none()) return std::nullopt;
  return value.cast<double>();
}

}  // namespace

void bind_callbacks(py::module_& m) {
  CallbackClass<pitfall::EarlyStopping>(m, "EarlyStopping")
      .def(py::init([](std::string monitor, double min_delta, int patience, int verbose, std::string mode,
                       const py::object& baseline, bool restore_best_weights, int start_from_epoch) {
             pitfall::EarlyStoppingOptions o;
             o.monitor = std::move(monitor);
             o.min_delta = min_delta;
             o.patience = patience;
             o.verbose = verbose;
             o.mode = std::move(mode);
             o.baseline = optional_double(baseline);
             o.restore_best_weights = restore_best_weights;
             o.start_from_epoch = start_from_epoch;
             return std::make_shared<pitfall::EarlyStopping>(o);
           }),
           py::arg("monitor") = "val_loss", py::arg("min_delta") = 0.0, py::arg("patience") = 0,
           py::arg("verbose") = 0, py::arg("mode") = "auto", py::arg("baseline") = py::none(),
           py::arg("restore_best_weights") = false, py::arg("start_from_epoch") = 0);
  CallbackClass<pitfall::ReduceLROnPlateau>(m, "ReduceLROnPlateau")
      .def(py::init([](std::string monitor, double factor, int patience, int verbose, std::string mode, double min_delta,
                       int cooldown, double min_lr) {
             pitfall::ReduceLROnPlateauOptions o;
             o.monitor = std::move(monitor);
             o.factor = factor;
             o.patience = patience;
             o.verbose = verbose;
             o.mode = std::move(mode);
             o.min_delta = min_delta;
             o.cooldown = cooldown;
             o.min_lr = min_lr;
             return std::make_shared<pitfall::ReduceLROnPlateau>(o);
           }),
           py::arg("monitor") = "val_loss", py::arg("factor") = 0.1, py::arg("patience") = 10, py::arg("verbose") = 0,
           py::arg("mode") = "auto", py::arg("min_delta") = 1e-4, py::arg("cooldown") = 0, py::arg("min_lr") = 0.0);
  CallbackClass<pitfall::LearningRateScheduler>(m, "LearningRateScheduler")
      .def(py::init([](pitfall::EpochLearningRateFunction schedule, int verbose) {
             return std::make_shared<pitfall::LearningRateScheduler>(std::move(schedule), verbose);
           }),
           py::arg("schedule"), py::arg("verbose") = 0);
  CallbackClass<pitfall::TerminateOnNaN>(m, "TerminateOnNaN")
      .def(py::init([](bool raise_error) { return std::make_shared<pitfall::TerminateOnNaN>(raise_error); }),
           py::arg("raise_error") = false);
  CallbackClass<pitfall::CheckNumerics>(m, "CheckNumerics")
      .def(py::init([](bool raise_error) { return std::make_shared<pitfall::CheckNumerics>(raise_error); }),
           py::arg("raise_error") = true)
      .def_property_readonly("raise_error", &pitfall::CheckNumerics::raise_error)
      // dict(step, epoch, batch, phase, layer, op, message, cause, line) or None when training stayed finite.
      .def_property_readonly("report", [](const pitfall::CheckNumerics& self) -> py::object {
        if (!self.report()) return py::none();
        const pitfall::NumericReport& r = *self.report();
        py::dict out;
        out["step"] = r.step;
        out["epoch"] = r.epoch;
        out["batch"] = r.batch;
        out["phase"] = r.phase;
        out["layer"] = r.layer;
        out["op"] = r.op;
        out["message"] = r.message;
        out["cause"] = r.cause;
        out["line"] = r.str();
        return out;
      });
  CallbackClass<pitfall::CSVLogger>(m, "CSVLogger")
      .def(py::init([](std::string filename, std::string separator, bool append) {
             return std::make_shared<pitfall::CSVLogger>(std::move(filename), std::move(separator), append);
           }),
           py::arg("filename"), py::arg("separator") = ",", py::arg("append") = false);
  CallbackClass<pitfall::ModelCheckpoint>(m, "ModelCheckpoint")
      .def(py::init([](std::string filepath, std::string monitor, int verbose, bool save_best_only, bool save_weights_only,
                       std::string mode, const py::object& save_freq, const py::object& initial_value_threshold) {
             pitfall::ModelCheckpoint::SaveFreq freq = std::string("epoch");
             if (py::isinstance<py::int_>(save_freq)) {
               freq = save_freq.cast<int64_t>();
             } else {
               freq = save_freq.cast<std::string>();
             }
             return std::make_shared<pitfall::ModelCheckpoint>(std::move(filepath), std::move(monitor), verbose,
                                                               save_best_only, save_weights_only, std::move(mode), freq,
                                                               optional_double(initial_value_threshold));
           }),
           py::arg("filepath"), py::arg("monitor") = "val_loss", py::arg("verbose") = 0,
           py::arg("save_best_only") = false, py::arg("save_weights_only") = false, py::arg("mode") = "auto",
           py::arg("save_freq") = "epoch", py::arg("initial_value_threshold") = py::none());
  CallbackClass<pitfall::LambdaCallback>(m, "LambdaCallback")
      .def(py::init([](std::function<void(int, const pitfall::Logs&)> on_epoch_begin,
                       std::function<void(int, const pitfall::Logs&)> on_epoch_end,
                       std::function<void(const pitfall::Logs&)> on_train_begin,
                       std::function<void(const pitfall::Logs&)> on_train_end,
                       std::function<void(int64_t, const pitfall::Logs&)> on_train_batch_begin,
                       std::function<void(int64_t, const pitfall::Logs&)> on_train_batch_end) {
             pitfall::LambdaCallbackHooks hooks;
             hooks.on_epoch_begin = std::move(on_epoch_begin);
             hooks.on_epoch_end = std::move(on_epoch_end);
             hooks.on_train_begin = std::move(on_train_begin);
             hooks.on_train_end = std::move(on_train_end);
             hooks.on_train_batch_begin = std::move(on_train_batch_begin);
             hooks.on_train_batch_end = std::move(on_train_batch_end);
             return std::make_shared<pitfall::LambdaCallback>(std::move(hooks));
           }),
           py::arg("on_epoch_begin") = nullptr, py::arg("on_epoch_end") = nullptr, py::arg("on_train_begin") = nullptr,
           py::arg("on_train_end") = nullptr, py::arg("on_train_batch_begin") = nullptr,
           py::arg("on_train_batch_end") = nullptr);
}

}  // namespace pitfall_python
