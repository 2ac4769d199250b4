#include "pitfall/core/conventions.h"

#include "pitfall/core/error.h"

namespace pitfall {

Convention parse_convention(const std::string& name) {
  if (name == "keras") return Convention::keras;
  if (name == "torch") return Convention::torch;
  throw ValueError("unknown convention '" + name +
                   "': expected \"keras\" (Keras 3 defaults and update rules) or \"torch\" (PyTorch's)");
}

std::string convention_name(Convention convention) {
  return convention == Convention::keras ? "keras" : "torch";
}

}  // namespace pitfall
