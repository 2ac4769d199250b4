#include "pitfall/data/npy_reader.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>

#include "pitfall/core/atomic_file.h"  // crc32
#include "pitfall/data/compressed.h"

namespace pitfall::data {
namespace {

using detail::load_le;

constexpr uint8_t kNpyMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

// ---- the header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// A parser for the small subset of Python literals numpy writes: a dict of string keys whose values
// are strings, True/False, or tuples of non-negative ints. Offsets in errors are file offsets.
class HeaderParser {
 public:
  HeaderParser(const char* text, size_t size, size_t file_offset, const std::string& source)
      : text_(text), size_(size), base_(file_offset), source_(source) {}

  NpyHeader parse() {
    NpyHeader header;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      const size_t key_at = pos_;
      const std::string key = parse_string("a quoted key");
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (peek() == '[') {
          fail("descr is a list: structured (record) dtypes are not supported; save each field as its own array", pos_);
        }
        header.descr = parse_string("the dtype string, e.g. '<f4'");
        have_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = parse_bool();
        have_order = true;
      } else if (key == "shape") {
        header.shape = parse_shape();
        have_shape = true;
      } else {
        fail("unexpected key '" + key + "' in the NPY header (expected only 'descr', 'fortran_order', 'shape')",
             key_at);
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != '}') fail("expected ',' or '}' after the value of '" + key + "'", pos_);
    }
    ++pos_;  // '}'
    skip_space();
    if (pos_ != size_) fail("unexpected text after the NPY header dict", pos_);
    if (!have_descr || !have_order || !have_shape) {
      fail(std::string("the NPY header dict lacks ") +
               (!have_descr   ? "'descr'"
                : !have_order ? "'fortran_order'"
                              : "'shape'") +
               " (it needs 'descr', 'fortran_order' and 'shape')",
           0);
    }
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& what, size_t at) const {
    throw ValueError(source_ + ": bad NPY header at byte offset " + std::to_string(base_ + at) + ": " + what +
                     (at >= size_ ? ", but the header ends there" : ""));
  }
  char peek() const { return pos_ < size_ ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < size_ && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) {
      fail(std::string("expected '") + c + "'", pos_);
    }
    ++pos_;
  }
  std::string parse_string(const char* what) {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail(std::string("expected ") + what, pos_);
    const size_t start = ++pos_;
    while (pos_ < size_ && text_[pos_] != quote) {
      if (text_[pos_] == '\\') fail("escape sequences are not expected in NPY header strings", pos_);
      ++pos_;
    }
    if (pos_ >= size_) fail("unterminated string", start - 1);
    return std::string(text_ + start, text_ + pos_++);
  }
  bool parse_bool() {
    for (const auto& [word, value] : {std::pair<const char*, bool>{"True", true}, {"False", false}}) {
      const size_t n = std::strlen(word);
      if (size_ - pos_ >= n && std::memcmp(text_ + pos_, word, n) == 0) {
        pos_ += n;
        return value;
      }
    }
    fail("expected True or False for 'fortran_order'", pos_);
  }
  Shape parse_shape() {
    Shape shape;
    expect('(');
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      const size_t start = pos_;
      uint64_t value = 0;
      while (pos_ < size_ && text_[pos_] >= '0' && text_[pos_] <= '9') {
        if (!detail::checked_mul(value, 10, UINT64_MAX, &value) || value + (text_[pos_] - '0') > INT64_MAX / 2) {
          fail("dimension too large", start);
        }
        value += static_cast<uint64_t>(text_[pos_++] - '0');
      }
      if (pos_ == start) fail("expected a non-negative integer dimension in 'shape'", pos_);
      if (peek() == 'L') ++pos_;  // Python 2 long literal
      shape.push_back(static_cast<int64_t>(value));
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != ')') fail("expected ',' or ')' in 'shape'", pos_);
    }
    ++pos_;
    if (shape.size() > 64) fail("'shape' has " + std::to_string(shape.size()) + " dimensions (at most 64)", 0);
    return shape;
  }

  const char* text_;
  size_t size_, pos_ = 0, base_;
  const std::string& source_;
};

// ---- dtypes

struct NpyType {
  char kind;    // 'f', 'i', 'u', 'b'
  size_t size;  // bytes per stored value
  bool big_endian;
  DType dtype;  // the tensor dtype (widened for int8/int16/uint16/uint32)
};

