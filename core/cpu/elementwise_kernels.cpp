// CPU kernels for elementwise ops: arithmetic with broadcasting, comparisons, where, unary math,
// activations and cast. float16/bfloat16 compute in float32 and round once (scalar.h).
//
// Integer arithmetic wraps around (two's complement) like NumPy instead of overflowing into
// undefined behaviour; every functor returns exactly its compute type so the final scalar_cast is
// an identity for integers.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "pitfall/core/cpu/elementwise.h"
#include "pitfall/core/cpu/kernels.h"

namespace pitfall {
namespace {

using cpu::map_binary;
using cpu::map_unary;

// ---- wrap-around integer helpers (identity semantics for floating types)

template <class C>
C wrapping_add(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    using U = std::make_unsigned_t<C>;
    return static_cast<C>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
  } else {
    return a + b;
  }
}

template <class C>
C wrapping_subtract(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    using U = std::make_unsigned_t<C>;
    return static_cast<C>(static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
  } else {
    return a - b;
  }
}

template <class C>
C wrapping_multiply(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    using U = std::make_unsigned_t<C>;
    // uint8 promotes to int; 255 * 255 still fits, and the cast back wraps.
    return static_cast<C>(static_cast<U>(static_cast<U>(a) * static_cast<U>(b)));
  } else {
    return a * b;
  }
}

template <class C>
C wrapping_negate(C x) {
  if constexpr (std::is_integral_v<C>) {
    return wrapping_subtract(C(0), x);
  } else {
    return -x;
  }
}

template <class C>
bool is_nan(C x) {
  if constexpr (std::is_floating_point_v<C>) {
    return std::isnan(x);
  } else {
    return false;
  }
}

// ---- kernel builders

// Binary op over every numeric dtype (bool rejected; the front-ends already do, this guards
// direct dispatch).
template <class F>
KernelFn numeric_binary_kernel() {
  return [](const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
    visit_dtype(out.dtype(), [&](auto zero) {
      using T = decltype(zero);
      if constexpr (std::is_same_v<T, bool>) {
        throw DTypeError("arithmetic on bool tensors; cast them to a numeric dtype first");
      } else {
        map_binary<T, T>(in[0], in[1], out, F{});
      }
    });
  };
}

// out = act(x + bias), bias along the last axis; attrs.activation.relu: relu, else linear. Per element the
// same operations as add's kernel then relu's (the sum rounded to T first), so the values match.
// out may be x itself (bias_activation overwrites a product nobody else holds).
void bias_activation_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  visit_floating(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    using C = compute_t<T>;
    const T* x = static_cast<const T*>(in[0].data_ptr());
    const T* bias = static_cast<const T*>(in[1].data_ptr());
    T* y = static_cast<T*>(out.data_ptr());
    const int64_t units = in[1].numel();
    if (units == 0) return;
    const int64_t rows = out.numel() / units;
    const bool relu = attrs.activation.relu;
    parallel_for(rows, std::max<int64_t>(1, cpu::kElementBlock / units), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = x + r * units;
        T* yr = y + r * units;
        if (relu) {
          for (int64_t j = 0; j < units; ++j) {
            const C s = static_cast<C>(scalar_cast<T>(static_cast<C>(xr[j]) + static_cast<C>(bias[j])));
            yr[j] = scalar_cast<T>(s > C(0) ? s : (s == s ? C(0) : s));
          }
        } else {
          for (int64_t j = 0; j < units; ++j) yr[j] = scalar_cast<T>(static_cast<C>(xr[j]) + static_cast<C>(bias[j]));
        }
      }
    });
  });
}

template <class F>
KernelFn floating_binary_kernel() {
  return [](const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
    visit_floating(out.dtype(), [&](auto zero) {
      using T = decltype(zero);
      map_binary<T, T>(in[0], in[1], out, F{});
    });
  };
}

// Comparison over the inputs' dtype (any dtype, bool included), bool output.
template <class F>
KernelFn compare_kernel() {
  return [](const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
    visit_dtype(in[0].dtype(), [&](auto zero) {
      using T = decltype(zero);
      map_binary<T, bool>(in[0], in[1], out, F{});
    });
  };
}


