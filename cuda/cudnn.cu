// Convolution (cuDNN) and pooling (direct kernels) on the GPU, with the semantics of the CPU kernels
// in core/cpu/conv_kernels.cpp. Shapes (NHWC):
//   conv2d                 x (N, H, W, C), kernel (KH, KW, C, O)   -> out (N, OH, OW, O)
//   conv2d_backprop_input  grad (N, OH, OW, O), kernel             -> dx (N, H, W, C)
//   conv2d_backprop_filter x, grad (N, OH, OW, O)                  -> dkernel (KH, KW, C, O)
//   avg_pool2d             x (N, H, W, C)                          -> out (N, OH, OW, C)
//   avg_pool2d_grad        grad (N, OH, OW, C)                     -> dx (N, H, W, C)
//   max_pool2d             x (N, H, W, C)                          -> out (N, OH, OW, C)
//   max_pool2d_grad        grad (N, OH, OW, C), x                  -> dx (N, H, W, C)
//   max_pool2d_argmax      x (N, H, W, C)                          -> int64 flat index (N, OH, OW, C)
// Attrs::axes = {KH, KW, stride_h, stride_w, pad_top, pad_left}; OH and OW come from the shapes.
//
// Convolution runs cuDNN's legacy descriptor API in cross-correlation mode (what Keras calls a
// convolution). Three things do not map one to one and are bridged by small relayout kernels:
//  - the kernel layout: Keras's (KH, KW, C, O) is no cuDNN filter format, so the kernel is copied to
//    (O, KH, KW, C) (cuDNN's NHWC filter) or (O, C, KH, KW) (NCHW), and a filter gradient back;
//  - TensorFlow's "same" padding puts the odd pixel of an odd total padding after the input, while
//    a cuDNN descriptor pads both sides alike. cuDNN is given the padding before (pad_top, pad_left)
//    on both sides and the input is extended by the missing zero row / column at its end; the
//    input gradient of that extension is computed and dropped;
//  - float64 convolutions run in NCHW: cuDNN implements double precision for that layout only.
// float16 / bfloat16 run natively with float accumulation (compute type float, as the CPU computes
// them in float32 and rounds once); where cuDNN has no algorithm for them, the operands are widened
// to float32, convolved there and rounded once, which is exactly the CPU's recipe.
//
// Algorithms come from cuDNN's heuristics (cudnnGet*_v7, fastest first). In deterministic mode
// (op_determinism_enabled) only algorithms cuDNN reports as deterministic are taken, and the ones
// its documentation names as atomics-based are excluded by name as well. float32 uses FMA math
// (true float32) unless tensor_float_32_enabled(); CUDNN_DEFAULT_MATH would allow TF32 on Ampere
// and later, so it is not what "TF32 off" means. The choice is cached per shape on each thread.
//
// Pooling is direct: one thread per output element (or per input element for the gradients), each
// scanning its window in the CPU's order, so results are bitwise those of the CPU (same compute
// type, same summation order, same first-maximum and NaN rules). The gradients gather instead of
// scattering, which needs no atomics and adds overlapping windows in output order, as the CPU does.
//
// Scratch (cuDNN workspace, relaid operands) is per host thread, so two threads' ops never share a
// buffer; each thread's ops are queued on pitfall's one stream in that thread's order, so a buffer
// is never overwritten while queued work still reads it. It grows on demand and is kept for the life
// of the thread, so a training loop's steady state allocates none.
#include <cudnn.h>

#include <algorithm>
#include <array>
#include <climits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cuda_common.cuh"
#include "pitfall/core/shape.h"

