// ModelCheckpoint, following keras/src/callbacks/model_checkpoint.py and monitor_callback.py.
#include "pitfall/training/model_checkpoint.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <sstream>

#include "pitfall/core/error.h"
#include "pitfall/core/warnings.h"
#include "pitfall/layers/layer.h"
#include "pitfall/layers/metrics.h"
#include "pitfall/training/saving.h"

namespace pitfall {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}


struct FormatValue {
  bool is_int = false;
  int64_t i = 0;
  double d = 0.0;
};

// One "{name:spec}" replacement field, with spec from the supported subset [0][width][.precision]type.
std::string format_field(const std::string& pattern, const std::string& name, const std::string& spec,
                         const FormatValue& value) {
  auto fail = [&](const std::string& why) -> std::string {
    throw ValueError("ModelCheckpoint: cannot format the filepath \"" + pattern + "\": field {" + name +
                     (spec.empty() ? "" : ":" + spec) + "}: " + why);
  };
  if (spec.empty()) return value.is_int ? std::to_string(value.i) : python_float_repr(value.d);
  size_t pos = 0;
  bool zero_pad = false;
  if (spec[pos] == '0') {
    zero_pad = true;
    ++pos;
  }
  int width = 0;
  while (pos < spec.size() && std::isdigit(static_cast<unsigned char>(spec[pos]))) width = width * 10 + (spec[pos++] - '0');
  int precision = -1;
  if (pos < spec.size() && spec[pos] == '.') {
    ++pos;
    precision = 0;
    const size_t start = pos;
    while (pos < spec.size() && std::isdigit(static_cast<unsigned char>(spec[pos]))) precision = precision * 10 + (spec[pos++] - '0');
    if (pos == start) return fail("a '.' must be followed by a precision");
  }
  if (pos + 1 != spec.size()) {
    return fail("unsupported format spec; use {name}, {name:02d}, {name:.2f}, {name:.3e} or {name:.4g}");
  }
  const char type = spec[pos];
  std::string flags = "%";
  if (zero_pad) flags += "0";
  if (width > 0) flags += std::to_string(width);
  char buf[512];
  if (type == 'd') {
    if (!value.is_int) return fail("format code 'd' needs an integer, but '" + name + "' is a float; use .Nf");
    if (precision >= 0) return fail("precision is not allowed with format code 'd'");
    std::snprintf(buf, sizeof buf, (flags + "lld").c_str(), static_cast<long long>(value.i));
    return buf;
  }
  if (type != 'f' && type != 'e' && type != 'g') {
    return fail(std::string("unsupported format code '") + type + "'; use d, f, e or g");
  }
  const double x = value.is_int ? static_cast<double>(value.i) : value.d;
  flags += "." + std::to_string(precision < 0 ? 6 : precision) + type;
  std::snprintf(buf, sizeof buf, flags.c_str(), x);
  return buf;
}

}  // namespace