NpyType parse_descr(const std::string& descr, const std::string& source, size_t offset) {
  auto fail = [&](const std::string& why) -> NpyType {
    throw ValueError(source + ": unsupported NPY dtype '" + descr + "' in the header at byte offset " +
                     std::to_string(offset) + ": " + why);
  };
  if (descr.size() < 2) return fail("expected a byte order, a kind and a size, e.g. '<f4'");
  const char order = descr[0], kind = descr[1];
  if (order != '<' && order != '>' && order != '|' && order != '=') {
    return fail("expected a byte order '<', '>', '|' or '=' first");
  }
  switch (kind) {
    case 'O':
      return fail("object arrays hold Python objects, not numbers; convert with astype() to a numeric dtype");
    case 'U':
      return fail("unicode strings are not numbers; pitfall tensors are numeric");
    case 'S':
    case 'a':
      return fail("byte strings are not numbers; pitfall tensors are numeric");
    case 'V':
      return fail("void/structured dtypes are not supported; save each field as its own array");
    case 'M':
    case 'm':
      return fail("datetime/timedelta is not supported; convert with astype('int64')");
    case 'c':
      return fail("complex numbers are not supported; save the real and imaginary parts as two arrays");
    default:
      break;
  }
  size_t size = 0;
  for (size_t i = 2; i < descr.size(); ++i) {
    if (descr[i] < '0' || descr[i] > '9' || size > 1000) return fail("expected a size in bytes after the kind");
    size = size * 10 + static_cast<size_t>(descr[i] - '0');
  }
  if (descr.size() == 2) return fail("expected a size in bytes after the kind");
  const bool big = order == '>' || (order == '=' && std::endian::native == std::endian::big);
  if (order == '|' && size != 1) return fail("'|' (no byte order) is only valid for one-byte types");
  if (kind == 'f' && size == 2) return {kind, size, big, DType::float16};
  if (kind == 'f' && size == 4) return {kind, size, big, DType::float32};
  if (kind == 'f' && size == 8) return {kind, size, big, DType::float64};
  if (kind == 'i' && (size == 1 || size == 2 || size == 4)) return {kind, size, big, DType::int32};
  if (kind == 'i' && size == 8) return {kind, size, big, DType::int64};
  if (kind == 'u' && size == 1) return {kind, size, big, DType::uint8};
  if (kind == 'u' && size == 2) return {kind, size, big, DType::int32};
  if (kind == 'u' && size == 4) return {kind, size, big, DType::int64};
  if (kind == 'u' && size == 8) {
    return fail("uint64 has no pitfall dtype (values above 2^63 would not fit int64); convert with astype('int64')");
  }
  if (kind == 'b' && size == 1) return {kind, size, big, DType::bool_};
  return fail("expected one of f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 b1");
}

template <size_t N>
struct UnsignedOf;
template <>
struct UnsignedOf<1> {
  using type = uint8_t;
};
template <>
struct UnsignedOf<2> {
  using type = uint16_t;
};
template <>
struct UnsignedOf<4> {
  using type = uint32_t;
};
template <>
struct UnsignedOf<8> {
  using type = uint64_t;
};

// Calls f(output_index, source_index) for every element in C order of `shape`; the source is in
// Fortran (column-major) order when `fortran`.
template <class F>
void for_each_element(const Shape& shape, bool fortran, size_t count, F&& f) {
  if (!fortran || shape.size() <= 1 || count == 0) {
    for (size_t i = 0; i < count; ++i) f(i, i);
    return;
  }
  const size_t rank = shape.size();
  std::vector<size_t> stride(rank), index(rank, 0);
  size_t s = 1;
  for (size_t k = 0; k < rank; ++k) {
    stride[k] = s;
    s *= static_cast<size_t>(shape[k]);
  }
  size_t source = 0;
  for (size_t i = 0; i < count; ++i) {
    f(i, source);
    for (size_t k = rank; k-- > 0;) {
      if (++index[k] < static_cast<size_t>(shape[k])) {
        source += stride[k];
        break;
      }
      source -= stride[k] * (index[k] - 1);
      index[k] = 0;
    }
  }
}

// Stored values of type S (in the file's byte order) -> tensor values of type D.
template <class S, class D>
void convert(const uint8_t* in, uint8_t* out_bytes, const Shape& shape, bool fortran, size_t count, bool swap) {
  using U = typename UnsignedOf<sizeof(S)>::type;
  D* out = reinterpret_cast<D*>(out_bytes);
  for_each_element(shape, fortran, count, [&](size_t o, size_t s) {
    U bits;
    std::memcpy(&bits, in + s * sizeof(S), sizeof(S));
    if (swap) bits = detail::byteswap(bits);
    if constexpr (std::is_same_v<D, bool>) {
      out[o] = bits != 0;  // any nonzero byte is True, as NumPy reads it
    } else {
      out[o] = static_cast<D>(std::bit_cast<S>(bits));
    }
  });
}

