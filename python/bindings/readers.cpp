// The file readers (data/idx_reader.h, data/npy_reader.h, data/csv_reader.h). Arrays come back as
// NumPy arrays that own the reader's tensor (no copy). Argument conversion (record_defaults, dtype
// names, paths) is done by python/pitfall/_readers.py.
#include <pitfall/data/csv_reader.h>
#include <pitfall/data/idx_reader.h>
#include <pitfall/data/npy_reader.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "bindings.h"

namespace pitfall_python {

using pitfall::Tensor;

namespace {

// A NumPy array viewing a packed CPU tensor, keeping the tensor alive.
py::array to_array(const Tensor& tensor) {
  auto* owner = new Tensor(tensor);
  py::capsule keep(owner, [](void* p) { delete static_cast<Tensor*>(p); });
  const py::dtype dtype(std::string(pitfall::dtype_name(tensor.dtype())));
  std::vector<py::ssize_t> shape(tensor.shape().begin(), tensor.shape().end());
  return py::array(dtype, shape, {}, tensor.data_ptr(), keep);
}

Tensor from_array(const py::array& array) {
  const py::array packed = py::array::ensure(array, py::array::c_style);
  const std::string name = py::str(packed.dtype().attr("name"));
  const pitfall::DType dtype = pitfall::parse_dtype(name);
  pitfall::Shape shape(packed.shape(), packed.shape() + packed.ndim());
  return Tensor::from_buffer(packed.data(), shape, dtype);
}

}  // namespace

void bind_readers(py::module_& m) {
  m.def(
      "_read_idx",
      [](const std::string& path) {
        Tensor t;
        {
          py::gil_scoped_release release;
          t = pitfall::data::read_idx(path);
        }
        return to_array(t);
      },
      py::arg("path"), "An IDX file (plain or gzip) as a NumPy array (int8/int16 widened to int32).");
  m.def(
      "_read_npy",
      [](const std::string& path) {
        Tensor t;
        {
          py::gil_scoped_release release;
          t = pitfall::data::read_npy(path);
        }
        return to_array(t);
      },
      py::arg("path"), "A .npy file as a NumPy array (C order; small ints widened; see data/npy_reader.h).");
  m.def(
      "_save_npy",
      [](const std::string& path, const py::array& array) {
        const Tensor t = from_array(array);
        py::gil_scoped_release release;
        pitfall::data::save_npy(path, t);
      },
      py::arg("path"), py::arg("array"), "Writes a .npy file atomically (temporary file + rename).");
  m.def(
      "_read_npz",
      [](const std::string& path) {
        std::vector<std::pair<std::string, Tensor>> arrays;
        {
          py::gil_scoped_release release;
          arrays = pitfall::data::read_npz(path);
        }
        py::list out;
        for (const auto& [name, tensor] : arrays) out.append(py::make_tuple(name, to_array(tensor)));
        return out;
      },
      py::arg("path"), "The arrays of a .npz archive as a list of (name, array), in archive order.");
  m.def(
      "_read_csv",
      [](const std::string& path, const std::vector<std::string>& dtypes,
         const std::vector<std::optional<double>>& fills, bool header, char field_delim, bool use_quote_delim,
         const std::string& na_value, const std::vector<int64_t>& select_cols) {
        std::vector<pitfall::data::CsvColumn> columns;
        for (size_t i = 0; i < dtypes.size(); ++i) {
          columns.push_back({pitfall::parse_dtype(dtypes[i]), i < fills.size() ? fills[i] : std::nullopt});
        }
        pitfall::data::CsvOptions options;
        options.header = header;
        options.field_delim = field_delim;
        options.use_quote_delim = use_quote_delim;
        options.na_value = na_value;
        options.select_cols = select_cols;
        pitfall::data::CsvTable table;
        {
          py::gil_scoped_release release;
          table = pitfall::data::read_csv(path, columns, options);
        }
        py::list arrays;
        for (const Tensor& column : table.columns) arrays.append(to_array(column));
        return py::make_tuple(table.names, arrays);
      },
      py::arg("path"), py::arg("dtypes"), py::arg("fills"), py::arg("header"), py::arg("field_delim"),
      py::arg("use_quote_delim"), py::arg("na_value"), py::arg("select_cols"),
      "Typed CSV columns: (names, list of 1-D arrays). Use pitfall._readers.read_csv.");
}

}  // namespace pitfall_python
