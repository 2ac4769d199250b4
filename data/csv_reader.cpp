#include "pitfall/data/csv_reader.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string_view>

#include "pitfall/data/compressed.h"

namespace pitfall::data {
namespace {

struct Field {
  std::string_view text;
  int scratch = -1;  // index of its unescaped copy when the quoted text held "" escapes
  size_t line = 0;   // 1-based line where the field starts
  bool quoted = false;
};

// Splits the text into records of fields (RFC 4180 when quotes are on). Blank lines are skipped.
class RecordSplitter {
 public:
  RecordSplitter(const char* text, size_t size, const std::string& source, const CsvOptions& options)
      : t_(text), n_(size), source_(source), delim_(options.field_delim), quotes_(options.use_quote_delim) {}

  // The next record's fields and its first line; false at the end of the text.
  bool next(std::vector<Field>& fields, size_t& record_line) {
    fields.clear();
    scratch_used_ = 0;
    // Blank lines ("" or a lone "\r") are not records.
    for (;;) {
      if (pos_ >= n_) return false;
      if (t_[pos_] == '\n') {
        ++pos_;
        ++line_;
      } else if (t_[pos_] == '\r' && (pos_ + 1 == n_ || t_[pos_ + 1] == '\n')) {
        pos_ += pos_ + 1 == n_ ? 1 : 2;
        ++line_;
      } else {
        break;
      }
    }
    record_line = line_;
    for (;;) {
      Field field;
      field.line = line_;
      if (quotes_ && pos_ < n_ && t_[pos_] == '"') {
        read_quoted(field, fields.size());
      } else {
        const size_t start = pos_;
        while (pos_ < n_ && t_[pos_] != delim_ && t_[pos_] != '\n') {
          if (quotes_ && t_[pos_] == '"') {
            fail(field.line, fields.size(),
                 "a quote inside an unquoted field (at byte offset " + std::to_string(pos_) +
                     "); quote the whole field (\"a \"\"b\"\"\") or pass use_quote_delim=false");
          }
          ++pos_;
        }
        size_t end = pos_;
        if (end > start && t_[end - 1] == '\r' && (end == n_ || t_[end] == '\n')) --end;  // CRLF
        field.text = std::string_view(t_ + start, end - start);
      }
      fields.push_back(field);
      if (pos_ < n_ && t_[pos_] == delim_) {
        ++pos_;
        continue;
      }
      if (pos_ < n_) {  // '\n'
        ++pos_;
        ++line_;
      }
      break;
    }
    for (Field& f : fields) {
      if (f.scratch >= 0) f.text = scratch_[static_cast<size_t>(f.scratch)];
    }
    return true;
  }

 private:
  [[noreturn]] void fail(size_t line, size_t field_index, const std::string& what) const {
    throw ValueError(source_ + ": line " + std::to_string(line) + ", field " + std::to_string(field_index) +
                     " (0-based): " + what);
  }

  void read_quoted(Field& field, size_t field_index) {
    field.quoted = true;
    const size_t open_at = pos_++;
    const size_t start = pos_;
    bool escaped = false;
    for (;;) {
      if (pos_ >= n_) {
        fail(field.line, field_index,
             "unterminated quote: the quote at byte offset " + std::to_string(open_at) +
                 " is never closed before the end of the file");
      }
      const char c = t_[pos_];
      if (c == '"') {
        if (pos_ + 1 < n_ && t_[pos_ + 1] == '"') {
          escaped = true;
          pos_ += 2;
          continue;
        }
        break;
      }
      if (c == '\n') ++line_;
      ++pos_;
    }
    const size_t end = pos_++;  // past the closing quote
    if (escaped) {
      if (scratch_.size() <= scratch_used_) scratch_.resize(scratch_used_ + 1);
      std::string& s = scratch_[scratch_used_];
      s.clear();
      for (size_t i = start; i < end; ++i) {
        s += t_[i];
        if (t_[i] == '"') ++i;  // "" -> "
      }
      field.scratch = static_cast<int>(scratch_used_++);
    } else {
      field.text = std::string_view(t_ + start, end - start);
    }
    if (pos_ < n_ && t_[pos_] == '\r' && (pos_ + 1 == n_ || t_[pos_ + 1] == '\n')) ++pos_;
    if (pos_ < n_ && t_[pos_] != delim_ && t_[pos_] != '\n') {
      fail(field.line, field_index,
           std::string("unexpected character '") + t_[pos_] + "' after the closing quote at byte offset " +
               std::to_string(end) + " (expected the delimiter or the end of the line)");
    }
  }

