// pitfall: the public C++ API. Include this one header.
#pragma once
#include "pitfall/core/autograd.h"
#include "pitfall/core/device.h"
#include "pitfall/core/dtype.h"
#include "pitfall/core/error.h"
#include "pitfall/core/gradcheck.h"
#include "pitfall/core/ops.h"
#include "pitfall/core/random.h"
#include "pitfall/core/registry.h"
#include "pitfall/core/shape.h"
#include "pitfall/core/tensor.h"
#include "pitfall/core/threadpool.h"
