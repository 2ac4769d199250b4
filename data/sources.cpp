// Dataset sources: tensor slices, tensors, range, generator, zip, array batches (fit on arrays).
#include <algorithm>
#include <cstring>
#include <numeric>

#include "pitfall/core/autograd.h"
#include "pitfall/core/ops.h"
#include "pitfall/data/dataset_internal.h"

namespace pitfall::data {

using namespace internal;

// ---------------------------------------------------------------- sources

namespace {

class VectorIterator : public Iterator {
 public:
  explicit VectorIterator(std::function<std::optional<Element>(int64_t)> at) : at_(std::move(at)) {}
  std::optional<Element> next() override { return at_(position_++); }

 private:
  std::function<std::optional<Element>(int64_t)> at_;
  int64_t position_ = 0;
};

class TensorSlicesNode : public DatasetNode {
 public:
  explicit TensorSlicesNode(const Element& tensors) : structure_(tensors.structure) {
    if (tensors.components.empty()) throw ValueError("Dataset.from_tensor_slices: no tensors given");
    rows_ = -1;
    for (size_t i = 0; i < tensors.components.size(); ++i) {
      const Tensor& t = tensors.components[i];
      if (!t.defined()) throw ValueError("Dataset.from_tensor_slices: component " + std::to_string(i) + " is undefined");
      if (t.ndim() == 0) {
        throw ShapeError("Dataset.from_tensor_slices: component " + std::to_string(i) +
                         " is a scalar; slicing needs a first axis (use from_tensors for a single element)");
      }
      if (rows_ >= 0 && t.dim(0) != rows_) {
        throw ShapeError("Dataset.from_tensor_slices: all components need the same first dimension, but component 0 has " +
                         std::to_string(rows_) + " rows and component " + std::to_string(i) + " has " +
                         std::to_string(t.dim(0)) + " (shapes " + tensors.describe() + ")");
      }
      rows_ = t.dim(0);
      NoGradGuard no_grad;
      components_.push_back(t.detach().contiguous());
    }
  }
  std::unique_ptr<Iterator> make_iterator(const IteratorContext&) const override {
    return std::make_unique<VectorIterator>([self = shared_from_this(), this](int64_t i) -> std::optional<Element> {
      if (i >= rows_) return std::nullopt;
      Element e;
      e.structure = structure_;
      for (const auto& c : components_) e.components.push_back(row_view(c, i));
      return e;
    });
  }
  int64_t cardinality() const override { return rows_; }
  std::string name() const override { return "from_tensor_slices"; }

 private:
  std::vector<Tensor> components_;
  StructurePtr structure_;
  int64_t rows_;
};

class TensorsNode : public DatasetNode {
 public:
  explicit TensorsNode(Element element) : element_(std::move(element)) {
    NoGradGuard no_grad;
    for (auto& c : element_.components) c = c.detach();
  }
  std::unique_ptr<Iterator> make_iterator(const IteratorContext&) const override {
    return std::make_unique<VectorIterator>([self = shared_from_this(), this](int64_t i) -> std::optional<Element> {
      if (i > 0) return std::nullopt;
      return element_;
    });
  }
  int64_t cardinality() const override { return 1; }
  std::string name() const override { return "from_tensors"; }

 private:
  Element element_;
};

class RangeNode : public DatasetNode {
 public:
  RangeNode(int64_t start, int64_t stop, int64_t step) : start_(start), stop_(stop), step_(step) {
    if (step == 0) throw ValueError("Dataset.range: step must not be zero");
  }
  std::unique_ptr<Iterator> make_iterator(const IteratorContext&) const override {
    return std::make_unique<VectorIterator>([self = shared_from_this(), this](int64_t i) -> std::optional<Element> {
      if (i >= cardinality()) return std::nullopt;
      return Element::leaf(Tensor::from_vector(std::vector<int64_t>{start_ + i * step_}, Shape{}));
    });
  }
  int64_t cardinality() const override {
    if (step_ > 0) return stop_ > start_ ? (stop_ - start_ + step_ - 1) / step_ : 0;
    return start_ > stop_ ? (start_ - stop_ - step_ - 1) / -step_ : 0;
  }
  std::string name() const override { return "range"; }

 private:
  int64_t start_, stop_, step_;
};

class GeneratorIterator : public Iterator {
 public:
  GeneratorIterator(ElementGenerator generator, std::string name) : generator_(std::move(generator)), name_(std::move(name)) {}
  std::optional<Element> next() override {
    if (done_) return std::nullopt;
    try {
      auto element = generator_();
      if (!element) done_ = true;
      ++index_;
      return element;
    } catch (...) {
      done_ = true;  // a generator that raised is finished (Python closes it)
      rethrow_element_error(std::current_exception(), name_, index_);
    }
  }

 private:
  ElementGenerator generator_;
  std::string name_;
  int64_t index_ = 0;
  bool done_ = false;
};

class GeneratorNode : public DatasetNode {
 public:
  GeneratorNode(GeneratorFactory factory, std::string name) : factory_(std::move(factory)), name_(std::move(name)) {}
  std::unique_ptr<Iterator> make_iterator(const IteratorContext&) const override {
    ElementGenerator generator;
    try {
      generator = factory_();
    } catch (...) {
      rethrow_element_error(std::current_exception(), name_, 0);
    }
    return std::make_unique<GeneratorIterator>(std::move(generator), name_);
  }
  int64_t cardinality() const override { return kUnknownCardinality; }
  std::string name() const override { return name_; }

