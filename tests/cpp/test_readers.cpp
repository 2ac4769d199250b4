// File readers (data/idx_reader.h, data/npy_reader.h, data/csv_reader.h). Every file is written byte by
// byte here (IDX headers, NPY headers, ZIP records, CSV text), independently of the readers, and the
// values read back are compared with the values the test put in. zlib compresses (it is the reference
// implementation of gzip/deflate); the readers' own inflation is what is under test.
#include <doctest/doctest.h>
#include <pitfall/data/csv_reader.h>
#include <pitfall/data/idx_reader.h>
#include <pitfall/data/npy_reader.h>
#include <zlib.h>

#include <bit>
#include <cmath>
#include <filesystem>
#include <limits>

#include "saved_file_util.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

using Bytes = std::vector<uint8_t>;

void push_be(Bytes& b, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) b.push_back(static_cast<uint8_t>((v >> (8 * i)) & 0xFF));
}
void push_le(Bytes& b, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>((v >> (8 * i)) & 0xFF));
}
void append(Bytes& b, const std::string& s) { b.insert(b.end(), s.begin(), s.end()); }

// zlib with a gzip wrapper (window_bits 31) or raw deflate (-15).
Bytes zlib_compress(const Bytes& in, int window_bits) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  Bytes out(deflateBound(&zs, in.size()) + 64);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}
Bytes gzip(const Bytes& in) { return zlib_compress(in, 31); }

