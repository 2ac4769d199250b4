// save_model / load_model / save_weights / load_weights: models mapped onto the file container
// (core/file_container.h, docs/file-format.md). The header carries the model config and compile
// config; section "weights" holds the weights by structural path, section "optimizer" the optimizer's
// state by slot and weight path.
#include "pitfall/training/saving.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "pitfall/core/atomic_file.h"
#include "pitfall/core/error.h"
#include "pitfall/core/file_container.h"
#include "pitfall/core/random.h"
#include "pitfall/core/warnings.h"
#include "pitfall/layers/layer.h"
#include "pitfall/layers/losses.h"
#include "pitfall/layers/metrics.h"
#include "pitfall/optim/optimizer.h"
#include "pitfall/training/model.h"

namespace pitfall {

namespace {

namespace fs = std::filesystem;

constexpr const char* kWeightsSection = "weights";
constexpr const char* kOptimizerSection = "optimizer";
constexpr const char* kOptimizerPrefix = "optimizer/";

std::string in_quotes(const std::string& path) { return "'" + path + "'"; }

// ---------------------------------------------------------------- weights and their paths

struct WeightSlot {
  Weight* weight = nullptr;
  std::string path;           // structural: "layers/dense_1/kernel"
  const Layer* owner = nullptr;
};

// Keras 3 names a container's children by class and position ("dense", "dense_1", ...), not by
// their (session-dependent) layer names; the weight path is that chain plus the weight's name.
void assign_paths(Layer& layer, const std::string& prefix, std::map<const TensorImpl*, WeightSlot>& slots) {
  std::vector<std::shared_ptr<Layer>> children;
  if (auto* model = dynamic_cast<Model*>(&layer)) {
    children = model->layers();
  } else {
    children = layer.tracked_layers();
  }
  std::map<std::string, int> used;
  for (const auto& child : children) {
    std::string name = to_snake_case(child->class_name());
    const auto found = used.find(name);
    if (found == used.end()) {
      used[name] = 0;
    } else {
      name += "_" + std::to_string(++found->second);
    }
    assign_paths(*child, prefix + "layers/" + name + "/", slots);
  }
  for (Weight* w : layer.weights()) {
    if (!slots.count(w->value.impl())) slots[w->value.impl()] = WeightSlot{w, prefix + w->name, &layer};
  }
}

std::vector<WeightSlot> weight_slots(Model& model) {
  std::map<const TensorImpl*, WeightSlot> by_tensor;
  assign_paths(model, "", by_tensor);
  std::vector<WeightSlot> out;
  for (Weight* w : model.weights()) {
    auto found = by_tensor.find(w->value.impl());
    out.push_back(found != by_tensor.end() ? found->second : WeightSlot{w, w->name, &model});
    out.back().weight = w;
  }
  return out;
}

// The structural path of each of model.trainable_weights(), in that order (the optimizer's indexing).
std::vector<std::string> trainable_weight_paths(Model& model) {
  std::map<const TensorImpl*, std::string> by_tensor;
  for (const WeightSlot& slot : weight_slots(model)) by_tensor[slot.weight->value.impl()] = slot.path;
  std::vector<std::string> paths;
  for (const Tensor& t : model.trainable_weights()) {
    const auto found = by_tensor.find(t.impl());
    paths.push_back(found != by_tensor.end() ? found->second : "#" + std::to_string(paths.size()));
  }
  return paths;
}

// ---------------------------------------------------------------- writing

Json compile_config_of(const Model& model) {
  Json config = Json::object();
  const auto& optimizer = model.optimizer();
  config["optimizer"] = Json(Json::Object{{"class_name", optimizer->class_name()}, {"config", optimizer->get_config()}});
  Json losses = Json::array();
  for (const auto& loss : model.compiled_losses()) {
    // null: an output compiled without a loss
    losses.as_array().push_back(loss ? Json(Json::Object{{"class_name", loss->class_name()}, {"config", loss->get_config()}})
                                     : Json());
  }
  config["loss"] = losses;
  Json metrics = Json::array();
  for (const auto& list : model.compiled_metrics()) {
    Json per_output = Json::array();
    for (const auto& metric : list) {
      per_output.as_array().push_back(
          Json(Json::Object{{"class_name", metric->class_name()}, {"config", metric->get_config()}}));
    }
    metrics.as_array().push_back(per_output);
  }
  config["metrics"] = metrics;
  const auto& loss_weights = model.compiled_loss_weights();
  config["loss_weights"] = loss_weights.empty() ? Json() : Json::from_vector(loss_weights);
  return config;
}

// Warns about layers load_model will not find in the registry (custom classes): the save works, as
// in Keras, but loading needs register_layer_class first.
void warn_unregistered_layers(Model& model, const std::string& path) {
  const std::vector<std::string> known = registered_layer_classes();
  const std::set<std::string> registered(known.begin(), known.end());
  std::vector<std::shared_ptr<Layer>> stack = model.layers();
  while (!stack.empty()) {
    auto layer = stack.back();
    stack.pop_back();
    if (!registered.count(layer->class_name())) {
      warn("save_model: " + layer->describe() + " in " + in_quotes(path) + " is not a registered layer class; "
           "load_model will raise unless register_layer_class(\"" + layer->class_name() + "\", ...) is called first");
    }
    if (auto sub = std::dynamic_pointer_cast<Model>(layer)) {
      for (const auto& child : sub->layers()) stack.push_back(child);
    }
  }
}

void write_file(Model& model, const std::string& path, bool with_model_config, const std::string& where) {
  Json header = Json::object();
  header["format"] = "pitfall";
  header["format_version"] = static_cast<int64_t>(kSavedFormatVersion);
  header["contents"] = with_model_config ? "model" : "weights";
  header["model_class_name"] = model.class_name();
  header["model_name"] = model.name();
  if (with_model_config) {
    header["model_config"] = Json(Json::Object{{"class_name", model.class_name()}, {"config", model.get_config()}});
    if (model.compiled()) header["compile_config"] = compile_config_of(model);
  }
  std::vector<ContainerSection> sections;
  ContainerSection& weights = sections.emplace_back(ContainerSection{kWeightsSection, {}});
  for (const WeightSlot& slot : weight_slots(model)) {
    weights.tensors.push_back({slot.path, slot.weight->path, slot.weight->value,
                               Json(Json::Object{{"trainable", slot.weight->trainable}})});
  }
  if (with_model_config && model.compiled()) {
    // The optimizer's state, each slot named by the structural path of the variable it belongs to, so
    // that training resumes exactly where it stopped.
    const Optimizer& optimizer = *model.optimizer();
    const std::vector<std::string> paths = trainable_weight_paths(model);
    ContainerSection state{kOptimizerSection, {}};
    for (const auto& [key, value] : optimizer.state_tensors()) {
      const size_t slash = key.rfind('/');
      const size_t index = std::stoull(key.substr(slash + 1));
      if (index >= paths.size()) {
        throw ValueError(where + ": cannot save " + in_quotes(path) + ": the optimizer holds state '" + key +
                         "' for variable #" + std::to_string(index) + " but the model has " +
                         std::to_string(paths.size()) + " trainable weights; was the optimizer used with another model?");
      }
      state.tensors.push_back({kOptimizerPrefix + key.substr(0, slash) + "/" + paths[index], key, value, Json()});
    }
    sections.push_back(std::move(state));
    header["optimizer_state"] = optimizer.state_scalars();
  }
  write_container(path, std::move(header), sections, where);
}

// ---------------------------------------------------------------- reading

std::string entry_str(DType dtype, const Shape& shape) {
  return keras_shape_str(shape) + " " + std::string(dtype_name(dtype));
}

// Checks every weight of `model` against the file's table, then (only if all match) writes them.
void load_weights_from(Model& model, const Container& file, const std::string& where) {
  const std::string at = where + ": " + in_quotes(file.path()) + ": ";
  const std::vector<ContainerEntry> entries = file.section(kWeightsSection, where);
  const std::vector<WeightSlot> slots = weight_slots(model);
  const std::string model_str = "model '" + model.name() + "' (" + model.class_name() + ")";
  if (slots.empty() && !entries.empty()) {
    throw ValueError(at + model_str + " has no weights yet (it is not built) but the file holds " +
                     std::to_string(entries.size()) + "; build the model first (call it on data, or give its first " +
                     "layer an input_shape) and then load the weights");
  }
  for (size_t i = 0; i < std::min(slots.size(), entries.size()); ++i) {
    const WeightSlot& slot = slots[i];
    const ContainerEntry& entry = entries[i];
    const Tensor& value = slot.weight->value;
    if (slot.path != entry.path || value.shape() != entry.shape || value.dtype() != entry.dtype) {
      throw ValueError(at + "weight #" + std::to_string(i) + " does not match: " + slot.owner->describe() +
                       " weight '" + slot.weight->name + "' (path '" + slot.path + "') expects " +
                       entry_str(value.dtype(), value.shape()) + ", the file has '" + entry.path + "' (saved as '" +
                       entry.name + "') " + entry_str(entry.dtype, entry.shape) +
                       "; the file was saved from a different architecture");
    }
  }
  if (slots.size() != entries.size()) {
    const bool model_has_more = slots.size() > entries.size();
    const std::string first_extra =
        model_has_more ? slots[entries.size()].owner->describe() + " weight '" + slots[entries.size()].weight->name + "'"
                       : "'" + entries[slots.size()].path + "' (saved as '" + entries[slots.size()].name + "')";
    throw ValueError(at + model_str + " has " + std::to_string(slots.size()) + " weights but the file holds " +
                     std::to_string(entries.size()) + "; the first without a counterpart is " +
                     (model_has_more ? "the model's " : "the file's ") + first_extra +
                     "; the file was saved from a different architecture");
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    const Tensor& value = slots[i].weight->value;
    value.assign(file.tensor(entries[i], value.device()));
  }
}

// ---------------------------------------------------------------- compile config

// Numbers compare by value (an int 1 equals 1.0): a config read back from a file may spell them differently.
bool json_equivalent(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) return a.as_double() == b.as_double();
  if (a.is_object() && b.is_object()) {
    const auto& x = a.as_object();
    const auto& y = b.as_object();
    if (x.size() != y.size()) return false;
    for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j) {
      if (i->first != j->first || !json_equivalent(i->second, j->second)) return false;
    }
    return true;
  }
  if (a.is_array() && b.is_array()) {
    const auto& x = a.as_array();
    const auto& y = b.as_array();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!json_equivalent(x[i], y[i])) return false;
    }
    return true;
  }
  return a == b;
}

