// Files written atomically, and the CRC-32 that checks them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace pitfall {

// CRC-32 (IEEE 802.3 / zlib / PNG polynomial, reflected, init and final xor 0xFFFFFFFF) of `size`
// bytes, continuing a previous value `crc` (0 to start): crc32 of "123456789" is 0xCBF43926.
uint32_t crc32(const void* data, size_t size, uint32_t crc = 0);

// Writes to "<dir>/.<name>.tmp-<pid>-<n>" and renames it over the target on commit(); destroyed
// without commit(), it removes the temporary file, so a failed or abandoned write leaves the old
// file (or no file) behind, never a partial one. `where` prefixes error messages ("save_model").
class AtomicFileWriter {
 public:
  AtomicFileWriter(std::string path, std::string where);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t size);
  void write(const std::string& s) { write(s.data(), s.size()); }
  void write_zeros(uint64_t count);
  uint64_t offset() const { return offset_; }
  // CRC-32 of every byte written so far.
  uint32_t crc() const { return crc_; }
  // Flushes the data to disk, then renames over the target and flushes the directory entry: after
  // a crash the target is either the old file or the complete new one.
  void commit();

  // Tests: the next write fails after `bytes` bytes of its temporary file, as a full disk would.
  static void fail_next_write_after(int64_t bytes);

 private:
  [[noreturn]] void fail(uint64_t at, const std::string& reason);

  std::string path_, where_, temp_, dir_;
  int fd_ = -1;
  bool committed_ = false;
  uint64_t offset_ = 0;
  uint32_t crc_ = 0;
};

}  // namespace pitfall
