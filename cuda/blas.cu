// CUDA matmul: cuBLAS for the floating dtypes, a direct kernel for the integer ones. Semantics are
// the CPU's (core/cpu/linalg_kernels.cpp, core/ops/linalg.cpp): a (..., M, K) @ b (..., K, N) with
// broadcast batch dimensions, each operand possibly arriving as its packed matrix transpose
// (attrs.transpose_a / transpose_b); float16 / bfloat16 multiply with float accumulation and round
// the result once; int32 / int64 / uint8 accumulate in int64 and wrap to the output dtype.
//
// Precision and reproducibility: the math mode is set on every call, so the TF32 switch
// (tensor_float_32_enabled) takes effect at once and applies to float32 only; reductions inside a
// mixed-precision product stay in float (never the 16-bit output type). One handle per thread and
// device, bound to pitfall's one stream: cuBLAS GEMMs on one stream are bitwise reproducible run to
// run, so no separate deterministic algorithm is needed.
#include <cublas_v2.h>

#include <climits>
#include <tuple>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda_common.cuh"

namespace pitfall::cuda {
namespace {

// Raises RuntimeError naming the cuBLAS call and its status.
void check_cublas(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw RuntimeError(std::string("cuBLAS ") + call + " failed: " + cublasGetStatusName(status) + " (" +
                       cublasGetStatusString(status) + ")");
  }
}

// This thread's handle for the current device, created on first use. Handles are not thread-safe
// to share; each is bound to pitfall's stream (cuda_common.cuh).
class ThreadHandles {
 public:
  ~ThreadHandles() {
    for (cublasHandle_t handle : handles_) {
      if (handle) cublasDestroy(handle);  // at exit the runtime may be gone already: nothing to report
    }
  }
  cublasHandle_t get() {
    int device = 0;
    check(cudaGetDevice(&device), "cudaGetDevice");
    if (static_cast<size_t>(device) >= handles_.size()) handles_.resize(static_cast<size_t>(device) + 1, nullptr);
    cublasHandle_t& handle = handles_[static_cast<size_t>(device)];
    if (!handle) check_cublas(cublasCreate(&handle), "cublasCreate");
    return handle;
  }