// Unary ops are described by a struct with `template <class T> static auto make(const Attrs&)`
// returning the per-element function compute_t<T> -> compute_t<T> (constants are prepared once).
template <class Op>
KernelFn numeric_unary_kernel() {
  return [](const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
    visit_dtype(out.dtype(), [&](auto zero) {
      using T = decltype(zero);
      if constexpr (std::is_same_v<T, bool>) {
        throw DTypeError("arithmetic on bool tensors; cast them to a numeric dtype first");
      } else {
        map_unary<T, T>(in[0], out, Op::template make<T>(attrs));
      }
    });
  };
}

template <class Op>
KernelFn floating_unary_kernel() {
  return [](const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
    visit_floating(out.dtype(), [&](auto zero) {
      using T = decltype(zero);
      map_unary<T, T>(in[0], out, Op::template make<T>(attrs));
    });
  };
}

// ---- binary functors (C is the compute type)

struct AddF { template <class C> C operator()(C a, C b) const { return wrapping_add(a, b); } };
struct SubtractF { template <class C> C operator()(C a, C b) const { return wrapping_subtract(a, b); } };
struct MultiplyF { template <class C> C operator()(C a, C b) const { return wrapping_multiply(a, b); } };
struct ReluGradF { template <class C> C operator()(C g, C x) const { return x > C(0) ? g : C(0); } };
struct DivideF { template <class C> C operator()(C a, C b) const { return a / b; } };
struct PowerF { template <class C> C operator()(C a, C b) const { return std::pow(a, b); } };
// NaN propagates (np.maximum); on ties `a` is returned, matching the gradient rule.
struct MaximumF {
  template <class C> C operator()(C a, C b) const {
    if (is_nan(a)) return a;
    if (is_nan(b)) return b;
    return a >= b ? a : b;
  }
};
struct MinimumF {
  template <class C> C operator()(C a, C b) const {
    if (is_nan(a)) return a;
    if (is_nan(b)) return b;
    return a <= b ? a : b;
  }
};

struct EqualF { template <class C> bool operator()(C a, C b) const { return a == b; } };
struct NotEqualF { template <class C> bool operator()(C a, C b) const { return a != b; } };
struct LessF { template <class C> bool operator()(C a, C b) const { return a < b; } };
struct LessEqualF { template <class C> bool operator()(C a, C b) const { return a <= b; } };
struct GreaterF { template <class C> bool operator()(C a, C b) const { return a > b; } };
struct GreaterEqualF { template <class C> bool operator()(C a, C b) const { return a >= b; } };

// ---- unary ops