void decode_values(const NpyType& t, const uint8_t* in, Tensor& out, const Shape& shape, bool fortran, size_t count) {
  const bool swap = t.big_endian != (std::endian::native == std::endian::big);
  uint8_t* dst = detail::host_bytes(out);
  if (!swap && (!fortran || shape.size() <= 1) && t.size == dtype_size(t.dtype) && t.kind != 'b') {
    if (count) std::memcpy(dst, in, count * t.size);
    return;
  }
  switch (t.kind) {
    case 'f':
      if (t.size == 2) convert<uint16_t, uint16_t>(in, dst, shape, fortran, count, swap);  // float16 bits
      if (t.size == 4) convert<float, float>(in, dst, shape, fortran, count, swap);
      if (t.size == 8) convert<double, double>(in, dst, shape, fortran, count, swap);
      return;
    case 'i':
      if (t.size == 1) convert<int8_t, int32_t>(in, dst, shape, fortran, count, swap);
      if (t.size == 2) convert<int16_t, int32_t>(in, dst, shape, fortran, count, swap);
      if (t.size == 4) convert<int32_t, int32_t>(in, dst, shape, fortran, count, swap);
      if (t.size == 8) convert<int64_t, int64_t>(in, dst, shape, fortran, count, swap);
      return;
    case 'u':
      if (t.size == 1) convert<uint8_t, uint8_t>(in, dst, shape, fortran, count, swap);
      if (t.size == 2) convert<uint16_t, int32_t>(in, dst, shape, fortran, count, swap);
      if (t.size == 4) convert<uint32_t, int64_t>(in, dst, shape, fortran, count, swap);
      return;
    case 'b':
      convert<uint8_t, bool>(in, dst, shape, fortran, count, swap);
      return;
    default:
      return;
  }
}

// ---- ZIP (the .npz container)

constexpr uint32_t kLocalHeaderSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50,
                   kZip64EndSig = 0x06064b50, kZip64LocatorSig = 0x07064b50;

struct ZipEntry {
  std::string name;
  uint16_t flags = 0, method = 0;
  uint32_t crc = 0;
  uint64_t compressed_size = 0, size = 0, local_offset = 0;
  uint64_t central_offset = 0;  // where its central directory record starts (for errors)
};

class ZipReader {
 public:
  ZipReader(const uint8_t* data, size_t size, const std::string& source) : d_(data), n_(size), source_(source) {}

  std::vector<ZipEntry> entries() {
    const uint64_t end = find_end_record();
    uint64_t count = le(end + 10, 2), cd_size = le(end + 12, 4), cd_offset = le(end + 16, 4);
    if (end >= 20 && le(end - 20, 4) == kZip64LocatorSig) {
      const uint64_t z64 = le(end - 20 + 8, 8);
      need(z64, 56,
           "the ZIP64 end of central directory record (named by the locator at offset " + std::to_string(end - 20) +
               ")");
      if (le(z64, 4) != kZip64EndSig) fail("expected the ZIP64 end of central directory signature", z64);
      count = le(z64 + 32, 8);
      cd_size = le(z64 + 40, 8);
      cd_offset = le(z64 + 48, 8);
    }
    need(cd_offset, cd_size, "the central directory (" + std::to_string(cd_size) + " bytes)");
    if (count > cd_size / 46) {
      fail("the end record declares " + std::to_string(count) + " entries, more than a " + std::to_string(cd_size) +
               "-byte central directory can hold",
           end);
    }
    std::vector<ZipEntry> entries;
    entries.reserve(static_cast<size_t>(count));
    uint64_t at = cd_offset;
    for (uint64_t i = 0; i < count; ++i) {
      need(at, 46, "a central directory record");
      if (le(at, 4) != kCentralSig) fail("expected a central directory record (signature 50 4b 01 02)", at);
      ZipEntry e;
      e.central_offset = at;
      e.flags = static_cast<uint16_t>(le(at + 8, 2));
      e.method = static_cast<uint16_t>(le(at + 10, 2));
      e.crc = static_cast<uint32_t>(le(at + 16, 4));
      e.compressed_size = le(at + 20, 4);
      e.size = le(at + 24, 4);
      const uint64_t name_len = le(at + 28, 2), extra_len = le(at + 30, 2), comment_len = le(at + 32, 2);
      e.local_offset = le(at + 42, 4);
      need(at + 46, name_len + extra_len + comment_len, "the entry's name, extra field and comment");
      e.name.assign(reinterpret_cast<const char*>(d_ + at + 46), static_cast<size_t>(name_len));
      read_zip64_extra(e, at + 46 + name_len, extra_len);
      entries.push_back(std::move(e));
      at += 46 + name_len + extra_len + comment_len;
    }
    return entries;
  }

