// The single-threaded Dataset transforms: shuffle, batch, unbatch, filter, repeat, take / skip /
// shard, enumerate, concatenate, with_options. The threaded ones (map, prefetch) are in
// dataset_threads.cpp, cache in dataset_cache.cpp, the device copies in dataset_device.cpp.
#include <algorithm>
#include <deque>

#include "pitfall/core/autograd.h"
#include "pitfall/core/ops.h"
#include "pitfall/data/dataset_internal.h"

namespace pitfall::data {

using namespace internal;

namespace {

// ---------------------------------------------------------------- transforms

class ShuffleIterator : public UnaryIterator {
 public:
  ShuffleIterator(std::unique_ptr<Iterator> input, int64_t buffer_size, RandomKey key, int64_t iteration)
      : UnaryIterator(std::move(input)), buffer_size_(buffer_size), key_(key), iteration_(iteration) {}
  std::optional<Element> next() override {
    while (!input_done_ && static_cast<int64_t>(buffer_.size()) < buffer_size_) {
      auto e = input_->next();
      if (!e) {
        input_done_ = true;
        break;
      }
      buffer_.push_back(std::move(*e));
    }
    if (buffer_.empty()) return std::nullopt;
    const int64_t pick = uniform_below(random_bits(key_, static_cast<uint64_t>(iteration_), draws_++),
                                       static_cast<int64_t>(buffer_.size()));
    Element out = std::move(buffer_[static_cast<size_t>(pick)]);
    // The slot is refilled from the input on the next call; until then the last element fills it.
    buffer_[static_cast<size_t>(pick)] = std::move(buffer_.back());
    buffer_.pop_back();
    return out;
  }

 private:
  int64_t buffer_size_;
  RandomKey key_;
  int64_t iteration_;
  uint64_t draws_ = 0;
  std::vector<Element> buffer_;
  bool input_done_ = false;
};

class ShuffleNode : public UnaryNode {
 public:
  ShuffleNode(std::shared_ptr<const DatasetNode> input, int64_t buffer_size, RandomKey key, bool reshuffle)
      : UnaryNode(std::move(input)), buffer_size_(buffer_size), key_(key), reshuffle_(reshuffle) {}
  std::unique_ptr<Iterator> make_iterator(const IteratorContext& context) const override {
    const int64_t iteration = reshuffle_ ? iterations_++ : 0;
    return std::make_unique<ShuffleIterator>(input_->make_iterator(context), buffer_size_, key_, iteration);
  }
  int64_t cardinality() const override { return input_->cardinality(); }
  std::string name() const override { return "shuffle"; }

 private:
  int64_t buffer_size_;
  RandomKey key_;
  bool reshuffle_;
  mutable std::atomic<int64_t> iterations_{0};
};

class BatchIterator : public UnaryIterator {
 public:
  BatchIterator(std::unique_ptr<Iterator> input, int64_t batch_size, bool drop_remainder)
      : UnaryIterator(std::move(input)), batch_size_(batch_size), drop_remainder_(drop_remainder) {}
  std::optional<Element> next() override {
    std::vector<Element> elements;
    while (static_cast<int64_t>(elements.size()) < batch_size_) {
      auto e = input_->next();
      if (!e) break;
      if (!elements.empty() && *e->structure != *elements[0].structure) {
        throw ValueError("Dataset.batch: element " + std::to_string(consumed_ + elements.size()) + " has structure " +
                         e->structure->str() + " but the batch's first element has " + elements[0].structure->str());
      }
      elements.push_back(std::move(*e));
    }
    const int64_t first = consumed_;
    consumed_ += static_cast<int64_t>(elements.size());
    if (elements.empty() || (drop_remainder_ && static_cast<int64_t>(elements.size()) < batch_size_)) return std::nullopt;
    Element out;
    out.structure = elements[0].structure;
    const size_t n = elements[0].components.size();
    std::vector<Tensor> rows(elements.size());
    for (size_t c = 0; c < n; ++c) {
      for (size_t i = 0; i < elements.size(); ++i) rows[i] = elements[i].components[c];
      out.components.push_back(stack_rows(rows, [&](size_t i) {
        return "input element " + std::to_string(first + static_cast<int64_t>(i)) + " (component " + std::to_string(c) + ")";
      }));
    }
    return out;
  }