struct NegativeOp {
  template <class T> static auto make(const Attrs&) {
    return [](compute_t<T> x) { return wrapping_negate(x); };
  }
};
struct SquareOp {
  template <class T> static auto make(const Attrs&) {
    return [](compute_t<T> x) { return wrapping_multiply(x, x); };
  }
};
struct AbsOp {
  template <class T> static auto make(const Attrs&) {
    return [](compute_t<T> x) -> compute_t<T> {
      using C = compute_t<T>;
      if constexpr (std::is_unsigned_v<C>) {
        return x;
      } else if constexpr (std::is_integral_v<C>) {
        return x < 0 ? wrapping_negate(x) : x;
      } else {
        return std::fabs(x);
      }
    };
  }
};
struct ReluOp {
  template <class T> static auto make(const Attrs&) {
    using C = compute_t<T>;
    // NaN passes through (x == x is false only for NaN).
    return [](C x) { return x > C(0) ? x : (x == x ? C(0) : x); };
  }
};
// Bounds are rounded to the tensor's dtype first, so forward and backward compare the same values;
// for integer dtypes an infinite bound clamps to the dtype's range.
struct ClipOp {
  template <class T> static T bound(double value) {
    if constexpr (std::is_integral_v<T>) {
      if (value <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
      if (value >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
      return static_cast<T>(value);
    } else {
      return scalar_cast<T>(value);
    }
  }
  template <class T> static auto make(const Attrs& attrs) {
    using C = compute_t<T>;
    const C lo = static_cast<C>(bound<T>(attrs.clip.min));
    const C hi = static_cast<C>(bound<T>(attrs.clip.max));
    return [lo, hi](C x) { return x < lo ? lo : (x > hi ? hi : x); };  // NaN passes through
  }
};

struct ExpOp {
  template <class T> static auto make(const Attrs&) { return [](compute_t<T> x) { return std::exp(x); }; }
};
struct LogOp {
  template <class T> static auto make(const Attrs&) { return [](compute_t<T> x) { return std::log(x); }; }
};
struct SqrtOp {
  template <class T> static auto make(const Attrs&) { return [](compute_t<T> x) { return std::sqrt(x); }; }
};
struct TanhOp {
  template <class T> static auto make(const Attrs&) { return [](compute_t<T> x) { return std::tanh(x); }; }
};
// Stable for any |x|: exp is only ever taken of a non-positive number.
struct SigmoidOp {
  template <class T> static auto make(const Attrs&) {
    using C = compute_t<T>;
    return [](C x) {
      if (x >= C(0)) return C(1) / (C(1) + std::exp(-x));
      const C e = std::exp(x);
      return e / (C(1) + e);
    };
  }
};
struct LeakyReluOp {
  template <class T> static auto make(const Attrs& attrs) {
    using C = compute_t<T>;
    const C slope = static_cast<C>(attrs.activation.negative_slope);
    return [slope](C x) { return x > C(0) ? x : slope * x; };
  }
};
struct EluOp {
  template <class T> static auto make(const Attrs& attrs) {
    using C = compute_t<T>;
    const C alpha = static_cast<C>(attrs.activation.alpha);
    return [alpha](C x) { return x > C(0) ? x : alpha * std::expm1(x); };
  }
};

struct SinOp {
  template <class T> static auto make(const Attrs&) { return [](compute_t<T> x) { return std::sin(x); }; }
};
struct CosOp {
  template <class T> static auto make(const Attrs&) { return [](compute_t<T> x) { return std::cos(x); }; }
};
struct FloorOp {
  template <class T> static auto make(const Attrs&) { return [](compute_t<T> x) { return std::floor(x); }; }
};
struct CeilOp {
  template <class T> static auto make(const Attrs&) { return [](compute_t<T> x) { return std::ceil(x); }; }
};
// keras.ops.round is np.round (keras/src/backend/numpy/numpy.py): half to even (nearbyint in the
// default rounding mode), scaled by 10^decimals in the compute type as NumPy scales (x * 10^d for
// d >= 0, x / 10^-d for d < 0).
struct RoundOp {
  template <class T> static auto make(const Attrs& attrs) {
    using C = compute_t<T>;
    const int64_t decimals = attrs.decimals;
    const C scale = static_cast<C>(std::pow(10.0, static_cast<double>(decimals < 0 ? -decimals : decimals)));
    return [decimals, scale](C x) -> C {
      if (decimals == 0) return std::nearbyint(x);
      if (decimals > 0) return std::nearbyint(x * scale) / scale;
      return std::nearbyint(x / scale) * scale;
    };
  }
};
// -1, 0 or 1 (NaN stays NaN, as np.sign).
struct SignOp {
  template <class T> static auto make(const Attrs&) {
    using C = compute_t<T>;
    return [](C x) -> C {
      if constexpr (std::is_unsigned_v<C>) {
        return x > C(0) ? C(1) : C(0);
      } else {
        if (is_nan(x)) return x;
        return x > C(0) ? C(1) : (x < C(0) ? C(-1) : C(0));
      }
    };
  }
};

// Logical ops on bool operands (the front-ends cast other dtypes to bool: nonzero is true).
template <class F>
KernelFn logical_binary_kernel() {
  return [](const std::vector<Tensor>& in, Tensor& out, const Attrs&) { map_binary<bool, bool>(in[0], in[1], out, F{}); };
}
struct LogicalAndF { bool operator()(bool a, bool b) const { return a && b; } };
struct LogicalOrF { bool operator()(bool a, bool b) const { return a || b; } };
void logical_not_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
  map_unary<bool, bool>(in[0], out, [](bool x) { return !x; });
}

// GELU and its derivative. Exact: x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2,
// d/dx = Phi(x) + x phi(x). Approximate: u = k (x + 0.044715 x^3), k = sqrt(2/pi),
// 0.5 x (1 + tanh u), d/dx = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) k (1 + 3 * 0.044715 x^2).
template <class C>
struct Gelu {
  static constexpr C kInvSqrt2 = C(0.70710678118654752440);
  static constexpr C kInvSqrt2Pi = C(0.39894228040143267794);
  static constexpr C kSqrt2OverPi = C(0.79788456080286535588);
  static constexpr C kCubic = C(0.044715);

