#include "pitfall/data/compressed.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <memory>

namespace pitfall::data::detail {
namespace {

// zlib counts in uInt; feed it at most this much at a time so inputs over 4 GiB work.
constexpr size_t kMaxChunk = UINT_MAX / 2;

std::string zlib_reason(const z_stream& stream, int code) {
  if (stream.msg) return stream.msg;
  switch (code) {
    case Z_DATA_ERROR:
      return "invalid data";
    case Z_MEM_ERROR:
      return "out of memory";
    case Z_BUF_ERROR:
      return "the stream ends early";
    default:
      return "zlib error " + std::to_string(code);
  }
}

[[noreturn]] void gzip_error(const std::string& source, const std::string& what, uint64_t offset) {
  throw ValueError(source + ": corrupt or truncated gzip data: " + what + " at compressed byte offset " +
                   offset_str(offset) + "; re-download or reinstall the file");
}

// Owns an inflate stream so that every exit path calls inflateEnd.
struct Inflater {
  z_stream stream{};
  explicit Inflater(int window_bits, const std::string& where) {
    if (inflateInit2(&stream, window_bits) != Z_OK) throw RuntimeError(where + ": zlib inflateInit2 failed");
  }
  ~Inflater() { inflateEnd(&stream); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // One inflate() call: feeds the next input chunk when the last one is used up, writes into
  // out[produced, ...) and advances both counters. Returns zlib's code.
  int step(const uint8_t* data, size_t size, std::vector<uint8_t>& out, size_t& consumed, size_t& produced) {
    if (stream.avail_in == 0 && consumed < size) {
      stream.next_in = const_cast<Bytef*>(data + consumed);
      stream.avail_in = static_cast<uInt>(std::min(size - consumed, kMaxChunk));
    }
    stream.next_out = out.data() + produced;
    stream.avail_out = static_cast<uInt>(std::min(out.size() - produced, kMaxChunk));
    const uInt in_before = stream.avail_in, out_before = stream.avail_out;
    const int code = inflate(&stream, Z_NO_FLUSH);
    consumed += in_before - stream.avail_in;
    produced += out_before - stream.avail_out;
    return code;
  }
};

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw ValueError("cannot open '" + path + "': " + std::strerror(errno) + "; check the path");
  }
  std::unique_ptr<int, void (*)(int*)> closer(new int(fd), [](int* f) {
    ::close(*f);
    delete f;
  });
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    throw ValueError("cannot read '" + path + "': not a regular file; pass the path of a data file");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(info.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t got = ::read(fd, bytes.data() + done, std::min(bytes.size() - done, kMaxChunk));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw ValueError("cannot read '" + path + "': " + std::strerror(errno));
    if (got == 0) break;  // the file shrank while being read: parse what is there
    done += static_cast<size_t>(got);
  }
  bytes.resize(done);
  return bytes;
}

std::vector<uint8_t> gunzip(const uint8_t* data, size_t size, const std::string& source) {
  Inflater inflater(16 + MAX_WBITS, source);  // 16 + window: gzip wrapper, CRC and length checked by zlib
  z_stream& zs = inflater.stream;
  // The first guess: the size the gzip trailer declares (ISIZE, the length mod 2^32 of the last
  // member) plus one byte, so that a correct declaration ends the stream without a resize; capped
  // at 32x the compressed size (a forged trailer cannot make a small file allocate much), and a
  // guess from the compressed size without a trailer. Only a guess either way: the buffer grows by
  // doubling as needed, and a shrink copies only when the guess was far off (a copy doubles the
  // peak memory of a large file for a moment).
  size_t guess = std::min<size_t>(size * 4 + 4096, size_t{1} << 26);
  if (size >= 18) {
    const uint8_t* t = data + size - 4;
    const uint64_t declared = uint64_t{t[0]} | uint64_t{t[1]} << 8 | uint64_t{t[2]} << 16 | uint64_t{t[3]} << 24;
    const uint64_t cap = std::max<uint64_t>(uint64_t{size} * 32, uint64_t{1} << 20);
    if (declared > 0) guess = static_cast<size_t>(std::min<uint64_t>(declared + 1, cap));
  }
  std::vector<uint8_t> out(guess);
  size_t produced = 0, consumed = 0;
  for (;;) {
    if (produced == out.size()) out.resize(out.size() * 2);
    const int code = inflater.step(data, size, out, consumed, produced);
    if (code == Z_STREAM_END) {
      // Another member, zero padding, or junk after the data.
      const size_t next = consumed;
      if (next == size) break;
      const uint8_t* rest = data + next;
      const size_t rest_size = size - next;
      if (is_gzip(rest, rest_size)) {
        inflateReset(&zs);
        zs.avail_in = 0;  // re-point at the next member on the next pass
        continue;
      }
      if (std::all_of(rest, rest + rest_size, [](uint8_t b) { return b == 0; })) break;
      gzip_error(source, std::to_string(rest_size) + " trailing bytes that are not a gzip member", next);
    }
    if (code == Z_OK) continue;
    if (code == Z_BUF_ERROR && zs.avail_out == 0) continue;  // only needs more room
    if (code == Z_BUF_ERROR && consumed == size) {
      gzip_error(source, "the stream ends before its end marker (truncated file)", consumed);
    }
    gzip_error(source, zlib_reason(zs, code), consumed);
  }
  out.resize(produced);
  if (out.capacity() - produced > produced / 8) out.shrink_to_fit();
  return out;
}

std::vector<uint8_t> inflate_raw(const uint8_t* data, size_t size, uint64_t expected_size, const std::string& where) {
  Inflater inflater(-MAX_WBITS, where);  // negative: raw deflate, no zlib/gzip wrapper
  z_stream& zs = inflater.stream;
  // One spare byte: output that does not fit in expected_size bytes shows up there.
  std::vector<uint8_t> out(static_cast<size_t>(expected_size) + 1);
  size_t produced = 0, consumed = 0;
  for (;;) {
    const int code = inflater.step(data, size, out, consumed, produced);
    if (produced > expected_size) {
      throw ValueError(where + ": deflate data inflates to more than the " + std::to_string(expected_size) +
                       " bytes the archive declares; the archive is corrupt");
    }
    if (code == Z_STREAM_END) break;
    if (code == Z_OK) continue;
    if (code == Z_BUF_ERROR && consumed == size) {
      throw ValueError(where + ": deflate data ends after " + std::to_string(size) + " compressed bytes and " +
                       std::to_string(produced) + " of " + std::to_string(expected_size) +
                       " inflated bytes, before its end marker (truncated or corrupt archive)");
    }
    throw ValueError(where + ": corrupt deflate data (" + zlib_reason(zs, code) + ") at compressed byte " +
                     std::to_string(consumed) + " of the entry");
  }
  if (produced != expected_size) {
    throw ValueError(where + ": deflate data inflates to " + std::to_string(produced) +
                     " bytes, the archive declares " + std::to_string(expected_size) + "; the archive is corrupt");
  }
  if (consumed != size) {
    throw ValueError(where + ": deflate data ends after " + std::to_string(consumed) + " of the " +
                     std::to_string(size) + " compressed bytes the archive declares; the archive is corrupt");
  }
  out.resize(produced);
  return out;
}


Tensor make_host_tensor(const Shape& shape, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;  // callers have checked the product against the data size
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(numel) * dtype_size(dtype), Device{});
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

}  // namespace pitfall::data::detail
