// GPU kernels for the elementwise ops: copy/copy_into/fill, cast, arithmetic and comparisons with
// broadcasting, where, unary math and activations, bias_activation. Each op is a small functor;
// one walker (broadcast.cuh) and one launcher run them all.
//
// The CPU kernels (core/cpu/elementwise_kernels.cpp, copy_kernels.cpp, scalar.h) are the
// specification: float16/bfloat16 compute in float and round once, integers wrap around, NaN
// handling and the rounding points of every formula are the same. The CPU is built without
// floating-point contraction, so formulas with a product feeding a sum (gelu) use explicitly
// rounded intrinsics here: nvcc would otherwise fuse them into FMAs and round differently.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "broadcast.cuh"
#include "cuda_common.cuh"

namespace pitfall::cuda {
namespace {

// ---- float/double math picked by type (the float versions, as the CPU's std:: overloads call)

template <class C>
__device__ __forceinline__ C exp_of(C x) {
  if constexpr (std::is_same_v<C, float>) return expf(x);
  else return exp(x);
}
template <class C>
__device__ __forceinline__ C expm1_of(C x) {
  if constexpr (std::is_same_v<C, float>) return expm1f(x);
  else return expm1(x);
}
template <class C>
__device__ __forceinline__ C log_of(C x) {
  if constexpr (std::is_same_v<C, float>) return logf(x);
  else return log(x);
}
template <class C>
__device__ __forceinline__ C sqrt_of(C x) {
  if constexpr (std::is_same_v<C, float>) return sqrtf(x);
  else return sqrt(x);
}
template <class C>
__device__ __forceinline__ C tanh_of(C x) {
  if constexpr (std::is_same_v<C, float>) return tanhf(x);
  else return tanh(x);
}
template <class C>
__device__ __forceinline__ C erf_of(C x) {
  if constexpr (std::is_same_v<C, float>) return erff(x);
  else return erf(x);
}
template <class C>
__device__ __forceinline__ C fabs_of(C x) {
  if constexpr (std::is_same_v<C, float>) return fabsf(x);
  else return fabs(x);
}
template <class C>
__device__ __forceinline__ C pow_of(C a, C b) {
  if constexpr (std::is_same_v<C, float>) return powf(a, b);
  else return pow(a, b);
}

// Products and sums rounded one at a time (never fused into an FMA).
template <class C>
__device__ __forceinline__ C mul_rn(C a, C b) {
  if constexpr (std::is_same_v<C, float>) return __fmul_rn(a, b);
  else return __dmul_rn(a, b);
}
template <class C>
__device__ __forceinline__ C add_rn(C a, C b) {
  if constexpr (std::is_same_v<C, float>) return __fadd_rn(a, b);
  else return __dadd_rn(a, b);
}
template <class C>
__device__ __forceinline__ C sub_rn(C a, C b) {
  if constexpr (std::is_same_v<C, float>) return __fsub_rn(a, b);
  else return __dsub_rn(a, b);
}

// ---- wrap-around integer arithmetic (two's complement, as NumPy); plain arithmetic for floats

template <class C>
__device__ __forceinline__ C wrapping_add(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    using U = std::make_unsigned_t<C>;
    return static_cast<C>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
  } else {
    return a + b;
  }
}
template <class C>
__device__ __forceinline__ C wrapping_subtract(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    using U = std::make_unsigned_t<C>;
    return static_cast<C>(static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
  } else {
    return a - b;
  }
}
template <class C>
__device__ __forceinline__ C wrapping_multiply(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    using U = std::make_unsigned_t<C>;
    return static_cast<C>(static_cast<U>(static_cast<U>(a) * static_cast<U>(b)));
  } else {
    return a * b;
  }
}
template <class C>
__device__ __forceinline__ C wrapping_negate(C x) {
  if constexpr (std::is_integral_v<C>) {
    return wrapping_subtract(C(0), x);
  } else {
    return -x;
  }
}
template <class C>
__device__ __forceinline__ bool is_nan(C x) {
  if constexpr (std::is_floating_point_v<C>) {
    return x != x;
  } else {
    return false;
  }
}

// ---- conversions with the CPU's rounding rules (scalar.h, and cast's convert())