  static C value(C x, bool approximate) {
    if (approximate) {
      const C u = kSqrt2OverPi * (x + kCubic * x * x * x);
      return C(0.5) * x * (C(1) + std::tanh(u));
    }
    return C(0.5) * x * (C(1) + std::erf(x * kInvSqrt2));
  }
  static C derivative(C x, bool approximate) {
    if (approximate) {
      const C u = kSqrt2OverPi * (x + kCubic * x * x * x);
      const C t = std::tanh(u);
      return C(0.5) * (C(1) + t) + C(0.5) * x * (C(1) - t * t) * kSqrt2OverPi * (C(1) + C(3) * kCubic * x * x);
    }
    const C cdf = C(0.5) * (C(1) + std::erf(x * kInvSqrt2));
    const C pdf = kInvSqrt2Pi * std::exp(C(-0.5) * x * x);
    return cdf + x * pdf;
  }
};

struct GeluOp {
  template <class T> static auto make(const Attrs& attrs) {
    using C = compute_t<T>;
    const bool approximate = attrs.activation.approximate;
    return [approximate](C x) { return Gelu<C>::value(x, approximate); };
  }
};

// gelu_grad: out = g * gelu'(x); inputs (g, x) of one shape and dtype.
void gelu_grad_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  visit_floating(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    using C = compute_t<T>;
    const bool approximate = attrs.activation.approximate;
    map_binary<T, T>(in[0], in[1], out, [approximate](C g, C x) { return g * Gelu<C>::derivative(x, approximate); });
  });
}

// ---- where: out = cond ? a : b, broadcasting all three. Elements are copied, not converted.
template <class T>
void where_typed(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) {
  const bool* pc = static_cast<const bool*>(cond.data_ptr());
  const T* pa = static_cast<const T*>(a.data_ptr());
  const T* pb = static_cast<const T*>(b.data_ptr());
  T* po = static_cast<T*>(out.data_ptr());
  const cpu::BroadcastPlan plan(out.shape(), {&cond, &a, &b});
  cpu::for_each_run<3>(plan, out.numel(), [&](const int64_t* off, int64_t index, int64_t count, const int64_t* st) {
    const bool* c = pc + off[0];
    const T* x = pa + off[1];
    const T* y = pb + off[2];
    T* o = po + index;
    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
      for (int64_t j = 0; j < count; ++j) o[j] = c[j] ? x[j] : y[j];
    } else {
      for (int64_t j = 0; j < count; ++j) o[j] = c[j * st[0]] ? x[j * st[1]] : y[j * st[2]];
    }
  });
}

void where_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
  if (in[0].dtype() != DType::bool_) throw DTypeError("where: the condition must be bool");
  visit_dtype(out.dtype(), [&](auto zero) { where_typed<decltype(zero)>(in[0], in[1], in[2], out); });
}

// ---- cast

// Floating -> integer truncates toward zero (NumPy astype). Values outside the range, and NaN,
// give what NumPy gives on x86-64: the "integer indefinite" value (the minimum) for int32/int64,
// and for uint8 the low byte of the int32 conversion (so -1.0 -> 255, 300.0 -> 44).
template <class To>
To float_to_integer(double value) {
  if constexpr (std::is_same_v<To, uint8_t>) {
    const double t = std::trunc(value);
    if (!(t >= -2147483648.0 && t < 2147483648.0)) return 0;
    return static_cast<uint8_t>(static_cast<int32_t>(t));
  } else {
    constexpr double lowest = static_cast<double>(std::numeric_limits<To>::lowest());  // -2^31 or -2^63
    const double t = std::trunc(value);
    if (!(t >= lowest && t < -lowest)) return std::numeric_limits<To>::lowest();
    return static_cast<To>(t);
  }
}

template <class To, class From>
To convert(From value) {
  if constexpr (std::is_same_v<To, From>) {
    return value;
  } else if constexpr (std::is_same_v<To, bool>) {
    return static_cast<double>(value) != 0.0;  // NaN -> true, as in NumPy
  } else if constexpr (is_reduced_float_v<To>) {
    return round_to_reduced<To>(static_cast<double>(value));
  } else if constexpr (std::is_floating_point_v<To>) {
    if constexpr (is_reduced_float_v<From>) {
      return static_cast<To>(static_cast<float>(value));
    } else {
      return static_cast<To>(value);  // one correctly rounded conversion (int64 -> float included)
    }
  } else if constexpr (is_float_v<From>) {
    return float_to_integer<To>(static_cast<double>(value));
  } else {
    return static_cast<To>(value);  // integer -> integer wraps modulo 2^bits (C++20); bool -> 0/1
  }
}