std::shared_ptr<Optimizer> restore_optimizer(const Json& saved) {
  const std::string class_name = saved.at("class_name").as_string();
  const Json config = saved.get("config", Json::object());
  std::shared_ptr<Optimizer> optimizer = optimizer_from_config(class_name, config);
  // Every saved value must come back as saved (a table default that changed between versions shows here).
  const Json rebuilt = optimizer->get_config();
  for (const auto& [key, value] : config.as_object()) {
    if (key == "defaults_from_table" || key == "use_ema" || key == "ema_momentum" || key == "ema_overwrite_frequency") {
      continue;
    }
    if (!rebuilt.contains(key) || !json_equivalent(rebuilt.at(key), value)) {
      throw ValueError("the optimizer " + class_name + " with config " + config.dump() +
                       " cannot be re-created exactly: '" + key + "' comes back as " +
                       (rebuilt.contains(key) ? rebuilt.at(key).dump() : std::string("missing")));
    }
  }
  return optimizer;
}

// A built-in metric equal (class and config) to the saved one. Its name is first resolved as
// compile() resolves an identifier ("accuracy" from the output's loss and shape); a metric object
// the user configured is re-created from its class.
std::shared_ptr<Metric> restore_metric(const Model& model, const Json& saved, size_t output,
                                       const std::vector<std::shared_ptr<Loss>>& losses) {
  const std::string class_name = saved.at("class_name").as_string();
  const Json config = saved.get("config", Json::object());
  auto matches = [&](const std::shared_ptr<Metric>& m) {
    return m && m->class_name() == class_name && json_equivalent(m->get_config(), config);
  };
  try {
    auto metric = model.metric_for_output(config.get("name", Json("")).as_string(), output, losses);
    if (matches(metric)) return metric;
  } catch (const Error&) {
    // not an identifier compile() knows: try the class below
  }
  std::shared_ptr<Metric> metric;
  try {
    metric = metric_from_config(saved);
  } catch (const Error&) {
    // not a built-in class: the error below says so
  }
  if (matches(metric)) return metric;
  throw ValueError("the metric " + class_name + " with config " + config.dump() + " is not a built-in pitfall can re-create");
}

