// save_model / load_model / save_weights / load_weights: the container of docs/file-format.md.
//
//   [0, 32)            prelude: magic "\x89PITFALL", version u32, flags u32, header_length u64,
//                      data_length u64 (little-endian)
//   [32, 32 + H)       JSON header (model config, compile config, named sections with their tensors)
//   zero padding       to the next multiple of 64: data_start
//   [data_start, +D)   the sections' raw little-endian bytes, each tensor 64-byte aligned
//   4 bytes            CRC-32 of every byte before it
#include "pitfall/layers/saving.h"

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
#include "pitfall/core/random.h"
#include "pitfall/core/warnings.h"
#include "pitfall/layers/layer.h"
#include "pitfall/layers/losses.h"
#include "pitfall/layers/metrics.h"
#include "pitfall/layers/model.h"
#include "pitfall/optim/optimizer.h"

namespace pitfall {

namespace {

namespace fs = std::filesystem;

constexpr std::array<uint8_t, 8> kMagic = {0x89, 'P', 'I', 'T', 'F', 'A', 'L', 'L'};
constexpr uint64_t kPreludeSize = 32;
constexpr uint64_t kAlignment = 64;
constexpr uint64_t kChecksumSize = 4;
constexpr const char* kWeightsSection = "weights";
constexpr const char* kOptimizerSection = "optimizer";
constexpr const char* kOptimizerPrefix = "optimizer/";

uint64_t align_up(uint64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

std::string in_quotes(const std::string& path) { return "'" + path + "'"; }

// ---------------------------------------------------------------- little-endian helpers

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint32_t get_u32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Tensor bytes are stored little-endian; on a big-endian host each element is reversed in place.
void to_or_from_little_endian(uint8_t* bytes, size_t size, size_t item_size) {
  if constexpr (std::endian::native == std::endian::little) {
    (void)bytes, (void)size, (void)item_size;
  } else {
    for (size_t i = 0; i + item_size <= size; i += item_size) std::reverse(bytes + i, bytes + i + item_size);
  }
}

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

struct PendingTensor {
  Tensor host;  // packed, on the CPU
  uint64_t offset = 0, length = 0;
};

Json compile_config_of(const Model& model) {
  Json config = Json::object();
  const auto& optimizer = model.optimizer();
  config["optimizer"] = Json(Json::Object{{"class_name", optimizer->class_name()}, {"config", optimizer->get_config()}});
  Json losses = Json::array();
  for (const auto& loss : model.compiled_losses()) {
    losses.as_array().push_back(Json(Json::Object{{"class_name", loss->class_name()}, {"config", loss->get_config()}}));
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

  std::vector<PendingTensor> tensors;
  uint64_t data_used = 0;
  Json sections = Json::object();
  // Lays out one named section after the previous ones; every tensor 64-byte aligned.
  auto add_section = [&](const char* section, const std::vector<std::tuple<std::string, std::string, Tensor, Json>>& items) {
    const uint64_t section_start = align_up(data_used);
    uint64_t section_length = 0;
    Json entries = Json::array();
    for (const auto& [entry_path, entry_name, value, extra] : items) {
      PendingTensor pending;
      pending.host = value.detach().contiguous().to(Device{});
      const uint64_t offset = align_up(section_length);
      pending.offset = section_start + offset;
      pending.length = static_cast<uint64_t>(value.numel()) * dtype_size(value.dtype());
      section_length = offset + pending.length;
      Json entry = extra.is_object() ? extra : Json::object();
      entry["path"] = entry_path;
      entry["name"] = entry_name;
      entry["dtype"] = std::string(dtype_name(value.dtype()));
      entry["shape"] = Json::from_vector(value.shape());
      entry["offset"] = static_cast<int64_t>(offset);
      entry["length"] = static_cast<int64_t>(pending.length);
      entries.as_array().push_back(entry);
      tensors.push_back(std::move(pending));
    }
    sections[section] = Json(Json::Object{{"offset", static_cast<int64_t>(section_start)},
                                           {"length", static_cast<int64_t>(section_length)},
                                           {"entries", entries}});
    data_used = section_start + section_length;
  };
  std::vector<std::tuple<std::string, std::string, Tensor, Json>> weight_items;
  for (const WeightSlot& slot : weight_slots(model)) {
    weight_items.emplace_back(slot.path, slot.weight->path, slot.weight->value,
                              Json(Json::Object{{"trainable", slot.weight->trainable}}));
  }
  add_section(kWeightsSection, weight_items);
  if (with_model_config && model.compiled()) {
    // The optimizer's state, each slot named by the structural path of the variable it belongs to, so
    // that training resumes exactly where it stopped.
    const Optimizer& optimizer = *model.optimizer();
    const std::vector<std::string> paths = trainable_weight_paths(model);
    std::vector<std::tuple<std::string, std::string, Tensor, Json>> state_items;
    for (const auto& [key, value] : optimizer.state_tensors()) {
      const size_t slash = key.rfind('/');
      const size_t index = std::stoull(key.substr(slash + 1));
      if (index >= paths.size()) {
        throw ValueError(where + ": cannot save " + in_quotes(path) + ": the optimizer holds state '" + key +
                         "' for variable #" + std::to_string(index) + " but the model has " +
                         std::to_string(paths.size()) + " trainable weights; was the optimizer used with another model?");
      }
      state_items.emplace_back(kOptimizerPrefix + key.substr(0, slash) + "/" + paths[index], key, value, Json());
    }
    add_section(kOptimizerSection, state_items);
    header["optimizer_state"] = optimizer.state_scalars();
  }
  const uint64_t data_length = align_up(data_used);
  header["sections"] = sections;

  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const Error& e) {
    throw_error(e.kind(), where + ": cannot save " + in_quotes(path) + ": the model's config is not valid JSON: " + e.what());
  }
  std::string prelude(kMagic.begin(), kMagic.end());
  put_u32(prelude, kSavedFormatVersion);
  put_u32(prelude, 0);  // flags: none defined
  put_u64(prelude, header_text.size());
  put_u64(prelude, data_length);

  AtomicFileWriter writer(path, where);
  writer.write(prelude);
  writer.write(header_text);
  const uint64_t data_start = align_up(writer.offset());
  writer.write_zeros(data_start - writer.offset());
  std::vector<uint8_t> swapped;
  for (const PendingTensor& t : tensors) {
    writer.write_zeros(data_start + t.offset - writer.offset());
    const auto* bytes = static_cast<const uint8_t*>(t.length ? t.host.data_ptr() : nullptr);
    if constexpr (std::endian::native != std::endian::little) {
      swapped.assign(bytes, bytes + t.length);
      to_or_from_little_endian(swapped.data(), swapped.size(), dtype_size(t.host.dtype()));
      bytes = swapped.data();
    }
    if (t.length) writer.write(bytes, t.length);
  }
  writer.write_zeros(data_start + data_length - writer.offset());
  std::string checksum;
  put_u32(checksum, writer.crc());
  writer.write(checksum);
  writer.commit();
}

// ---------------------------------------------------------------- reading

struct TensorEntry {
  std::string path, name;
  DType dtype = DType::float32;
  Shape shape;
  uint64_t offset = 0, length = 0;  // offset: absolute, in the file
};

struct SavedFile {
  std::string path;
  std::vector<uint8_t> bytes;
  Json header;
  uint64_t data_start = 0, data_length = 0;
};

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

// What a file that is not ours probably is, for the "not a pitfall model file" message.
std::string guess_format(const std::vector<uint8_t>& bytes) {
  auto starts = [&](const char* prefix) {
    const size_t n = std::strlen(prefix);
    return bytes.size() >= n && std::memcmp(bytes.data(), prefix, n) == 0;
  };
  if (starts("\x89HDF")) return " (it looks like an HDF5 file: a Keras .h5 model or .weights.h5)";
  if (starts("PK")) return " (it looks like a zip archive: a Keras .keras model?)";
  if (starts("\x93NUMPY")) return " (it looks like a NumPy .npy file)";
  if (!bytes.empty() && (bytes[0] == '{' || bytes[0] == '[')) return " (it looks like a JSON text file)";
  return "";
}

SavedFile read_file(const std::string& path, const std::string& where) {
  SavedFile file;
  file.path = path;
  const std::string at = where + ": " + in_quotes(path);
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) {
    throw ValueError(at + ": file not found; check the path (save_model / save_weights write it)");
  }
  if (fs::is_directory(status)) throw ValueError(at + " is a directory, not a saved model file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw RuntimeError(at + ": cannot open the file for reading: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size < 0) throw RuntimeError(at + ": cannot determine the file's size");
  file.bytes.resize(static_cast<size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(file.bytes.data()), size)) {
    throw RuntimeError(at + ": reading the file failed after " + std::to_string(in.gcount()) + " of " +
                       std::to_string(size) + " bytes");
  }
  const std::vector<uint8_t>& b = file.bytes;
  const uint64_t actual = b.size();