void cast_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
  const Tensor& x = in[0];
  if (x.dtype() == out.dtype()) {
    std::memcpy(out.data_ptr(), x.data_ptr(), static_cast<size_t>(x.numel()) * dtype_size(x.dtype()));
    return;
  }
  visit_dtype(x.dtype(), [&](auto from_zero) {
    using From = decltype(from_zero);
    visit_dtype(out.dtype(), [&](auto to_zero) {
      using To = decltype(to_zero);
      const From* src = static_cast<const From*>(x.data_ptr());
      To* dst = static_cast<To*>(out.data_ptr());
      parallel_for(out.numel(), cpu::kElementBlock, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) dst[i] = convert<To, From>(src[i]);
      });
    });
  });
}

}  // namespace

void register_cpu_elementwise_kernels(OpRegistry& r) {
  constexpr DeviceType cpu = DeviceType::cpu;
  r.add_kernel("add", cpu, numeric_binary_kernel<AddF>());
  r.add_kernel("subtract", cpu, numeric_binary_kernel<SubtractF>());
  r.add_kernel("multiply", cpu, numeric_binary_kernel<MultiplyF>());
  r.add_kernel("divide", cpu, floating_binary_kernel<DivideF>());
  r.add_kernel("relu_grad", cpu, floating_binary_kernel<ReluGradF>());
  r.add_kernel("bias_activation", cpu, bias_activation_kernel);
  r.add_kernel("power", cpu, floating_binary_kernel<PowerF>());
  r.add_kernel("maximum", cpu, numeric_binary_kernel<MaximumF>());
  r.add_kernel("minimum", cpu, numeric_binary_kernel<MinimumF>());

  r.add_kernel("equal", cpu, compare_kernel<EqualF>());
  r.add_kernel("not_equal", cpu, compare_kernel<NotEqualF>());
  r.add_kernel("less", cpu, compare_kernel<LessF>());
  r.add_kernel("less_equal", cpu, compare_kernel<LessEqualF>());
  r.add_kernel("greater", cpu, compare_kernel<GreaterF>());
  r.add_kernel("greater_equal", cpu, compare_kernel<GreaterEqualF>());
  r.add_kernel("where", cpu, where_kernel);

  r.add_kernel("negative", cpu, numeric_unary_kernel<NegativeOp>());
  r.add_kernel("square", cpu, numeric_unary_kernel<SquareOp>());
  r.add_kernel("abs", cpu, numeric_unary_kernel<AbsOp>());
  r.add_kernel("relu", cpu, numeric_unary_kernel<ReluOp>());
  r.add_kernel("clip", cpu, numeric_unary_kernel<ClipOp>());
  r.add_kernel("exp", cpu, floating_unary_kernel<ExpOp>());
  r.add_kernel("log", cpu, floating_unary_kernel<LogOp>());
  r.add_kernel("sqrt", cpu, floating_unary_kernel<SqrtOp>());
  r.add_kernel("tanh", cpu, floating_unary_kernel<TanhOp>());
  r.add_kernel("sigmoid", cpu, floating_unary_kernel<SigmoidOp>());
  r.add_kernel("leaky_relu", cpu, floating_unary_kernel<LeakyReluOp>());
  r.add_kernel("elu", cpu, floating_unary_kernel<EluOp>());
  r.add_kernel("gelu", cpu, floating_unary_kernel<GeluOp>());
  r.add_kernel("gelu_grad", cpu, gelu_grad_kernel);
  r.add_kernel("sin", cpu, floating_unary_kernel<SinOp>());
  r.add_kernel("cos", cpu, floating_unary_kernel<CosOp>());
  r.add_kernel("floor", cpu, floating_unary_kernel<FloorOp>());
  r.add_kernel("ceil", cpu, floating_unary_kernel<CeilOp>());
  r.add_kernel("round", cpu, floating_unary_kernel<RoundOp>());
  r.add_kernel("sign", cpu, numeric_unary_kernel<SignOp>());
  r.add_kernel("logical_and", cpu, logical_binary_kernel<LogicalAndF>());
  r.add_kernel("logical_or", cpu, logical_binary_kernel<LogicalOrF>());
  r.add_kernel("logical_not", cpu, logical_not_kernel);
  r.add_kernel("cast", cpu, cast_kernel);
}

}  // namespace pitfall