  const char* t_;
  size_t n_, pos_ = 0, line_ = 1;
  const std::string& source_;
  char delim_;
  bool quotes_;
  std::vector<std::string> scratch_;
  size_t scratch_used_ = 0;
};

bool is_supported(DType dtype) {
  return dtype == DType::float32 || dtype == DType::float64 || dtype == DType::int32 || dtype == DType::int64 ||
         dtype == DType::uint8 || dtype == DType::bool_;
}

// Integer limits of an integral column.
std::pair<int64_t, int64_t> int_range(DType dtype) {
  switch (dtype) {
    case DType::int32:
      return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    case DType::uint8:
      return {0, 255};
    case DType::bool_:
      return {0, 1};
    default:
      return {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  }
}

// Appends one value (already range-checked) to a column's bytes.
void append(std::vector<uint8_t>& bytes, DType dtype, int64_t i, double f) {
  uint8_t buf[8];
  size_t n = dtype_size(dtype);
  switch (dtype) {
    case DType::float32: {
      const float v = static_cast<float>(f);
      std::memcpy(buf, &v, 4);
      break;
    }
    case DType::float64:
      std::memcpy(buf, &f, 8);
      break;
    case DType::int32: {
      const int32_t v = static_cast<int32_t>(i);
      std::memcpy(buf, &v, 4);
      break;
    }
    case DType::int64:
      std::memcpy(buf, &i, 8);
      break;
    case DType::uint8:
      buf[0] = static_cast<uint8_t>(i);
      break;
    case DType::bool_:
      buf[0] = i != 0;
      break;
    default:
      n = 0;
  }
  bytes.insert(bytes.end(), buf, buf + n);
}

struct ColumnState {
  DType dtype;
  std::optional<double> fill;
  int64_t index;  // in the line
  std::string name;
  std::vector<uint8_t> fill_bytes;
  std::vector<uint8_t> bytes;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string quoted_value(std::string_view s) {
  constexpr size_t kShown = 40;
  std::string shown(s.substr(0, kShown));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  return "'" + shown + (s.size() > kShown ? "...'" : "'");
}

class CsvParser {
 public:
  CsvParser(const std::string& source, const std::vector<CsvColumn>& columns, const CsvOptions& options)
      : source_(source), options_(options) {
    validate(columns);
  }

  CsvTable parse(const char* text, size_t size) {
    RecordSplitter splitter(text, size, source_, options_);
    std::vector<Field> fields;
    size_t line = 0;
    size_t expected = options_.select_cols.empty() ? columns_.size() : 0;  // 0: set by the first line
    bool first = true;
    std::vector<std::string> header_names;
    while (splitter.next(fields, line)) {
      if (first) {
        first = false;
        if (!options_.select_cols.empty()) {
          expected = fields.size();
          const int64_t last = options_.select_cols.back();
          if (static_cast<uint64_t>(last) >= expected) {
            throw ValueError(source_ + ": select_cols names column index " + std::to_string(last) + ", but line " +
                             std::to_string(line) + " has only " + std::to_string(expected) + " fields (indices 0 to " +
                             std::to_string(expected - 1) + ")");
          }
        }
        if (options_.header) {
          check_width(fields, expected, line);
          for (ColumnState& c : columns_) c.name = std::string(fields[static_cast<size_t>(c.index)].text);
          continue;
        }
      }
      check_width(fields, expected, line);
      for (ColumnState& c : columns_) parse_field(c, fields[static_cast<size_t>(c.index)]);
    }
    CsvTable table;
    for (ColumnState& c : columns_) {
      const size_t count = c.bytes.size() / dtype_size(c.dtype);
      Tensor t = detail::make_host_tensor(Shape{static_cast<int64_t>(count)}, c.dtype);
      if (!c.bytes.empty()) std::memcpy(detail::host_bytes(t), c.bytes.data(), c.bytes.size());
      table.names.push_back(c.name);
      table.columns.push_back(std::move(t));
    }
    return table;
  }

 private:
  void validate(const std::vector<CsvColumn>& columns) {
    const std::string where = "read_csv(" + source_ + "): ";
    if (columns.empty()) throw ValueError(where + "record_defaults is empty; give one dtype or default per column");
    const char d = options_.field_delim;
    if (d == '\n' || d == '\r' || (d == '"' && options_.use_quote_delim)) {
      throw ValueError(where + "field_delim cannot be a newline" +
                       std::string(d == '"' ? " or the quote character while use_quote_delim is true" : ""));
    }
    const auto& select = options_.select_cols;
    if (!select.empty() && select.size() != columns.size()) {
      throw ValueError(where + "select_cols has " + std::to_string(select.size()) +
                       " indices but record_defaults has " + std::to_string(columns.size()) +
                       " entries; give one default per selected column");
    }
    for (size_t i = 0; i < select.size(); ++i) {
      if (select[i] < 0 || (i > 0 && select[i] <= select[i - 1])) {
        throw ValueError(where + "select_cols must be non-negative and strictly increasing, got " +
                         std::to_string(select[i]) + " at position " + std::to_string(i));
      }
    }
    for (size_t i = 0; i < columns.size(); ++i) {
      const CsvColumn& c = columns[i];
      ColumnState state{c.dtype, c.fill, select.empty() ? static_cast<int64_t>(i) : select[i], "", {}, {}};
      state.name = "column_" + std::to_string(state.index);
      if (!is_supported(c.dtype)) {
        throw ValueError(where + "record_defaults[" + std::to_string(i) + "] has dtype " +
                         std::string(dtype_name(c.dtype)) +
                         "; CSV columns can be float32, float64, int32, int64, uint8 or bool");
      }
      if (c.fill) {
        const double v = *c.fill;
        if (is_floating(c.dtype)) {
          append(state.fill_bytes, c.dtype, 0, v);
        } else {
          const auto [lo, hi] = int_range(c.dtype);
          if (!(v == std::floor(v) && v >= static_cast<double>(lo) && v <= static_cast<double>(hi))) {
            throw ValueError(where + "record_defaults[" + std::to_string(i) + "] = " + std::to_string(v) +
                             " is not a valid " + std::string(dtype_name(c.dtype)) + " default (integers " +
                             std::to_string(lo) + " to " + std::to_string(hi) + ")");
          }
          append(state.fill_bytes, c.dtype, static_cast<int64_t>(v), v);
        }
      }
      columns_.push_back(std::move(state));
    }
  }

  void check_width(const std::vector<Field>& fields, size_t expected, size_t line) const {
    if (fields.size() != expected) {
      throw ValueError(source_ + ": line " + std::to_string(line) + " has " + std::to_string(fields.size()) +
                       " fields, expected " + std::to_string(expected) +
                       (options_.select_cols.empty() ? " (one per record_defaults entry)" : " (as on the first line)"));
    }
  }

  [[noreturn]] void fail(const ColumnState& c, const Field& f, const std::string& what) const {
    throw ValueError(source_ + ": line " + std::to_string(f.line) + ", column '" + c.name + "' (index " +
                     std::to_string(c.index) + "): " + what);
  }

  void parse_field(ColumnState& c, const Field& f) {
    const std::string_view raw = f.text;
    if (raw.empty() || raw == options_.na_value) {
      if (!c.fill) {
        fail(c, f,
             std::string(raw.empty() ? "missing value" : "value " + quoted_value(raw) + " (the na_value)") +
                 " in a required " + std::string(dtype_name(c.dtype)) +
                 " column; give a default in record_defaults to fill it");
      }
      c.bytes.insert(c.bytes.end(), c.fill_bytes.begin(), c.fill_bytes.end());
      return;
    }
    std::string_view s = trim(raw);
    if (is_floating(c.dtype)) {
      append(c.bytes, c.dtype, 0, parse_float(c, f, s));
    } else if (c.dtype == DType::bool_) {
      append(c.bytes, c.dtype, parse_bool(c, f, s), 0.0);
    } else {
      append(c.bytes, c.dtype, parse_int(c, f, s), 0.0);
    }
  }

  int64_t parse_int(const ColumnState& c, const Field& f, std::string_view s) const {
    const std::string type(dtype_name(c.dtype));
    std::string_view digits = s;
    if (digits.size() > 1 && digits[0] == '+' && digits[1] != '-') digits.remove_prefix(1);
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    const auto [lo, hi] = int_range(c.dtype);
    if (ec == std::errc::result_out_of_range ||
        (ec == std::errc() && end == digits.data() + digits.size() && (value < lo || value > hi))) {
      fail(c, f,
           quoted_value(s) + " is out of range for " + type + " (" + std::to_string(lo) + " to " + std::to_string(hi) +
               ")");
    }
    if (ec != std::errc() || end != digits.data() + digits.size()) {
      fail(c, f, quoted_value(s) + " is not a valid " + type + " (expected a base-10 integer)");
    }
    return value;
  }

  static bool equals_ignore_case(std::string_view a, const char* b) {
    if (a.size() != std::strlen(b)) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
    }
    return true;
  }

  int64_t parse_bool(const ColumnState& c, const Field& f, std::string_view s) const {
    if (s == "1" || equals_ignore_case(s, "true")) return 1;
    if (s == "0" || equals_ignore_case(s, "false")) return 0;
    fail(c, f, quoted_value(s) + " is not a valid bool (expected 0, 1, true or false)");
  }

  double parse_float(const ColumnState& c, const Field& f, std::string_view s) const {
    std::string_view number = s;
    if (number.size() > 1 && number[0] == '+' && number[1] != '-' && number[1] != '+') number.remove_prefix(1);
    const char* first = number.data();
    const char* last = first + number.size();
    const std::string type(dtype_name(c.dtype));
    double value = 0.0;
    std::errc ec;
    const char* end;
    if (c.dtype == DType::float32) {
      float v = 0.0f;  // parsed in float32 directly: rounding through double could round twice
      const auto r = std::from_chars(first, last, v, std::chars_format::general);
      ec = r.ec;
      end = r.ptr;
      value = v;
    } else {
      const auto r = std::from_chars(first, last, value, std::chars_format::general);
      ec = r.ec;
      end = r.ptr;
    }
    if (ec == std::errc::result_out_of_range && end == last) {
      // Overflow is an error; underflow rounds to zero or a subnormal, as NumPy and strtod do.
      const std::string copy(number);
      errno = 0;
      const double v = c.dtype == DType::float32 ? static_cast<double>(std::strtof(copy.c_str(), nullptr))
                                                 : std::strtod(copy.c_str(), nullptr);
      if (std::isinf(v)) fail(c, f, quoted_value(s) + " is out of range for " + type);
      return v;
    }
    if (ec != std::errc() || end != last) {
      fail(c, f, quoted_value(s) + " is not a valid " + type + " (expected a number such as 1.5, -2e-3, inf or nan)");
    }
    return value;
  }

  const std::string& source_;
  const CsvOptions& options_;
  std::vector<ColumnState> columns_;
};

}  // namespace

CsvTable parse_csv(const char* text, size_t size, const std::string& source, const std::vector<CsvColumn>& columns,
                   const CsvOptions& options) {
  CsvParser parser(source, columns, options);
  const auto* bytes = reinterpret_cast<const uint8_t*>(text);
  if (detail::is_gzip(bytes, size)) {
    const std::vector<uint8_t> inflated = detail::gunzip(bytes, size, source);
    return parser.parse(reinterpret_cast<const char*>(inflated.data()), inflated.size());
  }
  return parser.parse(text, size);
}

CsvTable read_csv(const std::string& path, const std::vector<CsvColumn>& columns, const CsvOptions& options) {
  CsvParser check(path, columns, options);  // bad options are reported before the file is read
  const std::vector<uint8_t> bytes = detail::read_file_bytes(path);
  return parse_csv(reinterpret_cast<const char*>(bytes.data()), bytes.size(), path, columns, options);
}

}  // namespace pitfall::data
