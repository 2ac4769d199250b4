// libFuzzer target: IDX bytes (plain or gzip) -> parse_idx. Any pitfall::Error is an accepted outcome;
// a crash, a sanitizer report, an uncaught non-pitfall exception (std::bad_alloc from an oversized
// allocation) or a timeout is a bug. Built and run by tools/fuzz.sh.
#include <pitfall/data/idx_reader.h>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const pitfall::Tensor t = pitfall::data::parse_idx(data, size, "fuzz.idx");
    (void)t;
  } catch (const pitfall::Error&) {
  }
  return 0;
}
