// Dataset itself (graph handle, options, iteration) and the helpers its nodes share
// (data/dataset_internal.h). Sources are in sources.cpp, transforms in dataset_transforms.cpp and
// dataset_threads.cpp, the element structure in structure.cpp, background threads in
// background_work.cpp.
#include "pitfall/data/dataset.h"

#include <cstring>

#include "pitfall/core/ops.h"
#include "pitfall/data/dataset_internal.h"

namespace pitfall::data {

using namespace internal;

namespace internal {

void rethrow_element_error(std::exception_ptr error, const std::string& op, int64_t element_index) {
  ErrorKind kind = ErrorKind::runtime;
  std::string message;
  try {
    std::rethrow_exception(error);
  } catch (const ElementError&) {
    throw;
  } catch (const Error& e) {
    kind = e.kind();
    message = e.what();
  } catch (const std::exception& e) {
    message = e.what();
  } catch (...) {
    message = "an unknown exception";
  }
  throw ElementError(kind, "Dataset." + op + ": the function failed on input element " + std::to_string(element_index) +
                               ": " + message,
                     op, element_index, error);
}

void throw_cancelled(const std::string& op) {
  throw RuntimeError("Dataset." + op + ": the iterator was cancelled (its pipeline is shutting down)");
}

uint64_t random_bits(RandomKey key, uint64_t iteration, uint64_t draw) {
  const uint64_t mixed_stream = key.stream * 0x9E3779B97F4A7C15ull;
  const auto w = philox4x32({static_cast<uint32_t>(draw), static_cast<uint32_t>(draw >> 32),
                             static_cast<uint32_t>(iteration) ^ static_cast<uint32_t>(mixed_stream),
                             static_cast<uint32_t>(iteration >> 32) ^ static_cast<uint32_t>(mixed_stream >> 32)},
                            key.seed);
  return (uint64_t{w[0]} << 32) | w[1];
}

Tensor row_view(const Tensor& x, int64_t i) {
  Shape shape(x.shape().begin() + 1, x.shape().end());
  std::vector<int64_t> strides(x.strides().begin() + 1, x.strides().end());
  return x.as_strided(shape, strides, x.offset() + i * x.strides()[0]);
}

Tensor stack_rows(const std::vector<Tensor>& rows, const std::function<std::string(size_t)>& describe_position) {
  const Tensor& first = rows.at(0);
  for (size_t i = 1; i < rows.size(); ++i) {
    if (rows[i].dtype() != first.dtype()) {
      throw DTypeError("Dataset.batch: cannot batch " + std::string(dtype_name(rows[i].dtype())) + " with " +
                       std::string(dtype_name(first.dtype())) + ": " + describe_position(i) +
                       " differs from the first element of the batch; cast the elements to one dtype in a map");
    }
    if (rows[i].shape() != first.shape()) {
      throw ShapeError("Dataset.batch: cannot batch tensors with different shapes: the batch's first element has shape " +
                       shape_str(first.shape()) + " but " + describe_position(i) + " has " + shape_str(rows[i].shape()) +
                       "; resize or crop elements to one shape in a map before batch, or batch(1)");
    }
  }
  for (size_t i = 1; i < rows.size(); ++i) {
    if (rows[i].device() != first.device()) {
      throw ValueError("Dataset.batch: " + describe_position(i) + " is on " + rows[i].device().str() +
                       " but the batch's first element is on " + first.device().str() +
                       "; move the elements to one device before batch");
    }
  }
  // Rows already on a device (batch after copy_to_device, or slices of a GPU tensor): stack there.
  if (first.device().type != DeviceType::cpu) return stack(rows, 0);
  Shape shape{static_cast<int64_t>(rows.size())};
  shape.insert(shape.end(), first.shape().begin(), first.shape().end());
  Tensor out = Tensor::empty(shape, first.dtype());
  const size_t row_bytes = static_cast<size_t>(first.numel()) * dtype_size(first.dtype());
  auto* dst = static_cast<unsigned char*>(out.data_ptr());
  for (size_t i = 0; i < rows.size(); ++i) {
    const Tensor packed = rows[i].contiguous();
    if (row_bytes) std::memcpy(dst + i * row_bytes, packed.data_ptr(), row_bytes);
  }
  return out;
}

}  // namespace internal

// ---------------------------------------------------------------- Dataset

Dataset::Dataset(std::shared_ptr<const DatasetNode> node) : node_(std::move(node)) {
  if (!node_) throw ValueError("Dataset: null node");
}

Dataset Dataset::map(ElementFunction fn, std::optional<int64_t> num_parallel_calls, std::optional<bool> deterministic,
                     const std::string& name) const {
  if (!fn) throw ValueError("Dataset.map: no function given");
  if (num_parallel_calls && *num_parallel_calls != kAutotune && *num_parallel_calls <= 0) {
    throw ValueError("Dataset.map: num_parallel_calls must be a positive integer or AUTOTUNE (-1), got " +
                     std::to_string(*num_parallel_calls));
  }
  return Dataset(make_map_node(node_, std::move(fn), num_parallel_calls, deterministic, name));
}

Dataset Dataset::cache(const std::string& filename) const { return Dataset(make_cache_node(node_, filename)); }

Dataset Dataset::copy_to_device(const Device& device) const {
  check_device_available(device, "Dataset.copy_to_device");
  return Dataset(make_copy_to_device_node(node_, device));
}

Dataset Dataset::prefetch_to_device(const Device& device, int64_t buffer_size) const {
  check_device_available(device, "Dataset.prefetch_to_device");
  if (buffer_size < 0 && buffer_size != kAutotune) {
    throw ValueError("Dataset.prefetch_to_device: buffer_size must be >= 1 or AUTOTUNE (-1), got " +
                     std::to_string(buffer_size));
  }
  if (buffer_size == 0) {
    throw ValueError("Dataset.prefetch_to_device: buffer_size 0 would copy on the training loop's thread; use "
                     "copy_to_device for that, or buffer_size >= 1 / AUTOTUNE");
  }
  return Dataset(make_prefetch_node(make_copy_to_device_node(node_, device), buffer_size));
}

Dataset Dataset::prefetch(int64_t buffer_size) const {
  if (buffer_size < 0 && buffer_size != kAutotune) {
    throw ValueError("Dataset.prefetch: buffer_size must be >= 0 or AUTOTUNE (-1), got " + std::to_string(buffer_size));
  }
  return Dataset(make_prefetch_node(node_, buffer_size));
}

Options Dataset::options() const {
  Options merged;
  // Depth-first from the output: the outermost setting of each option wins.
  std::vector<const DatasetNode*> stack{node_.get()};
  while (!stack.empty()) {
    const DatasetNode* n = stack.back();
    stack.pop_back();
    if (auto o = n->attached_options()) {
      if (!merged.deterministic && o->deterministic) merged.deterministic = o->deterministic;
    }
    for (const auto& input : n->inputs()) stack.push_back(input.get());
  }
  return merged;
}

int64_t Dataset::cardinality() const { return node_->cardinality(); }

std::unique_ptr<Iterator> Dataset::make_iterator() const {
  IteratorContext context;
  context.options = options();
  return node_->make_iterator(context);
}

std::vector<Element> Dataset::to_vector(int64_t limit) const {
  if (limit < 0 && cardinality() == kInfiniteCardinality) {
    throw ValueError("Dataset.to_vector: the dataset is infinite (" + describe() + "); take(n) first");
  }
  std::vector<Element> out;
  auto it = make_iterator();
  while (limit < 0 || static_cast<int64_t>(out.size()) < limit) {
    auto e = it->next();
    if (!e) break;
    out.push_back(std::move(*e));
  }
  return out;
}

std::string Dataset::describe() const {
  std::vector<std::string> names;
  const DatasetNode* n = node_.get();
  while (n) {
    names.push_back(n->name());
    const auto inputs = n->inputs();
    n = inputs.size() == 1 ? inputs[0].get() : nullptr;
  }
  std::string out;
  for (auto it = names.rbegin(); it != names.rend(); ++it) out += (out.empty() ? "" : " -> ") + *it;
  return out;
}

}  // namespace pitfall::data
