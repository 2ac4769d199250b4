// Element types and the rules for mixing them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pitfall {

enum class DType : uint8_t { float16, bfloat16, float32, float64, int32, int64, uint8, bool_ };

constexpr int kNumDTypes = 8;

// Canonical lower-case name, as NumPy/Keras spell it ("float32", "bool").
std::string_view dtype_name(DType dtype);
// Parses a Keras/NumPy dtype name ("float32", "float", "half", "bool"...). Throws DTypeError listing
// the accepted names.
DType parse_dtype(std::string_view name);
size_t dtype_size(DType dtype);
bool is_floating(DType dtype);
bool is_integral(DType dtype);  // int32, int64, uint8 (bool is neither)
// float16 and bfloat16: the formats the engine computes in float32 and rounds once per op.
bool is_reduced_float(DType dtype);

// The engine-wide default float dtype (keras.backend.floatx()); float32 unless set. New variables
// and converted Python floats take it; layers/dtype_policy.h builds the default layer policy on it.
DType floatx();
void set_floatx(DType dtype);

// Compile-time map from C++ scalar types to DType. Eigen::half / Eigen::bfloat16 are mapped in
// core/cpu/scalar.h so that this public header does not pull in Eigen.
template <class T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::float32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::float64; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::int32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::int64; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::uint8; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::bool_; };

}  // namespace pitfall