// double -> float16/bfloat16 with one rounding: round to float with round-to-odd (keeps the
// sticky information), then round-to-nearest-even into the narrow format. Host and device, so
// constants prepared on the host (fill values, clip bounds) round like converted elements.
template <class To>
__host__ __device__ To round_to_reduced(double value) {
  float f = static_cast<float>(value);
#ifdef __CUDA_ARCH__
  if (isfinite(value) && static_cast<double>(f) != value) {
    if (fabs(static_cast<double>(f)) > fabs(value)) f = nextafterf(f, 0.0f);  // truncate
    f = __uint_as_float(__float_as_uint(f) | 1u);                                // inexact: make it odd
  }
#else
  if (std::isfinite(value) && static_cast<double>(f) != value) {
    if (std::fabs(static_cast<double>(f)) > std::fabs(value)) f = std::nextafter(f, 0.0f);
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    bits |= 1u;
    std::memcpy(&f, &bits, sizeof bits);
  }
#endif
  if constexpr (std::is_same_v<To, __half>) {
    return __float2half_rn(f);
  } else {
    return __float2bfloat16_rn(f);
  }
}

// Floating -> integer as NumPy on x86-64: truncation toward zero; out of range and NaN give the
// minimum for int32/int64 and, for uint8, the low byte of the int32 conversion (0 beyond int32).
template <class To>
__device__ To float_to_integer(double value) {
  const double t = trunc(value);
  if constexpr (std::is_same_v<To, uint8_t>) {
    if (!(t >= -2147483648.0 && t < 2147483648.0)) return 0;
    return static_cast<uint8_t>(static_cast<uint32_t>(static_cast<int32_t>(t)));
  } else {
    static_assert(std::is_same_v<To, int32_t> || std::is_same_v<To, int64_t>);
    // -2^31 or -2^63, exact in double (numeric_limits is host-only in device code).
    constexpr double lowest = std::is_same_v<To, int32_t> ? -2147483648.0 : -9223372036854775808.0;
    if (!(t >= lowest && t < -lowest)) return static_cast<To>(lowest);
    return static_cast<To>(t);
  }
}

// cast's element conversion (exactly the CPU's convert<To, From>).
template <class To, class From>
__device__ __forceinline__ To convert(From value) {
  if constexpr (std::is_same_v<To, From>) {
    return value;
  } else {
    const compute_t<From> v = widen(value);  // exact: the half formats widen to float
    if constexpr (std::is_same_v<To, bool>) {
      return static_cast<double>(v) != 0.0;  // NaN -> true, as in NumPy
    } else if constexpr (is_half_v<To>) {
      return round_to_reduced<To>(static_cast<double>(v));
    } else if constexpr (std::is_floating_point_v<To>) {
      return static_cast<To>(v);  // one correctly rounded conversion (int64 -> float included)
    } else if constexpr (is_floating_v<From>) {
      return float_to_integer<To>(static_cast<double>(v));
    } else {
      return static_cast<To>(v);  // integer -> integer wraps modulo 2^bits; bool -> 0/1
    }
  }
}

// Host: the CPU's scalar_cast<T>(double) for a constant (fill value).
template <class T>
T host_scalar_cast(double value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value != 0.0;
  } else if constexpr (is_half_v<T>) {
    return round_to_reduced<T>(value);
  } else {
    return static_cast<T>(value);
  }
}

// Host: a constant rounded to T and widened to its compute type (what the CPU's
// static_cast<compute_t<T>>(scalar_cast<T>(value)) gives).
template <class T>
compute_t<T> host_rounded_constant(double value) {
  if constexpr (std::is_same_v<T, __half>) {
    return __half2float(round_to_reduced<__half>(value));
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __bfloat162float(round_to_reduced<__nv_bfloat16>(value));
  } else {
    return static_cast<T>(value);
  }
}

// ---- elements: what one output index does, given its operands' offsets

template <class In, class Out, class F>
struct BinaryElement {
  const In* a;
  const In* b;
  Out* out;
  F f;
  __device__ void operator()(int64_t i, const int64_t (&at)[2]) const {
    out[i] = narrow<Out>(f(widen(a[at[0]]), widen(b[at[1]])));
  }
};