namespace pitfall::cuda {
namespace {

// ---- errors and per-thread resources

// Raises RuntimeError naming the cuDNN call, cuDNN's reason and the op it ran for.
void check_cudnn(cudnnStatus_t status, const char* call, const std::string& context = "") {
  if (status != CUDNN_STATUS_SUCCESS) {
    throw RuntimeError(std::string("cuDNN ") + call + " failed: " + cudnnGetErrorString(status) +
                       (context.empty() ? "" : " (" + context + ")"));
  }
}

// Named scratch buffers: one op uses several at once (workspace, staged input, staged filter, ...).
enum Slot { kWorkspaceSlot, kInputSlot, kGradSlot, kFilterSlot, kOutputSlot, kSlotCount };

struct ThreadResources {
  cudnnHandle_t handle = nullptr;
  void* buffers[kSlotCount] = {};
  size_t sizes[kSlotCount] = {};
  // Never released: the handle and buffers live as long as the thread, and destroying them at
  // process exit could run after the CUDA runtime has shut down.
};

ThreadResources& thread_resources() {
  thread_local ThreadResources resources;
  return resources;
}

// This thread's cuDNN handle, bound to pitfall's stream (created on first use: cudnnCreate loads
// the library's kernels and takes a while).
cudnnHandle_t cudnn_handle() {
  ThreadResources& r = thread_resources();
  if (!r.handle) {
    check_cudnn(cudnnCreate(&r.handle), "cudnnCreate", "creating this thread's cuDNN handle");
    check_cudnn(cudnnSetStream(r.handle, stream()), "cudnnSetStream");
  }
  return r.handle;
}

// At least `bytes` of device memory in `slot`, or nullptr when the GPU has no room left.
void* try_scratch(Slot slot, size_t bytes) {
  ThreadResources& r = thread_resources();
  if (bytes <= r.sizes[slot]) return r.buffers[slot];
  constexpr size_t kGranule = size_t{2} << 20;  // round up so slowly growing shapes reallocate rarely
  const size_t rounded = (bytes + kGranule - 1) / kGranule * kGranule;
  if (r.buffers[slot]) {
    // Work queued earlier on the stream may still read the old buffer.
    synchronize();
    check(cudaFree(r.buffers[slot]), "cudaFree");
    r.buffers[slot] = nullptr;
    r.sizes[slot] = 0;
  }
  void* ptr = nullptr;
  const cudaError_t status = cudaMalloc(&ptr, rounded);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clear the error so that later calls do not report it
    return nullptr;
  }
  check(status, "cudaMalloc");
  r.buffers[slot] = ptr;
  r.sizes[slot] = rounded;
  return ptr;
}

template <class U>
U* scratch(Slot slot, int64_t elements, const char* op) {
  const size_t bytes = static_cast<size_t>(elements) * sizeof(U);
  void* ptr = try_scratch(slot, bytes);
  if (!ptr && bytes) {
    throw RuntimeError(std::string(op) + " on the GPU: out of GPU memory allocating " + std::to_string(bytes) +
                       " bytes of scratch; use a smaller batch or model, or free tensors you keep");
  }
  return static_cast<U*>(ptr);
}

void zero_fill(Tensor& out) {
  const size_t bytes = static_cast<size_t>(out.numel()) * dtype_size(out.dtype());
  check(cudaMemsetAsync(out.data_ptr(), 0, bytes, stream()), "cudaMemsetAsync");  // all-zero bits are +0
}

// ---- relayout: dst (d0, d1, d2, d3) contiguous = src at sum(d_k * stride_k), or zero where some
// d_k >= extent_k (the zero extension of the input). Converts between element types on the way
// (widen, then one rounding), which the half-format fallback uses.

struct Dims4 {
  int64_t v[4];
};

template <class Src, class Dst>
__global__ void relayout_kernel(const Src* __restrict__ src, Dst* __restrict__ dst, int64_t total, Dims4 dims,
                                Dims4 strides, Dims4 extents) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = i;
    const int64_t d3 = rest % dims.v[3];
    rest /= dims.v[3];
    const int64_t d2 = rest % dims.v[2];
    rest /= dims.v[2];
    const int64_t d1 = rest % dims.v[1];
    const int64_t d0 = rest / dims.v[1];
    const bool inside = d0 < extents.v[0] && d1 < extents.v[1] && d2 < extents.v[2] && d3 < extents.v[3];
    dst[i] = inside ? narrow<Dst>(widen(src[d0 * strides.v[0] + d1 * strides.v[1] + d2 * strides.v[2] +
                                            d3 * strides.v[3]]))
                    : narrow<Dst>(compute_t<Src>(0));
  }
}

template <class Src, class Dst>
void relayout(const Src* src, Dst* dst, Dims4 dims, Dims4 strides, Dims4 extents) {
  const int64_t total = dims.v[0] * dims.v[1] * dims.v[2] * dims.v[3];
  if (total == 0) return;
  relayout_kernel<Src, Dst><<<blocks_for(total), kThreads, 0, stream()>>>(src, dst, total, dims, strides, extents);
  check_launch("relayout_kernel");
}

// ---- convolution geometry and cuDNN descriptors

enum class Layout { nhwc, nchw };

// Element type U as cuDNN sees it; float64 needs NCHW (see the file comment).
template <class U>
constexpr cudnnDataType_t cudnn_type() {
  if constexpr (std::is_same_v<U, double>) return CUDNN_DATA_DOUBLE;
  else if constexpr (std::is_same_v<U, float>) return CUDNN_DATA_FLOAT;
  else if constexpr (std::is_same_v<U, __half>) return CUDNN_DATA_HALF;
  else return CUDNN_DATA_BFLOAT16;
}
template <class U>
constexpr Layout layout_for() {
  return std::is_same_v<U, double> ? Layout::nchw : Layout::nhwc;
}
// cuDNN's alpha / beta scalars are double for double data, float otherwise.
template <class U>
using scale_t = std::conditional_t<std::is_same_v<U, double>, double, float>;

struct ConvGeometry : WindowGeometry {
  int64_t o = 0;                         // out channels
  int64_t padded_h = 0, padded_w = 0;  // the input extent cuDNN sees (H, W plus the end extension)
};

// The input extent that makes cuDNN's symmetric padding produce `out` positions: cuDNN's output is
// (in + 2 * pad - k) / s + 1, so an odd TensorFlow total padding lacks one zero at the end.
int64_t cudnn_extent(int64_t in, int64_t out, int64_t k, int64_t s, int64_t pad) {
  return std::max<int64_t>(in, (out - 1) * s + k - 2 * pad);
}

ConvGeometry conv_geometry(const Shape& input, const Shape& output, const Shape& kernel, const Attrs& attrs) {
  ConvGeometry g;
  static_cast<WindowGeometry&>(g) = window_geometry(input, output, attrs.window);
  g.o = kernel[3];
  g.padded_h = cudnn_extent(g.h, g.oh, g.kh, g.sh, g.pad_top);
  g.padded_w = cudnn_extent(g.w, g.ow, g.kw, g.sw, g.pad_left);
  return g;
}

std::string describe_geometry(const ConvGeometry& g) {
  auto s = [](int64_t v) { return std::to_string(v); };
  return "input (" + s(g.n) + ", " + s(g.h) + ", " + s(g.w) + ", " + s(g.c) + "), kernel (" + s(g.kh) + ", " +
         s(g.kw) + ", " + s(g.c) + ", " + s(g.o) + "), strides (" + s(g.sh) + ", " + s(g.sw) + "), output (" +
         s(g.n) + ", " + s(g.oh) + ", " + s(g.ow) + ", " + s(g.o) + ")";
}

// cuDNN's legacy API takes int sizes and indexes tensors with 32-bit offsets.
void check_cudnn_limits(const char* op, const ConvGeometry& g) {
  const int64_t largest = std::max({g.n * g.padded_h * g.padded_w * g.c, g.n * g.oh * g.ow * g.o,
                                    g.kh * g.kw * g.c * g.o});
  if (largest > INT_MAX) {
    throw ValueError(std::string(op) + " on the GPU: a tensor of " + std::to_string(largest) +
                     " elements exceeds cuDNN's limit of 2^31 - 1 (" + describe_geometry(g) +
                     "); split the batch into smaller ones");
  }
}