 private:
  int64_t batch_size_;
  bool drop_remainder_;
  int64_t consumed_ = 0;
};

class BatchNode : public UnaryNode {
 public:
  BatchNode(std::shared_ptr<const DatasetNode> input, int64_t batch_size, bool drop_remainder)
      : UnaryNode(std::move(input)), batch_size_(batch_size), drop_remainder_(drop_remainder) {}
  std::unique_ptr<Iterator> make_iterator(const IteratorContext& context) const override {
    return std::make_unique<BatchIterator>(input_->make_iterator(context), batch_size_, drop_remainder_);
  }
  int64_t cardinality() const override {
    const int64_t c = input_->cardinality();
    if (c < 0) return c;
    return drop_remainder_ ? c / batch_size_ : (c + batch_size_ - 1) / batch_size_;
  }
  std::string name() const override { return "batch"; }

 private:
  int64_t batch_size_;
  bool drop_remainder_;
};

class UnbatchIterator : public UnaryIterator {
 public:
  using UnaryIterator::UnaryIterator;
  std::optional<Element> next() override {
    while (!current_ || row_ >= rows_) {
      current_ = input_->next();
      if (!current_) return std::nullopt;
      rows_ = -1;
      row_ = 0;
      for (size_t c = 0; c < current_->components.size(); ++c) {
        const Tensor& t = current_->components[c];
        if (t.ndim() == 0) {
          throw ShapeError("Dataset.unbatch: input element " + std::to_string(index_) + " has a scalar component " +
                           std::to_string(c) + "; unbatch needs a first (batch) axis on every component");
        }
        if (rows_ >= 0 && t.dim(0) != rows_) {
          throw ShapeError("Dataset.unbatch: input element " + std::to_string(index_) +
                           " has components with different first dimensions (" + current_->describe() + ")");
        }
        rows_ = t.dim(0);
      }
      ++index_;
    }
    Element out;
    out.structure = current_->structure;
    for (const auto& t : current_->components) out.components.push_back(row_view(t, row_));
    ++row_;
    return out;
  }

 private:
  std::optional<Element> current_;
  int64_t rows_ = 0, row_ = 0, index_ = 0;
};

class UnbatchNode : public UnaryNode {
 public:
  using UnaryNode::UnaryNode;
  std::unique_ptr<Iterator> make_iterator(const IteratorContext& context) const override {
    return std::make_unique<UnbatchIterator>(input_->make_iterator(context));
  }
  int64_t cardinality() const override {
    const int64_t c = input_->cardinality();
    return c == kInfiniteCardinality ? c : kUnknownCardinality;
  }
  std::string name() const override { return "unbatch"; }
};

class FilterIterator : public UnaryIterator {
 public:
  FilterIterator(std::unique_ptr<Iterator> input, ElementPredicate predicate, std::string name, int64_t iteration)
      : UnaryIterator(std::move(input)), predicate_(std::move(predicate)), name_(std::move(name)), iteration_(iteration) {}
  std::optional<Element> next() override {
    for (;;) {
      auto e = input_->next();
      if (!e) return std::nullopt;
      const int64_t index = index_++;
      bool keep = false;
      try {
        keep = predicate_(*e, ElementContext{index, iteration_});
      } catch (...) {
        rethrow_element_error(std::current_exception(), name_, index);
      }
      if (keep) return e;
    }
  }