template <class T, class F>
struct UnaryElement {
  const T* x;
  T* out;
  F f;
  __device__ void operator()(int64_t i, const int64_t (&at)[1]) const { out[i] = narrow<T>(f(widen(x[at[0]]))); }
};

// out = cond ? a : b; elements are copied, not converted.
template <class T>
struct WhereElement {
  const bool* cond;
  const T* a;
  const T* b;
  T* out;
  __device__ void operator()(int64_t i, const int64_t (&at)[3]) const { out[i] = cond[at[0]] ? a[at[1]] : b[at[2]]; }
};

// out = act(x + bias). With relu the sum is rounded to T first (add's kernel, then relu's).
// Each index reads its x element before writing the same index, so out may be x.
template <class T>
struct BiasActivationElement {
  const T* x;
  const T* bias;
  T* out;
  bool relu;
  __device__ void operator()(int64_t i, const int64_t (&at)[2]) const {
    using C = compute_t<T>;
    C s = widen(x[at[0]]) + widen(bias[at[1]]);
    if (relu) {
      s = widen(narrow<T>(s));
      s = s > C(0) ? s : (s == s ? C(0) : s);
    }
    out[i] = narrow<T>(s);
  }
};

template <class To, class From>
struct CastElement {
  const From* src;
  To* dst;
  __device__ void operator()(int64_t i, const int64_t (&)[1]) const { dst[i] = convert<To, From>(src[i]); }
};

template <class T>
struct FillElement {
  T* out;
  T value;
  __device__ void operator()(int64_t i, const int64_t (&)[1]) const { out[i] = value; }
};

// Bytes moved as an unsigned word of the element's size.
template <class Word>
struct GatherElement {  // packed[i] = view[offset(i)]
  const Word* view;
  Word* packed;
  __device__ void operator()(int64_t i, const int64_t (&at)[1]) const { packed[i] = view[at[0]]; }
};
template <class Word>
struct ScatterElement {  // view[offset(i)] = packed[i]
  const Word* packed;
  Word* view;
  __device__ void operator()(int64_t i, const int64_t (&at)[1]) const { view[at[0]] = packed[i]; }
};

// ---- binary functors (C is the compute type)

struct AddF {
  static constexpr const char* name = "add";
  template <class C> __device__ C operator()(C a, C b) const { return wrapping_add(a, b); }
};
struct SubtractF {
  static constexpr const char* name = "subtract";
  template <class C> __device__ C operator()(C a, C b) const { return wrapping_subtract(a, b); }
};
struct MultiplyF {
  static constexpr const char* name = "multiply";
  template <class C> __device__ C operator()(C a, C b) const { return wrapping_multiply(a, b); }
};
struct DivideF {
  static constexpr const char* name = "divide";
  template <class C> __device__ C operator()(C a, C b) const { return a / b; }
};
struct PowerF {
  static constexpr const char* name = "power";
  template <class C> __device__ C operator()(C a, C b) const { return pow_of(a, b); }
};
struct ReluGradF {
  static constexpr const char* name = "relu_grad";
  template <class C> __device__ C operator()(C g, C x) const { return x > C(0) ? g : C(0); }
};
// NaN propagates (np.maximum); on ties `a` is returned, matching the gradient rule.
struct MaximumF {
  static constexpr const char* name = "maximum";
  template <class C> __device__ C operator()(C a, C b) const {
    return is_nan(a) ? a : (is_nan(b) ? b : (a >= b ? a : b));
  }
};
struct MinimumF {
  static constexpr const char* name = "minimum";
  template <class C> __device__ C operator()(C a, C b) const {
    return is_nan(a) ? a : (is_nan(b) ? b : (a <= b ? a : b));
  }
};

