// libFuzzer target: NPY bytes -> parse_npy. See fuzz_idx.cpp for what counts as a bug.
#include <pitfall/data/npy_reader.h>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const pitfall::Tensor t = pitfall::data::parse_npy(data, size, "fuzz.npy");
    (void)t;
  } catch (const pitfall::Error&) {
  }
  return 0;
}