 private:
  ElementPredicate predicate_;
  std::string name_;
  int64_t iteration_, index_ = 0;
};

class FilterNode : public UnaryNode {
 public:
  FilterNode(std::shared_ptr<const DatasetNode> input, ElementPredicate predicate, std::string name)
      : UnaryNode(std::move(input)), predicate_(std::move(predicate)), name_(std::move(name)) {}
  std::unique_ptr<Iterator> make_iterator(const IteratorContext& context) const override {
    return std::make_unique<FilterIterator>(input_->make_iterator(context), predicate_, name_, iterations_++);
  }
  int64_t cardinality() const override {
    const int64_t c = input_->cardinality();
    return c == kInfiniteCardinality ? c : kUnknownCardinality;
  }
  std::string name() const override { return "filter"; }

 private:
  ElementPredicate predicate_;
  std::string name_;
  mutable std::atomic<int64_t> iterations_{0};
};

class RepeatIterator : public Iterator {
 public:
  RepeatIterator(std::shared_ptr<const DatasetNode> node, IteratorContext context, int64_t count)
      : node_(std::move(node)), context_(std::move(context)), count_(count) {}
  std::optional<Element> next() override {
    for (;;) {
      if (count_ >= 0 && round_ >= count_) return std::nullopt;
      Iterator* current = nullptr;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (cancelled_) throw_cancelled("repeat");
        if (!current_) {
          current_ = node_->make_iterator(context_);
          produced_this_round_ = false;
        }
        current = current_.get();
      }
      auto e = current->next();
      if (e) {
        produced_this_round_ = true;
        return e;
      }
      std::unique_ptr<Iterator> finished;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        finished = std::move(current_);
      }
      finished.reset();
      ++round_;
      // An empty input would make repeat() spin forever; tf.data ends there too.
      if (!produced_this_round_) return std::nullopt;
    }
  }
  // May run on another thread while next() runs: current_ changes only under the mutex.
  void cancel() override {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled_ = true;
    if (current_) current_->cancel();
  }

 private:
  std::shared_ptr<const DatasetNode> node_;
  IteratorContext context_;
  int64_t count_, round_ = 0;
  std::mutex mutex_;
  std::unique_ptr<Iterator> current_;
  bool produced_this_round_ = false;
  bool cancelled_ = false;
};

class RepeatNode : public UnaryNode {
 public:
  RepeatNode(std::shared_ptr<const DatasetNode> input, int64_t count) : UnaryNode(std::move(input)), count_(count) {}
  std::unique_ptr<Iterator> make_iterator(const IteratorContext& context) const override {
    return std::make_unique<RepeatIterator>(input_, context, count_);
  }
  int64_t cardinality() const override {
    const int64_t c = input_->cardinality();
    if (count_ < 0) return c == 0 ? 0 : (c == kUnknownCardinality ? kUnknownCardinality : kInfiniteCardinality);
    if (c < 0) return c;
    return c * count_;
  }
  std::string name() const override { return "repeat"; }

 private:
  int64_t count_;
};

// take / skip / shard: which input positions pass.
class SelectIterator : public UnaryIterator {
 public:
  // keep(i): 1 emit, 0 drop, -1 stop.
  SelectIterator(std::unique_ptr<Iterator> input, std::function<int(int64_t)> keep)
      : UnaryIterator(std::move(input)), keep_(std::move(keep)) {}
  std::optional<Element> next() override {
    for (;;) {
      const int verdict = keep_(position_);
      if (verdict < 0) return std::nullopt;
      auto e = input_->next();
      if (!e) return std::nullopt;
      ++position_;
      if (verdict > 0) return e;
    }
  }

 private:
  std::function<int(int64_t)> keep_;
  int64_t position_ = 0;
};

class SelectNode : public UnaryNode {
 public:
  SelectNode(std::shared_ptr<const DatasetNode> input, std::string name, std::function<int(int64_t)> keep,
             std::function<int64_t(int64_t)> count)
      : UnaryNode(std::move(input)), name_(std::move(name)), keep_(std::move(keep)), count_(std::move(count)) {}
  std::unique_ptr<Iterator> make_iterator(const IteratorContext& context) const override {
    return std::make_unique<SelectIterator>(input_->make_iterator(context), keep_);
  }
  int64_t cardinality() const override { return count_(input_->cardinality()); }
  std::string name() const override { return name_; }