struct EqualF {
  static constexpr const char* name = "equal";
  template <class C> __device__ bool operator()(C a, C b) const { return a == b; }
};
struct NotEqualF {
  static constexpr const char* name = "not_equal";
  template <class C> __device__ bool operator()(C a, C b) const { return a != b; }
};
struct LessF {
  static constexpr const char* name = "less";
  template <class C> __device__ bool operator()(C a, C b) const { return a < b; }
};
struct LessEqualF {
  static constexpr const char* name = "less_equal";
  template <class C> __device__ bool operator()(C a, C b) const { return a <= b; }
};
struct GreaterF {
  static constexpr const char* name = "greater";
  template <class C> __device__ bool operator()(C a, C b) const { return a > b; }
};
struct GreaterEqualF {
  static constexpr const char* name = "greater_equal";
  template <class C> __device__ bool operator()(C a, C b) const { return a >= b; }
};

// ---- GELU and its derivative, with the CPU's constants and evaluation order. Exact: x Phi(x),
// d/dx = Phi(x) + x phi(x). Approximate: u = k (x + 0.044715 x^3), k = sqrt(2/pi),
// 0.5 x (1 + tanh u), d/dx = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) k (1 + 3 * 0.044715 x^2).
template <class C>
__device__ C gelu_inner(C x) {  // k (x + c x^3)
  return mul_rn(C(0.79788456080286535588), add_rn(x, mul_rn(mul_rn(mul_rn(C(0.044715), x), x), x)));
}
template <class C>
__device__ C gelu_value(C x, bool approximate) {
  const C half_x = mul_rn(C(0.5), x);
  if (approximate) return mul_rn(half_x, add_rn(C(1), tanh_of(gelu_inner(x))));
  return mul_rn(half_x, add_rn(C(1), erf_of(mul_rn(x, C(0.70710678118654752440)))));
}
template <class C>
__device__ C gelu_derivative(C x, bool approximate) {
  if (approximate) {
    const C t = tanh_of(gelu_inner(x));
    const C left = mul_rn(C(0.5), add_rn(C(1), t));
    const C slope = add_rn(C(1), mul_rn(mul_rn(mul_rn(C(3), C(0.044715)), x), x));
    const C sech2 = sub_rn(C(1), mul_rn(t, t));
    const C right = mul_rn(mul_rn(mul_rn(mul_rn(C(0.5), x), sech2), C(0.79788456080286535588)), slope);
    return add_rn(left, right);
  }
  const C cdf = mul_rn(C(0.5), add_rn(C(1), erf_of(mul_rn(x, C(0.70710678118654752440)))));
  const C pdf = mul_rn(C(0.39894228040143267794), exp_of(mul_rn(mul_rn(C(-0.5), x), x)));
  return add_rn(cdf, mul_rn(x, pdf));
}

struct GeluGradF {
  bool approximate;
  template <class C> __device__ C operator()(C g, C x) const { return mul_rn(g, gelu_derivative(x, approximate)); }
};

// ---- unary ops: `template <class T> static F make(const Attrs&)` prepares the device functor
// (compute_t<T> -> compute_t<T>) on the host, constants included, as the CPU's make() does.

template <class Self>
struct Stateless {
  template <class T> static Self make(const Attrs&) { return Self{}; }
};

struct NegativeOp : Stateless<NegativeOp> {
  static constexpr const char* name = "negative";
  template <class C> __device__ C operator()(C x) const { return wrapping_negate(x); }
};
struct SquareOp : Stateless<SquareOp> {
  static constexpr const char* name = "square";
  template <class C> __device__ C operator()(C x) const { return wrapping_multiply(x, x); }
};
struct AbsOp : Stateless<AbsOp> {
  static constexpr const char* name = "abs";
  template <class C> __device__ C operator()(C x) const {
    if constexpr (std::is_unsigned_v<C>) {
      return x;
    } else if constexpr (std::is_integral_v<C>) {
      return x < 0 ? wrapping_negate(x) : x;
    } else {
      return fabs_of(x);
    }
  }
};
struct ReluOp : Stateless<ReluOp> {
  static constexpr const char* name = "relu";
  template <class C> __device__ C operator()(C x) const { return x > C(0) ? x : (x == x ? C(0) : x); }  // NaN passes
};
struct ExpOp : Stateless<ExpOp> {
  static constexpr const char* name = "exp";
  template <class C> __device__ C operator()(C x) const { return exp_of(x); }
};
struct LogOp : Stateless<LogOp> {
  static constexpr const char* name = "log";
  template <class C> __device__ C operator()(C x) const { return log_of(x); }
};
struct SqrtOp : Stateless<SqrtOp> {
  static constexpr const char* name = "sqrt";
  template <class C> __device__ C operator()(C x) const { return sqrt_of(x); }
};
struct TanhOp : Stateless<TanhOp> {
  static constexpr const char* name = "tanh";
  template <class C> __device__ C operator()(C x) const { return tanh_of(x); }
};
// Stable for any |x|: exp is only ever taken of a non-positive number.
struct SigmoidOp : Stateless<SigmoidOp> {
  static constexpr const char* name = "sigmoid";
  template <class C> __device__ C operator()(C x) const {
    if (x >= C(0)) return C(1) / (C(1) + exp_of(-x));
    const C e = exp_of(x);
    return e / (C(1) + e);
  }
};

