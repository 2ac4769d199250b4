#include "pitfall/core/dtype.h"

#include <atomic>

#include "pitfall/core/error.h"

namespace pitfall {

namespace {
std::atomic<DType> floatx_slot{DType::float32};
}  // namespace

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::float16: return "float16";
    case DType::bfloat16: return "bfloat16";
    case DType::float32: return "float32";
    case DType::float64: return "float64";
    case DType::int32: return "int32";
    case DType::int64: return "int64";
    case DType::uint8: return "uint8";
    case DType::bool_: return "bool";
  }
  return "?";
}

DType parse_dtype(std::string_view name) {
  if (name == "float16" || name == "half") return DType::float16;
  if (name == "bfloat16") return DType::bfloat16;
  if (name == "float32" || name == "float") return DType::float32;
  if (name == "float64" || name == "double") return DType::float64;
  if (name == "int32") return DType::int32;
  if (name == "int64" || name == "int") return DType::int64;
  if (name == "uint8") return DType::uint8;
  if (name == "bool") return DType::bool_;
  throw DTypeError("unknown dtype '" + std::string(name) +
                   "'; expected one of float16, bfloat16, float32, float64, int32, int64, uint8, bool");
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::float16:
    case DType::bfloat16: return 2;
    case DType::float32:
    case DType::int32: return 4;
    case DType::float64:
    case DType::int64: return 8;
    case DType::uint8:
    case DType::bool_: return 1;
  }
  return 0;
}

bool is_floating(DType dtype) {
  return dtype == DType::float16 || dtype == DType::bfloat16 || dtype == DType::float32 ||
         dtype == DType::float64;
}

bool is_integral(DType dtype) {
  return dtype == DType::int32 || dtype == DType::int64 || dtype == DType::uint8;
}

bool is_reduced_float(DType dtype) { return dtype == DType::float16 || dtype == DType::bfloat16; }

DType floatx() { return floatx_slot.load(std::memory_order_relaxed); }

void set_floatx(DType dtype) {
  if (!is_floating(dtype)) {
    throw DTypeError("set_floatx: expected a floating dtype (float16, bfloat16, float32, float64), got " +
                     std::string(dtype_name(dtype)));
  }
  floatx_slot.store(dtype, std::memory_order_relaxed);
}

}  // namespace pitfall