 private:
  std::string name_;
  std::function<int(int64_t)> keep_;
  std::function<int64_t(int64_t)> count_;
};

class EnumerateIterator : public UnaryIterator {
 public:
  EnumerateIterator(std::unique_ptr<Iterator> input, int64_t start) : UnaryIterator(std::move(input)), next_index_(start) {}
  std::optional<Element> next() override {
    auto e = input_->next();
    if (!e) return std::nullopt;
    const Element index = Element::leaf(Tensor::from_vector(std::vector<int64_t>{next_index_++}, Shape{}));
    return Element::tuple({index, *e});
  }

 private:
  int64_t next_index_;
};

class EnumerateNode : public UnaryNode {
 public:
  EnumerateNode(std::shared_ptr<const DatasetNode> input, int64_t start) : UnaryNode(std::move(input)), start_(start) {}
  std::unique_ptr<Iterator> make_iterator(const IteratorContext& context) const override {
    return std::make_unique<EnumerateIterator>(input_->make_iterator(context), start_);
  }
  int64_t cardinality() const override { return input_->cardinality(); }
  std::string name() const override { return "enumerate"; }

 private:
  int64_t start_;
};

class ConcatenateIterator : public Iterator {
 public:
  ConcatenateIterator(std::unique_ptr<Iterator> first, std::shared_ptr<const DatasetNode> second, IteratorContext context)
      : first_(std::move(first)), second_node_(std::move(second)), context_(std::move(context)) {}
  std::optional<Element> next() override {
    if (!second_) {
      auto e = first_->next();
      if (e) {
        if (!structure_) structure_ = e->structure;
        return e;
      }
      std::lock_guard<std::mutex> lock(mutex_);
      if (cancelled_) throw_cancelled("concatenate");
      second_ = second_node_->make_iterator(context_);
    }
    auto e = second_->next();
    if (e && structure_ && *e->structure != *structure_) {
      throw ValueError("Dataset.concatenate: the second dataset's elements have the structure " + e->structure->str() +
                       " but the first's have " + structure_->str());
    }
    return e;
  }
  void cancel() override {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled_ = true;
    first_->cancel();
    if (second_) second_->cancel();
  }

 private:
  std::unique_ptr<Iterator> first_;
  std::shared_ptr<const DatasetNode> second_node_;
  IteratorContext context_;
  std::mutex mutex_;
  std::unique_ptr<Iterator> second_;
  StructurePtr structure_;
  bool cancelled_ = false;
};

class ConcatenateNode : public DatasetNode {
 public:
  ConcatenateNode(std::shared_ptr<const DatasetNode> first, std::shared_ptr<const DatasetNode> second)
      : first_(std::move(first)), second_(std::move(second)) {}
  std::unique_ptr<Iterator> make_iterator(const IteratorContext& context) const override {
    return std::make_unique<ConcatenateIterator>(first_->make_iterator(context), second_, context);
  }
  int64_t cardinality() const override {
    const int64_t a = first_->cardinality(), b = second_->cardinality();
    if (a == kInfiniteCardinality || b == kInfiniteCardinality) return kInfiniteCardinality;
    if (a < 0 || b < 0) return kUnknownCardinality;
    return a + b;
  }
  std::vector<std::shared_ptr<const DatasetNode>> inputs() const override { return {first_, second_}; }
  std::string name() const override { return "concatenate"; }

 private:
  std::shared_ptr<const DatasetNode> first_, second_;
};

