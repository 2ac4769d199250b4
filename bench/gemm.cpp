// GEMM throughput (GFLOP/s) of float32 matmul for one set of shapes, per backend.
//
// Built several times from this one file (see bench/CMakeLists.txt), because Eigen's kernels are
// templates and two builds of them with different flags cannot share an executable (ODR):
//   bench_gemm              pitfall::matmul, Eigen, OpenBLAS cblas_sgemm    (project flags)
//   bench_gemm_eigen_native   Eigen only, -march=native
//   bench_gemm_eigen_generic  Eigen only, -march=x86-64 (no AVX/FMA)
//   bench_gemm_eigen_blas     Eigen with EIGEN_USE_BLAS (Eigen's products call OpenBLAS sgemm)
// bench/run_gemm.py runs them all plus PyTorch in one go and prints the comparison table.
//
// Output: one line per measurement,
//   RESULT <backend> <threads> <M> <K> <N> <transA> <transB> <gflops>
// where C(M,N) = op(A) op(B), op = transpose when the flag is 1 (the backward-pass layouts).
#include "timing.h"
#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#ifdef BENCH_WITH_PITFALL
#include <pitfall/pitfall.h>
#endif
#ifdef BENCH_WITH_CBLAS
#include <cblas.h>
#endif

#ifndef BENCH_EIGEN_LABEL
#define BENCH_EIGEN_LABEL "eigen"
#endif

namespace {

struct Case {
  int m, k, n;
  bool trans_a, trans_b;
};

// Square sizes, then an MNIST-sized MLP (batch 128, 784-256-10): forward, then the two backward
// products of each layer (dX = dY W^T, dW = X^T dY).
const std::vector<Case> kCases = {
    {256, 256, 256, false, false},  {512, 512, 512, false, false},   {1024, 1024, 1024, false, false},
    {128, 784, 256, false, false},  {128, 256, 784, false, true},    {784, 128, 256, true, false},
    {128, 256, 10, false, false},   {128, 10, 256, false, true},     {256, 128, 10, true, false},
};


// Best-of-`rounds` time per call, each round running enough calls to last >= 20 ms.
using bench::seconds_per_call;

void report(const char* backend, int threads, const Case& c, double seconds) {
  const double flops = 2.0 * c.m * c.k * c.n;
  std::printf("RESULT %s %d %d %d %d %d %d %.2f\n", backend, threads, c.m, c.k, c.n, c.trans_a ? 1 : 0,
              c.trans_b ? 1 : 0, flops / seconds * 1e-9);
  std::fflush(stdout);
}

// Stored operands: A is (m,k), or (k,m) when trans_a; B is (k,n), or (n,k) when trans_b. Row-major.
struct Operands {
  std::vector<float> a, b, c;
  explicit Operands(const Case& cs)
      : a(static_cast<size_t>(cs.m) * cs.k), b(static_cast<size_t>(cs.k) * cs.n), c(static_cast<size_t>(cs.m) * cs.n) {
    unsigned state = 12345;
    auto next = [&state] { state = state * 1664525u + 1013904223u; return static_cast<float>(state >> 8) / 16777216.0f - 0.5f; };
    for (float& v : a) v = next();
    for (float& v : b) v = next();
  }
};

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Map = Eigen::Map<RowMatrix>;

double time_eigen(const Case& cs) {
  Operands ops(cs);
  Map a(ops.a.data(), cs.trans_a ? cs.k : cs.m, cs.trans_a ? cs.m : cs.k);
  Map b(ops.b.data(), cs.trans_b ? cs.n : cs.k, cs.trans_b ? cs.k : cs.n);
  Map c(ops.c.data(), cs.m, cs.n);
  if (!cs.trans_a && !cs.trans_b) return seconds_per_call([&] { c.noalias() = a * b; });
  if (cs.trans_a && !cs.trans_b) return seconds_per_call([&] { c.noalias() = a.transpose() * b; });
  if (!cs.trans_a && cs.trans_b) return seconds_per_call([&] { c.noalias() = a * b.transpose(); });
  return seconds_per_call([&] { c.noalias() = a.transpose() * b.transpose(); });
}

#ifdef BENCH_WITH_CBLAS
double time_cblas(const Case& cs) {
  Operands ops(cs);
  const int lda = cs.trans_a ? cs.m : cs.k, ldb = cs.trans_b ? cs.k : cs.n;
  return seconds_per_call([&] {
    cblas_sgemm(CblasRowMajor, cs.trans_a ? CblasTrans : CblasNoTrans, cs.trans_b ? CblasTrans : CblasNoTrans, cs.m,
                cs.n, cs.k, 1.0f, ops.a.data(), lda, ops.b.data(), ldb, 0.0f, ops.c.data(), cs.n);
  });
}
#endif

#ifdef BENCH_WITH_PITFALL
// What the engine does: matmul on (possibly transposed-view) tensors, including any packing copy
// and the output allocation, outside autograd.
double time_pitfall(const Case& cs) {
  namespace pf = pitfall;
  Operands ops(cs);
  pf::Tensor a = pf::Tensor::from_buffer(ops.a.data(), {cs.trans_a ? cs.k : cs.m, cs.trans_a ? cs.m : cs.k},
                                         pf::DType::float32);
  pf::Tensor b = pf::Tensor::from_buffer(ops.b.data(), {cs.trans_b ? cs.n : cs.k, cs.trans_b ? cs.k : cs.n},
                                         pf::DType::float32);
  if (cs.trans_a) a = pf::transpose(a);
  if (cs.trans_b) b = pf::transpose(b);
  pf::NoGradGuard no_grad;
  pf::Tensor c;
  return seconds_per_call([&] { c = pf::matmul(a, b); });
}
#endif

}  // namespace

int main(int argc, char** argv) {
  [[maybe_unused]] int threads = 0;  // 0: each library's default
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = std::atoi(argv[++i]);
  }
  // Eigen's GEMM is single-threaded here (no OpenMP in this build).
  for (const Case& cs : kCases) report(BENCH_EIGEN_LABEL, 1, cs, time_eigen(cs));
#ifdef BENCH_WITH_CBLAS
  {
    const int n = threads > 0 ? threads : openblas_get_num_procs();
    for (int t : {1, n}) {
      openblas_set_num_threads(t);
      for (const Case& cs : kCases) report("openblas", t, cs, time_cblas(cs));
      if (n == 1) break;
    }
  }
#endif
#ifdef BENCH_WITH_PITFALL
  {
    const int n = threads > 0 ? threads : pitfall::num_threads();
    for (int t : {1, n}) {
      pitfall::set_num_threads(t);
      for (const Case& cs : kCases) {
        try {
          report("pitfall", t, cs, time_pitfall(cs));
        } catch (const std::exception& e) {  // e.g. an op not implemented yet: keep the other rows
          std::printf("SKIP pitfall %d %d %d %d: %s\n", t, cs.m, cs.k, cs.n, e.what());
        }
      }
      if (n == 1) break;
    }
  }
#endif
  return 0;
}