  // The entry's bytes: a view into the archive for stored entries, inflated into `storage` for deflated ones.
  const uint8_t* contents(const ZipEntry& e, std::vector<uint8_t>& storage, const std::string& where) {
    if (e.flags & 1)
      fail("entry '" + e.name + "' is encrypted; pitfall reads only unencrypted archives", e.central_offset);
    const uint64_t at = e.local_offset;
    need(at, 30, "the local header of entry '" + e.name + "'");
    if (le(at, 4) != kLocalHeaderSig) {
      fail("expected the local header of entry '" + e.name + "' (signature 50 4b 03 04)", at);
    }
    const uint64_t data_at = at + 30 + le(at + 26, 2) + le(at + 28, 2);
    need(data_at, e.compressed_size,
         "the " + std::to_string(e.compressed_size) + " data bytes of entry '" + e.name + "'");
    const uint8_t* raw = d_ + data_at;
    const uint8_t* bytes = nullptr;
    if (e.method == 0) {
      if (e.size != e.compressed_size) {
        fail("stored entry '" + e.name + "' declares " + std::to_string(e.size) + " bytes but occupies " +
                 std::to_string(e.compressed_size),
             e.central_offset);
      }
      bytes = raw;
    } else if (e.method == 8) {
      if (e.size > detail::max_inflated_size(e.compressed_size)) {
        fail("entry '" + e.name + "' declares " + std::to_string(e.size) + " bytes inflated from " +
                 std::to_string(e.compressed_size) + " compressed bytes, more than deflate can produce",
             e.central_offset);
      }
      storage = detail::inflate_raw(raw, static_cast<size_t>(e.compressed_size), e.size,
                                    where + " (deflate data at byte offset " + std::to_string(data_at) + ")");
      bytes = storage.data();
    } else {
      fail("entry '" + e.name + "' uses compression method " + std::to_string(e.method) +
               "; only stored (0) and deflate (8) are supported, as numpy.savez and savez_compressed write",
           e.central_offset);
    }
    const uint32_t actual = crc32(bytes, static_cast<size_t>(e.size));  // ZIP uses the same CRC-32 as our files
    if (actual != e.crc) {
      char text[64];
      std::snprintf(text, sizeof text, "%08x, the data gives %08x", e.crc, actual);
      fail("CRC-32 mismatch in entry '" + e.name + "' (data at byte offset " + std::to_string(data_at) +
               "): the archive says " + text + "; the file is corrupt",
           e.central_offset);
    }
    return bytes;
  }

 private:
  [[noreturn]] void fail(const std::string& what, uint64_t at) const {
    throw ValueError(source_ + ": bad NPZ (ZIP) archive at byte offset " + std::to_string(at) + ": " + what);
  }
  // Checks that [at, at + length) lies inside the archive.
  void need(uint64_t at, uint64_t length, const std::string& what) const {
    if (at > n_ || length > n_ - at) {
      fail("expected " + what + " there, but the archive has only " + std::to_string(n_) +
               " bytes (truncated or corrupt)",
           at);
    }
  }
  uint64_t le(uint64_t at, int n) const { return load_le(d_ + at, n); }

  uint64_t find_end_record() const {
    if (n_ < 22)
      fail("an archive needs at least the 22-byte end of central directory record; this is not a ZIP file", 0);
    const uint64_t lowest = n_ > 22 + 65535 ? n_ - 22 - 65535 : 0;
    for (uint64_t at = n_ - 22 + 1; at-- > lowest;) {
      if (le(at, 4) == kEndSig && at + 22 + le(at + 20, 2) <= n_) return at;
    }
    fail(
        "no end of central directory record (signature 50 4b 05 06) in the last 64 KiB; this is not a ZIP file "
        "(.npz files are ZIP archives written by numpy.savez)",
        n_ - 22);
  }

  // ZIP64 extra field (id 0x0001): the 64-bit values of the fields whose 32-bit slots are all ones, in
  // the order size, compressed size, local header offset.
  void read_zip64_extra(ZipEntry& e, uint64_t at, uint64_t length) const {
    const uint64_t end = at + length;
    while (end - at >= 4) {
      const uint64_t id = le(at, 2), size = le(at + 2, 2);
      if (size > end - at - 4) fail("an extra field of entry '" + e.name + "' overruns its record", at);
      if (id == 1) {
        uint64_t p = at + 4;
        const uint64_t stop = p + size;
        for (uint64_t* field : {&e.size, &e.compressed_size, &e.local_offset}) {
          if (*field != 0xFFFFFFFFu) continue;
          if (stop - p < 8) fail("the ZIP64 extra field of entry '" + e.name + "' is too short", at);
          *field = le(p, 8);
          p += 8;
        }
      }
      at += 4 + size;
    }
  }

