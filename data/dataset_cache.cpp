// Dataset.cache(): in memory, or in a file.
//
// The first COMPLETE iteration fills the cache; an iteration abandoned half-way leaves nothing
// behind (tf.data discards a partial cache the same way), so a later pass never sees half the data.
//
// Cache file layout (little-endian):
//   "PFCACHE1"
//   per element: u32 structure length, structure text (Structure::encode), u32 components,
//                per component: u8 dtype-name length, dtype name, u8 rank, rank x i64 dims, raw bytes
//   footer: "PFCEND01", u64 element count, u32 CRC-32 of every byte before the footer
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "pitfall/core/atomic_file.h"
#include "pitfall/core/file_container.h"  // little-endian helpers
#include "pitfall/data/dataset_internal.h"

namespace pitfall::data::internal {

namespace {

constexpr char kMagic[] = "PFCACHE1";
constexpr char kFooterMagic[] = "PFCEND01";
constexpr size_t kMagicSize = 8;
constexpr size_t kFooterSize = 8 + 8 + 4;

std::string encode_element_header(const Element& e) {
  std::string out;
  const std::string structure = e.structure->encode();
  put_u32(out, static_cast<uint32_t>(structure.size()));
  out += structure;
  put_u32(out, static_cast<uint32_t>(e.components.size()));
  return out;
}

// ---------------------------------------------------------------- memory

struct MemoryCache {
  std::mutex mutex;
  bool complete = false;
  std::shared_ptr<const std::vector<Element>> elements;
};

class ReplayIterator : public Iterator {
 public:
  explicit ReplayIterator(std::shared_ptr<const std::vector<Element>> elements) : elements_(std::move(elements)) {}
  std::optional<Element> next() override {
    if (position_ >= elements_->size()) return std::nullopt;
    return (*elements_)[position_++];
  }

 private:
  std::shared_ptr<const std::vector<Element>> elements_;
  size_t position_ = 0;
};

class MemoryFillIterator : public UnaryIterator {
 public:
  MemoryFillIterator(std::unique_ptr<Iterator> input, std::shared_ptr<MemoryCache> cache)
      : UnaryIterator(std::move(input)), cache_(std::move(cache)) {}
  std::optional<Element> next() override {
    auto e = input_->next();
    if (e) {
      seen_.push_back(*e);
      return e;
    }
    std::lock_guard<std::mutex> lock(cache_->mutex);
    if (!cache_->complete) {
      cache_->elements = std::make_shared<const std::vector<Element>>(std::move(seen_));
      cache_->complete = true;
    }
    return std::nullopt;
  }

 private:
  std::shared_ptr<MemoryCache> cache_;
  std::vector<Element> seen_;
};

// ---------------------------------------------------------------- file

class FileWriteIterator : public UnaryIterator {
 public:
  FileWriteIterator(std::unique_ptr<Iterator> input, const std::string& path)
      : UnaryIterator(std::move(input)), writer_(std::make_unique<AtomicFileWriter>(path, "Dataset.cache")) {
    writer_->write(kMagic, kMagicSize);
  }
  std::optional<Element> next() override {
    auto e = input_->next();
    if (!writer_) return e;
    if (!e) {
      std::string footer(kFooterMagic, 8);
      put_u64(footer, count_);
      const uint32_t crc = writer_->crc();
      put_u32(footer, crc);
      writer_->write(footer);
      writer_->commit();
      writer_.reset();
      return std::nullopt;
    }
    for (size_t c = 0; c < e->components.size(); ++c) {
      const Device device = e->components[c].device();
      if (device.type != DeviceType::cpu) {
        // Reading the file back would give host tensors: the device would be lost without a word.
        throw ValueError("Dataset.cache(filename): component " + std::to_string(c) + " of element " +
                         std::to_string(count_) + " is on " + device.str() + ", and a cache file holds host data; "
                         "put cache(filename) before prefetch_to_device / copy_to_device, or cache() in memory");
      }
    }
    writer_->write(encode_element_header(*e));
    for (const Tensor& t : e->components) {
      const Tensor packed = t.contiguous();
      std::string head;
      const std::string_view dtype = dtype_name(packed.dtype());
      head.push_back(static_cast<char>(dtype.size()));
      head += dtype;
      head.push_back(static_cast<char>(packed.ndim()));
      for (int64_t d : packed.shape()) put_u64(head, static_cast<uint64_t>(d));
      writer_->write(head);
      writer_->write(packed.data_ptr(), static_cast<size_t>(packed.numel()) * dtype_size(packed.dtype()));
    }
    ++count_;
    return e;
  }