template <class C>
struct ClipF {
  C lo, hi;
  __device__ C operator()(C x) const { return x < lo ? lo : (x > hi ? hi : x); }  // NaN passes through
};
// Bounds are rounded to the tensor's dtype first; for integer dtypes they clamp to its range.
struct ClipOp {
  static constexpr const char* name = "clip";
  template <class T> static compute_t<T> bound(double value) {
    if constexpr (std::is_integral_v<T>) {
      if (value <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
      if (value >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
      return static_cast<T>(value);
    } else {
      return host_rounded_constant<T>(value);
    }
  }
  template <class T> static ClipF<compute_t<T>> make(const Attrs& attrs) {
    return {bound<T>(attrs.clip.min), bound<T>(attrs.clip.max)};
  }
};

template <class C>
struct LeakyReluF {
  C slope;
  __device__ C operator()(C x) const { return x > C(0) ? x : slope * x; }
};
struct LeakyReluOp {
  static constexpr const char* name = "leaky_relu";
  template <class T> static LeakyReluF<compute_t<T>> make(const Attrs& attrs) {
    return {static_cast<compute_t<T>>(attrs.activation.negative_slope)};
  }
};

template <class C>
struct EluF {
  C alpha;
  __device__ C operator()(C x) const { return x > C(0) ? x : alpha * expm1_of(x); }
};
struct EluOp {
  static constexpr const char* name = "elu";
  template <class T> static EluF<compute_t<T>> make(const Attrs& attrs) {
    return {static_cast<compute_t<T>>(attrs.activation.alpha)};
  }
};

struct GeluF {
  bool approximate;
  template <class C> __device__ C operator()(C x) const { return gelu_value(x, approximate); }
};
struct GeluOp {
  static constexpr const char* name = "gelu";
  template <class T> static GeluF make(const Attrs& attrs) { return {attrs.activation.approximate}; }
};

// ---- kernel builders

const char* const kBoolArithmetic = "arithmetic on bool tensors; cast them to a numeric dtype first";

// out = f(a, b) with broadcasting; a and b share the element type In.
template <class In, class Out, class F>
void run_binary(const char* op, const Tensor& a, const Tensor& b, Tensor& out, F f) {
  launch_elements<2>(op, out.numel(), broadcast_walker<2>(out.shape(), {&a, &b}, op),
                     BinaryElement<In, Out, F>{static_cast<const In*>(a.data_ptr()),
                                               static_cast<const In*>(b.data_ptr()),
                                               static_cast<Out*>(out.data_ptr()), f});
}

template <class T, class F>
void run_unary(const char* op, const Tensor& x, Tensor& out, F f) {
  launch_elements<1>(op, out.numel(), flat_walker<1>(),
                     UnaryElement<T, F>{static_cast<const T*>(x.data_ptr()), static_cast<T*>(out.data_ptr()), f});
}

// Every numeric dtype; bool raises (the front-ends already do, this guards direct dispatch).
template <class F>
void numeric_binary_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
  visit_dtype(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, bool>) {
      throw DTypeError(std::string(F::name) + ": " + kBoolArithmetic);
    } else {
      run_binary<T, T>(F::name, in[0], in[1], out, F{});
    }
  });
}

template <class F>
void floating_binary_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
  visit_floating(out.dtype(), F::name, [&](auto zero) {
    using T = decltype(zero);
    run_binary<T, T>(F::name, in[0], in[1], out, F{});
  });
}

