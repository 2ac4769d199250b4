// Saving and loading models (Keras: model.save, keras.models.load_model, save_weights, load_weights).
//
// One binary file holds the model's config, its compile config and its weights; docs/file-format.md
// is the specification. Writes are atomic: the file is written to a temporary file in the target's
// directory, flushed to disk, then renamed over the target, so an interrupted save never destroys the
// previous file. Reads check everything before touching a model: the magic bytes, the format
// version, the size the header promises, a CRC-32 of the whole file and the weight table; a bad file
// raises ValueError naming the path (and the byte offset where one applies), never reads out of
// bounds and never leaves a model half-loaded.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "pitfall/core/file_container.h"
#include "pitfall/core/json.h"

namespace pitfall {

class Model;

// The whole model: architecture (get_config), compile config (optimizer, losses, metrics,
// loss_weights) and weights. Sequential and functional models only: a subclassed model's
// architecture is code, so it raises ValueError pointing to save_weights (Keras behaviour).
void save_model(Model& model, const std::string& path);

// Re-creates the model from its config and loads its weights. With compile=true, a model saved
// compiled is compiled again with the same optimizer config, losses, metrics and loss_weights; when
// one of them cannot be re-created exactly, the model is returned uncompiled with a warning.
// The optimizer's state (step counters, moments, learning-rate schedule, loss scale) is saved with a
// compiled model and restored, so training resumes bitwise where it stopped; a state that does not fit
// the model warns and leaves a fresh optimizer.
std::shared_ptr<Model> load_model(const std::string& path, bool compile = true);

// The weights only, in the same container (no model config). Works for every kind of model.
void save_weights(Model& model, const std::string& path);

// Loads weights into an already built model of the same architecture (from save_weights or
// save_model files). Weights are matched by their structural path ("layers/dense_1/kernel": the
// layer's class and position, not its name, as Keras does, so a second copy of the same model built
// in the same session loads fine); every path, shape and dtype is checked before any weight is
// written, and the first mismatch raises ValueError naming the layer, the weight, expected and got.
void load_weights(Model& model, const std::string& path);

// The JSON header of a saved file, after every check load_model makes (tools, tests).
Json read_saved_header(const std::string& path);

// The format version this build writes, and the newest it reads (the container's:
// core/file_container.h).
inline constexpr uint32_t kSavedFormatVersion = kContainerFormatVersion;


namespace saving_testing {
// Makes the next save fail after writing `bytes` bytes of its temporary file, as a full disk would
// (ENOSPC); a negative value disarms it. For tests of the atomic-write guarantee.
void fail_next_save_after(int64_t bytes);
}  // namespace saving_testing

}  // namespace pitfall