  // Magic: a short file whose bytes all match the magic is a truncated pitfall file.
  const size_t magic_seen = std::min<size_t>(b.size(), kMagic.size());
  if (!std::equal(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(magic_seen), kMagic.begin()) || b.empty()) {
    throw ValueError(at + " is not a pitfall model file: it does not start with the magic bytes \\x89PITFALL" +
                     guess_format(b) + (b.empty() ? " (the file is empty)" : ""));
  }
  if (actual < kPreludeSize) {
    throw ValueError(at + " is truncated: expected at least " + std::to_string(kPreludeSize) +
                     " bytes (the fixed prelude), the file has " + std::to_string(actual));
  }
  const uint32_t version = get_u32(b.data() + 8);
  if (version > kSavedFormatVersion) {
    throw ValueError(at + " was written in format version " + std::to_string(version) +
                     ", newer than this build reads (up to " + std::to_string(kSavedFormatVersion) +
                     "); upgrade pitfall to load it");
  }
  if (version == 0) throw ValueError(at + ": invalid format version 0 (byte offset 8); the file is corrupted");
  const uint32_t flags = get_u32(b.data() + 12);
  if (flags != 0) {
    throw ValueError(at + ": unknown format flags " + hex32(flags) + " (byte offset 12); the file is corrupted or " +
                     "was written by a newer pitfall");
  }
  const uint64_t header_length = get_u64(b.data() + 16);
  const uint64_t data_length = get_u64(b.data() + 24);
  // Sizes come from the file: bound them before any arithmetic can overflow.
  constexpr uint64_t kLimit = uint64_t{1} << 60;
  if (header_length > kLimit || data_length > kLimit) {
    throw ValueError(at + ": the prelude declares a header of " + std::to_string(header_length) +
                     " bytes and data of " + std::to_string(data_length) +
                     " bytes (byte offsets 16 and 24), which cannot be right; the file is corrupted");
  }
  const uint64_t data_start = align_up(kPreludeSize + header_length);
  const uint64_t expected = data_start + data_length + kChecksumSize;
  if (actual < expected) {
    throw ValueError(at + " is truncated: the header promises " + std::to_string(expected) + " bytes, the file has " +
                     std::to_string(actual) + " (it ends at byte offset " + std::to_string(actual) +
                     "); the save was interrupted or the copy is incomplete");
  }
  if (actual > expected) {
    throw ValueError(at + ": the file has " + std::to_string(actual - expected) +
                     " unexpected bytes after its end (the header promises " + std::to_string(expected) +
                     " bytes, starting at byte offset " + std::to_string(expected) + "); the file is corrupted");
  }
  const uint32_t stored = get_u32(b.data() + expected - kChecksumSize);
  const uint32_t computed = crc32(b.data(), expected - kChecksumSize);
  if (stored != computed) {
    throw ValueError(at + ": checksum mismatch: the file's CRC-32 (byte offset " +
                     std::to_string(expected - kChecksumSize) + ") is " + hex32(stored) + " but its contents give " +
                     hex32(computed) + "; the file is corrupted");
  }
  try {
    file.header = Json::parse(std::string(reinterpret_cast<const char*>(b.data() + kPreludeSize), header_length));
  } catch (const Error& e) {
    throw ValueError(at + ": the JSON header (byte offset " + std::to_string(kPreludeSize) + ") is invalid: " + e.what());
  }
  if (!file.header.is_object()) throw ValueError(at + ": the JSON header is not an object");
  file.data_start = data_start;
  file.data_length = data_length;
  return file;
}

// The tensor table of a section, checked against the data: every byte range inside the section and
// the data, every length equal to shape x dtype size.
std::vector<TensorEntry> section_entries(const SavedFile& file, const std::string& section_name, const std::string& where) {
  const std::string at = where + ": " + in_quotes(file.path) + ": ";
  std::vector<TensorEntry> out;
  std::string current = "section '" + section_name + "'";
  try {
    const Json& sections = file.header.at("sections");
    if (!sections.contains(section_name)) {
      throw ValueError("the file has no '" + section_name + "' section");
    }
    const Json& section = sections.at(section_name);
    const int64_t section_offset = section.at("offset").as_int();
    const int64_t section_length = section.at("length").as_int();
    if (section_offset < 0 || section_length < 0 || static_cast<uint64_t>(section_offset) > file.data_length ||
        static_cast<uint64_t>(section_length) > file.data_length - static_cast<uint64_t>(section_offset)) {
      throw ValueError("it claims bytes [" + std::to_string(section_offset) + ", +" + std::to_string(section_length) +
                       ") of a data area of " + std::to_string(file.data_length) + " bytes");
    }
    const uint64_t section_start = file.data_start + static_cast<uint64_t>(section_offset);
    int64_t index = 0;
    for (const Json& item : section.at("entries").as_array()) {
      current = "weight #" + std::to_string(index++);
      TensorEntry entry;
      entry.path = item.at("path").as_string();
      current += " '" + entry.path + "'";
      entry.name = item.get("name", Json(entry.path)).as_string();
      entry.dtype = parse_dtype(item.at("dtype").as_string());
      uint64_t count = 1;
      for (const Json& d : item.at("shape").as_array()) {
        const int64_t dim = d.as_int();
        if (dim < 0 || (dim > 0 && count > (uint64_t{1} << 60) / static_cast<uint64_t>(dim))) {
          throw ValueError("invalid shape " + item.at("shape").dump());
        }
        count *= static_cast<uint64_t>(dim);
        entry.shape.push_back(dim);
      }
      const int64_t offset = item.at("offset").as_int();
      const int64_t length = item.at("length").as_int();
      const uint64_t expected_length = count * dtype_size(entry.dtype);
      if (length < 0 || static_cast<uint64_t>(length) != expected_length) {
        throw ValueError("its length is " + std::to_string(length) + " bytes but shape " + shape_str(entry.shape) +
                         " of " + std::string(dtype_name(entry.dtype)) + " needs " + std::to_string(expected_length));
      }
      if (offset < 0 || static_cast<uint64_t>(offset) > static_cast<uint64_t>(section_length) ||
          static_cast<uint64_t>(length) > static_cast<uint64_t>(section_length - offset)) {
        throw ValueError("it claims bytes [" + std::to_string(section_start + static_cast<uint64_t>(std::max<int64_t>(offset, 0))) +
                         ", +" + std::to_string(length) + ") but the section spans byte offsets [" +
                         std::to_string(section_start) + ", " + std::to_string(section_start + section_length) + ")");
      }
      entry.offset = section_start + static_cast<uint64_t>(offset);
      entry.length = static_cast<uint64_t>(length);
      out.push_back(std::move(entry));
    }
  } catch (const Error& e) {
    throw ValueError(at + "the weight table is inconsistent with the data (" + current + "): " + e.what());
  }
  return out;
}

std::string entry_str(DType dtype, const Shape& shape) {
  return keras_shape_str(shape) + " " + std::string(dtype_name(dtype));
}

// Checks every weight of `model` against the file's table, then (only if all match) writes them.
void load_weights_from(Model& model, const SavedFile& file, const std::string& where) {
  const std::string at = where + ": " + in_quotes(file.path) + ": ";
  const std::vector<TensorEntry> entries = section_entries(file, kWeightsSection, where);
  const std::vector<WeightSlot> slots = weight_slots(model);
  const std::string model_str = "model '" + model.name() + "' (" + model.class_name() + ")";
  if (slots.empty() && !entries.empty()) {
    throw ValueError(at + model_str + " has no weights yet (it is not built) but the file holds " +
                     std::to_string(entries.size()) + "; build the model first (call it on data, or give its first " +
                     "layer an input_shape) and then load the weights");
  }
  for (size_t i = 0; i < std::min(slots.size(), entries.size()); ++i) {
    const WeightSlot& slot = slots[i];
    const TensorEntry& entry = entries[i];
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
  std::vector<uint8_t> buffer;
  for (size_t i = 0; i < slots.size(); ++i) {
    const TensorEntry& entry = entries[i];
    const uint8_t* bytes = file.bytes.data() + entry.offset;
    if constexpr (std::endian::native != std::endian::little) {
      buffer.assign(bytes, bytes + entry.length);
      to_or_from_little_endian(buffer.data(), buffer.size(), dtype_size(entry.dtype));
      bytes = buffer.data();
    }
    const Tensor& value = slots[i].weight->value;
    value.assign(Tensor::from_buffer(bytes, entry.shape, entry.dtype, value.device()));
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

std::shared_ptr<Metric> metric_by_class(const std::string& class_name, const Json& config) {
  auto number = [&](const char* key, double fallback) { return config.get(key, Json(fallback)).as_double(); };
  if (class_name == "BinaryAccuracy") return binary_accuracy_metric(number("threshold", 0.5));
  if (class_name == "CategoricalAccuracy") return categorical_accuracy_metric();
  if (class_name == "SparseCategoricalAccuracy") return sparse_categorical_accuracy_metric();
  if (class_name == "TopKCategoricalAccuracy") return top_k_categorical_accuracy_metric(config.get("k", Json(5)).as_int());
  if (class_name == "MeanSquaredError") return mean_squared_error_metric();
  if (class_name == "MeanAbsoluteError") return mean_absolute_error_metric();
  if (class_name == "Precision") return precision_metric(number("thresholds", 0.5));
  if (class_name == "Recall") return recall_metric(number("thresholds", 0.5));
  if (class_name == "AUC") return auc_metric(config.get("num_thresholds", Json(200)).as_int());
  return nullptr;
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
  auto metric = metric_by_class(class_name, config);
  if (matches(metric)) return metric;
  throw ValueError("the metric " + class_name + " with config " + config.dump() + " is not a built-in pitfall can re-create");
}

// Loads the optimizer section into the model's (freshly restored) optimizer: each entry's path names
// its slot and the variable it belongs to; shapes and dtypes are checked against that variable.
void restore_optimizer_state(Model& model, const SavedFile& file, const std::string& where) {
  const std::vector<TensorEntry> entries = section_entries(file, kOptimizerSection, where);
  const std::vector<std::string> paths = trainable_weight_paths(model);
  const std::vector<Tensor> variables = model.trainable_weights();
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::vector<uint8_t> buffer;
  const std::string prefix = kOptimizerPrefix;
  for (const TensorEntry& entry : entries) {
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
    const uint8_t* bytes = file.bytes.data() + entry.offset;
    if constexpr (std::endian::native != std::endian::little) {
      buffer.assign(bytes, bytes + entry.length);
      to_or_from_little_endian(buffer.data(), buffer.size(), dtype_size(entry.dtype));
      bytes = buffer.data();
    }
    tensors.emplace_back(entry.path.substr(prefix.size(), slot_end - prefix.size()) + "/" + std::to_string(index),
                         Tensor::from_buffer(bytes, entry.shape, entry.dtype, variables[index].device()));
  }
  model.optimizer()->load_state(file.header.at("optimizer_state"), tensors);
}

void restore_compile(Model& model, const Json& compile_config) {
  auto optimizer = restore_optimizer(compile_config.at("optimizer"));
  std::vector<std::shared_ptr<Loss>> losses;
  for (const Json& loss : compile_config.at("loss").as_array()) losses.push_back(loss_from_config(loss));
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
  const SavedFile file = read_file(path, where);
  const std::string at = where + ": " + in_quotes(path) + ": ";
  const std::string contents = file.header.get("contents", Json("")).is_string()
                                   ? file.header.get("contents", Json("")).as_string()
                                   : std::string();
  if (contents == "weights") {
    throw ValueError(at + "the file holds weights only (written by save_weights), not a model; build the model in code "
                     "and call load_weights(model, path), or save it with save_model");
  }
  if (contents != "model" || !file.header.contains("model_config")) {
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
    std::shared_ptr<Layer> layer = layer_from_config(file.header.at("model_config"));
    model = std::dynamic_pointer_cast<Model>(layer);
    if (!model) throw ValueError("the config describes " + layer->describe() + ", not a model");
  } catch (const Error& e) {
    throw_error(e.kind(), at + "cannot re-create the model from its config: " + e.what());
  }
  load_weights_from(*model, file, where);
  if (compile && file.header.contains("compile_config") && !file.header.at("compile_config").is_null()) {
    try {
      restore_compile(*model, file.header.at("compile_config"));
    } catch (const Error& e) {
      warn(at + "the model was saved compiled but its compile config cannot be restored (" + e.what() +
           "); it is loaded uncompiled: call compile() before fit() or evaluate()");
    }
    if (model->compiled() && file.header.contains("optimizer_state")) {
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
  const SavedFile file = read_file(path, "load_weights");
  load_weights_from(model, file, "load_weights");
}

Json read_saved_header(const std::string& path) { return read_file(path, "read_saved_header").header; }

namespace saving_testing {
void fail_next_save_after(int64_t bytes) { AtomicFileWriter::fail_next_write_after(bytes); }
}  // namespace saving_testing

}  // namespace pitfall
