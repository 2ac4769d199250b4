// libFuzzer target: ZIP bytes -> parse_npz (central directory, ZIP64 fields, stored and deflate
// entries, CRC-32, then each entry's NPY). See fuzz_idx.cpp for what counts as a bug.
#include <pitfall/data/npy_reader.h>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto arrays = pitfall::data::parse_npz(data, size, "fuzz.npz");
    (void)arrays;
  } catch (const pitfall::Error&) {
  }
  return 0;
}
