// The table of ops the engine defines (name, differentiable, composite). Tests enumerate it.
#pragma once
#include "pitfall/core/registry.h"

namespace pitfall {
void define_builtin_ops(OpRegistry& registry);
}
