// CPU kernels for the scans along one axis (cumsum, cumprod and cumprod's gradient) and for argsort.
// A packed input is viewed as (outer, dim, inner) around the axis; every line (o, i) is walked in
// index order by one thread, and lines are split into blocks fixed by the shape, so the results do
// not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <type_traits>
#include <vector>

#include "pitfall/core/cpu/kernels.h"
#include "pitfall/core/cpu/scalar.h"
#include "pitfall/core/threadpool.h"

namespace pitfall {
namespace {

constexpr int64_t kLineBlockElements = 1 << 16;

// Calls line(o, i) for every line of an (outer, dim, inner) geometry.
template <class Line>
void for_each_line(const AxisGeometry& g, Line&& line) {
  const int64_t lines = g.outer * g.inner;
  parallel_for(lines, std::max<int64_t>(1, kLineBlockElements / std::max<int64_t>(1, g.dim)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t t = begin; t < end; ++t) line(t / g.inner, t % g.inner);
               });
}

// Floating scans accumulate in double (integers in 64 bits, wrapping like NumPy's integer cumsum),
// and each output is the running value rounded once to the dtype.
template <class T>
using ScanAcc = std::conditional_t<is_float_v<T>, double, uint64_t>;

template <class T, class Acc>
T scan_output(Acc acc) {
  if constexpr (is_float_v<T>) {
    return scalar_cast<T>(acc);
  } else {
    return static_cast<T>(static_cast<std::make_signed_t<Acc>>(acc));  // wraps modulo 2^bits
  }
}

template <class T, class Acc>
Acc scan_input(T value) {
  if constexpr (is_float_v<T>) {
    return static_cast<Acc>(static_cast<compute_t<T>>(value));
  } else {
    return static_cast<Acc>(static_cast<int64_t>(value));  // sign-extends, then wraps as unsigned
  }
}

template <bool Product>
void scan_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  visit_dtype(in[0].dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, bool>) {
      throw DTypeError(std::string(Product ? "cumprod" : "cumsum") + " of a bool tensor; cast it to int32 first");
    } else {
      using Acc = ScanAcc<T>;
      const AxisGeometry g = axis_geometry(in[0].shape(), attrs.axis);
      const T* src = static_cast<const T*>(in[0].data_ptr());
      T* dst = static_cast<T*>(out.data_ptr());
      for_each_line(g, [&](int64_t o, int64_t i) {
        const int64_t base = o * g.dim * g.inner + i;
        Acc acc = Product ? Acc(1) : Acc(0);
        for (int64_t d = 0; d < g.dim; ++d) {
          const Acc v = scan_input<T, Acc>(src[base + d * g.inner]);
          acc = Product ? acc * v : acc + v;
          dst[base + d * g.inner] = scan_output<T>(acc);
        }
      });
    }
  });
}

// cumprod's gradient, exact with zeros in x and without division: for y = cumprod(x) and upstream
// g, dx_i = (x_0 ... x_{i-1}) * s_i with s_i = g_i + x_{i+1} s_{i+1} (s past the end is 0).
// Inputs (x, g) of one shape and floating dtype; arithmetic in double, each result rounded once.
void cumprod_grad_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  visit_floating(in[0].dtype(), [&](auto zero) {
    using T = decltype(zero);
    using C = compute_t<T>;
    const AxisGeometry g = axis_geometry(in[0].shape(), attrs.axis);
    const T* x = static_cast<const T*>(in[0].data_ptr());
    const T* grad = static_cast<const T*>(in[1].data_ptr());
    T* dx = static_cast<T*>(out.data_ptr());
    for_each_line(g, [&](int64_t o, int64_t i) {
      const int64_t base = o * g.dim * g.inner + i;
      auto at = [&](const T* p, int64_t d) { return static_cast<double>(static_cast<C>(p[base + d * g.inner])); };
      std::vector<double> suffix(static_cast<size_t>(g.dim));
      double s = 0.0;
      for (int64_t d = g.dim; d-- > 0;) {
        s = at(grad, d) + (d + 1 < g.dim ? at(x, d + 1) * s : 0.0);
        suffix[static_cast<size_t>(d)] = s;
      }
      double prefix = 1.0;
      for (int64_t d = 0; d < g.dim; ++d) {
        dx[base + d * g.inner] = scalar_cast<T>(prefix * suffix[static_cast<size_t>(d)]);
        prefix *= at(x, d);
      }
    });
  });
}

// argsort along attrs.axis: int64 positions of the first attrs.depth elements of each line in
// sorted order (the output's axis has that size). Ascending puts NaN last, descending (the
// attrs.descending flag, top_k's order) puts NaN first; equal values (and NaNs) keep their index
// order in both, as a stable sort does (np.argsort(kind="stable"); keras/src/backend/numpy/math.py
// top_k). The index tie-break makes the order total, so a partial sort gives the same first k.
void argsort_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  visit_dtype(in[0].dtype(), [&](auto zero) {
    using T = decltype(zero);
    using C = compute_t<T>;
    const AxisGeometry g = axis_geometry(in[0].shape(), attrs.axis);
    const int64_t k = attrs.depth;
    const bool descending = attrs.descending;
    const T* src = static_cast<const T*>(in[0].data_ptr());
    int64_t* dst = static_cast<int64_t*>(out.data_ptr());
    for_each_line(g, [&](int64_t o, int64_t i) {
      std::vector<C> values(static_cast<size_t>(g.dim));
      for (int64_t d = 0; d < g.dim; ++d) values[d] = static_cast<C>(src[(o * g.dim + d) * g.inner + i]);
      auto is_nan = [](C v) {
        if constexpr (is_float_v<T>) return std::isnan(static_cast<double>(v));
        return false;
      };
      auto before = [&](int64_t a, int64_t b) {
        const C va = values[a], vb = values[b];
        const bool na = is_nan(va), nb = is_nan(vb);
        if (na != nb) return descending ? na : nb;
        if (!na && va != vb) return descending ? va > vb : va < vb;
        return a < b;
      };
      std::vector<int64_t> order(static_cast<size_t>(g.dim));
      std::iota(order.begin(), order.end(), int64_t{0});
      if (k < g.dim) {
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
      } else {
        std::sort(order.begin(), order.end(), before);
      }
      for (int64_t j = 0; j < k; ++j) dst[(o * k + j) * g.inner + i] = order[j];
    });
  });
}

}  // namespace

void register_cpu_scan_kernels(OpRegistry& r) {
  r.add_kernel("cumsum", DeviceType::cpu, scan_kernel<false>);
  r.add_kernel("cumprod", DeviceType::cpu, scan_kernel<true>);
  r.add_kernel("cumprod_grad", DeviceType::cpu, cumprod_grad_kernel);
  r.add_kernel("argsort", DeviceType::cpu, argsort_kernel);
}

}  // namespace pitfall
