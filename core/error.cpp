#include "pitfall/core/error.h"

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

}  // namespace pitfall
