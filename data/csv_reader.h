// CSV files read into typed columns, with tf.data.experimental.CsvDataset's semantics:
//
//   - one CsvColumn per selected column ("record_defaults"): its dtype, and either a fill value used
//     when the field is missing, or none, making the column required (a missing field is an error);
//   - a header line is skipped when `header` (its names become CsvTable::names);
//   - fields are separated by `field_delim`; with `use_quote_delim`, a field may be quoted (RFC 4180:
//     "a, b" keeps its delimiter and newlines, "" inside quotes is one quote);
//   - a field is missing when it is empty or equals `na_value`;
//   - `select_cols` picks columns by 0-based index (strictly increasing); empty means every column,
//     and then the number of CsvColumns must equal the number of fields per line.
//
// Fields are parsed in their column's dtype: int32 / int64 / uint8 as base-10 integers (range
// checked: no wrap-around, no truncation of "1.5"), float32 / float64 as decimal or scientific
// numbers, "inf", "nan" (parsed straight into the column's precision, so float32 rounds once), bool as
// 0 / 1 / true / false (any case). Spaces and tabs around a value are ignored. A gzip-compressed file
// (magic 1f 8b) is decompressed first. Blank lines are skipped. Every line must have as many fields as
// the first one (the header when there is one).
//
// Errors are ValueErrors naming the file, the 1-based line and the column: ragged lines ("line 7 has 3
// fields, expected 5"), a text value in a numeric column, a missing value in a required column,
// out-of-range integers, an unterminated quote.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pitfall/core/tensor.h"

namespace pitfall::data {

struct CsvColumn {
  DType dtype = DType::float32;  // float32, float64, int32, int64, uint8 or bool
  // The value of a missing field; nullopt makes the column required. Must be representable in dtype.
  std::optional<double> fill;
};

struct CsvOptions {
  bool header = true;
  char field_delim = ',';
  bool use_quote_delim = true;
  std::string na_value = "";
  std::vector<int64_t> select_cols;
};

struct CsvTable {
  // One name per selected column: from the header, else "column_<index>".
  std::vector<std::string> names;
  // One 1-D CPU tensor per selected column, all of the same length (the number of records).
  std::vector<Tensor> columns;
};

// Reads a CSV file. Throws ValueError for bad options (naming the option) and malformed contents
// (naming the file, line and column).
CsvTable read_csv(const std::string& path, const std::vector<CsvColumn>& columns, const CsvOptions& options = {});

// The same from text in memory; `source` names it in errors.
CsvTable parse_csv(const char* text, size_t size, const std::string& source, const std::vector<CsvColumn>& columns,
                   const CsvOptions& options = {});

}  // namespace pitfall::data