// Any input dtype (bool included), bool output.
template <class F>
void compare_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
  visit_dtype(in[0].dtype(), [&](auto zero) {
    using T = decltype(zero);
    run_binary<T, bool>(F::name, in[0], in[1], out, F{});
  });
}

template <class Op>
void numeric_unary_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  visit_dtype(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, bool>) {
      throw DTypeError(std::string(Op::name) + ": " + kBoolArithmetic);
    } else {
      run_unary<T>(Op::name, in[0], out, Op::template make<T>(attrs));
    }
  });
}

template <class Op>
void floating_unary_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  visit_floating(out.dtype(), Op::name, [&](auto zero) {
    using T = decltype(zero);
    run_unary<T>(Op::name, in[0], out, Op::template make<T>(attrs));
  });
}

// gelu_grad: out = g * gelu'(x); inputs (g, x).
void gelu_grad_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  visit_floating(out.dtype(), "gelu_grad", [&](auto zero) {
    using T = decltype(zero);
    run_binary<T, T>("gelu_grad", in[0], in[1], out, GeluGradF{attrs.activation.approximate});
  });
}

// out = act(x + bias), bias along the last axis (in[1].numel() units); attrs.activation.relu: relu, else linear.
void bias_activation_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  visit_floating(out.dtype(), "bias_activation", [&](auto zero) {
    using T = decltype(zero);
    const int64_t units = in[1].numel();
    if (units == 0) return;
    const int64_t rows = out.numel() / units;
    const auto walker = collapse_axes<2>({rows, units}, {std::vector<int64_t>{units, 1}, std::vector<int64_t>{0, 1}},
                                         "bias_activation");
    launch_elements<2>("bias_activation", rows * units, walker,
                       BiasActivationElement<T>{static_cast<const T*>(in[0].data_ptr()),
                                                static_cast<const T*>(in[1].data_ptr()),
                                                static_cast<T*>(out.data_ptr()), attrs.activation.relu});
  });
}

// where: out = cond ? a : b, broadcasting all three.
void where_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
  if (in[0].dtype() != DType::bool_) {
    throw DTypeError("where: the condition must be bool, got " + std::string(dtype_name(in[0].dtype())) +
                     "; compare it (e.g. x > 0) or cast it to bool first");
  }
  visit_dtype(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    launch_elements<3>("where", out.numel(), broadcast_walker<3>(out.shape(), {&in[0], &in[1], &in[2]}, "where"),
                       WhereElement<T>{static_cast<const bool*>(in[0].data_ptr()),
                                       static_cast<const T*>(in[1].data_ptr()),
                                       static_cast<const T*>(in[2].data_ptr()), static_cast<T*>(out.data_ptr())});
  });
}

void cast_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
  const Tensor& x = in[0];
  if (x.dtype() == out.dtype()) {
    const size_t nbytes = static_cast<size_t>(x.numel()) * dtype_size(x.dtype());
    if (nbytes) {
      check(cudaMemcpyAsync(out.data_ptr(), x.data_ptr(), nbytes, cudaMemcpyDeviceToDevice, stream()), "cast copy");
    }
    return;
  }
  visit_dtype(x.dtype(), [&](auto from_zero) {
    using From = decltype(from_zero);
    visit_dtype(out.dtype(), [&](auto to_zero) {
      using To = decltype(to_zero);
      launch_elements<1>("cast", out.numel(), flat_walker<1>(),
                         CastElement<To, From>{static_cast<const From*>(x.data_ptr()),
                                               static_cast<To*>(out.data_ptr())});
    });
  });
}

// ---- copy (strided view -> packed), copy_into (packed -> strided view), fill

template <class Fn>
void visit_word(DType dtype, const char* op, Fn&& fn) {
  switch (dtype_size(dtype)) {
    case 1: return fn(uint8_t{});
    case 2: return fn(uint16_t{});
    case 4: return fn(uint32_t{});
    case 8: return fn(uint64_t{});
    default:
      throw RuntimeError(std::string(op) + ": unsupported element size " + std::to_string(dtype_size(dtype)) +
                         " bytes of dtype " + std::string(dtype_name(dtype)));
  }
}

