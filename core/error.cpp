#include "pitfall/core/error.h"

#include <algorithm>
#include <cctype>

namespace pitfall {
namespace {

thread_local std::vector<const char*> op_stack;
thread_local std::vector<std::string> layer_stack;

std::string with_context(const std::string& message, const std::string& op, const std::string& layer) {
  std::string prefix;
  if (!layer.empty()) prefix += "layer '" + layer + "'";
  // Messages usually open with the op's own name ("add: shapes ..."); say it once.
  const std::string innermost = op.substr(op.rfind(' ') == std::string::npos ? 0 : op.rfind(' ') + 1);
  const bool named = !innermost.empty() && message.rfind(innermost, 0) == 0;
  if (!op.empty() && !(named && op == innermost)) {
    prefix += (prefix.empty() ? "" : ", ") + std::string("op '") + op + "'";
  }
  return prefix.empty() ? message : prefix + ": " + message;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  // Optimal string alignment: a swap of two neighbours ("rleu" -> "relu") is one edit.
  auto same = [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  };
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (same(a[i - 1], b[j - 1]) ? 0 : 1)});
      if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) && same(a[i - 2], b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

Error::Error(ErrorKind kind, const std::string& message)
    : std::runtime_error(with_context(message, current_op_chain(), current_layer_path())),
      kind_(kind),
      message_(message),
      op_(current_op_chain()),
      layer_(current_layer_path()) {}

OpScope::OpScope(const char* op) { op_stack.push_back(op); }
OpScope::~OpScope() { op_stack.pop_back(); }

LayerScope::LayerScope(std::string layer) { layer_stack.push_back(std::move(layer)); }
LayerScope::~LayerScope() { layer_stack.pop_back(); }

LayerPathScope::LayerPathScope(const std::string& path) : saved_(std::move(layer_stack)) {
  layer_stack.clear();
  if (!path.empty()) layer_stack.push_back(path);
}
LayerPathScope::~LayerPathScope() { layer_stack = std::move(saved_); }

std::string current_op_chain() {
  std::string out;
  for (const char* op : op_stack) {
    if (!out.empty()) out += " > ";
    out += op;
  }
  return out;
}

std::string current_layer_path() {
  std::string out;
  for (const auto& layer : layer_stack) {
    if (!out.empty()) out += "/";
    out += layer;
  }
  return out;
}

void throw_error(ErrorKind kind, const std::string& message) {
  switch (kind) {
    case ErrorKind::value: throw ValueError(message);
    case ErrorKind::shape: throw ShapeError(message);
    case ErrorKind::dtype: throw DTypeError(message);
    case ErrorKind::axis: throw AxisError(message);
    case ErrorKind::index: throw IndexError(message);
    case ErrorKind::numeric: throw NumericError(message);
    case ErrorKind::not_implemented: throw NotImplementedError(message);
    case ErrorKind::runtime: break;
  }
  throw RuntimeError(message);
}

std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates) {
  if (candidates.empty()) return "";
  size_t best = SIZE_MAX;
  for (const auto& c : candidates) best = std::min(best, edit_distance(name, c));
  // Close enough to be a typo: a third of the name, at least 2 edits.
  const size_t limit = std::max<size_t>(2, name.size() / 3);
  std::vector<std::string> close;
  if (best <= limit) {
    for (const auto& c : candidates) {
      if (edit_distance(name, c) == best && close.size() < 3) close.push_back("'" + c + "'");
    }
  }
  if (!close.empty()) {
    std::string out = "did you mean ";
    for (size_t i = 0; i < close.size(); ++i) out += (i == 0 ? "" : (i + 1 == close.size() ? " or " : ", ")) + close[i];
    return out + "?";
  }
  std::string out = "known names: ";
  for (size_t i = 0; i < candidates.size(); ++i) out += (i ? ", " : "") + candidates[i];
  return out;
}

}  // namespace pitfall