template <class Desc, cudnnStatus_t (*Create)(Desc*), cudnnStatus_t (*Destroy)(Desc)>
struct Descriptor {
  Desc desc{};
  Descriptor() { check_cudnn(Create(&desc), "cudnnCreate*Descriptor"); }
  ~Descriptor() { Destroy(desc); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
};
using TensorDescriptor = Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDescriptor = Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvolutionDescriptor =
    Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor>;

// The math types cuDNN may use for a data type under the current settings.
struct MathPolicy {
  cudnnMathType_t requested;
  bool tensor_ops_allowed;  // TF32 for float32; float16 / bfloat16 tensor cores (float accumulation)

  bool allows(cudnnMathType_t math) const {
    if (math == CUDNN_FMA_MATH) return true;
    // ALLOW_CONVERSION computes float32 / bfloat16 in float16: never what the dtype says.
    if (math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;
    return tensor_ops_allowed;  // DEFAULT_MATH permits tensor cores (TF32) on Ampere and later
  }
};

template <class U>
MathPolicy math_policy() {
  if constexpr (std::is_same_v<U, float>) {
    if (tensor_float_32_enabled()) return {CUDNN_TENSOR_OP_MATH, true};
    return {CUDNN_FMA_MATH, false};
  } else if constexpr (std::is_same_v<U, double>) {
    return {CUDNN_DEFAULT_MATH, true};  // no reduced-precision double math exists
  } else {
    return {CUDNN_TENSOR_OP_MATH, true};
  }
}

// Descriptors of one convolution problem, for all three passes (x is the extended input).
struct ConvDescriptors {
  TensorDescriptor x, y;
  FilterDescriptor w;
  ConvolutionDescriptor conv;

  ConvDescriptors(const ConvGeometry& g, Layout layout, cudnnDataType_t type, cudnnMathType_t math) {
    const cudnnTensorFormat_t format = layout == Layout::nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    const cudnnDataType_t compute = type == CUDNN_DATA_DOUBLE ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
    auto i = [](int64_t v) { return static_cast<int>(v); };
    check_cudnn(cudnnSetTensor4dDescriptor(x.desc, format, type, i(g.n), i(g.c), i(g.padded_h), i(g.padded_w)),
                "cudnnSetTensor4dDescriptor", describe_geometry(g));
    check_cudnn(cudnnSetTensor4dDescriptor(y.desc, format, type, i(g.n), i(g.o), i(g.oh), i(g.ow)),
                "cudnnSetTensor4dDescriptor", describe_geometry(g));
    check_cudnn(cudnnSetFilter4dDescriptor(w.desc, type, format, i(g.o), i(g.c), i(g.kh), i(g.kw)),
                "cudnnSetFilter4dDescriptor", describe_geometry(g));
    check_cudnn(cudnnSetConvolution2dDescriptor(conv.desc, i(g.pad_top), i(g.pad_left), i(g.sh), i(g.sw), 1, 1,
                                                CUDNN_CROSS_CORRELATION, compute),
                "cudnnSetConvolution2dDescriptor", describe_geometry(g));
    check_cudnn(cudnnSetConvolutionMathType(conv.desc, math), "cudnnSetConvolutionMathType");
  }
};

// ---- algorithm selection

enum class Pass { forward, backward_data, backward_filter };

const char* pass_name(Pass pass) {
  switch (pass) {
    case Pass::forward: return "forward";
    case Pass::backward_data: return "backward data";
    case Pass::backward_filter: return "backward filter";
  }
  return "?";
}

// One heuristic suggestion, whichever pass it is for.
struct Candidate {
  int algo;
  cudnnStatus_t status;
  cudnnDeterminism_t determinism;
  cudnnMathType_t math;
};

template <class Perf>
void append_candidates(const std::vector<Perf>& perf, int returned, std::vector<Candidate>& out) {
  for (int i = 0; i < returned; ++i) {
    out.push_back({static_cast<int>(perf[i].algo), perf[i].status, perf[i].determinism, perf[i].mathType});
  }
}

// cuDNN's heuristic ranking (fastest expected first). A failing query yields no suggestions: the
// fallbacks below still apply.
std::vector<Candidate> heuristic_candidates(Pass pass, cudnnHandle_t handle, const ConvDescriptors& d) {
  std::vector<Candidate> out;
  int count = 0, returned = 0;
  if (pass == Pass::forward) {
    if (cudnnGetConvolutionForwardAlgorithmMaxCount(handle, &count) != CUDNN_STATUS_SUCCESS) return out;
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<size_t>(std::max(count, 1)));
    if (cudnnGetConvolutionForwardAlgorithm_v7(handle, d.x.desc, d.w.desc, d.conv.desc, d.y.desc, count, &returned,
                                               perf.data()) == CUDNN_STATUS_SUCCESS) {
      append_candidates(perf, returned, out);
    }
  } else if (pass == Pass::backward_data) {
    if (cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle, &count) != CUDNN_STATUS_SUCCESS) return out;
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(static_cast<size_t>(std::max(count, 1)));
    if (cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, d.w.desc, d.y.desc, d.conv.desc, d.x.desc, count,
                                                    &returned, perf.data()) == CUDNN_STATUS_SUCCESS) {
      append_candidates(perf, returned, out);
    }
  } else {
    if (cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle, &count) != CUDNN_STATUS_SUCCESS) return out;
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(static_cast<size_t>(std::max(count, 1)));
    if (cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, d.x.desc, d.y.desc, d.conv.desc, d.w.desc, count,
                                                      &returned, perf.data()) == CUDNN_STATUS_SUCCESS) {
      append_candidates(perf, returned, out);
    }
  }
  return out;
}