// Loads the optimizer section into the model's (freshly restored) optimizer: each entry's path names
// its slot and the variable it belongs to; shapes and dtypes are checked against that variable.
void restore_optimizer_state(Model& model, const Container& file, const std::string& where) {
  const std::vector<ContainerEntry> entries = file.section(kOptimizerSection, where);
  const std::vector<std::string> paths = trainable_weight_paths(model);
  const std::vector<Tensor> variables = model.trainable_weights();
  std::vector<std::pair<std::string, Tensor>> tensors;
  const std::string prefix = kOptimizerPrefix;
  for (const ContainerEntry& entry : entries) {
    // "optimizer/<slot>/<weight path>": the slot is the first component after the prefix.
    const size_t slot_end = entry.path.find('/', prefix.size());
    if (entry.path.rfind(prefix, 0) != 0 || slot_end == std::string::npos) {
      throw ValueError("state entry '" + entry.path + "' is not named optimizer/<slot>/<weight path>");
    }
    const std::string weight_path = entry.path.substr(slot_end + 1);
    const auto found = std::find(paths.begin(), paths.end(), weight_path);
    if (found == paths.end()) {
      throw ValueError("state entry '" + entry.path + "' belongs to weight '" + weight_path +
                       "', which is not a trainable weight of the model");
    }
    const size_t index = static_cast<size_t>(found - paths.begin());
    if (entry.shape != variables[index].shape() || entry.dtype != variables[index].dtype()) {
      throw ValueError("state entry '" + entry.path + "' is " + entry_str(entry.dtype, entry.shape) + " but weight '" +
                       weight_path + "' is " + entry_str(variables[index].dtype(), variables[index].shape()));
    }
    tensors.emplace_back(entry.path.substr(prefix.size(), slot_end - prefix.size()) + "/" + std::to_string(index),
                         file.tensor(entry, variables[index].device()));
  }
  model.optimizer()->load_state(file.header().at("optimizer_state"), tensors);
}

