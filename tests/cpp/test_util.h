// Helpers shared by the C++ tests.
#pragma once
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <pitfall/pitfall.h>

namespace pitfall::testing {

// what() of the pitfall::Error that fn throws ("" when it throws none).
inline std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

inline bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), a.numel() * dtype_size(a.dtype())) == 0;
}

// Runs fn once with 1 thread and once with 2, restoring the thread count; returns both results.
inline std::pair<std::vector<Tensor>, std::vector<Tensor>> run_with_1_and_2_threads(
    const std::function<std::vector<Tensor>()>& fn) {
  const int saved = num_threads();
  set_num_threads(1);
  auto one = fn();
  set_num_threads(2);
  auto two = fn();
  set_num_threads(saved);
  return {std::move(one), std::move(two)};
}

}  // namespace pitfall::testing
