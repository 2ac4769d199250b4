// Internal: the factory of each optimizer class in the defaults table (optim/<name>.cpp each register
// theirs). make_optimizer resolves the table row and the convention, then calls the factory.
#pragma once
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>

#include "pitfall/optim/optimizer.h"

namespace pitfall {

using OptimizerFactory =
    std::function<std::shared_ptr<Optimizer>(const OptimizerDefaults&, Convention, const Json& arguments)>;

// Each optimizer's .cpp registers its class for its table rows, once, at static initialization:
//   const bool registered = register_optimizer_class<Adam>({"Adam", "AdamW"});
bool register_optimizer_factory(std::initializer_list<const char*> class_names, OptimizerFactory factory);
template <class T>
bool register_optimizer_class(std::initializer_list<const char*> class_names) {
  return register_optimizer_factory(class_names, [](const OptimizerDefaults& row, Convention convention,
                                                    const Json& arguments) -> std::shared_ptr<Optimizer> {
    return std::make_shared<T>(row, convention, arguments);
  });
}

// The factory for a class name of the table (not LossScaleOptimizer, which wraps another optimizer).
OptimizerFactory optimizer_factory(const std::string& class_name);

}  // namespace pitfall
