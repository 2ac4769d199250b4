// Internal: the reduction skeleton. A packed input is viewed as (outer, R, inner) where R is the
// product of the reduced axes (which must be adjacent: core/shape.h reduce_geometry); each output element is reduced in
// increasing index order, so the result does not depend on the thread count.
#pragma once
#include <algorithm>
#include <vector>

#include "pitfall/core/cpu/scalar.h"
#include "pitfall/core/tensor.h"
#include "pitfall/core/threadpool.h"

namespace pitfall::cpu {

// Reducer: struct with `using Acc`; Acc init(); void step(Acc&, C value, int64_t r); Out finish(Acc, R).
// Calls it for every output element (o, i) over r = 0..R-1 in order.
template <class In, class Out, class Reducer>
void reduce_run(const Tensor& x, Tensor& out, const ReduceGeometry& g, Reducer reducer) {
  using C = compute_t<In>;
  using Acc = typename Reducer::Acc;
  const In* src = static_cast<const In*>(x.data_ptr());
  Out* dst = static_cast<Out*>(out.data_ptr());
  const int64_t work_per_outer = std::max<int64_t>(1, g.reduced * g.inner);
  const int64_t block = std::max<int64_t>(1, 65536 / work_per_outer);
  parallel_for(g.outer, block, [&](int64_t begin, int64_t end) {
    std::vector<Acc> acc(static_cast<size_t>(g.inner));
    for (int64_t o = begin; o < end; ++o) {
      const In* base = src + o * g.reduced * g.inner;
      if (g.inner == 1) {
        Acc a = reducer.init();
        for (int64_t r = 0; r < g.reduced; ++r) reducer.step(a, static_cast<C>(base[r]), r);
        dst[o] = reducer.finish(a, g.reduced);
        continue;
      }
      std::fill(acc.begin(), acc.end(), reducer.init());
      for (int64_t r = 0; r < g.reduced; ++r) {
        const In* row = base + r * g.inner;
        for (int64_t i = 0; i < g.inner; ++i) reducer.step(acc[i], static_cast<C>(row[i]), r);
      }
      for (int64_t i = 0; i < g.inner; ++i) dst[o * g.inner + i] = reducer.finish(acc[i], g.reduced);
    }
  });
}

}  // namespace pitfall::cpu
