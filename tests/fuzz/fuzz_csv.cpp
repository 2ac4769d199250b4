// libFuzzer target: CSV text -> parse_csv. The first two bytes choose the options and the column
// types, so one corpus explores headers, delimiters, quoting, select_cols, fills and every dtype;
// the rest is the text. See fuzz_idx.cpp for what counts as a bug.
#include <pitfall/data/csv_reader.h>

#include <cstddef>
#include <cstdint>

using pitfall::DType;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t mode = data[0], types = data[1];
  pitfall::data::CsvOptions options;
  options.header = mode & 1;
  options.use_quote_delim = mode & 2;
  static const char delims[] = {',', ';', '\t', ' '};
  options.field_delim = delims[(mode >> 2) & 3];
  options.na_value = (mode & 16) ? "NA" : "";
  static const DType dtypes[] = {DType::float32, DType::float64, DType::int32, DType::int64,
                                 DType::uint8,   DType::bool_,   DType::int32, DType::float32};
  const size_t ncols = 1 + ((mode >> 5) & 3);  // 1..4 columns
  std::vector<pitfall::data::CsvColumn> columns;
  for (size_t i = 0; i < ncols; ++i) {
    const DType dtype = dtypes[(types >> (2 * i)) & 7];
    const bool has_fill = (types >> i) & 1;
    columns.push_back({dtype, has_fill ? std::optional<double>(1.0) : std::nullopt});
  }
  if (mode & 128) {  // select every other column
    for (size_t i = 0; i < ncols; ++i) options.select_cols.push_back(static_cast<int64_t>(2 * i));
  }
  try {
    const auto table =
        pitfall::data::parse_csv(reinterpret_cast<const char*>(data + 2), size - 2, "fuzz.csv", columns, options);
    (void)table;
  } catch (const pitfall::Error&) {
  }
  return 0;
}