 private:
  GeneratorFactory factory_;
  std::string name_;
};

class ZipIterator : public Iterator {
 public:
  explicit ZipIterator(std::vector<std::unique_ptr<Iterator>> inputs) : inputs_(std::move(inputs)) {}
  std::optional<Element> next() override {
    std::vector<Element> parts;
    for (auto& input : inputs_) {
      auto e = input->next();
      if (!e) return std::nullopt;
      parts.push_back(std::move(*e));
    }
    return Element::tuple(parts);
  }
  void cancel() override {
    for (auto& input : inputs_) input->cancel();
  }

 private:
  std::vector<std::unique_ptr<Iterator>> inputs_;
};

class ZipNode : public DatasetNode {
 public:
  explicit ZipNode(std::vector<std::shared_ptr<const DatasetNode>> inputs) : inputs_(std::move(inputs)) {
    if (inputs_.empty()) throw ValueError("Dataset.zip: give at least one dataset");
  }
  std::unique_ptr<Iterator> make_iterator(const IteratorContext& context) const override {
    std::vector<std::unique_ptr<Iterator>> its;
    for (const auto& input : inputs_) its.push_back(input->make_iterator(context));
    return std::make_unique<ZipIterator>(std::move(its));
  }
  int64_t cardinality() const override {
    int64_t result = kInfiniteCardinality;
    for (const auto& input : inputs_) {
      const int64_t c = input->cardinality();
      if (c == kUnknownCardinality) return kUnknownCardinality;
      if (c >= 0) result = result < 0 ? c : std::min(result, c);
    }
    return result;
  }
  std::vector<std::shared_ptr<const DatasetNode>> inputs() const override { return inputs_; }
  std::string name() const override { return "zip"; }

 private:
  std::vector<std::shared_ptr<const DatasetNode>> inputs_;
};

class ArrayBatchesNode : public DatasetNode {
 public:
  ArrayBatchesNode(const std::vector<Tensor>& arrays, int64_t batch_size, bool shuffle, const std::vector<int64_t>& groups)
      : batch_size_(batch_size), shuffle_(shuffle) {
    if (arrays.empty()) throw ValueError("Dataset.from_array_batches: no arrays given");
    if (batch_size <= 0) throw ValueError("batch_size must be a positive integer, got " + std::to_string(batch_size));
    for (const auto& a : arrays) {
      if (a.dim(0) != arrays[0].dim(0)) throw ShapeError("Dataset.from_array_batches: arrays of different lengths");
      arrays_.push_back(a);
    }
    rows_ = arrays[0].dim(0);
    std::vector<Structure> parts;
    int64_t covered = 0;
    for (int64_t g : groups) {
      parts.push_back(Structure::tuple(std::vector<Structure>(static_cast<size_t>(g))));
      covered += g;
    }
    if (groups.empty()) {
      parts.assign(arrays.size(), Structure());
      covered = static_cast<int64_t>(arrays.size());
    }
    if (covered != static_cast<int64_t>(arrays.size())) throw ValueError("Dataset.from_array_batches: groups do not cover the arrays");
    structure_ = std::make_shared<const Structure>(Structure::tuple(std::move(parts)));
  }
  std::unique_ptr<Iterator> make_iterator(const IteratorContext&) const override {
    Tensor order;
    // Drawn when the iteration starts, from the global generator: fit's epoch order.
    if (shuffle_) order = random_permutation(rows_, next_random_key());
    return std::make_unique<VectorIterator>([self = shared_from_this(), this, order](int64_t step) -> std::optional<Element> {
      const int64_t begin = step * batch_size_;
      if (begin >= rows_) return std::nullopt;
      const int64_t count = std::min(batch_size_, rows_ - begin);
      Element e;
      e.structure = structure_;
      const Tensor indices = order.defined() ? slice(order, {begin}, {count}) : Tensor();
      for (const auto& a : arrays_) {
        if (indices.defined()) {
          e.components.push_back(take(a, indices, 0));
        } else {
          std::vector<int64_t> start(a.ndim(), 0), size(a.ndim(), -1);
          start[0] = begin;
          size[0] = count;
          e.components.push_back(slice(a, start, size));
        }
      }
      return e;
    });
  }
  int64_t cardinality() const override { return (rows_ + batch_size_ - 1) / batch_size_; }
  std::string name() const override { return "from_array_batches"; }

 private:
  std::vector<Tensor> arrays_;
  int64_t batch_size_, rows_ = 0;
  bool shuffle_;
  StructurePtr structure_;
};

}  // namespace

Dataset Dataset::from_tensor_slices(const Element& tensors) { return Dataset(std::make_shared<TensorSlicesNode>(tensors)); }
Dataset Dataset::from_tensors(const Element& tensors) { return Dataset(std::make_shared<TensorsNode>(tensors)); }
Dataset Dataset::range(int64_t start, int64_t stop, int64_t step) {
  return Dataset(std::make_shared<RangeNode>(start, stop, step));
}
Dataset Dataset::from_generator(GeneratorFactory factory, const std::string& name) {
  if (!factory) throw ValueError("Dataset.from_generator: no generator given");
  return Dataset(std::make_shared<GeneratorNode>(std::move(factory), name));
}
Dataset Dataset::zip(const std::vector<Dataset>& datasets) {
  std::vector<std::shared_ptr<const DatasetNode>> nodes;
  for (const auto& d : datasets) nodes.push_back(d.node());
  return Dataset(std::make_shared<ZipNode>(std::move(nodes)));
}
Dataset Dataset::from_array_batches(const std::vector<Tensor>& arrays, int64_t batch_size, bool shuffle,
                                    const std::vector<int64_t>& groups) {
  return Dataset(std::make_shared<ArrayBatchesNode>(arrays, batch_size, shuffle, groups));
}


}  // namespace pitfall::data
