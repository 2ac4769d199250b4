// Internal: loops for elementwise kernels. Work is split into fixed blocks of flat output indices
// (kElementBlock), so the result of every element is independent of the thread count.
#pragma once
#include <algorithm>
#include <vector>

#include "pitfall/core/cpu/scalar.h"
#include "pitfall/core/tensor.h"
#include "pitfall/core/threadpool.h"

namespace pitfall::cpu {

constexpr int64_t kElementBlock = 16384;

// out[i] = f(x[i]) over packed tensors. F maps compute_t<In> -> compute_t<Out> (or Out).
template <class In, class Out, class F>
void map_unary(const Tensor& x, Tensor& out, F f) {
  const In* src = static_cast<const In*>(x.data_ptr());
  Out* dst = static_cast<Out*>(out.data_ptr());
  parallel_for(out.numel(), kElementBlock, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      dst[i] = scalar_cast<Out>(f(static_cast<compute_t<In>>(src[i])));
    }
  });
}

// Geometry of a broadcast over N operands: per-operand strides in the output shape (0 where the
// operand is broadcast), with adjacent axes merged where every operand allows it.
struct BroadcastPlan {
  Shape shape;                                   // collapsed output shape (rank >= 1)
  std::vector<std::vector<int64_t>> strides;     // per operand, per collapsed axis

  BroadcastPlan(const Shape& out_shape, const std::vector<const Tensor*>& operands) {
    const size_t n = out_shape.size();
    std::vector<std::vector<int64_t>> full(operands.size(), std::vector<int64_t>(n, 0));
    for (size_t k = 0; k < operands.size(); ++k) {
      const Shape& s = operands[k]->shape();
      const auto packed = contiguous_strides(s);
      const size_t lead = n - s.size();
      for (size_t i = 0; i < s.size(); ++i) full[k][lead + i] = s[i] == 1 ? 0 : packed[i];
    }
    strides.assign(operands.size(), {});
    for (size_t i = 0; i < n; ++i) {
      if (out_shape[i] == 1) continue;  // size-1 axes carry no iteration
      bool merge = !shape.empty();
      for (size_t k = 0; merge && k < operands.size(); ++k) {
        merge = strides[k].back() == full[k][i] * out_shape[i];
      }
      if (merge) {
        shape.back() *= out_shape[i];
        for (size_t k = 0; k < operands.size(); ++k) strides[k].back() = full[k][i];
      } else {
        shape.push_back(out_shape[i]);
        for (size_t k = 0; k < operands.size(); ++k) strides[k].push_back(full[k][i]);
      }
    }
    if (shape.empty()) {
      shape.push_back(1);
      for (auto& s : strides) s.push_back(0);
    }
  }
};

// Calls body(offsets, out_index, count, inner_strides) over runs of the innermost collapsed axis,
// where offsets[k] is operand k's element offset at out_index.
template <size_t N, class Body>
void for_each_run(const BroadcastPlan& plan, int64_t numel, Body body) {
  const int64_t inner = plan.shape.back();
  const size_t rank = plan.shape.size();
  parallel_for(numel, kElementBlock, [&](int64_t begin, int64_t end) {
    int64_t index = begin;
    while (index < end) {
      int64_t row = index / inner, col = index % inner;
      const int64_t count = std::min(inner - col, end - index);
      int64_t offsets[N];
      for (size_t k = 0; k < N; ++k) offsets[k] = col * plan.strides[k][rank - 1];
      for (size_t axis = rank - 1; axis-- > 0;) {
        const int64_t coord = row % plan.shape[axis];
        row /= plan.shape[axis];
        for (size_t k = 0; k < N; ++k) offsets[k] += coord * plan.strides[k][axis];
      }
      int64_t inner_strides[N];
      for (size_t k = 0; k < N; ++k) inner_strides[k] = plan.strides[k][rank - 1];
      body(offsets, index, count, inner_strides);
      index += count;
    }
  });
}

// out = f(a, b) with broadcasting; a and b share the element type In.
template <class In, class Out, class F>
void map_binary(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  const In* pa = static_cast<const In*>(a.data_ptr());
  const In* pb = static_cast<const In*>(b.data_ptr());
  Out* po = static_cast<Out*>(out.data_ptr());
  using C = compute_t<In>;
  const BroadcastPlan plan(out.shape(), {&a, &b});
  for_each_run<2>(plan, out.numel(), [&](const int64_t* off, int64_t index, int64_t count, const int64_t* st) {
    const In* x = pa + off[0];
    const In* y = pb + off[1];
    Out* o = po + index;
    // Specialized inner loops so the common layouts vectorize.
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t j = 0; j < count; ++j) o[j] = scalar_cast<Out>(f(static_cast<C>(x[j]), static_cast<C>(y[j])));
    } else if (st[0] == 1 && st[1] == 0) {
      const C yv = static_cast<C>(*y);
      for (int64_t j = 0; j < count; ++j) o[j] = scalar_cast<Out>(f(static_cast<C>(x[j]), yv));
    } else if (st[0] == 0 && st[1] == 1) {
      const C xv = static_cast<C>(*x);
      for (int64_t j = 0; j < count; ++j) o[j] = scalar_cast<Out>(f(xv, static_cast<C>(y[j])));
    } else {
      for (int64_t j = 0; j < count; ++j) {
        o[j] = scalar_cast<Out>(f(static_cast<C>(x[j * st[0]]), static_cast<C>(y[j * st[1]])));
      }
    }
  });
}

}  // namespace pitfall::cpu
