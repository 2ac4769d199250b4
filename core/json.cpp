// JSON parse/dump for configs and saved-model headers.
//
// Numbers keep their kind: an integer literal parses to int64 and a literal with '.', 'e' or 'E' to
// double, and dump() writes doubles in the shortest form that parses back to the same bits (always
// with a '.' or an exponent, so 1.0 stays a double through a round trip). NaN and infinities are
// rejected both ways: strict JSON (and Keras's json configs) has no spelling for them.
#include "pitfall/core/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "pitfall/core/error.h"

namespace pitfall {

namespace {

// A short excerpt of a value for messages; never throws (a NaN inside would make dump() throw).
std::string excerpt(const Json& value) {
  try {
    const std::string text = value.dump();
    return text.size() > 80 ? text.substr(0, 77) + "..." : text;
  } catch (const Error&) {
    return "<" + value.type_name() + " holding a non-finite float>";
  }
}

[[noreturn]] void type_error(const char* expected, const Json& actual, const char* accessor) {
  throw ValueError(std::string("Json::") + accessor + ": expected " + expected + ", got " + actual.type_name() +
                   " " + excerpt(actual));
}

}  // namespace

// ---------------------------------------------------------------- typed access

std::string Json::type_name() const {
  switch (value_.index()) {
    case 0: return "null";
    case 1: return "bool";
    case 2: return "int";
    case 3: return "float";
    case 4: return "string";
    case 5: return "array";
    default: return "object";
  }
}

bool Json::as_bool() const {
  if (!is_bool()) type_error("a bool", *this, "as_bool");
  return std::get<bool>(value_);
}

int64_t Json::as_int() const {
  if (is_int()) return std::get<int64_t>(value_);
  if (std::holds_alternative<double>(value_)) {
    const double d = std::get<double>(value_);
    // 2^63 itself is out of range, hence the strict upper comparison.
    if (std::isfinite(d) && d == std::floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
      return static_cast<int64_t>(d);
    }
    type_error("an int (or an integral float)", *this, "as_int");
  }
  type_error("an int", *this, "as_int");
}

double Json::as_double() const {
  if (is_int()) return static_cast<double>(std::get<int64_t>(value_));
  if (std::holds_alternative<double>(value_)) return std::get<double>(value_);
  type_error("a number", *this, "as_double");
}

const std::string& Json::as_string() const {
  if (!is_string()) type_error("a string", *this, "as_string");
  return std::get<std::string>(value_);
}

const Json::Array& Json::as_array() const {
  if (!is_array()) type_error("an array", *this, "as_array");
  return std::get<Array>(value_);
}

Json::Array& Json::as_array() {
  if (!is_array()) type_error("an array", *this, "as_array");
  return std::get<Array>(value_);
}

const Json::Object& Json::as_object() const {
  if (!is_object()) type_error("an object", *this, "as_object");
  return std::get<Object>(value_);
}

Json::Object& Json::as_object() {
  if (!is_object()) type_error("an object", *this, "as_object");
  return std::get<Object>(value_);
}

std::vector<int64_t> Json::as_int_vector() const {
  if (!is_array()) type_error("an array of ints", *this, "as_int_vector");
  std::vector<int64_t> out;
  const Array& items = std::get<Array>(value_);
  out.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    try {
      out.push_back(items[i].as_int());
    } catch (const ValueError&) {
      throw ValueError("Json::as_int_vector: element " + std::to_string(i) + " of " + excerpt(*this) +
                       " is " + items[i].type_name() + ", expected an int");
    }
  }
  return out;
}

Json& Json::operator[](const std::string& key) {
  if (is_null()) value_ = Object{};
  if (!is_object()) {
    throw ValueError("Json::operator[]: cannot index " + type_name() + " with key '" + key +
                     "': expected an object (or null, which becomes one)");
  }
  return std::get<Object>(value_)[key];
}

const Json& Json::at(const std::string& key) const {
  if (!is_object()) {
    throw ValueError("Json::at: cannot look up key '" + key + "' in " + type_name() + ": expected an object");
  }
  const Object& object = std::get<Object>(value_);
  const auto it = object.find(key);
  if (it == object.end()) {
    std::string keys;
    for (const auto& [k, v] : object) keys += (keys.empty() ? "'" : ", '") + k + "'";
    throw ValueError("Json::at: missing key '" + key + "'; the object has " +
                     (keys.empty() ? std::string("no keys") : "keys " + keys));
  }
  return it->second;
}

bool Json::contains(const std::string& key) const {
  return is_object() && std::get<Object>(value_).count(key) > 0;
}

Json Json::get(const std::string& key, Json fallback) const {
  if (is_null()) return fallback;
  if (!is_object()) {
    throw ValueError("Json::get: cannot look up key '" + key + "' in " + type_name() + ": expected an object");
  }
  const Object& object = std::get<Object>(value_);
  const auto it = object.find(key);
  if (it == object.end() || it->second.is_null()) return fallback;
  return it->second;
}

