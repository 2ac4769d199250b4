// AtomicFileWriter and crc32 (core/atomic_file.h).
#include "pitfall/core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "pitfall/core/error.h"

namespace pitfall {

namespace {

namespace fs = std::filesystem;

std::atomic<int64_t> g_fail_after_bytes{-1};

std::string in_quotes(const std::string& path) { return "'" + path + "'"; }

}  // namespace

uint32_t crc32(const void* data, size_t size, uint32_t crc) {
  // zlib's CRC-32 (the same polynomial and conventions), which continues from `crc` like this API.
  return static_cast<uint32_t>(::crc32_z(crc, static_cast<const Bytef*>(data), size));
}

AtomicFileWriter::AtomicFileWriter(std::string path, std::string where) : path_(std::move(path)), where_(std::move(where)) {
  const fs::path target(path_);
  if (target.filename().empty()) {
    throw ValueError(where_ + ": " + in_quotes(path_) + " names a directory; give a file path");
  }
  std::error_code ec;
  if (fs::is_directory(target, ec)) {
    throw ValueError(where_ + ": " + in_quotes(path_) + " is an existing directory; give a file path");
  }
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec)) {
    throw RuntimeError(where_ + ": cannot write " + in_quotes(path_) + ": the directory " + in_quotes(dir.string()) +
                       " does not exist; create it first");
  }
  static std::atomic<uint64_t> counter{0};
  temp_ = (dir / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
              .string();
  dir_ = dir.string();
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd_ < 0) {
    throw RuntimeError(where_ + ": cannot create the temporary file " + in_quotes(temp_) + " next to " + in_quotes(path_) +
                       ": " + std::strerror(errno));
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFileWriter::write(const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  crc_ = crc32(bytes, size, crc_);
  size_t allowed = size;
  const int64_t fail_after = g_fail_after_bytes.load();
  const bool simulate_failure = fail_after >= 0 && offset_ + size > static_cast<uint64_t>(fail_after);
  if (simulate_failure) allowed = static_cast<size_t>(std::max<int64_t>(0, fail_after - static_cast<int64_t>(offset_)));
  size_t done = 0;
  while (done < allowed) {
    const ssize_t n = ::write(fd_, bytes + done, allowed - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(offset_ + done, std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  if (simulate_failure) {
    g_fail_after_bytes = -1;
    fail(offset_ + done, std::strerror(ENOSPC));
  }
  offset_ += size;
}

void AtomicFileWriter::write_zeros(uint64_t count) {
  static const std::array<uint8_t, 64> zeros{};
  while (count > 0) {
    const uint64_t n = std::min<uint64_t>(count, zeros.size());
    write(zeros.data(), n);
    count -= n;
  }
}

void AtomicFileWriter::commit() {
  if (::fsync(fd_) != 0) fail(offset_, std::string("fsync failed: ") + std::strerror(errno));
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail(offset_, std::string("close failed: ") + std::strerror(errno));
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    throw RuntimeError(where_ + ": cannot rename the temporary file " + in_quotes(temp_) + " to " + in_quotes(path_) + ": " +
                       std::strerror(errno) + "; the previous file (if any) is unchanged");
  }
  committed_ = true;
  const int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);  // best effort: some filesystems refuse fsync on directories
    ::close(dir_fd);
  }
}

void AtomicFileWriter::fail(uint64_t at, const std::string& reason) {
  throw RuntimeError(where_ + ": writing " + in_quotes(path_) + " failed at byte offset " + std::to_string(at) + ": " + reason +
                     "; the previous file (if any) is unchanged");
}

void AtomicFileWriter::fail_next_write_after(int64_t bytes) { g_fail_after_bytes = bytes; }

}  // namespace pitfall