void restore_compile(Model& model, const Json& compile_config) {
  auto optimizer = restore_optimizer(compile_config.at("optimizer"));
  std::vector<std::shared_ptr<Loss>> losses;
  for (const Json& loss : compile_config.at("loss").as_array()) {
    losses.push_back(loss.is_null() ? nullptr : loss_from_config(loss));
  }
  std::vector<std::vector<std::shared_ptr<Metric>>> metrics;
  size_t output = 0;
  const Json metric_lists = compile_config.get("metrics", Json::array());  // get() returns a copy: keep it alive
  for (const Json& list : metric_lists.as_array()) {
    std::vector<std::shared_ptr<Metric>> restored;
    for (const Json& metric : list.as_array()) restored.push_back(restore_metric(model, metric, output, losses));
    metrics.push_back(std::move(restored));
    ++output;
  }
  std::vector<double> loss_weights;
  const Json weights = compile_config.get("loss_weights", Json());
  if (!weights.is_null()) {
    for (const Json& w : weights.as_array()) loss_weights.push_back(w.as_double());
  }
  model.compile(std::move(optimizer), std::move(losses), std::move(metrics), std::move(loss_weights));
}

}  // namespace

// ---------------------------------------------------------------- public API

void save_model(Model& model, const std::string& path) {
  const std::vector<std::string> known = registered_layer_classes();
  const bool registered = std::find(known.begin(), known.end(), model.class_name()) != known.end();
  const bool recreatable = registered && (model.class_name() != "Functional" || model.is_functional());
  if (!recreatable) {
    throw ValueError("save_model: model '" + model.name() + "' (" + model.class_name() +
                     ") is a subclassed model: its architecture is code (call()), not a config, so load_model could "
                     "not re-create it. Save its weights instead with save_weights(model, " + in_quotes(path) +
                     "), and to restore, build the same model in code and call load_weights(model, path). "
                     "(Or build it as a Sequential or functional model, which save_model supports.)");
  }
  warn_unregistered_layers(model, path);
  write_file(model, path, /*with_model_config=*/true, "save_model");
}

