// Internal to kernels: the C++ type of each dtype and the compute type used for its arithmetic.
#pragma once
#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "pitfall/core/dtype.h"
#include "pitfall/core/error.h"

namespace pitfall {

template <> struct DTypeOf<Eigen::half> { static constexpr DType value = DType::float16; };
template <> struct DTypeOf<Eigen::bfloat16> { static constexpr DType value = DType::bfloat16; };

// float16 / bfloat16 are computed in float32 and rounded once per op, as GPU kernels do.
template <class T> struct ComputeType { using type = T; };
template <> struct ComputeType<Eigen::half> { using type = float; };
template <> struct ComputeType<Eigen::bfloat16> { using type = float; };
template <class T> using compute_t = typename ComputeType<T>::type;

template <class T> constexpr bool is_reduced_float_v =
    std::is_same_v<T, Eigen::half> || std::is_same_v<T, Eigen::bfloat16>;
template <class T> constexpr bool is_float_v = is_reduced_float_v<T> || std::is_floating_point_v<T>;

// Calls fn(T{}) with T the C++ type of `dtype`. The *_floating variant covers only float types.
template <class Fn>
decltype(auto) visit_dtype(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::float16: return fn(Eigen::half{});
    case DType::bfloat16: return fn(Eigen::bfloat16{});
    case DType::float32: return fn(float{});
    case DType::float64: return fn(double{});
    case DType::int32: return fn(int32_t{});
    case DType::int64: return fn(int64_t{});
    case DType::uint8: return fn(uint8_t{});
    case DType::bool_: return fn(bool{});
  }
  throw RuntimeError("unhandled dtype");
}

template <class Fn>
decltype(auto) visit_floating(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::float16: return fn(Eigen::half{});
    case DType::bfloat16: return fn(Eigen::bfloat16{});
    case DType::float32: return fn(float{});
    case DType::float64: return fn(double{});
    default: break;
  }
  throw DTypeError(std::string("kernel needs a floating dtype, got ") + std::string(dtype_name(dtype)));
}

// double -> float16 / bfloat16 with a single rounding. Going through float with round-to-nearest
// could round twice (a value just past a half-way point of the narrow format can land exactly on it
// in float and then tie to even the wrong way); rounding to float with round-to-odd first keeps the
// information, and float (24 bits) is wide enough for the final round-to-nearest-even to be exact.
template <class To>
To round_to_reduced(double value) {
  float f = static_cast<float>(value);
  if (std::isfinite(value) && static_cast<double>(f) != value) {
    if (std::fabs(static_cast<double>(f)) > std::fabs(value)) f = std::nextafter(f, 0.0f);  // truncate
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    bits |= 1u;  // inexact: make it odd
    std::memcpy(&f, &bits, sizeof bits);
  }
  return To(f);
}

// Converts between scalar types with one rounding (float16/bfloat16 targets included).
template <class To, class From>
inline To scalar_cast(From value) {
  if constexpr (std::is_same_v<To, From>) {
    return value;
  } else if constexpr (std::is_same_v<To, bool>) {
    return static_cast<double>(value) != 0.0;
  } else if constexpr (is_reduced_float_v<To>) {
    if constexpr (std::is_same_v<From, float> || is_reduced_float_v<From>) {
      return To(static_cast<float>(value));
    } else {
      return round_to_reduced<To>(static_cast<double>(value));
    }
  } else {
    return static_cast<To>(static_cast<double>(value));
  }
}

}  // namespace pitfall