// ---------------------------------------------------------------- dump

namespace {

void dump_string(const std::string& s, std::string& out) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;  // UTF-8 passes through unchanged
        }
    }
  }
  out += '"';
}

void dump_double(double d, std::string& out) {
  if (!std::isfinite(d)) {
    throw ValueError(std::string("Json::dump: ") + (std::isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity") +
                     " is not valid JSON (Keras configs are strict JSON); replace it with a finite number or null");
  }
  // Shortest representation that round-trips (at most 17 significant digits).
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), d);
  std::string text(buf, result.ptr);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";  // keep it a float when parsed back
  out += text;
}

void dump_value(const Json& value, int indent, int depth, std::string& out) {
  const auto newline = [&](int level) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent) * level, ' ');
  };
  if (value.is_null()) {
    out += "null";
  } else if (value.is_bool()) {
    out += value.as_bool() ? "true" : "false";
  } else if (value.is_int()) {
    out += std::to_string(value.as_int());
  } else if (value.is_number()) {
    dump_double(value.as_double(), out);
  } else if (value.is_string()) {
    dump_string(value.as_string(), out);
  } else if (value.is_array()) {
    const auto& items = value.as_array();
    if (items.empty()) {
      out += "[]";
      return;
    }
    out += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += ',';
      newline(depth + 1);
      dump_value(items[i], indent, depth + 1, out);
    }
    newline(depth);
    out += ']';
  } else {
    const auto& object = value.as_object();
    if (object.empty()) {
      out += "{}";
      return;
    }
    out += '{';
    bool first = true;
    for (const auto& [key, item] : object) {
      if (!first) out += ',';
      first = false;
      newline(depth + 1);
      dump_string(key, out);
      out += indent < 0 ? ":" : ": ";
      dump_value(item, indent, depth + 1, out);
    }
    newline(depth);
    out += '}';
  }
}

}  // namespace

std::string Json::dump(int indent) const {
  std::string out;
  dump_value(*this, indent, 0, out);
  return out;
}

// ---------------------------------------------------------------- parse

namespace {

class Parser {
 public:
  explicit Parser(const std::string& text) : text_(text) {}

  Json parse_document() {
    skip_whitespace();
    Json value = parse_value(0);
    skip_whitespace();
    if (pos_ != text_.size()) fail("the end of the input after the top-level value");
    return value;
  }

 private:
  static constexpr int kMaxDepth = 512;  // guards the recursion against hostile input

