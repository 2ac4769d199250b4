// Engine-wide state: autograd mode and gradients, random numbers, threads, numeric checking.
#include <pybind11/stl.h>

#include <optional>

#include "bindings.h"

namespace pitfall_python {

using pitfall::Tensor;
using Release = py::call_guard<py::gil_scoped_release>;

namespace {

pitfall::RandomKey key_of(uint64_t seed, uint64_t stream) { return pitfall::RandomKey{seed, stream}; }

void bind_autograd(py::module_& m) {
  m.def("grad_enabled", &pitfall::grad_enabled);
  m.def("set_grad_enabled", &pitfall::set_grad_enabled, py::arg("enabled"));
  m.def(
      "gradients",
      [](const Tensor& root, const std::vector<Tensor>& sources, const std::optional<Tensor>& root_grad) {
        std::vector<Tensor> grads;
        {
          py::gil_scoped_release release;
          grads = pitfall::gradients(root, sources, root_grad.value_or(Tensor()));
        }
        py::list out;
        for (const auto& g : grads) out.append(tensor_or_none(g));
        return out;
      },
      py::arg("root"), py::arg("sources"), py::arg("root_grad") = py::none(),
      "d(root)/d(source) for each source (None where unconnected), without touching any .grad.");
}

void bind_random(py::module_& m) {
  m.def("set_random_seed", &pitfall::set_random_seed, py::arg("seed"));
  m.def("global_random_seed", &pitfall::global_random_seed);
  m.def(
      "resolve_random_key",
      [](std::optional<uint64_t> seed) {
        const pitfall::RandomKey key = pitfall::resolve_random_key(seed);
        return py::make_tuple(key.seed, key.stream);
      },
      py::arg("seed") = py::none(), "(seed, stream): fixed for an int seed, the next global key for None.");
  m.def(
      "random_uniform",
      [](const pitfall::Shape& shape, double minval, double maxval, const std::string& dtype, uint64_t seed,
         uint64_t stream) {
        return pitfall::random_uniform(shape, minval, maxval, pitfall::parse_dtype(dtype), key_of(seed, stream));
      },
      py::arg("shape"), py::arg("minval"), py::arg("maxval"), py::arg("dtype"), py::arg("seed"), py::arg("stream"),
      Release());
  m.def(
      "random_normal",
      [](const pitfall::Shape& shape, double mean, double stddev, const std::string& dtype, uint64_t seed,
         uint64_t stream) {
        return pitfall::random_normal(shape, mean, stddev, pitfall::parse_dtype(dtype), key_of(seed, stream));
      },
      py::arg("shape"), py::arg("mean"), py::arg("stddev"), py::arg("dtype"), py::arg("seed"), py::arg("stream"),
      Release());
  m.def(
      "truncated_normal",
      [](const pitfall::Shape& shape, double mean, double stddev, const std::string& dtype, uint64_t seed,
         uint64_t stream) {
        return pitfall::truncated_normal(shape, mean, stddev, pitfall::parse_dtype(dtype), key_of(seed, stream));
      },
      py::arg("shape"), py::arg("mean"), py::arg("stddev"), py::arg("dtype"), py::arg("seed"), py::arg("stream"),
      Release());
  m.def(
      "bernoulli",
      [](const pitfall::Shape& shape, double p, const std::string& dtype, uint64_t seed, uint64_t stream) {
        return pitfall::bernoulli(shape, p, pitfall::parse_dtype(dtype), key_of(seed, stream));
      },
      py::arg("shape"), py::arg("p"), py::arg("dtype"), py::arg("seed"), py::arg("stream"), Release());
  m.def(
      "random_permutation",
      [](int64_t n, uint64_t seed, uint64_t stream) { return pitfall::random_permutation(n, key_of(seed, stream)); },
      py::arg("n"), py::arg("seed"), py::arg("stream"), Release());
}

// pf.device(...) as a context manager: a DeviceScope alive between __enter__ and __exit__, on the
// thread that entered it (the default device is per thread, as TensorFlow's device stack).
struct PyDeviceScope {
  explicit PyDeviceScope(const std::string& name) : device(pitfall::parse_device(name)) {}
  void enter() {
    if (scope) throw pitfall::RuntimeError("pf.device('" + device.str() + "') is already entered; use a new one");
    scope.emplace(device);
  }
  void exit() { scope.reset(); }
  pitfall::Device device;
  std::optional<pitfall::DeviceScope> scope;
};

void bind_config(py::module_& m) {
  m.def("num_threads", &pitfall::num_threads);
  m.def("set_num_threads", &pitfall::set_num_threads, py::arg("threads"));
  m.def("set_check_numerics", &pitfall::set_check_numerics, py::arg("enabled"));
  m.def("check_numerics_enabled", &pitfall::check_numerics_enabled);
  // This thread's switch (pf.debug.check_numerics() as a context manager saves and restores it).
  m.def("set_thread_check_numerics", &pitfall::set_thread_check_numerics, py::arg("enabled"));
  m.def("thread_check_numerics_enabled", &pitfall::thread_check_numerics_enabled);
  m.def("check_numerics_active", &pitfall::check_numerics_active);
  m.def("memory_stats", [] {
    const pitfall::MemoryStats s = pitfall::memory_stats();
    py::dict out;
    out["current"] = s.bytes_in_use;
    out["peak"] = s.peak_bytes_in_use;
    out["cached"] = s.bytes_cached;
    out["allocations"] = s.allocations;
    out["cacheable"] = s.cacheable;
    out["cache_hits"] = s.cache_hits;
    return out;
  });
  m.def("reset_peak_memory", [] { pitfall::reset_peak_memory(); });
  m.def("empty_cache", [] { pitfall::empty_cache(); });
  m.def("set_cache_limit", [](size_t bytes) { pitfall::set_cache_limit(bytes); }, py::arg("bytes"));
  m.def("cache_limit", [] { return pitfall::cache_limit(); });
  // Placement (pf.device, pf.config.list_physical_devices) and the GPU settings.
  m.def("device_count", [](const std::string& type) {
    const std::string t = type == "GPU" || type == "gpu" || type == "cuda" ? "cuda" : type;
    if (t == "cuda") return pitfall::device_count(pitfall::DeviceType::cuda);
    if (t == "CPU" || t == "cpu") return pitfall::device_count(pitfall::DeviceType::cpu);
    throw pitfall::ValueError("device_count: unknown device type '" + type + "'; expected 'CPU' or 'GPU'");
  }, py::arg("device_type"));
  m.def("_device_module_status", [](const std::string& type) {
    return pitfall::device_module_status(pitfall::parse_device(type).type);
  }, py::arg("device_type"), "Loads the device's module when needed and says what happened (core/device.h).");
  m.def("canonical_device", [](const std::string& name) { return pitfall::parse_device(name).str(); },
        py::arg("name"), "'GPU:0', '/device:GPU:0', 'cuda' ... -> 'cuda:0'; 'cpu', '/CPU:0' -> 'cpu'.");
  m.def("default_device", [] { return pitfall::default_device().str(); });
  py::class_<PyDeviceScope>(m, "DeviceScope", "with-statement scope: the default device while inside.")
      .def(py::init<std::string>(), py::arg("device"))
      .def("__enter__", [](PyDeviceScope& s) { s.enter(); return &s; }, py::return_value_policy::reference)
      .def("__exit__", [](PyDeviceScope& s, const py::args&) { s.exit(); return false; })
      .def_property_readonly("device", [](const PyDeviceScope& s) { return s.device.str(); });
  m.def("set_op_determinism", &pitfall::set_op_determinism, py::arg("enabled"));
  m.def("op_determinism_enabled", &pitfall::op_determinism_enabled);
  m.def("set_tensor_float_32", &pitfall::set_tensor_float_32, py::arg("enabled"));
  m.def("tensor_float_32_enabled", &pitfall::tensor_float_32_enabled);
  m.def("op_table", [] {
    py::list out;
    for (const auto& info : pitfall::OpRegistry::instance().ops()) {
      py::dict row;
      row["name"] = info.name;
      row["differentiable"] = info.differentiable;
      row["composite"] = info.composite;
      row["summary"] = info.summary;
      row["cpu_kernel"] = pitfall::OpRegistry::instance().has_kernel(info.name, pitfall::DeviceType::cpu);
      out.append(row);
    }
    return out;
  }, "One dict per op of the registry (name, differentiable, composite, summary, cpu_kernel).");
}

}  // namespace

void bind_runtime(py::module_& m) {
  bind_autograd(m);
  bind_random(m);
  bind_config(m);
}

}  // namespace pitfall_python
