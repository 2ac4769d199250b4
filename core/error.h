// Errors that carry context: what went wrong, where (layer path, op), and how to fix it.
//
// Every error thrown by the engine derives from pitfall::Error. At construction it captures the
// current context (the layer path pushed by LayerScope and the op pushed by OpScope), so an error
// raised deep inside a kernel still names the layer and op the user wrote. Python maps the kinds to
// ValueError / TypeError / IndexError / FloatingPointError / NotImplementedError with the same text.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

namespace pitfall {

enum class ErrorKind { value, shape, dtype, axis, index, numeric, not_implemented, runtime };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message);
  ErrorKind kind() const { return kind_; }
  // The bare message, without the context prefix.
  const std::string& message() const { return message_; }
  // Innermost op being executed when the error was raised ("" outside ops).
  const std::string& op() const { return op_; }
  // Layer path ("model/dense_1"), empty when raised outside a layer.
  const std::string& layer() const { return layer_; }

 private:
  ErrorKind kind_;
  std::string message_, op_, layer_;
};

struct ValueError : Error { explicit ValueError(const std::string& m) : Error(ErrorKind::value, m) {} };
struct ShapeError : Error { explicit ShapeError(const std::string& m) : Error(ErrorKind::shape, m) {} };
struct DTypeError : Error { explicit DTypeError(const std::string& m) : Error(ErrorKind::dtype, m) {} };
struct AxisError : Error { explicit AxisError(const std::string& m) : Error(ErrorKind::axis, m) {} };
struct IndexError : Error { explicit IndexError(const std::string& m) : Error(ErrorKind::index, m) {} };
struct NumericError : Error { explicit NumericError(const std::string& m) : Error(ErrorKind::numeric, m) {} };
struct NotImplementedError : Error {
  explicit NotImplementedError(const std::string& m) : Error(ErrorKind::not_implemented, m) {}
};
struct RuntimeError : Error { explicit RuntimeError(const std::string& m) : Error(ErrorKind::runtime, m) {} };

// RAII: marks the op being executed on this thread (nested ops form a chain "softmax > exp").
class OpScope {
 public:
  explicit OpScope(const char* op);
  ~OpScope();
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;
};

// RAII: pushes a layer name onto this thread's layer path ("model/dense_1").
class LayerScope {
 public:
  explicit LayerScope(std::string layer);
  ~LayerScope();
  LayerScope(const LayerScope&) = delete;
  LayerScope& operator=(const LayerScope&) = delete;
};

// RAII: replaces this thread's whole layer path with `path` ("model/dense_1", or "" for none) while
// alive, then restores the previous one. Autograd runs each recorded op's backward under the path
// the op was recorded in, so an error raised in the backward pass names the layer the user wrote.
class LayerPathScope {
 public:
  explicit LayerPathScope(const std::string& path);
  ~LayerPathScope();
  LayerPathScope(const LayerPathScope&) = delete;
  LayerPathScope& operator=(const LayerPathScope&) = delete;

 private:
  std::vector<std::string> saved_;
};

// Throws a new error of `kind` with `message` (used to add context to an error and rethrow it as
// the same Python exception type).
[[noreturn]] void throw_error(ErrorKind kind, const std::string& message);

// "did you mean 'x'?" with the candidates closest to `name` by edit distance (case-insensitive; a
// swap of two neighbours is one edit), or "known names: ..." when none is close enough to be a typo.
std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates);

std::string current_op_chain();
std::string current_layer_path();

}  // namespace pitfall