  const uint8_t* d_;
  size_t n_;
  const std::string& source_;
};

}  // namespace

Tensor parse_npy(const uint8_t* data, size_t size, const std::string& source) {
  if (size < 10 || std::memcmp(data, kNpyMagic, 6) != 0) {
    throw ValueError(source + ": not an NPY file: expected the magic \\x93NUMPY at byte offset 0" +
                     (size < 10 ? " and at least a 10-byte preamble, the data has " + std::to_string(size) + " bytes"
                                : std::string()));
  }
  const uint8_t major = data[6];
  if (major < 1 || major > 3) {
    throw ValueError(source + ": unsupported NPY format version " + std::to_string(major) + "." +
                     std::to_string(data[7]) + " at byte offset 6 (expected 1.0, 2.0 or 3.0)");
  }
  const size_t length_bytes = major == 1 ? 2 : 4;
  const size_t header_at = 8 + length_bytes;
  if (size < header_at) {
    throw ValueError(source + ": truncated NPY preamble: the header length at byte offset 8 needs " +
                     std::to_string(length_bytes) + " bytes, the data has " + std::to_string(size));
  }
  const uint64_t header_len = load_le(data + 8, static_cast<int>(length_bytes));
  if (header_len > size - header_at) {
    throw ValueError(source + ": truncated NPY header: " + std::to_string(header_len) +
                     " header bytes from byte offset " + std::to_string(header_at) + " would end at " +
                     std::to_string(header_at + header_len) + ", the data has " + std::to_string(size));
  }
  const NpyHeader header =
      HeaderParser(reinterpret_cast<const char*>(data + header_at), static_cast<size_t>(header_len), header_at, source)
          .parse();
  const NpyType type = parse_descr(header.descr, source, header_at);
  const size_t data_at = header_at + static_cast<size_t>(header_len);
  uint64_t count = 0;
  size_t bad = 0;
  if (!detail::checked_numel(header.shape, UINT64_MAX / 16, &count, &bad)) {
    throw ValueError(source + ": NPY shape " + shape_str(header.shape) + " in the header at byte offset " +
                     std::to_string(header_at) + " has more elements than any file can hold; the header is corrupt");
  }
  const uint64_t need = count * type.size, have = size - data_at;
  if (need != have) {
    throw ValueError(source + ": NPY data of shape " + shape_str(header.shape) + " ('" + header.descr + "') needs " +
                     std::to_string(need) + " bytes from byte offset " + std::to_string(data_at) + " to " +
                     std::to_string(data_at + need) + ", but the data has " + std::to_string(have) + " (" +
                     (have < need ? "truncated" : "trailing bytes") + ")");
  }
  Tensor out = detail::make_host_tensor(header.shape, type.dtype);
  decode_values(type, data + data_at, out, header.shape, header.fortran_order, static_cast<size_t>(count));
  return out;
}

Tensor read_npy(const std::string& path) {
  const std::vector<uint8_t> bytes = detail::read_file_bytes(path);
  return parse_npy(bytes.data(), bytes.size(), path);
}

std::vector<std::pair<std::string, Tensor>> parse_npz(const uint8_t* data, size_t size, const std::string& source) {
  ZipReader zip(data, size, source);
  std::vector<std::pair<std::string, Tensor>> arrays;
  std::set<std::string> seen;
  for (const ZipEntry& entry : zip.entries()) {
    const std::string where = source + " entry '" + entry.name + "'";
    std::vector<uint8_t> storage;
    const uint8_t* bytes = zip.contents(entry, storage, where);
    std::string name = entry.name;
    if (name.size() >= 4 && name.compare(name.size() - 4, 4, ".npy") == 0) name.resize(name.size() - 4);
    if (!seen.insert(name).second) {
      throw ValueError(source + ": bad NPZ archive: two entries are named '" + name + "' (the second at byte offset " +
                       std::to_string(entry.central_offset) + " of the central directory)");
    }
    arrays.emplace_back(std::move(name), parse_npy(bytes, static_cast<size_t>(entry.size), where));
  }
  return arrays;
}

std::vector<std::pair<std::string, Tensor>> read_npz(const std::string& path) {
  const std::vector<uint8_t> bytes = detail::read_file_bytes(path);
  return parse_npz(bytes.data(), bytes.size(), path);
}

}  // namespace pitfall::data