 private:
  std::unique_ptr<AtomicFileWriter> writer_;  // destroyed unfinished: the temporary file is removed
  uint64_t count_ = 0;
};

// Reads a cache file written by FileWriteIterator; every inconsistency names the file and offset.
class FileReadIterator : public Iterator {
 public:
  explicit FileReadIterator(const std::string& path) : path_(path) {
    in_.open(path, std::ios::binary);
    if (!in_) throw ValueError("Dataset.cache: cannot open the cache file '" + path + "'");
    std::error_code ec;
    size_ = std::filesystem::file_size(path, ec);
    if (ec || size_ < kMagicSize + kFooterSize) fail(0, "the file is too short to be a cache file (" + std::to_string(size_) + " bytes)");
    std::string magic = read_bytes(kMagicSize);  // offset_ now kMagicSize
    if (magic != std::string(kMagic, kMagicSize)) fail(0, "wrong magic bytes (not a pitfall cache file)");
    // Verify the checksum before handing out any element.
    uint32_t crc = crc32(magic.data(), magic.size());
    const uint64_t body_end = size_ - kFooterSize;
    std::vector<char> chunk(1 << 20);
    for (uint64_t at = kMagicSize; at < body_end;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk.size(), body_end - at));
      in_.read(chunk.data(), static_cast<std::streamsize>(n));
      if (!in_) fail(at, "read error");
      crc = crc32(chunk.data(), n, crc);
      at += n;
    }
    offset_ = body_end;
    const std::string footer = read_bytes(kFooterSize);
    if (footer.compare(0, 8, kFooterMagic, 8) != 0) fail(body_end, "missing end marker (the file is truncated or was not finished)");
    count_ = get_u64(footer.data() + 8);
    if (get_u32(footer.data() + 16) != crc) fail(body_end + 16, "CRC-32 mismatch (the file is corrupt)");
    in_.seekg(static_cast<std::streamoff>(kMagicSize));
    offset_ = kMagicSize;
    body_end_ = body_end;
  }

  std::optional<Element> next() override {
    if (read_ >= count_) return std::nullopt;
    Element e;
    const uint32_t structure_size = get_u32(read_bytes(4).data());
    const std::string structure_text = read_bytes(structure_size);
    try {
      e.structure = std::make_shared<const Structure>(Structure::decode(structure_text));
    } catch (const Error& err) {
      fail(offset_ - structure_size, err.message());
    }
    const uint32_t components = get_u32(read_bytes(4).data());
    if (components != static_cast<uint32_t>(e.structure->num_components())) {
      fail(offset_ - 4, "element has " + std::to_string(components) + " components but its structure " +
                            e.structure->str() + " has " + std::to_string(e.structure->num_components()));
    }
    for (uint32_t c = 0; c < components; ++c) {
      const uint8_t name_size = static_cast<uint8_t>(read_bytes(1)[0]);
      DType dtype;
      try {
        dtype = parse_dtype(read_bytes(name_size));
      } catch (const Error&) {
        fail(offset_ - name_size, "unknown dtype");
      }
      const uint8_t rank = static_cast<uint8_t>(read_bytes(1)[0]);
      Shape shape;
      uint64_t numel = 1;
      for (uint8_t d = 0; d < rank; ++d) {
        const uint64_t dim = get_u64(read_bytes(8).data());
        if (dim > body_end_ || (dim && numel > body_end_ / dim)) fail(offset_ - 8, "dimension too large for the file");
        numel *= dim;
        shape.push_back(static_cast<int64_t>(dim));
      }
      const uint64_t bytes = numel * dtype_size(dtype);
      if (bytes > body_end_ - offset_) fail(offset_, "tensor data runs past the end of the file");
      Tensor t = Tensor::empty(shape, dtype);
      in_.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(bytes));
      if (!in_) fail(offset_, "read error");
      offset_ += bytes;
      e.components.push_back(std::move(t));
    }
    ++read_;
    return e;
  }

 private:
  [[noreturn]] void fail(uint64_t offset, const std::string& what) const {
    throw ValueError("Dataset.cache: the cache file '" + path_ + "' is invalid at byte offset " + std::to_string(offset) +
                     ": " + what + "; delete it to rebuild the cache");
  }
  std::string read_bytes(uint64_t n) {
    const uint64_t limit = body_end_ ? body_end_ : size_;
    if (offset_ > limit || n > limit - offset_) fail(offset_, "element runs past the end of the data");
    std::string out(static_cast<size_t>(n), '\0');
    in_.read(out.data(), static_cast<std::streamsize>(n));
    if (!in_) fail(offset_, "unexpected end of file");
    offset_ += n;
    return out;
  }
  std::string path_;
  std::ifstream in_;
  uint64_t size_ = 0, offset_ = 0, body_end_ = 0, count_ = 0, read_ = 0;
};

class CacheNode : public UnaryNode {
 public:
  CacheNode(std::shared_ptr<const DatasetNode> input, std::string filename)
      : UnaryNode(std::move(input)), filename_(std::move(filename)), memory_(std::make_shared<MemoryCache>()) {}
  std::unique_ptr<Iterator> make_iterator(const IteratorContext& context) const override {
    if (filename_.empty()) {
      {
        std::lock_guard<std::mutex> lock(memory_->mutex);
        if (memory_->complete) return std::make_unique<ReplayIterator>(memory_->elements);
      }
      return std::make_unique<MemoryFillIterator>(input_->make_iterator(context), memory_);
    }
    std::error_code ec;
    if (std::filesystem::exists(filename_, ec)) return std::make_unique<FileReadIterator>(filename_);
    return std::make_unique<FileWriteIterator>(input_->make_iterator(context), filename_);
  }
  int64_t cardinality() const override { return input_->cardinality(); }
  std::string name() const override { return "cache"; }

 private:
  std::string filename_;
  std::shared_ptr<MemoryCache> memory_;
};

}  // namespace

std::shared_ptr<const DatasetNode> make_cache_node(std::shared_ptr<const DatasetNode> input, const std::string& filename) {
  return std::make_shared<CacheNode>(std::move(input), filename);
}

}  // namespace pitfall::data::internal