 private:
  std::vector<cublasHandle_t> handles_;
};

// The handle, set up for one call: stream, host scalars, and the math mode for `dtype`.
cublasHandle_t handle_for(DType dtype) {
  thread_local ThreadHandles handles;
  cublasHandle_t handle = handles.get();
  check_cublas(cublasSetStream(handle, stream()), "cublasSetStream");
  check_cublas(cublasSetPointerMode(handle, CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
  const bool tf32 = dtype == DType::float32 && tensor_float_32_enabled();
  const auto mode = static_cast<cublasMath_t>((tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH) |
                                              CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION);
  check_cublas(cublasSetMathMode(handle, mode), "cublasSetMathMode");
  check_cublas(cublasSetAtomicsMode(handle, op_determinism_enabled() ? CUBLAS_ATOMICS_NOT_ALLOWED
                                                                     : CUBLAS_ATOMICS_ALLOWED),
               "cublasSetAtomicsMode");
  return handle;
}

// The product's geometry, with the element offset of each batch's a and b (broadcast batch axes
// repeat an operand's matrix).
struct Product {
  int64_t m = 0, n = 0, k = 0, batches = 0;
  std::vector<int64_t> a_offsets, b_offsets;
};

Product describe_product(const Shape& a_shape, bool trans_a, const Shape& b_shape, const Shape& out_shape) {
  const MatmulGeometry g = matmul_geometry(a_shape, trans_a, b_shape, out_shape);
  Product p;
  p.m = g.m;
  p.n = g.n;
  p.k = g.k;
  p.batches = g.batches;
  p.a_offsets.resize(static_cast<size_t>(p.batches));
  p.b_offsets.resize(static_cast<size_t>(p.batches));
  for (int64_t batch = 0; batch < p.batches; ++batch) {
    std::tie(p.a_offsets[batch], p.b_offsets[batch]) = g.offsets(batch);
  }
  return p;
}

// The common stride when offsets[batch] == batch * stride for every batch (0 = shared matrix).
bool uniform_stride(const std::vector<int64_t>& offsets, int64_t* stride) {
  *stride = offsets.size() > 1 ? offsets[1] : 0;
  for (size_t batch = 0; batch < offsets.size(); ++batch) {
    if (offsets[batch] != static_cast<int64_t>(batch) * *stride) return false;
  }
  return true;
}

int to_int(int64_t value, const char* what) {
  if (value > INT_MAX) {
    throw NotImplementedError(std::string("matmul on the GPU: ") + what + " " + std::to_string(value) +
                              " exceeds cuBLAS's 32-bit limit (" + std::to_string(INT_MAX) +
                              "); split the product into smaller ones");
  }
  return static_cast<int>(value);
}

struct GemmTypes {
  cudaDataType_t data;
  cublasComputeType_t compute;
};

GemmTypes gemm_types(DType dtype) {
  switch (dtype) {
    case DType::float16: return {CUDA_R_16F, CUBLAS_COMPUTE_32F};
    case DType::bfloat16: return {CUDA_R_16BF, CUBLAS_COMPUTE_32F};
    case DType::float32:
      return {CUDA_R_32F, tensor_float_32_enabled() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F};
    case DType::float64: return {CUDA_R_64F, CUBLAS_COMPUTE_64F};
    default: break;
  }
  throw DTypeError("matmul through cuBLAS needs a floating dtype, got " + std::string(dtype_name(dtype)));
}

// out (rows, n) row-major = op(a) (rows, k) @ op(b) (k, n), batched. cuBLAS is column-major, where
// a row-major (r, c) matrix reads as its transpose, so it computes out^T = op(b)^T @ op(a)^T:
// cuBLAS's first operand is b, its second a.
void floating_matmul(const Tensor& a, const Tensor& b, Tensor& out, const Attrs& attrs) {
  const bool ta = attrs.transpose_a, tb = attrs.transpose_b;
  Product p = describe_product(a.shape(), ta, b.shape(), out.shape());
  const size_t item = dtype_size(out.dtype());
  if (p.batches == 0 || p.m == 0 || p.n == 0) return;
  if (p.k == 0) {  // an empty sum: zeros
    check(cudaMemsetAsync(out.data_ptr(), 0, static_cast<size_t>(out.numel()) * item, stream()), "cudaMemsetAsync");
    return;
  }
  int64_t a_stride = 0, b_stride = 0;
  const bool a_uniform = uniform_stride(p.a_offsets, &a_stride);
  const bool b_uniform = uniform_stride(p.b_offsets, &b_stride);
  int64_t rows = p.m, batches = p.batches;
  // b shared by every batch and a's batches stacked untransposed: one (batches*M, K) @ (K, N) product.
  if (b_uniform && b_stride == 0 && a_uniform && a_stride == p.m * p.k && !ta) {
    rows = p.batches * p.m;
    batches = 1;
  }
  const GemmTypes types = gemm_types(out.dtype());
  cublasHandle_t handle = handle_for(out.dtype());
  const float alpha_f = 1.0f, beta_f = 0.0f;
  const double alpha_d = 1.0, beta_d = 0.0;
  const bool double_scalars = types.compute == CUBLAS_COMPUTE_64F;
  const void* alpha = double_scalars ? static_cast<const void*>(&alpha_d) : static_cast<const void*>(&alpha_f);
  const void* beta = double_scalars ? static_cast<const void*>(&beta_d) : static_cast<const void*>(&beta_f);
  const cublasOperation_t op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int n = to_int(p.n, "N"), m = to_int(rows, "M"), k = to_int(p.k, "K");
  const int ldb = to_int(tb ? p.k : p.n, "leading dimension"), lda = to_int(ta ? p.m : p.k, "leading dimension");
  const int ldc = n;
  const char* a_ptr = static_cast<const char*>(a.data_ptr());
  const char* b_ptr = static_cast<const char*>(b.data_ptr());
  char* c_ptr = static_cast<char*>(out.data_ptr());
  const int64_t c_stride = rows * p.n;
  if (batches == 1 || (a_uniform && b_uniform)) {
    check_cublas(cublasGemmStridedBatchedEx(handle, op_b, op_a, n, m, k, alpha, b_ptr, types.data, ldb, b_stride,
                                            a_ptr, types.data, lda, a_stride, beta, c_ptr, types.data, ldc, c_stride,
                                            to_int(batches, "batch count"), types.compute, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmStridedBatchedEx (matmul)");
    return;
  }
  // Batch axes broadcast in a pattern no single stride describes: one product per batch.
  for (int64_t batch = 0; batch < batches; ++batch) {
    check_cublas(cublasGemmEx(handle, op_b, op_a, n, m, k, alpha, b_ptr + p.b_offsets[batch] * item, types.data, ldb,
                              a_ptr + p.a_offsets[batch] * item, types.data, lda, beta,
                              c_ptr + batch * c_stride * item, types.data, ldc, types.compute, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx (matmul)");
  }
}

// Integer matmul: one thread per output element, products and sums in 64 bits (unsigned, so the
// wrap is defined), the result wrapped to the output dtype as the CPU's static_cast does.
template <class T>
__global__ void integer_matmul_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out,
                                      const int64_t* __restrict__ a_offsets, const int64_t* __restrict__ b_offsets,
                                      int64_t batches, int64_t m, int64_t n, int64_t k, bool ta, bool tb) {
  const int64_t total = batches * m * n;
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t col = t % n, row = (t / n) % m, batch = t / (m * n);
    const T* a_mat = a + a_offsets[batch];
    const T* b_mat = b + b_offsets[batch];
    uint64_t acc = 0;
    for (int64_t i = 0; i < k; ++i) {
      const int64_t x = static_cast<int64_t>(ta ? a_mat[i * m + row] : a_mat[row * k + i]);
      const int64_t y = static_cast<int64_t>(tb ? b_mat[col * k + i] : b_mat[i * n + col]);
      acc += static_cast<uint64_t>(x) * static_cast<uint64_t>(y);
    }
    out[t] = static_cast<T>(static_cast<int64_t>(acc));
  }
}

template <class T>
void integer_matmul(const Tensor& a, const Tensor& b, Tensor& out, const Attrs& attrs) {
  const Product p = describe_product(a.shape(), attrs.transpose_a, b.shape(), out.shape());
  const int64_t total = p.batches * p.m * p.n;
  if (total == 0) return;
  const Tensor a_offsets = Tensor::from_vector(p.a_offsets, {p.batches}, out.device());
  const Tensor b_offsets = Tensor::from_vector(p.b_offsets, {p.batches}, out.device());
  integer_matmul_kernel<T><<<blocks_for(total), kThreads, 0, stream()>>>(
      static_cast<const T*>(a.data_ptr()), static_cast<const T*>(b.data_ptr()), static_cast<T*>(out.data_ptr()),
      static_cast<const int64_t*>(a_offsets.data_ptr()), static_cast<const int64_t*>(b_offsets.data_ptr()), p.batches,
      p.m, p.n, p.k, attrs.transpose_a, attrs.transpose_b);
  check_launch("matmul (integer)");
}

void matmul_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  switch (out.dtype()) {
    case DType::float16:
    case DType::bfloat16:
    case DType::float32:
    case DType::float64: floating_matmul(in[0], in[1], out, attrs); return;
    case DType::int32: integer_matmul<int32_t>(in[0], in[1], out, attrs); return;
    case DType::int64: integer_matmul<int64_t>(in[0], in[1], out, attrs); return;
    case DType::uint8: integer_matmul<uint8_t>(in[0], in[1], out, attrs); return;
    case DType::bool_: break;
  }
  throw DTypeError("matmul of bool tensors; cast them to a numeric dtype first");
}

const bool registered = register_when_present([](OpRegistry& r) {
  r.add_kernel("matmul", DeviceType::cuda, matmul_kernel);
});

}  // namespace
}  // namespace pitfall::cuda