// Implicit-GEMM algorithms that support every layout and data type and are deterministic: tried
// after the heuristics' suggestions.
std::vector<int> fallback_algorithms(Pass pass) {
  switch (pass) {
    case Pass::forward:
      return {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM};
    case Pass::backward_data: return {CUDNN_CONVOLUTION_BWD_DATA_ALGO_1};
    case Pass::backward_filter: return {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1};
  }
  return {};
}

// Algorithms cuDNN's documentation lists as non-deterministic (they accumulate with atomics).
bool documented_nondeterministic(Pass pass, int algo) {
  if (pass == Pass::backward_data) return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
  if (pass == Pass::backward_filter) {
    return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
  }
  return false;
}

cudnnStatus_t workspace_size(Pass pass, cudnnHandle_t handle, const ConvDescriptors& d, int algo, size_t* bytes) {
  switch (pass) {
    case Pass::forward:
      return cudnnGetConvolutionForwardWorkspaceSize(handle, d.x.desc, d.w.desc, d.conv.desc, d.y.desc,
                                                     static_cast<cudnnConvolutionFwdAlgo_t>(algo), bytes);
    case Pass::backward_data:
      return cudnnGetConvolutionBackwardDataWorkspaceSize(handle, d.w.desc, d.y.desc, d.conv.desc, d.x.desc,
                                                          static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), bytes);
    case Pass::backward_filter:
      return cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, d.x.desc, d.y.desc, d.conv.desc, d.w.desc,
                                                            static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), bytes);
  }
  return CUDNN_STATUS_BAD_PARAM;
}

// An algorithm with its math type and workspace size; algo < 0: cuDNN has none for the problem,
// and `refusal` is the last reason cuDNN gave (for the error message).
struct AlgoChoice {
  int algo = -1;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  size_t workspace = 0;
  cudnnStatus_t refusal = CUDNN_STATUS_NOT_SUPPORTED;
};

// Everything the choice depends on. Cached per thread (handles and heuristics are per thread).
using ChoiceKey = std::array<int64_t, 18>;

// Workspaces beyond this are not worth their memory (FFT variants can ask for gigabytes).
constexpr size_t kMaxWorkspaceBytes = size_t{1} << 30;

std::map<ChoiceKey, AlgoChoice>& choice_cache() {
  thread_local std::map<ChoiceKey, AlgoChoice> cache;
  return cache;
}

AlgoChoice choose_algorithm(Pass pass, cudnnHandle_t handle, const ConvDescriptors& d, const ChoiceKey& key,
                            const MathPolicy& policy, bool deterministic) {
  auto& cache = choice_cache();
  if (const auto it = cache.find(key); it != cache.end()) return it->second;

  std::vector<Candidate> candidates = heuristic_candidates(pass, handle, d);
  for (int algo : fallback_algorithms(pass)) {
    candidates.push_back({algo, CUDNN_STATUS_SUCCESS, CUDNN_DETERMINISTIC, policy.requested});
  }
  AlgoChoice choice;
  for (const Candidate& c : candidates) {
    if (c.status != CUDNN_STATUS_SUCCESS) {
      choice.refusal = c.status;
      continue;
    }
    if (!policy.allows(c.math)) continue;
    if (deterministic && (c.determinism != CUDNN_DETERMINISTIC || documented_nondeterministic(pass, c.algo))) continue;
    // The workspace (and support) depends on the math type as well as the algorithm.
    if (cudnnSetConvolutionMathType(d.conv.desc, c.math) != CUDNN_STATUS_SUCCESS) continue;
    size_t bytes = 0;
    if (const cudnnStatus_t status = workspace_size(pass, handle, d, c.algo, &bytes); status != CUDNN_STATUS_SUCCESS) {
      choice.refusal = status;
      continue;
    }
    if (bytes > kMaxWorkspaceBytes || (bytes && !try_scratch(kWorkspaceSlot, bytes))) continue;
    choice = {c.algo, c.math, bytes, CUDNN_STATUS_SUCCESS};
    break;
  }
  cache.emplace(key, choice);
  return choice;
}

// ---- running one pass

// The operands of one pass, in cuDNN's layout and element type U:
//   forward          a = x,  b = w,  result = y
//   backward_data    a = dy, b = w,  result = dx
//   backward_filter  a = x,  b = dy, result = dw
// Why the last run_pass on this thread returned false (for run_conv's error message).
thread_local std::string last_refusal;