// ---- IDX by hand
Bytes idx_file(uint8_t type, const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes b{0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) push_be(b, d, 4);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Tensor parse_idx_bytes(const Bytes& b, const std::string& name = "mem.idx") {
  return data::parse_idx(b.data(), b.size(), name);
}

// ---- NPY by hand: preamble, dict, padding to 64 bytes, then the given raw bytes.
Bytes npy_file(const std::string& descr, bool fortran, const std::string& shape, const Bytes& payload,
               int version = 1) {
  std::string dict =
      "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
  const size_t preamble = version == 1 ? 10 : 12;
  while ((preamble + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  Bytes b{0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(version), 0};
  push_le(b, dict.size(), version == 1 ? 2 : 4);
  append(b, dict);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

template <class T>
Bytes raw_bytes(const std::vector<T>& values, bool big_endian = false) {
  Bytes b;
  for (T v : values) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    if (big_endian == (std::endian::native == std::endian::little)) std::reverse(tmp, tmp + sizeof(T));
    b.insert(b.end(), tmp, tmp + sizeof(T));
  }
  return b;
}

// A bool tensor's values as 0/1 (std::vector<bool> has no data() for to_vector).
std::vector<int> bools(const Tensor& t) {
  std::vector<int> out;
  for (int64_t i = 0; i < t.numel(); ++i) out.push_back(static_cast<int>(t.value_at(i)));
  return out;
}

Tensor parse_npy_bytes(const Bytes& b) { return data::parse_npy(b.data(), b.size(), "mem.npy"); }

// ---- ZIP by hand (the .npz container)
struct ZipSpec {
  std::string name;
  Bytes contents;
  bool deflate = false;
  bool zip64_sizes = false;  // 0xFFFFFFFF in the central record, real sizes in a ZIP64 extra field
  uint16_t method_override = 0xFFFF;
};

Bytes zip_file(const std::vector<ZipSpec>& entries) {
  Bytes out, central;
  for (const ZipSpec& e : entries) {
    const Bytes stored = e.deflate ? zlib_compress(e.contents, -15) : e.contents;
    const uint16_t method = e.method_override != 0xFFFF ? e.method_override : (e.deflate ? 8 : 0);
    const uint32_t crc = reference_crc32(e.contents.data(), e.contents.size());
    const size_t local = out.size();
    push_le(out, 0x04034b50, 4);
    push_le(out, 20, 2);
    push_le(out, 0, 2);
    push_le(out, method, 2);
    push_le(out, 0, 4);  // time, date
    push_le(out, crc, 4);
    push_le(out, stored.size(), 4);
    push_le(out, e.contents.size(), 4);
    push_le(out, e.name.size(), 2);
    push_le(out, 0, 2);
    append(out, e.name);
    out.insert(out.end(), stored.begin(), stored.end());

    push_le(central, 0x02014b50, 4);
    push_le(central, 45, 2);
    push_le(central, 45, 2);
    push_le(central, 0, 2);
    push_le(central, method, 2);
    push_le(central, 0, 4);
    push_le(central, crc, 4);
    push_le(central, e.zip64_sizes ? 0xFFFFFFFFu : stored.size(), 4);
    push_le(central, e.zip64_sizes ? 0xFFFFFFFFu : e.contents.size(), 4);
    push_le(central, e.name.size(), 2);
    push_le(central, e.zip64_sizes ? 20 : 0, 2);
    push_le(central, 0, 2);  // comment
    push_le(central, 0, 2);  // disk
    push_le(central, 0, 2);  // internal attributes
    push_le(central, 0, 4);  // external attributes
    push_le(central, local, 4);
    append(central, e.name);
    if (e.zip64_sizes) {
      push_le(central, 1, 2);
      push_le(central, 16, 2);
      push_le(central, e.contents.size(), 8);  // uncompressed first, then compressed
      push_le(central, stored.size(), 8);
    }
  }
  const size_t cd_offset = out.size();
  out.insert(out.end(), central.begin(), central.end());
  push_le(out, 0x06054b50, 4);
  push_le(out, 0, 4);
  push_le(out, entries.size(), 2);
  push_le(out, entries.size(), 2);
  push_le(out, central.size(), 4);
  push_le(out, cd_offset, 4);
  push_le(out, 0, 2);
  return out;
}

std::vector<std::pair<std::string, Tensor>> parse_npz_bytes(const Bytes& b) {
  return data::parse_npz(b.data(), b.size(), "mem.npz");
}

// ---- CSV
data::CsvTable csv(const std::string& text, const std::vector<data::CsvColumn>& columns,
                   const data::CsvOptions& options = {}) {
  return data::parse_csv(text.data(), text.size(), "t.csv", columns, options);
}
data::CsvOptions no_header() {
  data::CsvOptions options;
  options.header = false;
  return options;
}
data::CsvColumn req(DType d) { return {d, std::nullopt}; }
data::CsvColumn fill(DType d, double v) { return {d, v}; }

}  // namespace

TEST_SUITE("data readers") {
  // ================================================================================================ IDX
  TEST_CASE("IDX uint8 plain file round trip keeps shape and values") {
    Bytes payload;
    for (int i = 0; i < 24; ++i) payload.push_back(static_cast<uint8_t>(i * 10));
    TempDir dir("idx_plain");
    write_bytes(dir.file("a.idx"), idx_file(0x08, {2, 3, 4}, payload));
    const Tensor t = data::read_idx(dir.file("a.idx"));
    CHECK(t.dtype() == DType::uint8);
    CHECK(t.shape() == Shape{2, 3, 4});
    CHECK(t.to_vector<uint8_t>() == payload);
  }

  TEST_CASE("IDX signed and float types are decoded from big-endian and small ints widened to int32") {
    const std::vector<int8_t> i8{-128, -1, 0, 1, 127};
    Bytes b8(i8.size());
    std::memcpy(b8.data(), i8.data(), i8.size());
    Tensor t = parse_idx_bytes(idx_file(0x09, {5}, b8));
    CHECK(t.dtype() == DType::int32);
    CHECK(t.to_vector<int32_t>() == std::vector<int32_t>{-128, -1, 0, 1, 127});

    const std::vector<int16_t> i16{-32768, -2, 300, 32767};
    t = parse_idx_bytes(idx_file(0x0B, {2, 2}, raw_bytes(i16, true)));
    CHECK(t.dtype() == DType::int32);
    CHECK(t.shape() == Shape{2, 2});
    CHECK(t.to_vector<int32_t>() == std::vector<int32_t>{-32768, -2, 300, 32767});

    const std::vector<int32_t> i32{std::numeric_limits<int32_t>::min(), -7, 123456789};
    t = parse_idx_bytes(idx_file(0x0C, {3}, raw_bytes(i32, true)));
    CHECK(t.to_vector<int32_t>() == i32);

    const std::vector<float> f32{1.5f, -0.0f, 3.4e38f, 1e-45f};
    t = parse_idx_bytes(idx_file(0x0D, {4, 1}, raw_bytes(f32, true)));
    CHECK(t.dtype() == DType::float32);
    CHECK(t.to_vector<float>() == f32);

    const std::vector<double> f64{M_PI, -1e300, 5e-324};
    t = parse_idx_bytes(idx_file(0x0E, {3}, raw_bytes(f64, true)));
    CHECK(t.dtype() == DType::float64);
    CHECK(t.to_vector<double>() == f64);
  }

  TEST_CASE("IDX rank 0 and empty dimensions") {
    Tensor t = parse_idx_bytes(idx_file(0x08, {}, Bytes{42}));
    CHECK(t.shape() == Shape{});
    CHECK(t.item() == 42);
    t = parse_idx_bytes(idx_file(0x0D, {0, 5}, {}));
    CHECK(t.shape() == Shape{0, 5});
  }

  TEST_CASE("IDX gzip is detected by magic, whatever the file name, and multi-member gzip works") {
    Bytes payload;
    for (int i = 0; i < 1000; ++i) payload.push_back(static_cast<uint8_t>((i * 7) % 256));
    const Bytes file = idx_file(0x08, {10, 100}, payload);
    TempDir dir("idx_gzip");
    write_bytes(dir.file("images.bin"), gzip(file));  // no .gz suffix
    CHECK(data::read_idx(dir.file("images.bin")).to_vector<uint8_t>() == payload);

    // Two members, as `cat a.gz b.gz` makes: the header in one, the data in the other.
    const size_t cut = 8 + 4;  // magic + 2 dims
    Bytes first(file.begin(), file.begin() + cut), second(file.begin() + cut, file.end());
    Bytes both = gzip(first);
    const Bytes tail = gzip(second);
    both.insert(both.end(), tail.begin(), tail.end());
    CHECK(parse_idx_bytes(both).to_vector<uint8_t>() == payload);
  }

  TEST_CASE("IDX malformed files name the file and the byte offset") {
    const Bytes good = idx_file(0x08, {2, 3, 4}, Bytes(24, 1));
    std::string m = message_of([&] { parse_idx_bytes(Bytes{0, 0}, "short.idx"); });
    CHECK(contains(m, "short.idx: 2 bytes is too short for an IDX header (4 bytes at offset 0)"));

    Bytes bad = good;
    bad[0] = 1;
    m = message_of([&] { parse_idx_bytes(bad, "magic.idx"); });
    CHECK(contains(m, "magic.idx: bad IDX magic 01000803 at offset 0"));
    bad = good;
    bad[2] = 0x0A;  // not a type code
    CHECK(contains(message_of([&] { parse_idx_bytes(bad); }), "bad IDX magic 00000a03"));

    m = message_of([&] { parse_idx_bytes(Bytes(good.begin(), good.begin() + 10)); });
    CHECK(contains(m, "truncated IDX header: 3 dimensions need 16 bytes"));
    CHECK(contains(m, "the file has 10"));

    m = message_of([&] { parse_idx_bytes(Bytes(good.begin(), good.end() - 5), "trunc.idx"); });
    CHECK(contains(m,
                   "trunc.idx: IDX data of shape (2, 3, 4) (uint8) should end at byte offset 40, but the file has "
                   "35 bytes (truncated)"));
    Bytes longer = good;
    longer.push_back(0);
    CHECK(contains(message_of([&] { parse_idx_bytes(longer); }), "41 bytes (trailing data)"));

    // 4 dims of 2^32-1: the product overflows 64 bits; must be an error, not a huge allocation.
    m = message_of([&] { parse_idx_bytes(idx_file(0x0E, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {})); });
    CHECK(contains(m, "multiply to more than 2^60 elements"));
    CHECK(contains(m, "dimension 1 at offset 8"));
    // A zero dimension does not excuse the others: strides would still overflow.
    m = message_of([&] { parse_idx_bytes(idx_file(0x08, {0, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {})); });
    CHECK(contains(m, "dimension 2 at offset 12"));
    // Large but representable dims: the size check refuses before allocating.
    m = message_of([&] { parse_idx_bytes(idx_file(0x0E, {0xFFFFFFFF, 0xFFFF}, {})); });
    CHECK(contains(m, "truncated"));
  }

  TEST_CASE("IDX corrupt or truncated gzip names the file and the compressed offset") {
    const Bytes gz = gzip(idx_file(0x08, {100}, Bytes(100, 7)));
    std::string m = message_of([&] { parse_idx_bytes(Bytes(gz.begin(), gz.begin() + gz.size() / 2), "cut.gz"); });
    CHECK(contains(m, "cut.gz: corrupt or truncated gzip data"));
    CHECK(contains(m, "compressed byte offset"));

    Bytes corrupt = gz;
    corrupt[gz.size() - 6] ^= 0xFF;  // inside the CRC-32 trailer
    m = message_of([&] { parse_idx_bytes(corrupt, "crc.gz"); });
    CHECK(contains(m, "crc.gz: corrupt or truncated gzip data: incorrect data check"));

    Bytes junk = gz;
    append(junk, "junk");
    m = message_of([&] { parse_idx_bytes(junk, "junk.gz"); });
    CHECK(contains(
        m, "4 trailing bytes that are not a gzip member at compressed byte offset " + std::to_string(gz.size())));
  }

  TEST_CASE("IDX missing file names the path") {
    const std::string m = message_of([] { data::read_idx("/nonexistent/folder/x.idx"); });
    CHECK(contains(m, "cannot open '/nonexistent/folder/x.idx'"));
  }

  TEST_CASE("IDX Fashion-MNIST headers give the Keras shapes") {
    const std::string folder = "/usr/share/datasets/fashion-mnist";
    if (!std::filesystem::exists(folder + "/t10k-labels-idx1-ubyte.gz")) {
      MESSAGE("dataset-fashion-mnist is not installed; skipped");
      return;
    }
    const Tensor labels = data::read_idx(folder + "/t10k-labels-idx1-ubyte.gz");
    CHECK(labels.shape() == Shape{10000});
    CHECK(labels.dtype() == DType::uint8);
    std::vector<int> counts(10, 0);
    for (uint8_t v : labels.to_vector<uint8_t>()) counts.at(v) += 1;
    CHECK(counts == std::vector<int>(10, 1000));
    const Tensor images = data::read_idx(folder + "/t10k-images-idx3-ubyte.gz");
    CHECK(images.shape() == Shape{10000, 28, 28});
  }

  // ================================================================================================ NPY
  TEST_CASE("NPY little-endian dtypes read back exactly") {
    const std::vector<float> f32{1.5f, -2.25f, 3e38f, 0.0f, -0.0f, 7.0f};
    Tensor t = parse_npy_bytes(npy_file("<f4", false, "(2, 3)", raw_bytes(f32)));
    CHECK(t.dtype() == DType::float32);
    CHECK(t.shape() == Shape{2, 3});
    CHECK(t.to_vector<float>() == f32);

    const std::vector<double> f64{M_PI, -1e-300};
    CHECK(parse_npy_bytes(npy_file("<f8", false, "(2,)", raw_bytes(f64))).to_vector<double>() == f64);
    const std::vector<int32_t> i32{-5, 0, std::numeric_limits<int32_t>::max()};
    CHECK(parse_npy_bytes(npy_file("<i4", false, "(3,)", raw_bytes(i32))).to_vector<int32_t>() == i32);
    const std::vector<int64_t> i64{std::numeric_limits<int64_t>::min(), 1LL << 40};
    CHECK(parse_npy_bytes(npy_file("<i8", false, "(2,)", raw_bytes(i64))).to_vector<int64_t>() == i64);
    const Bytes u8{0, 128, 255};
    CHECK(parse_npy_bytes(npy_file("|u1", false, "(3,)", u8)).to_vector<uint8_t>() == u8);
    t = parse_npy_bytes(npy_file("|b1", false, "(4,)", Bytes{1, 0, 0, 1}));
    CHECK(t.dtype() == DType::bool_);
    CHECK(bools(t) == std::vector<int>{1, 0, 0, 1});

    // float16: the raw half bits are kept (0x3C00 = 1.0, 0xC000 = -2.0, 0x7BFF = 65504).
    const std::vector<uint16_t> half{0x3C00, 0xC000, 0x7BFF};
    t = parse_npy_bytes(npy_file("<f2", false, "(3,)", raw_bytes(half)));
    CHECK(t.dtype() == DType::float16);
    CHECK(t.value_at(0) == 1.0);
    CHECK(t.value_at(1) == -2.0);
    CHECK(t.value_at(2) == 65504.0);
  }

  TEST_CASE("NPY big-endian data is byte-swapped") {
    const std::vector<float> f32{1.5f, -2.0f};
    CHECK(parse_npy_bytes(npy_file(">f4", false, "(2,)", raw_bytes(f32, true))).to_vector<float>() == f32);
    const std::vector<int64_t> i64{-3, 1LL << 50};
    CHECK(parse_npy_bytes(npy_file(">i8", false, "(2,)", raw_bytes(i64, true))).to_vector<int64_t>() == i64);
    const std::vector<double> f64{-0.125, 1e200};
    CHECK(parse_npy_bytes(npy_file(">f8", false, "(2,)", raw_bytes(f64, true))).to_vector<double>() == f64);
    const std::vector<uint16_t> half{0x3C00};
    CHECK(parse_npy_bytes(npy_file(">f2", false, "(1,)", raw_bytes(half, true))).value_at(0) == 1.0);
  }

  TEST_CASE("NPY int8 int16 uint16 widen to int32 and uint32 to int64") {
    const std::vector<int8_t> i8{-128, 127};
    Bytes b(2);
    std::memcpy(b.data(), i8.data(), 2);
    Tensor t = parse_npy_bytes(npy_file("|i1", false, "(2,)", b));
    CHECK(t.dtype() == DType::int32);
    CHECK(t.to_vector<int32_t>() == std::vector<int32_t>{-128, 127});
    t = parse_npy_bytes(npy_file("<i2", false, "(2,)", raw_bytes(std::vector<int16_t>{-32768, 32767})));
    CHECK(t.to_vector<int32_t>() == std::vector<int32_t>{-32768, 32767});
    t = parse_npy_bytes(npy_file(">u2", false, "(2,)", raw_bytes(std::vector<uint16_t>{0, 65535}, true)));
    CHECK(t.to_vector<int32_t>() == std::vector<int32_t>{0, 65535});
    t = parse_npy_bytes(npy_file("<u4", false, "(1,)", raw_bytes(std::vector<uint32_t>{4294967295u})));
    CHECK(t.dtype() == DType::int64);
    CHECK(t.to_vector<int64_t>() == std::vector<int64_t>{4294967295LL});
  }

  TEST_CASE("NPY fortran order is converted to C order") {
    // A 2x3x4 array a[i][j][k] = 100 i + 10 j + k, stored column-major: k slowest, i fastest.
    std::vector<int32_t> fortran;
    for (int k = 0; k < 4; ++k)
      for (int j = 0; j < 3; ++j)
        for (int i = 0; i < 2; ++i) fortran.push_back(100 * i + 10 * j + k);
    std::vector<int32_t> c_order;
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j)
        for (int k = 0; k < 4; ++k) c_order.push_back(100 * i + 10 * j + k);
    Tensor t = parse_npy_bytes(npy_file("<i4", true, "(2, 3, 4)", raw_bytes(fortran)));
    CHECK(t.shape() == Shape{2, 3, 4});
    CHECK(t.to_vector<int32_t>() == c_order);
    // Big-endian and widened at the same time.
    std::vector<int16_t> f16(fortran.begin(), fortran.end());
    t = parse_npy_bytes(npy_file(">i2", true, "(2, 3, 4)", raw_bytes(f16, true)));
    CHECK(t.to_vector<int32_t>() == c_order);
  }

  TEST_CASE("NPY scalar, empty, version 2 and 3 headers") {
    Tensor t = parse_npy_bytes(npy_file("<f8", false, "()", raw_bytes(std::vector<double>{2.5})));
    CHECK(t.shape() == Shape{});
    CHECK(t.item() == 2.5);
    t = parse_npy_bytes(npy_file("<f4", true, "(0, 3)", {}));
    CHECK(t.shape() == Shape{0, 3});
    const std::vector<float> v{1, 2};
    CHECK(parse_npy_bytes(npy_file("<f4", false, "(2,)", raw_bytes(v), 2)).to_vector<float>() == v);
    CHECK(parse_npy_bytes(npy_file("<f4", false, "(2,)", raw_bytes(v), 3)).to_vector<float>() == v);
  }

  TEST_CASE("NPY malformed headers and data name the byte offset") {
    const Bytes good = npy_file("<f4", false, "(2, 3)", Bytes(24, 0));
    Bytes bad = good;
    bad[1] = 'X';
    CHECK(contains(message_of([&] { parse_npy_bytes(bad); }), "mem.npy: not an NPY file: expected the magic"));
    bad = good;
    bad[6] = 9;
    CHECK(contains(message_of([&] { parse_npy_bytes(bad); }), "unsupported NPY format version 9.0 at byte offset 6"));
    std::string m = message_of([&] { parse_npy_bytes(Bytes(good.begin(), good.begin() + 40)); });
    CHECK(contains(m, "truncated NPY header: 118 header bytes from byte offset 10 would end at 128, the data has 40"));

    m = message_of([&] { parse_npy_bytes(Bytes(good.begin(), good.end() - 4)); });
    CHECK(contains(m,
                   "NPY data of shape (2, 3) ('<f4') needs 24 bytes from byte offset 128 to 152, but the data has 20 "
                   "(truncated)"));
    Bytes longer = good;
    longer.push_back(0);
    CHECK(contains(message_of([&] { parse_npy_bytes(longer); }), "but the data has 25 (trailing bytes)"));

    auto header_error = [](const std::string& dict) {
      Bytes b{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
      push_le(b, dict.size(), 2);
      append(b, dict);
      return message_of([&] { parse_npy_bytes(b); });
    };
    CHECK(contains(header_error("{'descr': '<f4', 'shape': (2,), }"), "lacks 'fortran_order'"));
    CHECK(contains(header_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}"),
                   "bad NPY header at byte offset 66: unexpected key 'x'"));
    CHECK(contains(header_error("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}"),
                   "bad NPY header at byte offset 44: expected True or False"));
    CHECK(contains(header_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1)}"),
                   "expected a non-negative integer dimension"));
    CHECK(contains(header_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2,"),
                   "bad NPY header at byte offset 63: expected a non-negative integer dimension in 'shape', but the "
                   "header ends there"));
    CHECK(contains(header_error("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}"),
                   "structured (record) dtypes are not supported"));
    CHECK(contains(
        header_error("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }"),
        "has more elements than any file can hold"));
    CHECK(contains(header_error("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000), }"),
                   "(truncated)"));
  }

  TEST_CASE("NPY unsupported dtypes say what to convert to") {
    auto dtype_error = [](const std::string& descr) {
      return message_of([&] { parse_npy_bytes(npy_file(descr, false, "(1,)", Bytes(8, 0))); });
    };
    CHECK(contains(dtype_error("|O"), "unsupported NPY dtype '|O' in the header at byte offset 10: object arrays"));
    CHECK(contains(dtype_error("<U2"), "unicode strings are not numbers"));
    CHECK(contains(dtype_error("|S8"), "byte strings"));
    CHECK(contains(dtype_error("<c8"), "complex numbers are not supported"));
    CHECK(contains(dtype_error("<M8[ns]"), "datetime"));
    CHECK(contains(dtype_error("<u8"), "uint64 has no pitfall dtype"));
    CHECK(contains(dtype_error("|f4"), "'|' (no byte order) is only valid for one-byte types"));
    CHECK(contains(dtype_error("<f3"), "expected one of"));
  }

  TEST_CASE("save_npy writes a standard NPY file atomically") {
    TempDir dir("save_npy");
    const std::vector<float> values{1.5f, -2.0f, 0.25f, 8.0f, 9.0f, -0.0f};
    const Tensor t = Tensor::from_vector(values, Shape{2, 3});
    data::save_npy(dir.file("a.npy"), t);
    // Independently: the header a NumPy reader expects, 64-byte aligned, then the raw values.
    const Bytes b = pitfall::testing::read_bytes(dir.file("a.npy"));
    REQUIRE(b.size() >= 10);
    const size_t header_len = b[8] | (b[9] << 8);
    CHECK((10 + header_len) % 64 == 0);
    const std::string header(b.begin() + 10, b.begin() + 10 + static_cast<long>(header_len));
    CHECK(contains(header, "'descr': '<f4'"));
    CHECK(contains(header, "'fortran_order': False"));
    CHECK(contains(header, "'shape': (2, 3)"));
    CHECK(header.back() == '\n');
    CHECK(Bytes(b.begin() + 10 + static_cast<long>(header_len), b.end()) == raw_bytes(values));
    CHECK(data::read_npy(dir.file("a.npy")).to_vector<float>() == values);

    // A 1-D shape is written "(n,)", a scalar "()"; views are saved by value; bool and int64 keep their dtypes.
    data::save_npy(dir.file("b.npy"), Tensor::from_vector(std::vector<int64_t>{1, 2, 3}));
    const Bytes b1 = pitfall::testing::read_bytes(dir.file("b.npy"));
    CHECK(contains(std::string(b1.begin(), b1.end()), "'shape': (3,)"));
    data::save_npy(dir.file("c.npy"), Tensor::scalar(1.0, DType::bool_));
    CHECK(data::read_npy(dir.file("c.npy")).dtype() == DType::bool_);
    CHECK(data::read_npy(dir.file("c.npy")).shape() == Shape{});
    const Tensor transposed = t.as_strided({3, 2}, {1, 3}, 0);
    data::save_npy(dir.file("a.npy"), transposed);  // overwrites
    CHECK(data::read_npy(dir.file("a.npy")).to_vector<float>() ==
          std::vector<float>{1.5f, 8.0f, -2.0f, 9.0f, 0.25f, -0.0f});
    // No temporary files left behind.
    CHECK(dir.listing() == std::set<std::string>{"a.npy", "b.npy", "c.npy"});

    const std::string m = message_of([&] { data::save_npy(dir.file("missing/x.npy"), t); });
    CHECK(contains(m, "save_npy: cannot write"));
    CHECK(contains(m, "does not exist; create it first"));
    CHECK(contains(message_of([&] { data::save_npy(dir.file("d.npy"), Tensor::zeros({2}, DType::bfloat16)); }),
                   "NumPy has no bfloat16 dtype"));
    CHECK(dir.listing() == std::set<std::string>{"a.npy", "b.npy", "c.npy"});
  }

  // ================================================================================================ NPZ
  TEST_CASE("NPZ stored and deflated entries come back in archive order without .npy") {
    const std::vector<float> x{1, 2, 3, 4};
    const std::vector<int64_t> y{7, 8, 9};
    Bytes big_payload;
    for (int i = 0; i < 4000; ++i) big_payload.push_back(static_cast<uint8_t>(i % 3));
    const Bytes zip = zip_file({{"x.npy", npy_file("<f4", false, "(2, 2)", raw_bytes(x))},
                                {"y.npy", npy_file("<i8", false, "(3,)", raw_bytes(y)), true},
                                {"a.npy", npy_file("|u1", false, "(4000,)", big_payload), true, true}});
    TempDir dir("npz");
    write_bytes(dir.file("d.npz"), zip);
    const auto arrays = data::read_npz(dir.file("d.npz"));
    REQUIRE(arrays.size() == 3);
    CHECK(arrays[0].first == "x");
    CHECK(arrays[0].second.shape() == Shape{2, 2});
    CHECK(arrays[0].second.to_vector<float>() == x);
    CHECK(arrays[1].first == "y");
    CHECK(arrays[1].second.to_vector<int64_t>() == y);
    CHECK(arrays[2].first == "a");
    CHECK(arrays[2].second.to_vector<uint8_t>() == big_payload);
    CHECK(parse_npz_bytes(zip_file({})).empty());
  }

  TEST_CASE("NPZ ZIP64 end of central directory records are followed") {
    const std::vector<double> v{0.5, -1.5};
    Bytes zip = zip_file({{"v.npy", npy_file("<f8", false, "(2,)", raw_bytes(v))}});
    // Replace the classic end record's counts and offsets by "see ZIP64" and insert the ZIP64 record
    // and its locator in front of it, as writers do for archives over 4 GiB or 65535 entries.
    const size_t end = zip.size() - 22;
    const uint64_t cd_size = pitfall::testing::le(zip, end + 12, 4), cd_offset = pitfall::testing::le(zip, end + 16, 4);
    Bytes out(zip.begin(), zip.begin() + static_cast<long>(end));
    const size_t z64 = out.size();
    push_le(out, 0x06064b50, 4);
    push_le(out, 44, 8);
    push_le(out, 45, 2);
    push_le(out, 45, 2);
    push_le(out, 0, 8);  // disk numbers
    push_le(out, 1, 8);
    push_le(out, 1, 8);
    push_le(out, cd_size, 8);
    push_le(out, cd_offset, 8);
    push_le(out, 0x07064b50, 4);
    push_le(out, 0, 4);
    push_le(out, z64, 8);
    push_le(out, 1, 4);
    push_le(out, 0x06054b50, 4);
    push_le(out, 0, 4);
    push_le(out, 0xFFFF, 2);
    push_le(out, 0xFFFF, 2);
    push_le(out, 0xFFFFFFFF, 4);
    push_le(out, 0xFFFFFFFF, 4);
    push_le(out, 0, 2);
    const auto arrays = parse_npz_bytes(out);
    REQUIRE(arrays.size() == 1);
    CHECK(arrays[0].second.to_vector<double>() == v);
    // A ZIP64 record claiming more entries than its central directory can hold is refused up front.
    pitfall::testing::put_le(out, z64 + 32, 1ULL << 60, 8);
    CHECK(contains(message_of([&] { parse_npz_bytes(out); }), "declares 1152921504606846976 entries"));
  }

  TEST_CASE("NPZ corrupt archives name the entry and the byte offset") {
    const Bytes entry = npy_file("<f4", false, "(4,)", raw_bytes(std::vector<float>{1, 2, 3, 4}));
    const Bytes good = zip_file({{"x.npy", entry}});
    // The data starts after the 30-byte local header and the 5-byte name.
    Bytes bad = good;
    bad[30 + 5 + entry.size() - 1] ^= 1;
    std::string m = message_of([&] { parse_npz_bytes(bad); });
    CHECK(contains(m, "mem.npz: bad NPZ (ZIP) archive at byte offset " + std::to_string(30 + 5 + entry.size())));
    CHECK(contains(m, "CRC-32 mismatch in entry 'x.npy' (data at byte offset 35)"));

    CHECK(contains(message_of([&] { parse_npz_bytes(entry); }), "no end of central directory record"));
    CHECK(contains(message_of([&] { parse_npz_bytes(Bytes{1, 2, 3}); }), "not a ZIP file"));
    // Cut the archive in the middle of the entry's data: the end record survives only if we keep it,
    // so move it: drop 8 data bytes and the central directory then points past the data.
    Bytes cut(good.begin(), good.begin() + 40);
    const Bytes tail(good.end() - 22 - 46 - 5, good.end());
    cut.insert(cut.end(), tail.begin(), tail.end());
    m = message_of([&] { parse_npz_bytes(cut); });
    CHECK(contains(m, "bad NPZ (ZIP) archive at byte offset"));

    const Bytes method12 = zip_file({{"x.npy", entry, false, false, 12}});
    CHECK(contains(message_of([&] { parse_npz_bytes(method12); }), "uses compression method 12"));

    // A deflated entry whose declared size is far beyond what its compressed bytes can produce.
    Bytes lying = zip_file({{"x.npy", entry, true, true}});
    const size_t cd = lying.size() - 22 - (46 + 5 + 20);
    pitfall::testing::put_le(lying, cd + 46 + 5 + 4, 1ULL << 40, 8);
    m = message_of([&] { parse_npz_bytes(lying); });
    CHECK(contains(m, "more than deflate can produce"));

    // A damaged NPY inside a good archive: the error names the entry.
    const Bytes inner = zip_file({{"w.npy", Bytes(entry.begin(), entry.end() - 1), true}});
    m = message_of([&] { parse_npz_bytes(inner); });
    CHECK(contains(m, "mem.npz entry 'w.npy': NPY data of shape (4,)"));
    CHECK(contains(m, "(truncated)"));
  }

  // ================================================================================================ CSV
  TEST_CASE("CSV typed columns with a header") {
    const std::string text =
        "id,price,count,flag,small\n"
        "1,1.5,10000000000,true,0\n"
        "-2,-2.25e3,-5,0,255\n"
        "+3,inf,0,FALSE,7\n";
    const auto table =
        csv(text, {req(DType::int32), req(DType::float32), req(DType::int64), req(DType::bool_), req(DType::uint8)});
    CHECK(table.names == std::vector<std::string>{"id", "price", "count", "flag", "small"});
    REQUIRE(table.columns.size() == 5);
    CHECK(table.columns[0].to_vector<int32_t>() == std::vector<int32_t>{1, -2, 3});
    CHECK(table.columns[1].to_vector<float>() ==
          std::vector<float>{1.5f, -2250.0f, std::numeric_limits<float>::infinity()});
    CHECK(table.columns[2].to_vector<int64_t>() == std::vector<int64_t>{10000000000LL, -5, 0});
    CHECK(bools(table.columns[3]) == std::vector<int>{1, 0, 0});
    CHECK(table.columns[4].to_vector<uint8_t>() == std::vector<uint8_t>{0, 255, 7});
    for (const Tensor& c : table.columns) CHECK(c.shape() == Shape{3});
  }

  TEST_CASE("CSV float32 is rounded once and float64 keeps full precision") {
    const auto table = csv("0.1,0.1\n3.4028235e38,1e-320\n", {req(DType::float32), req(DType::float64)}, no_header());
    CHECK(table.columns[0].to_vector<float>() == std::vector<float>{0.1f, 3.4028235e38f});
    CHECK(table.columns[1].to_vector<double>() == std::vector<double>{0.1, 1e-320});
    CHECK(table.names == std::vector<std::string>{"column_0", "column_1"});
  }

  TEST_CASE("CSV quotes keep delimiters, newlines and escaped quotes") {
    const std::string text = "a,b\n\"1,5\",\"2\"\n\"3\"\"\",4\n\"x\ny\",5\n6,7\n";
    // Column a read as text would be needed for "1,5"; read b only, and check a's quote handling via errors.
    data::CsvOptions select;
    select.select_cols = {1};
    const auto table = csv(text, {req(DType::int32)}, select);
    CHECK(table.columns[0].to_vector<int32_t>() == std::vector<int32_t>{2, 4, 5, 7});
    // Line numbers stay right after a quoted newline: "6" is on line 6.
    const std::string m = message_of([&] { csv(text + "oops,8\n", {req(DType::int32), req(DType::int32)}); });
    CHECK(contains(m, "t.csv: line 2, column 'a' (index 0): '1,5' is not a valid int32"));
    const std::string m2 = message_of([&] {
      csv("a,b\n6,7\n\"x\ny\",5\n8,x\n", {req(DType::int32), req(DType::int32)});
    });
    CHECK(contains(m2, "line 3, column 'a'"));
    const std::string m3 = message_of([&] {
      csv("a,b\n1,2\n\"x\ny\",5\n8,x\n", {fill(DType::int32, 0), req(DType::int32)}, {});
    });
    CHECK(contains(m3, "line 3, column 'a' (index 0): 'x?y' is not a valid int32"));
    const auto spaced = csv("\" 2.5 \"\n", {req(DType::float32)}, no_header());
    CHECK(spaced.columns[0].to_vector<float>() == std::vector<float>{2.5f});
    CHECK(contains(message_of([] {
                     csv("1,\"\"\"\"\n", {req(DType::int32), req(DType::int32)}, no_header());
                   }),
                   "line 1, column 'column_1' (index 1): '\"' is not a valid int32"));
  }

  TEST_CASE("CSV quotes off treats quotes as text") {
    data::CsvOptions options;
    options.header = false;
    options.use_quote_delim = false;
    const std::string m = message_of([&] { csv("\"1\",2\n", {req(DType::int32), req(DType::int32)}, options); });
    CHECK(contains(m, "'\"1\"' is not a valid int32"));
  }

  TEST_CASE("CSV missing fields are filled or refused") {
    const std::string text = "a,b,c\n1,,3\n,2.5,NA\n";
    data::CsvOptions options;
    options.na_value = "NA";
    const auto table = csv(text, {fill(DType::int32, -1), fill(DType::float64, 0.5), fill(DType::int64, 99)}, options);
    CHECK(table.columns[0].to_vector<int32_t>() == std::vector<int32_t>{1, -1});
    CHECK(table.columns[1].to_vector<double>() == std::vector<double>{0.5, 2.5});
    CHECK(table.columns[2].to_vector<int64_t>() == std::vector<int64_t>{3, 99});

    std::string m = message_of([&] {
      csv(text, {req(DType::int32), req(DType::float64), req(DType::int64)}, options);
    });
    CHECK(contains(m, "t.csv: line 2, column 'b' (index 1): missing value in a required float64 column"));
    m = message_of([&] { csv(text, {fill(DType::int32, 0), fill(DType::float64, 0), req(DType::int64)}, options); });
    CHECK(contains(m, "line 3, column 'c' (index 2): value 'NA' (the na_value) in a required int64 column"));
    // A quoted empty field is missing too, and a trailing delimiter is one more (empty) field.
    const auto q = csv("\"\",1,\n", {fill(DType::float32, 7), req(DType::int32), fill(DType::uint8, 3)}, no_header());
    CHECK(q.columns[0].to_vector<float>() == std::vector<float>{7});
    CHECK(q.columns[2].to_vector<uint8_t>() == std::vector<uint8_t>{3});
  }

  TEST_CASE("CSV select_cols picks columns by index") {
    const std::string text = "a,b,c,d\n1,2,3,4\n5,6,7,8\n";
    data::CsvOptions options;
    options.select_cols = {0, 3};
    const auto table = csv(text, {req(DType::int64), req(DType::float32)}, options);
    CHECK(table.names == std::vector<std::string>{"a", "d"});
    CHECK(table.columns[0].to_vector<int64_t>() == std::vector<int64_t>{1, 5});
    CHECK(table.columns[1].to_vector<float>() == std::vector<float>{4, 8});

    options.select_cols = {1, 4};
    CHECK(contains(message_of([&] {
                     csv(text, {req(DType::int64), req(DType::float32)}, options);
                   }),
                   "select_cols names column index 4, but line 1 has only 4 fields"));
    options.select_cols = {2, 1};
    CHECK(contains(message_of([&] {
                     csv(text, {req(DType::int64), req(DType::float32)}, options);
                   }),
                   "select_cols must be non-negative and strictly increasing"));
    options.select_cols = {1};
    CHECK(contains(message_of([&] {
                     csv(text, {req(DType::int64), req(DType::float32)}, options);
                   }),
                   "select_cols has 1 indices but record_defaults has 2 entries"));
  }

  TEST_CASE("CSV ragged lines, bad values and bad quotes name the line and column") {
    const std::vector<data::CsvColumn> three{req(DType::int32), req(DType::int32), req(DType::int32)};
    std::string m = message_of([&] { csv("a,b,c\n1,2,3\n4,5\n", three); });
    CHECK(contains(m, "t.csv: line 3 has 2 fields, expected 3"));
    m = message_of([&] { csv("a,b,c\n1,2,3,4\n", three); });
    CHECK(contains(m, "line 2 has 4 fields, expected 3"));
    data::CsvOptions select;
    select.select_cols = {0};
    m = message_of([&] { csv("a,b\n1,2\n\n3,4,5\n", {req(DType::int32)}, select); });
    CHECK(contains(m, "line 4 has 3 fields, expected 2 (as on the first line)"));

    m = message_of([&] { csv("a,b,c\n1,2,abc\n", three); });
    CHECK(contains(m, "line 2, column 'c' (index 2): 'abc' is not a valid int32"));
    m = message_of([&] { csv("a,b,c\n1,2.5,3\n", three); });
    CHECK(contains(m, "'2.5' is not a valid int32"));
    m = message_of([&] { csv("a,b,c\n2147483648,0,0\n", three); });
    CHECK(contains(m,
                   "line 2, column 'a' (index 0): '2147483648' is out of range for int32 (-2147483648 to 2147483647)"));
    m = message_of([&] { csv("99999999999999999999\n", {req(DType::int64)}, no_header()); });
    CHECK(contains(m, "line 1, column 'column_0' (index 0): '99999999999999999999' is out of range for int64"));
    m = message_of([&] { csv("256\n", {req(DType::uint8)}, no_header()); });
    CHECK(contains(m, "'256' is out of range for uint8 (0 to 255)"));
    m = message_of([&] { csv("-1\n", {req(DType::uint8)}, no_header()); });
    CHECK(contains(m, "'-1' is out of range for uint8"));
    m = message_of([&] { csv("yes\n", {req(DType::bool_)}, no_header()); });
    CHECK(contains(m, "'yes' is not a valid bool"));
    m = message_of([&] { csv("1e39\n", {req(DType::float32)}, no_header()); });
    CHECK(contains(m, "'1e39' is out of range for float32"));
    m = message_of([&] { csv("1.5.2\n", {req(DType::float64)}, no_header()); });
    CHECK(contains(m, "'1.5.2' is not a valid float64"));

    m = message_of([&] { csv("a\n1\n\"2\n3\n", {req(DType::int32)}); });
    CHECK(contains(m, "t.csv: line 3, field 0 (0-based): unterminated quote: the quote at byte offset 4"));
    m = message_of([&] { csv("\"1\"x,2\n", {req(DType::int32), req(DType::int32)}, no_header()); });
    CHECK(contains(m, "line 1, field 0 (0-based): unexpected character 'x' after the closing quote"));
    m = message_of([&] { csv("1,a\"b\n", {req(DType::int32), req(DType::int32)}, no_header()); });
    CHECK(contains(m, "line 1, field 1 (0-based): a quote inside an unquoted field"));
  }

  TEST_CASE("CSV CRLF, blank lines, other delimiters, spaces and gzip") {
    const std::string text = "a;b\r\n\r\n 1 ;\t2.5\r\n\n3;4\r\n";
    data::CsvOptions options;
    options.field_delim = ';';
    const auto table = csv(text, {req(DType::int32), req(DType::float64)}, options);
    CHECK(table.columns[0].to_vector<int32_t>() == std::vector<int32_t>{1, 3});
    CHECK(table.columns[1].to_vector<double>() == std::vector<double>{2.5, 4});

    const Bytes gz = gzip(Bytes(text.begin(), text.end()));
    TempDir dir("csv_gzip");
    write_bytes(dir.file("t.csv.gz"), gz);
    const auto from_gz = data::read_csv(dir.file("t.csv.gz"), {req(DType::int32), req(DType::float64)}, options);
    CHECK(from_gz.columns[1].to_vector<double>() == std::vector<double>{2.5, 4});

    // Header only, or an empty file: zero-length columns.
    CHECK(csv("a,b\n", {req(DType::int32), req(DType::int32)}).columns[1].shape() == Shape{0});
    CHECK(csv("", {req(DType::int32)}).columns[0].shape() == Shape{0});
  }

  TEST_CASE("CSV bad options are reported before reading") {
    CHECK(contains(message_of([] { csv("1\n", {}); }), "record_defaults is empty"));
    CHECK(contains(message_of([] { csv("1\n", {req(DType::float16)}); }),
                   "record_defaults[0] has dtype float16; CSV columns can be"));
    CHECK(contains(message_of([] { csv("1\n", {fill(DType::int32, 1.5)}); }),
                   "record_defaults[0] = 1.500000 is not a valid int32 default"));
    CHECK(contains(message_of([] { csv("1\n", {fill(DType::uint8, 256)}); }), "not a valid uint8 default"));
    data::CsvOptions quote_delim;
    quote_delim.field_delim = '"';
    CHECK(contains(message_of([&] { csv("1\n", {req(DType::int32)}, quote_delim); }), "field_delim cannot be"));
    CHECK(contains(message_of([] { data::read_csv("/nonexistent.csv", {req(DType::int32)}); }),
                   "cannot open '/nonexistent.csv'"));
  }

}  // TEST_SUITE