std::string format_checkpoint_path(const std::string& pattern, int64_t epoch, std::optional<int64_t> batch,
                                   const Logs& logs) {
  std::map<std::string, FormatValue> values;
  for (const auto& [name, value] : logs) values[name] = FormatValue{false, 0, value};
  values["epoch"] = FormatValue{true, epoch, 0.0};
  if (batch) values["batch"] = FormatValue{true, *batch, 0.0};
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '}') {
      if (i + 1 < pattern.size() && pattern[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      throw ValueError("ModelCheckpoint: cannot format the filepath \"" + pattern + "\": a single '}' at position " +
                       std::to_string(i) + "; write '}}' for a literal brace");
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < pattern.size() && pattern[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t close = pattern.find('}', i);
    if (close == std::string::npos) {
      throw ValueError("ModelCheckpoint: cannot format the filepath \"" + pattern + "\": the '{' at position " +
                       std::to_string(i) + " is never closed");
    }
    const std::string field = pattern.substr(i + 1, close - i - 1);
    const size_t colon = field.find(':');
    const std::string name = field.substr(0, colon);
    const std::string spec = colon == std::string::npos ? "" : field.substr(colon + 1);
    const auto found = values.find(name);
    if (found == values.end()) {
      std::vector<std::string> names;
      std::string listing;
      for (const auto& [key, unused] : values) {
        names.push_back(key);
        listing += (listing.empty() ? "" : ", ") + key;
      }
      throw ValueError("ModelCheckpoint: cannot format the filepath \"" + pattern + "\": no value named '" + name +
                       "' (available: " + listing + "); " + did_you_mean(name, names));
    }
    out += format_field(pattern, name, spec, found->second);
    i = close;
  }
  return out;
}

ModelCheckpoint::ModelCheckpoint(std::string filepath, std::string monitor, int verbose, bool save_best_only,
                                 bool save_weights_only, std::string mode, SaveFreq save_freq,
                                 std::optional<double> initial_value_threshold, std::ostream* out)
    : filepath_(std::move(filepath)),
      monitor_(std::move(monitor)),
      mode_(std::move(mode)),
      verbose_(verbose),
      save_best_only_(save_best_only),
      save_weights_only_(save_weights_only),
      best_(initial_value_threshold),
      out_(out ? out : &std::cout) {
  if (filepath_.empty()) throw ValueError("ModelCheckpoint: filepath is empty; give the file to save to");
  if (mode_ != "auto" && mode_ != "min" && mode_ != "max") {
    warn("ModelCheckpoint mode '" + mode_ + "' is unknown, fallback to auto mode.");
    mode_ = "auto";
  }
  config_ = callback_config(
      "ModelCheckpoint",
      Json::Object{{"filepath", filepath_}, {"monitor", monitor_}, {"verbose", verbose_},
                   {"save_best_only", save_best_only_}, {"save_weights_only", save_weights_only_}, {"mode", mode_},
                   {"save_freq", std::holds_alternative<int64_t>(save_freq) ? Json(std::get<int64_t>(save_freq))
                                                                           : Json(std::get<std::string>(save_freq))},
                   {"initial_value_threshold", initial_value_threshold ? Json(*initial_value_threshold) : Json()}});
  if (const auto* every = std::get_if<int64_t>(&save_freq)) {
    if (*every <= 0) {
      throw ValueError("ModelCheckpoint: save_freq must be 'epoch' or a positive number of batches, got " +
                       std::to_string(*every));
    }
    save_every_batches_ = *every;
  } else if (std::get<std::string>(save_freq) != "epoch") {
    throw ValueError("Unrecognized save_freq: " + std::get<std::string>(save_freq) +
                     ". Expected save_freq are 'epoch' or integer values");
  }
}

// Keras MonitorCallback._set_monitor_op: min / max as given; auto minimizes the loss and follows a
// compiled metric's direction, and cannot guess for anything else.
void ModelCheckpoint::resolve_direction() {
  if (direction_ != Direction::unset) return;
  if (mode_ == "min") {
    direction_ = Direction::minimize;
  } else if (mode_ == "max") {
    direction_ = Direction::maximize;
  } else {
    const std::string name = monitor_.rfind("val_", 0) == 0 ? monitor_.substr(4) : monitor_;
    auto direction_of = [](const std::string& class_name) {
      static const std::vector<std::string> down = {"MeanSquaredError", "MeanAbsoluteError", "Mean"};
      for (const auto& d : down) {
        if (class_name == d) return Direction::minimize;
      }
      return Direction::maximize;  // accuracies, precision, recall, auc
    };
    if (name == "loss" || ends_with(name, "_loss")) direction_ = Direction::minimize;
    if (direction_ == Direction::unset && model_) {
      for (const auto& list : model_->compiled_metrics()) {
        for (const auto& metric : list) {
          if (name == metric->name() || ends_with(name, "_" + metric->name())) direction_ = direction_of(metric->class_name());
        }
      }
    }
    if (direction_ == Direction::unset && name.find("acc") != std::string::npos) direction_ = Direction::maximize;
    if (direction_ == Direction::unset) {
      throw ValueError("ModelCheckpoint callback received monitor=" + monitor_ +
                       ", but pitfall isn't able to automatically determine whether that metric should be maximized "
                       "or minimized. Pass mode='max' in order to monitor based on the highest metric value, or pass "
                       "mode='min' in order to use the lowest value.");
    }
  }
  if (!best_) {
    best_ = direction_ == Direction::minimize ? std::numeric_limits<double>::infinity()
                                              : -std::numeric_limits<double>::infinity();
  }
}

void ModelCheckpoint::on_epoch_begin(int epoch, const Logs&) { current_epoch_ = epoch; }

void ModelCheckpoint::on_epoch_end(int epoch, const Logs& logs) {
  if (!save_every_batches_) save(epoch, std::nullopt, logs);
}

// Keras _should_save_on_batch: counts batches across epochs (a batch index not above the last one
// seen starts a new epoch).
void ModelCheckpoint::on_train_batch_end(int64_t batch, const Logs& logs) {
  if (!save_every_batches_) return;
  batches_since_save_ += batch <= last_batch_seen_ ? batch + 1 : batch - last_batch_seen_;
  last_batch_seen_ = batch;
  if (batches_since_save_ >= *save_every_batches_) {
    batches_since_save_ = 0;
    save(current_epoch_, batch, logs);
  }
}

bool ModelCheckpoint::should_save(int epoch, const Logs& logs, const std::string& path) {
  if (!save_best_only_) {
    if (verbose_ > 0) *out_ << "\nEpoch " << epoch + 1 << ": saving model to " << path << "\n" << std::flush;
    return true;
  }
  const auto found = logs.find(monitor_);
  if (found == logs.end()) {
    warn("Can save best model only with " + monitor_ + " available.");
    return true;
  }
  resolve_direction();
  const double current = found->second;
  char best_text[64], current_text[64];
  std::snprintf(best_text, sizeof best_text, "%.5f", *best_);
  std::snprintf(current_text, sizeof current_text, "%.5f", current);
  const bool improved = direction_ == Direction::minimize ? current < *best_ : current > *best_;
  if (improved) {
    if (verbose_ > 0) {
      *out_ << "\nEpoch " << epoch + 1 << ": " << monitor_ << " improved from " << best_text << " to " << current_text
            << ", saving model to " << path << "\n" << std::flush;
    }
    best_ = current;
    return true;
  }
  if (verbose_ > 0) {
    *out_ << "\nEpoch " << epoch + 1 << ": " << monitor_ << " did not improve from " << best_text << "\n" << std::flush;
  }
  return false;
}

void ModelCheckpoint::save(int epoch, std::optional<int64_t> batch, const Logs& logs) {
  if (!model_) throw RuntimeError("ModelCheckpoint: no model; pass the callback to fit() (or call set_model)");
  const std::string path =
      format_checkpoint_path(filepath_, epoch + 1, batch ? std::optional<int64_t>(*batch + 1) : std::nullopt, logs);
  if (!should_save(epoch, logs, path)) return;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) throw RuntimeError("ModelCheckpoint: cannot create the directory '" + parent.string() + "': " + ec.message());
  }
  if (save_weights_only_) {
    save_weights(*model_, path);
  } else {
    save_model(*model_, path);
  }
  last_saved_path_ = path;
  if (verbose_ > 0) *out_ << "\nEpoch " << epoch + 1 << ": finished saving model to " << path << "\n" << std::flush;
}

}  // namespace pitfall