// Returns false when cuDNN has no algorithm for U (the caller may widen the half formats).
template <class U>
bool run_pass(const char* op, Pass pass, const ConvGeometry& g, const void* a, const void* b, void* result) {
  const Layout layout = layout_for<U>();
  const MathPolicy policy = math_policy<U>();
  const bool deterministic = op_determinism_enabled();
  cudnnHandle_t handle = cudnn_handle();
  ConvDescriptors d(g, layout, cudnn_type<U>(), policy.requested);
  const ChoiceKey key{static_cast<int64_t>(pass), static_cast<int64_t>(cudnn_type<U>()),
                      static_cast<int64_t>(policy.requested), int64_t{deterministic}, g.n, g.padded_h, g.padded_w, g.c, g.o, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw,
                      g.pad_top, g.pad_left, static_cast<int64_t>(layout)};
  const AlgoChoice choice = choose_algorithm(pass, handle, d, key, policy, deterministic);
  if (choice.algo < 0) {
    last_refusal = std::string(pass_name(pass)) + " pass, cuDNN: " + cudnnGetErrorString(choice.refusal);
    return false;
  }

  const std::string context = std::string(op) + ", " + pass_name(pass) + " algorithm " +
                              std::to_string(choice.algo) + ", " + describe_geometry(g);
  check_cudnn(cudnnSetConvolutionMathType(d.conv.desc, choice.math), "cudnnSetConvolutionMathType", context);
  void* workspace = choice.workspace ? scratch<unsigned char>(kWorkspaceSlot, static_cast<int64_t>(choice.workspace), op)
                                     : nullptr;
  const scale_t<U> one = 1, zero = 0;  // result = 1 * op(a, b) + 0 * result: overwrite
  cudnnStatus_t status = CUDNN_STATUS_SUCCESS;
  const char* call = "";
  switch (pass) {
    case Pass::forward:
      call = "cudnnConvolutionForward";
      status = cudnnConvolutionForward(handle, &one, d.x.desc, a, d.w.desc, b, d.conv.desc,
                                       static_cast<cudnnConvolutionFwdAlgo_t>(choice.algo), workspace,
                                       choice.workspace, &zero, d.y.desc, result);
      break;
    case Pass::backward_data:
      call = "cudnnConvolutionBackwardData";
      status = cudnnConvolutionBackwardData(handle, &one, d.w.desc, b, d.y.desc, a, d.conv.desc,
                                            static_cast<cudnnConvolutionBwdDataAlgo_t>(choice.algo), workspace,
                                            choice.workspace, &zero, d.x.desc, result);
      break;
    case Pass::backward_filter:
      call = "cudnnConvolutionBackwardFilter";
      status = cudnnConvolutionBackwardFilter(handle, &one, d.x.desc, a, d.y.desc, b, d.conv.desc,
                                              static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice.algo), workspace,
                                              choice.workspace, &zero, d.w.desc, result);
      break;
  }
  const bool not_supported = status >= CUDNN_STATUS_NOT_SUPPORTED && status < CUDNN_STATUS_INTERNAL_ERROR;
  if (not_supported && is_half_v<U>) {
    // Remember the refusal, so that later calls go straight to the float32 path.
    choice_cache()[key] = AlgoChoice{-1, CUDNN_DEFAULT_MATH, 0, status};
    last_refusal = std::string(call) + ": " + cudnnGetErrorString(status);
    return false;
  }
  check_cudnn(status, call, context);
  return true;
}

// ---- staging operands into cuDNN's layout and element type

// An NHWC tensor (n, h, w, c) as U in `layout`, extended with zeros to (padded_h, padded_w). The
// tensor itself when nothing changes.
template <class T, class U>
const U* stage_activation(const T* src, int64_t n, int64_t h, int64_t w, int64_t c, int64_t padded_h, int64_t padded_w,
                          Layout layout, Slot slot, const char* op) {
  if constexpr (std::is_same_v<T, U>) {
    if (layout == Layout::nhwc && padded_h == h && padded_w == w) return src;
  }
  U* dst = scratch<U>(slot, n * padded_h * padded_w * c, op);
  const int64_t sn = h * w * c, sh = w * c, sw = c, sc = 1;
  if (layout == Layout::nhwc) {
    relayout(src, dst, Dims4{{n, padded_h, padded_w, c}}, Dims4{{sn, sh, sw, sc}}, Dims4{{n, h, w, c}});
  } else {
    relayout(src, dst, Dims4{{n, c, padded_h, padded_w}}, Dims4{{sn, sc, sh, sw}}, Dims4{{n, c, h, w}});
  }
  return dst;
}

// cuDNN's result (n, c, padded_h, padded_w) in `layout` -> NHWC dst (n, h, w, c), dropping the
// extension and rounding to T.
template <class U, class T>
void unstage_activation(const U* src, T* dst, int64_t n, int64_t h, int64_t w, int64_t c, int64_t padded_h,
                        int64_t padded_w, Layout layout) {
  const Dims4 dims{{n, h, w, c}};
  if (layout == Layout::nhwc) {
    relayout(src, dst, dims, Dims4{{padded_h * padded_w * c, padded_w * c, c, 1}}, dims);
  } else {
    relayout(src, dst, dims, Dims4{{c * padded_h * padded_w, padded_w, 1, padded_h * padded_w}}, dims);
  }
}

// Keras kernel (kh, kw, c, o) -> cuDNN filter (o, kh, kw, c) for NHWC or (o, c, kh, kw) for NCHW.
template <class T, class U>
const U* stage_filter(const T* kernel, const ConvGeometry& g, Layout layout, const char* op) {
  U* dst = scratch<U>(kFilterSlot, g.kh * g.kw * g.c * g.o, op);
  const int64_t s_kh = g.kw * g.c * g.o, s_kw = g.c * g.o, s_c = g.o, s_o = 1;
  if (layout == Layout::nhwc) {
    const Dims4 dims{{g.o, g.kh, g.kw, g.c}};
    relayout(kernel, dst, dims, Dims4{{s_o, s_kh, s_kw, s_c}}, dims);
  } else {
    const Dims4 dims{{g.o, g.c, g.kh, g.kw}};
    relayout(kernel, dst, dims, Dims4{{s_o, s_c, s_kh, s_kw}}, dims);
  }
  return dst;
}

// cuDNN filter gradient -> Keras layout (kh, kw, c, o), rounded to T.
template <class U, class T>
void unstage_filter(const U* src, T* dkernel, const ConvGeometry& g, Layout layout) {
  const Dims4 dims{{g.kh, g.kw, g.c, g.o}};
  if (layout == Layout::nhwc) {  // src (o, kh, kw, c)
    relayout(src, dkernel, dims, Dims4{{g.kw * g.c, g.c, 1, g.kh * g.kw * g.c}}, dims);
  } else {  // src (o, c, kh, kw)
    relayout(src, dkernel, dims, Dims4{{g.kw, 1, g.kh * g.kw, g.c * g.kh * g.kw}}, dims);
  }
}

// ---- the three convolution passes, computing in U for storage type T