void save_weights(Model& model, const std::string& path) {
  write_file(model, path, /*with_model_config=*/false, "save_weights");
}

std::shared_ptr<Model> load_model(const std::string& path, bool compile) {
  const std::string where = "load_model";
  const Container file = Container::read(path, where);
  const std::string at = where + ": " + in_quotes(path) + ": ";
  const std::string contents = file.header().get("contents", Json("")).is_string()
                                   ? file.header().get("contents", Json("")).as_string()
                                   : std::string();
  if (contents == "weights") {
    throw ValueError(at + "the file holds weights only (written by save_weights), not a model; build the model in code "
                     "and call load_weights(model, path), or save it with save_model");
  }
  if (contents != "model" || !file.header().contains("model_config")) {
    throw ValueError(at + "the header has no model config (contents '" + contents + "'); the file is not a saved model");
  }
  std::shared_ptr<Model> model;
  // Building the layers runs their initializers; put the global random stream back afterwards, so
  // loading a model does not change the numbers the rest of the program draws (shuffling in a
  // resumed fit, for one, continues exactly as if the model had never been saved).
  const RandomState random_state = global_random_state();
  struct RestoreRandomState {
    RandomState state;
    ~RestoreRandomState() { set_global_random_state(state); }
  } restore_random_state{random_state};
  try {
    std::shared_ptr<Layer> layer = layer_from_config(file.header().at("model_config"));
    model = std::dynamic_pointer_cast<Model>(layer);
    if (!model) throw ValueError("the config describes " + layer->describe() + ", not a model");
  } catch (const Error& e) {
    throw_error(e.kind(), at + "cannot re-create the model from its config: " + e.what());
  }
  load_weights_from(*model, file, where);
  if (compile && file.header().contains("compile_config") && !file.header().at("compile_config").is_null()) {
    try {
      restore_compile(*model, file.header().at("compile_config"));
    } catch (const Error& e) {
      warn(at + "the model was saved compiled but its compile config cannot be restored (" + e.what() +
           "); it is loaded uncompiled: call compile() before fit() or evaluate()");
    }
    if (model->compiled() && file.header().contains("optimizer_state")) {
      try {
        restore_optimizer_state(*model, file, where);
      } catch (const Error& e) {
        warn(at + "the optimizer state cannot be restored (" + e.what() + "); training continues with a fresh " +
             model->optimizer()->class_name() + " (step 0, empty moments), not where it stopped");
      }
    }
  }
  return model;
}

void load_weights(Model& model, const std::string& path) {
  const Container file = Container::read(path, "load_weights");
  load_weights_from(model, file, "load_weights");
}

Json read_saved_header(const std::string& path) { return Container::read(path, "read_saved_header").header(); }

namespace saving_testing {
void fail_next_save_after(int64_t bytes) { AtomicFileWriter::fail_next_write_after(bytes); }
}  // namespace saving_testing

}  // namespace pitfall