class OptionsNode : public UnaryNode {
 public:
  OptionsNode(std::shared_ptr<const DatasetNode> input, Options options) : UnaryNode(std::move(input)), options_(options) {}
  std::unique_ptr<Iterator> make_iterator(const IteratorContext& context) const override {
    return input_->make_iterator(context);
  }
  int64_t cardinality() const override { return input_->cardinality(); }
  std::optional<Options> attached_options() const override { return options_; }
  std::string name() const override { return "with_options"; }

 private:
  Options options_;
};

void check_positive(const char* op, const char* argument, int64_t value) {
  if (value <= 0) {
    throw ValueError(std::string("Dataset.") + op + ": " + argument + " must be a positive integer, got " + std::to_string(value));
  }
}

void check_count(const char* op, int64_t count) {
  if (count < -1) {
    throw ValueError(std::string("Dataset.") + op + ": count must be >= 0, or -1 for all, got " + std::to_string(count));
  }
}

}  // namespace

Dataset Dataset::shuffle(int64_t buffer_size, std::optional<uint64_t> seed, bool reshuffle_each_iteration) const {
  check_positive("shuffle", "buffer_size", buffer_size);
  const RandomKey key = seed ? RandomKey{*seed, 0} : next_random_key();
  return Dataset(std::make_shared<ShuffleNode>(node_, buffer_size, key, reshuffle_each_iteration));
}

Dataset Dataset::batch(int64_t batch_size, bool drop_remainder) const {
  check_positive("batch", "batch_size", batch_size);
  return Dataset(std::make_shared<BatchNode>(node_, batch_size, drop_remainder));
}

Dataset Dataset::unbatch() const { return Dataset(std::make_shared<UnbatchNode>(node_)); }

Dataset Dataset::filter(ElementPredicate predicate, const std::string& name) const {
  if (!predicate) throw ValueError("Dataset.filter: no predicate given");
  return Dataset(std::make_shared<FilterNode>(node_, std::move(predicate), name));
}

Dataset Dataset::repeat(int64_t count) const {
  check_count("repeat", count);
  return Dataset(std::make_shared<RepeatNode>(node_, count));
}

Dataset Dataset::take(int64_t count) const {
  check_count("take", count);
  return Dataset(std::make_shared<SelectNode>(
      node_, "take", [count](int64_t i) { return count < 0 || i < count ? 1 : -1; },
      [count](int64_t c) {
        if (count < 0) return c;
        if (c == kUnknownCardinality) return c;
        return c == kInfiniteCardinality ? count : std::min(c, count);
      }));
}

Dataset Dataset::skip(int64_t count) const {
  check_count("skip", count);
  return Dataset(std::make_shared<SelectNode>(
      node_, "skip", [count](int64_t i) { return count >= 0 && i >= count ? 1 : 0; },
      [count](int64_t c) {
        if (c < 0) return count < 0 && c == kInfiniteCardinality ? int64_t{0} : c;
        return count < 0 ? int64_t{0} : std::max<int64_t>(0, c - count);
      }));
}

Dataset Dataset::shard(int64_t num_shards, int64_t index) const {
  check_positive("shard", "num_shards", num_shards);
  if (index < 0 || index >= num_shards) {
    throw ValueError("Dataset.shard: index must be in [0, num_shards=" + std::to_string(num_shards) + "), got " +
                     std::to_string(index));
  }
  return Dataset(std::make_shared<SelectNode>(
      node_, "shard", [num_shards, index](int64_t i) { return i % num_shards == index ? 1 : 0; },
      [num_shards, index](int64_t c) { return c < 0 ? c : c / num_shards + (index < c % num_shards ? 1 : 0); }));
}

Dataset Dataset::enumerate(int64_t start) const { return Dataset(std::make_shared<EnumerateNode>(node_, start)); }

Dataset Dataset::concatenate(const Dataset& other) const {
  return Dataset(std::make_shared<ConcatenateNode>(node_, other.node()));
}

Dataset Dataset::with_options(const Options& options) const { return Dataset(std::make_shared<OptionsNode>(node_, options)); }


}  // namespace pitfall::data