template <class T, class U>
bool conv2d_forward_as(const char* op, const Tensor& x, const Tensor& kernel, Tensor& out, const ConvGeometry& g) {
  const Layout layout = layout_for<U>();
  const U* x_in = stage_activation<T, U>(static_cast<const T*>(x.data_ptr()), g.n, g.h, g.w, g.c, g.padded_h,
                                         g.padded_w, layout, kInputSlot, op);
  const U* w = stage_filter<T, U>(static_cast<const T*>(kernel.data_ptr()), g, layout, op);
  const bool direct = std::is_same_v<T, U> && layout == Layout::nhwc;
  U* y = direct ? static_cast<U*>(out.data_ptr()) : scratch<U>(kOutputSlot, g.n * g.oh * g.ow * g.o, op);
  if (!run_pass<U>(op, Pass::forward, g, x_in, w, y)) return false;
  if (!direct) unstage_activation(y, static_cast<T*>(out.data_ptr()), g.n, g.oh, g.ow, g.o, g.oh, g.ow, layout);
  return true;
}

template <class T, class U>
bool conv2d_backprop_input_as(const char* op, const Tensor& grad, const Tensor& kernel, Tensor& out,
                              const ConvGeometry& g) {
  const Layout layout = layout_for<U>();
  const U* dy = stage_activation<T, U>(static_cast<const T*>(grad.data_ptr()), g.n, g.oh, g.ow, g.o, g.oh, g.ow,
                                       layout, kGradSlot, op);
  const U* w = stage_filter<T, U>(static_cast<const T*>(kernel.data_ptr()), g, layout, op);
  const bool direct = std::is_same_v<T, U> && layout == Layout::nhwc && g.padded_h == g.h && g.padded_w == g.w;
  U* dx = direct ? static_cast<U*>(out.data_ptr()) : scratch<U>(kOutputSlot, g.n * g.padded_h * g.padded_w * g.c, op);
  if (!run_pass<U>(op, Pass::backward_data, g, dy, w, dx)) return false;
  if (!direct) {
    unstage_activation(dx, static_cast<T*>(out.data_ptr()), g.n, g.h, g.w, g.c, g.padded_h, g.padded_w, layout);
  }
  return true;
}

template <class T, class U>
bool conv2d_backprop_filter_as(const char* op, const Tensor& x, const Tensor& grad, Tensor& out,
                               const ConvGeometry& g) {
  const Layout layout = layout_for<U>();
  const U* x_in = stage_activation<T, U>(static_cast<const T*>(x.data_ptr()), g.n, g.h, g.w, g.c, g.padded_h,
                                         g.padded_w, layout, kInputSlot, op);
  const U* dy = stage_activation<T, U>(static_cast<const T*>(grad.data_ptr()), g.n, g.oh, g.ow, g.o, g.oh, g.ow,
                                       layout, kGradSlot, op);
  U* dw = scratch<U>(kFilterSlot, g.kh * g.kw * g.c * g.o, op);
  if (!run_pass<U>(op, Pass::backward_filter, g, x_in, dy, dw)) return false;
  unstage_filter(dw, static_cast<T*>(out.data_ptr()), g, layout);
  return true;
}

// Runs pass(T{}, U{}) natively (U = T), then for float16 / bfloat16 widened to float32 if cuDNN
// had no algorithm for the native type.
template <class PassFn>
void run_conv(const char* op, DType dtype, const ConvGeometry& g, PassFn pass) {
  check_cudnn_limits(op, g);
  visit_floating(dtype, op, [&](auto zero) {
    using T = decltype(zero);
    if (pass(T{}, T{})) return;
    if constexpr (is_half_v<T>) {
      if (pass(T{}, float{})) return;
    }
    throw RuntimeError(std::string(op) + " on the GPU: cuDNN offers no " +
                       (op_determinism_enabled() ? "deterministic " : "") + "algorithm for " +
                       std::string(dtype_name(dtype)) + " with " + describe_geometry(g) + " (" + last_refusal +
                       ")" + (op_determinism_enabled() ? "; disable op determinism or run the op on the CPU"
                                                 : "; run the op on the CPU"));
  });
}

void conv2d_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  if (out.numel() == 0) return;
  if (in[0].numel() == 0 || in[1].numel() == 0) return zero_fill(out);  // an empty sum
  const char* op = "conv2d";
  const ConvGeometry g = conv_geometry(in[0].shape(), out.shape(), in[1].shape(), attrs);
  run_conv(op, out.dtype(), g, [&](auto t_zero, auto u_zero) {
    return conv2d_forward_as<decltype(t_zero), decltype(u_zero)>(op, in[0], in[1], out, g);
  });
}

void conv2d_backprop_input_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  if (out.numel() == 0) return;
  if (in[0].numel() == 0 || in[1].numel() == 0) return zero_fill(out);
  const char* op = "conv2d_backprop_input";
  const ConvGeometry g = conv_geometry(out.shape(), in[0].shape(), in[1].shape(), attrs);
  run_conv(op, out.dtype(), g, [&](auto t_zero, auto u_zero) {
    return conv2d_backprop_input_as<decltype(t_zero), decltype(u_zero)>(op, in[0], in[1], out, g);
  });
}

void conv2d_backprop_filter_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  if (out.numel() == 0) return;
  if (in[0].numel() == 0 || in[1].numel() == 0) return zero_fill(out);
  const char* op = "conv2d_backprop_filter";
  const ConvGeometry g = conv_geometry(in[0].shape(), in[1].shape(), out.shape(), attrs);
  run_conv(op, out.dtype(), g, [&](auto t_zero, auto u_zero) {
    return conv2d_backprop_filter_as<decltype(t_zero), decltype(u_zero)>(op, in[0], in[1], out, g);
  });
}

// ---- pooling (direct kernels; the CPU's window rules, order and compute type)

using PoolGeometry = WindowGeometry;

PoolGeometry pool_geometry(const Shape& input, const Shape& output, const Attrs& attrs) {
  return window_geometry(input, output, attrs.window);
}