  [[noreturn]] void fail(const std::string& expected) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    std::string got;
    if (pos_ >= text_.size()) {
      got = "the end of the input";
    } else {
      const unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c < 0x20 || c >= 0x7f) {
        char buf[16];
        std::snprintf(buf, sizeof(buf), "byte 0x%02x", static_cast<unsigned>(c));
        got = buf;
      } else {
        got = std::string("'") + static_cast<char>(c) + "'";
      }
    }
    throw ValueError("Json::parse: expected " + expected + " at line " + std::to_string(line) + ", column " +
                     std::to_string(column) + ", got " + got);
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }

  void skip_whitespace() {
    while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  void expect_literal(const char* literal, const char* what) {
    const size_t n = std::strlen(literal);
    if (text_.compare(pos_, n, literal) != 0) fail(what);
    pos_ += n;
  }

  Json parse_value(int depth) {
    if (depth > kMaxDepth) fail("at most " + std::to_string(kMaxDepth) + " levels of nesting");
    switch (peek()) {
      case '{': return parse_object(depth);
      case '[': return parse_array(depth);
      case '"': return Json(parse_string());
      case 't': expect_literal("true", "a value ('true')"); return Json(true);
      case 'f': expect_literal("false", "a value ('false')"); return Json(false);
      case 'n': expect_literal("null", "a value ('null')"); return Json(nullptr);
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return parse_number();
        if (peek() == 'N' || peek() == 'I') {
          fail("a value (NaN and Infinity are not JSON; write a finite number or null)");
        }
        fail("a value (object, array, string, number, true, false or null)");
    }
  }

  Json parse_object(int depth) {
    ++pos_;  // '{'
    Json::Object object;
    skip_whitespace();
    if (peek() == '}') {
      ++pos_;
      return Json(std::move(object));
    }
    while (true) {
      skip_whitespace();
      if (peek() != '"') fail("a string key in double quotes");
      std::string key = parse_string();
      skip_whitespace();
      if (peek() != ':') fail("':' after the object key \"" + key + "\"");
      ++pos_;
      skip_whitespace();
      object[std::move(key)] = parse_value(depth + 1);  // a repeated key keeps the last value, as Python does
      skip_whitespace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return Json(std::move(object));
      }
      fail("',' or '}' after an object member");
    }
  }

  Json parse_array(int depth) {
    ++pos_;  // '['
    Json::Array items;
    skip_whitespace();
    if (peek() == ']') {
      ++pos_;
      return Json(std::move(items));
    }
    while (true) {
      skip_whitespace();
      items.push_back(parse_value(depth + 1));
      skip_whitespace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return Json(std::move(items));
      }
      fail("',' or ']' after an array element");
    }
  }

  Json parse_number() {
    const size_t start = pos_;
    bool is_float = false;
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      ++pos_;
      if (peek() >= '0' && peek() <= '9') fail("'.', 'e' or the end of the number after a leading 0");
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9') ++pos_;
    } else {
      fail("a digit after '-'");
    }
    if (peek() == '.') {
      is_float = true;
      ++pos_;
      if (!(peek() >= '0' && peek() <= '9')) fail("a digit after the decimal point");
      while (peek() >= '0' && peek() <= '9') ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      is_float = true;
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!(peek() >= '0' && peek() <= '9')) fail("a digit in the exponent");
      while (peek() >= '0' && peek() <= '9') ++pos_;
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    if (!is_float) {
      int64_t value = 0;
      const auto result = std::from_chars(first, last, value);
      if (result.ec == std::errc() && result.ptr == last) return Json(value);
      // Beyond int64: keep the magnitude as a double rather than failing (Python would give a big int).
    }
    double value = 0.0;
    const auto result = std::from_chars(first, last, value);
    if (result.ec == std::errc::result_out_of_range) {
      // Overflow to infinity has no JSON spelling to dump back; underflow rounds to zero as strtod does.
      const double approx = std::strtod(std::string(first, last).c_str(), nullptr);
      if (!std::isfinite(approx)) {
        pos_ = start;
        fail("a number within the float64 range");
      }
      return Json(approx);
    }
    if (result.ec != std::errc() || result.ptr != last) {
      pos_ = start;
      fail("a number");
    }
    return Json(value);
  }

  unsigned parse_hex4() {
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = peek();
      unsigned digit;
      if (c >= '0' && c <= '9') {
        digit = static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        digit = static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        digit = static_cast<unsigned>(c - 'A' + 10);
      } else {
        fail("4 hex digits after \\u");
      }
      code = code * 16 + digit;
      ++pos_;
    }
    return code;
  }

  static void append_utf8(unsigned code, std::string& out) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (at_end()) fail("a closing '\"' for the string");
      const char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) fail("a string character (control characters must be escaped)");
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      ++pos_;  // backslash
      const char escape = peek();
      switch (escape) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          ++pos_;
          unsigned code = parse_hex4();
          if (code >= 0xD800 && code <= 0xDBFF) {
            // A high surrogate must be followed by an escaped low surrogate: together one code point.
            if (!(peek() == '\\' && pos_ + 1 < text_.size() && text_[pos_ + 1] == 'u')) {
              fail("a \\u low surrogate (DC00-DFFF) after the high surrogate");
            }
            pos_ += 2;
            const unsigned low = parse_hex4();
            if (low < 0xDC00 || low > 0xDFFF) {
              pos_ -= 4;
              fail("a low surrogate (DC00-DFFF) after the high surrogate");
            }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          } else if (code >= 0xDC00 && code <= 0xDFFF) {
            pos_ -= 4;
            fail("a high surrogate (D800-DBFF) before a low surrogate");
          }
          append_utf8(code, out);
          continue;  // parse_hex4 advanced past the digits
        }
        default: fail("an escape character (one of \" \\ / b f n r t u) after '\\'");
      }
      ++pos_;
    }
  }

  const std::string& text_;
  size_t pos_ = 0;
};

}  // namespace

Json Json::parse(const std::string& text) { return Parser(text).parse_document(); }

std::string python_float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == 0.0) return std::signbit(value) ? "-0.0" : "0.0";
  // Shortest round-trip digits, then laid out by Python's rule: exponent form when the decimal
  // point sits more than 4 places left of the first digit or more than 16 places right of it.
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  std::string text(buf, result.ptr);
  std::string sign;
  if (text[0] == '-') {
    sign = "-";
    text.erase(0, 1);
  }
  const size_t e = text.find('e');
  const int exponent = std::stoi(text.substr(e + 1));
  std::string digits = text.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int decimal_point = exponent + 1;  // digits before the decimal point
  const int n = static_cast<int>(digits.size());
  if (decimal_point <= -4 || decimal_point > 16) {
    std::string mantissa = digits.substr(0, 1) + (n > 1 ? "." + digits.substr(1) : "");
    std::string exp_digits = std::to_string(std::abs(exponent));
    if (exp_digits.size() < 2) exp_digits = "0" + exp_digits;
    return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + exp_digits;
  }
  if (decimal_point <= 0) return sign + "0." + std::string(static_cast<size_t>(-decimal_point), '0') + digits;
  if (decimal_point >= n) return sign + digits + std::string(static_cast<size_t>(decimal_point - n), '0') + ".0";
  return sign + digits.substr(0, static_cast<size_t>(decimal_point)) + "." +
         digits.substr(static_cast<size_t>(decimal_point));
}

}  // namespace pitfall