void copy_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
  const Tensor& view = in[0];
  visit_word(view.dtype(), "copy", [&](auto zero) {
    using Word = decltype(zero);
    launch_elements<1>("copy", view.numel(), view_walker(view, "copy"),
                       GatherElement<Word>{static_cast<const Word*>(view.data_ptr()),
                                           static_cast<Word*>(out.data_ptr())});
  });
}

void copy_into_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
  visit_word(out.dtype(), "copy_into", [&](auto zero) {
    using Word = decltype(zero);
    launch_elements<1>("copy_into", out.numel(), view_walker(out, "copy_into"),
                       ScatterElement<Word>{static_cast<const Word*>(in[0].data_ptr()),
                                            static_cast<Word*>(out.data_ptr())});
  });
}

void fill_kernel(const std::vector<Tensor>&, Tensor& out, const Attrs& attrs) {
  visit_dtype(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    launch_elements<1>("fill", out.numel(), flat_walker<1>(),
                       FillElement<T>{static_cast<T*>(out.data_ptr()), host_scalar_cast<T>(attrs.fill_value)});
  });
}

const bool registered = register_when_present([](OpRegistry& r) {
  constexpr DeviceType gpu = DeviceType::cuda;
  r.add_kernel("copy", gpu, copy_kernel);
  r.add_kernel("copy_into", gpu, copy_into_kernel);
  r.add_kernel("fill", gpu, fill_kernel);
  r.add_kernel("cast", gpu, cast_kernel);

  r.add_kernel("add", gpu, numeric_binary_kernel<AddF>);
  r.add_kernel("subtract", gpu, numeric_binary_kernel<SubtractF>);
  r.add_kernel("multiply", gpu, numeric_binary_kernel<MultiplyF>);
  r.add_kernel("maximum", gpu, numeric_binary_kernel<MaximumF>);
  r.add_kernel("minimum", gpu, numeric_binary_kernel<MinimumF>);
  r.add_kernel("divide", gpu, floating_binary_kernel<DivideF>);
  r.add_kernel("power", gpu, floating_binary_kernel<PowerF>);
  r.add_kernel("relu_grad", gpu, floating_binary_kernel<ReluGradF>);
  r.add_kernel("bias_activation", gpu, bias_activation_kernel);

  r.add_kernel("equal", gpu, compare_kernel<EqualF>);
  r.add_kernel("not_equal", gpu, compare_kernel<NotEqualF>);
  r.add_kernel("less", gpu, compare_kernel<LessF>);
  r.add_kernel("less_equal", gpu, compare_kernel<LessEqualF>);
  r.add_kernel("greater", gpu, compare_kernel<GreaterF>);
  r.add_kernel("greater_equal", gpu, compare_kernel<GreaterEqualF>);
  r.add_kernel("where", gpu, where_kernel);

  r.add_kernel("negative", gpu, numeric_unary_kernel<NegativeOp>);
  r.add_kernel("square", gpu, numeric_unary_kernel<SquareOp>);
  r.add_kernel("abs", gpu, numeric_unary_kernel<AbsOp>);
  r.add_kernel("relu", gpu, numeric_unary_kernel<ReluOp>);
  r.add_kernel("clip", gpu, numeric_unary_kernel<ClipOp>);
  r.add_kernel("exp", gpu, floating_unary_kernel<ExpOp>);
  r.add_kernel("log", gpu, floating_unary_kernel<LogOp>);
  r.add_kernel("sqrt", gpu, floating_unary_kernel<SqrtOp>);
  r.add_kernel("tanh", gpu, floating_unary_kernel<TanhOp>);
  r.add_kernel("sigmoid", gpu, floating_unary_kernel<SigmoidOp>);
  r.add_kernel("leaky_relu", gpu, floating_unary_kernel<LeakyReluOp>);
  r.add_kernel("elu", gpu, floating_unary_kernel<EluOp>);
  r.add_kernel("gelu", gpu, floating_unary_kernel<GeluOp>);
  r.add_kernel("gelu_grad", gpu, gelu_grad_kernel);
});

}  // namespace
}  // namespace pitfall::cuda