// The in-bounds part [lo, hi) of the window starting at `start` of size k over [0, size).
__device__ __forceinline__ void clamp_window(int64_t start, int64_t k, int64_t size, int64_t& lo, int64_t& hi) {
  lo = start > 0 ? start : 0;
  hi = start + k < size ? start + k : size;
}

// The output positions [lo, hi] along one axis whose windows contain input position i.
__device__ __forceinline__ void covering_outputs(int64_t i, int64_t pad, int64_t k, int64_t s, int64_t out_size,
                                                 int64_t& lo, int64_t& hi) {
  const int64_t num = i + pad - k + 1;  // o * s - pad <= i <= o * s - pad + k - 1
  lo = num <= 0 ? 0 : (num + s - 1) / s;
  const int64_t last = (i + pad) / s;
  hi = last < out_size - 1 ? last : out_size - 1;
}

// Decomposes a flat NHWC index over (n, rows, cols, c).
struct Position {
  int64_t n, y, x, ch;
};
__device__ __forceinline__ Position position_of(int64_t i, int64_t rows, int64_t cols, int64_t c) {
  Position p;
  p.ch = i % c;
  int64_t rest = i / c;
  p.x = rest % cols;
  rest /= cols;
  p.y = rest % rows;
  p.n = rest / rows;
  return p;
}

// The first maximum of channel ch over one window, scanned row by row: strictly greater replaces,
// so ties keep the first; a NaN replaces any number once, so NaNs propagate and the first NaN
// wins. `pixel` receives its iy * w + ix. Windows always hold an input (TF padding < window).
template <class T>
__device__ __forceinline__ compute_t<T> window_max(const T* image, const PoolGeometry& g, int64_t y0, int64_t y1,
                                                   int64_t x0, int64_t x1, int64_t ch, int32_t& pixel) {
  using C = compute_t<T>;
  C best = widen(image[(y0 * g.w + x0) * g.c + ch]);
  int32_t best_pixel = static_cast<int32_t>(y0 * g.w + x0);
  for (int64_t iy = y0; iy < y1; ++iy) {
    for (int64_t ix = iy == y0 ? x0 + 1 : x0; ix < x1; ++ix) {
      const int32_t p = static_cast<int32_t>(iy * g.w + ix);  // images hold < 2^31 pixels
      const C v = widen(image[int64_t{p} * g.c + ch]);
      const bool take = (v > best) | ((v != v) & (best == best));
      best = take ? v : best;
      best_pixel = take ? p : best_pixel;
    }
  }
  pixel = best_pixel;
  return best;
}

// Per output element: the window's maximum (out_value), its first maximum's pixel (out_pixel) and/or
// its flat index into x (out_index); null outputs are skipped.
template <class T>
__global__ void max_pool_kernel(const T* __restrict__ x, PoolGeometry g, int64_t total, T* __restrict__ out_value,
                                int32_t* __restrict__ out_pixel, int64_t* __restrict__ out_index) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const Position p = position_of(i, g.oh, g.ow, g.c);
    int64_t y0, y1, x0, x1;
    clamp_window(p.y * g.sh - g.pad_top, g.kh, g.h, y0, y1);
    clamp_window(p.x * g.sw - g.pad_left, g.kw, g.w, x0, x1);
    int32_t pixel;
    const compute_t<T> best = window_max(x + p.n * g.h * g.w * g.c, g, y0, y1, x0, x1, p.ch, pixel);
    if (out_value) out_value[i] = narrow<T>(best);
    if (out_pixel) out_pixel[i] = pixel;
    if (out_index) out_index[i] = (p.n * g.h * g.w + int64_t{pixel}) * g.c + p.ch;
  }
}

// Per input element: the sum, in increasing output order, of the gradients of the windows whose
// first maximum it is (pixel from max_pool_kernel); the CPU adds them in that order too.
template <class T>
__global__ void max_pool_grad_kernel(const T* __restrict__ grad, const int32_t* __restrict__ pixel, PoolGeometry g,
                                     int64_t total, T* __restrict__ dx) {
  using C = compute_t<T>;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const Position p = position_of(i, g.h, g.w, g.c);
    int64_t oy0, oy1, ox0, ox1;
    covering_outputs(p.y, g.pad_top, g.kh, g.sh, g.oh, oy0, oy1);
    covering_outputs(p.x, g.pad_left, g.kw, g.sw, g.ow, ox0, ox1);
    const int32_t self = static_cast<int32_t>(p.y * g.w + p.x);
    C sum = C(0);
    for (int64_t oy = oy0; oy <= oy1; ++oy) {
      for (int64_t ox = ox0; ox <= ox1; ++ox) {
        const int64_t o = ((p.n * g.oh + oy) * g.ow + ox) * g.c + p.ch;
        if (pixel[o] == self) sum = static_cast<C>(sum + widen(grad[o]));
      }
    }
    dx[i] = narrow<T>(sum);
  }
}

template <class T>
__global__ void avg_pool_kernel(const T* __restrict__ x, PoolGeometry g, int64_t total, T* __restrict__ y) {
  using C = compute_t<T>;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const Position p = position_of(i, g.oh, g.ow, g.c);
    int64_t y0, y1, x0, x1;
    clamp_window(p.y * g.sh - g.pad_top, g.kh, g.h, y0, y1);
    clamp_window(p.x * g.sw - g.pad_left, g.kw, g.w, x0, x1);
    C sum = C(0);
    for (int64_t iy = y0; iy < y1; ++iy) {
      for (int64_t ix = x0; ix < x1; ++ix) sum += widen(x[((p.n * g.h + iy) * g.w + ix) * g.c + p.ch]);
    }
    const C count = static_cast<C>((y1 - y0) * (x1 - x0));  // padding is not counted
    y[i] = narrow<T>(sum / count);
  }
}

// Per input element: the gradients of the windows covering it (increasing output order), each
// divided by its window's in-bounds count: the exact adjoint of avg_pool2d, as on the CPU.
template <class T>
__global__ void avg_pool_grad_kernel(const T* __restrict__ grad, PoolGeometry g, int64_t total, T* __restrict__ dx) {
  using C = compute_t<T>;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total; i += int64_t{gridDim.x} * blockDim.x) {
    const Position p = position_of(i, g.h, g.w, g.c);
    int64_t oy0, oy1, ox0, ox1;
    covering_outputs(p.y, g.pad_top, g.kh, g.sh, g.oh, oy0, oy1);
    covering_outputs(p.x, g.pad_left, g.kw, g.sw, g.ow, ox0, ox1);
    C sum = C(0);
    for (int64_t oy = oy0; oy <= oy1; ++oy) {
      int64_t wy0, wy1;
      clamp_window(oy * g.sh - g.pad_top, g.kh, g.h, wy0, wy1);
      for (int64_t ox = ox0; ox <= ox1; ++ox) {
        int64_t wx0, wx1;
        clamp_window(ox * g.sw - g.pad_left, g.kw, g.w, wx0, wx1);
        const C count = static_cast<C>((wy1 - wy0) * (wx1 - wx0));
        sum += widen(grad[((p.n * g.oh + oy) * g.ow + ox) * g.c + p.ch]) / count;
      }
    }
    dx[i] = narrow<T>(sum);
  }
}

void avg_pool2d_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const int64_t total = out.numel();
  if (total == 0) return;
  const PoolGeometry g = pool_geometry(in[0].shape(), out.shape(), attrs);
  visit_floating(out.dtype(), "avg_pool2d", [&](auto zero) {
    using T = decltype(zero);
    avg_pool_kernel<T><<<blocks_for(total), kThreads, 0, stream()>>>(static_cast<const T*>(in[0].data_ptr()), g,
                                                                      total, static_cast<T*>(out.data_ptr()));
    check_launch("avg_pool_kernel");
  });
}

void avg_pool2d_grad_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const int64_t total = out.numel();
  if (total == 0) return;
  const PoolGeometry g = pool_geometry(out.shape(), in[0].shape(), attrs);
  visit_floating(out.dtype(), "avg_pool2d_grad", [&](auto zero) {
    using T = decltype(zero);
    avg_pool_grad_kernel<T><<<blocks_for(total), kThreads, 0, stream()>>>(static_cast<const T*>(in[0].data_ptr()), g,
                                                                           total, static_cast<T*>(out.data_ptr()));
    check_launch("avg_pool_grad_kernel");
  });
}

void max_pool2d_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const int64_t total = out.numel();
  if (total == 0) return;
  const PoolGeometry g = pool_geometry(in[0].shape(), out.shape(), attrs);
  visit_floating(out.dtype(), "max_pool2d", [&](auto zero) {
    using T = decltype(zero);
    max_pool_kernel<T><<<blocks_for(total), kThreads, 0, stream()>>>(static_cast<const T*>(in[0].data_ptr()), g,
                                                                      total, static_cast<T*>(out.data_ptr()),
                                                                      nullptr, nullptr);
    check_launch("max_pool_kernel");
  });
}

// Two passes: each window's first maximum (as a pixel), then a gather per input element.
void max_pool2d_grad_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const int64_t total = out.numel();
  if (total == 0) return;
  const char* op = "max_pool2d_grad";
  const PoolGeometry g = pool_geometry(out.shape(), in[0].shape(), attrs);
  const int64_t windows = in[0].numel();
  visit_floating(out.dtype(), op, [&](auto zero) {
    using T = decltype(zero);
    int32_t* pixel = scratch<int32_t>(kInputSlot, windows, op);
    if (windows > 0) {
      max_pool_kernel<T><<<blocks_for(windows), kThreads, 0, stream()>>>(static_cast<const T*>(in[1].data_ptr()), g,
                                                                          windows, nullptr, pixel, nullptr);
      check_launch("max_pool_kernel");
    }
    max_pool_grad_kernel<T><<<blocks_for(total), kThreads, 0, stream()>>>(
        static_cast<const T*>(in[0].data_ptr()), pixel, g, total, static_cast<T*>(out.data_ptr()));
    check_launch("max_pool_grad_kernel");
  });
}

void max_pool2d_argmax_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const int64_t total = out.numel();
  if (total == 0) return;
  const PoolGeometry g = pool_geometry(in[0].shape(), out.shape(), attrs);
  visit_floating(in[0].dtype(), "max_pool2d_argmax", [&](auto zero) {
    using T = decltype(zero);
    max_pool_kernel<T><<<blocks_for(total), kThreads, 0, stream()>>>(static_cast<const T*>(in[0].data_ptr()), g,
                                                                      total, nullptr, nullptr,
                                                                      static_cast<int64_t*>(out.data_ptr()));
    check_launch("max_pool_kernel");
  });
}

const bool registered = register_when_present([](OpRegistry& r) {
  r.add_kernel("conv2d", DeviceType::cuda, conv2d_kernel);
  r.add_kernel("conv2d_backprop_input", DeviceType::cuda, conv2d_backprop_input_kernel);
  r.add_kernel("conv2d_backprop_filter", DeviceType::cuda, conv2d_backprop_filter_kernel);
  r.add_kernel("avg_pool2d", DeviceType::cuda, avg_pool2d_kernel);
  r.add_kernel("avg_pool2d_grad", DeviceType::cuda, avg_pool2d_grad_kernel);
  r.add_kernel("max_pool2d", DeviceType::cuda, max_pool2d_kernel);
  r.add_kernel("max_pool2d_grad", DeviceType::cuda, max_pool2d_grad_kernel);
  r.add_kernel("max_pool2d_argmax", DeviceType::cuda, max_pool2d_argmax_kernel);
});

}  // namespace
}  // namespace pitfall::cuda
