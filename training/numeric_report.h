// Where a training step first produced an inf/NaN: the step, the pass, the layer and the op.
//
// Model::fit builds one when a train step raises NumericError (check numerics, see
// Model::set_check_numerics) and hands it to the callbacks (Callback::on_numeric_error); the
// CheckNumerics callback keeps it. Steps are counted as Keras prints them:
//   step  = 1-based index of the train step among all steps of this fit() call (across epochs),
//   epoch = 1-based epoch ("Epoch 1/3"), batch = 1-based index of the batch within its epoch.
#pragma once
#include <cstdint>
#include <string>

#include "pitfall/core/error.h"

namespace pitfall {

struct NumericReport {
  int64_t step = 0;
  int epoch = 0;
  int64_t batch = 0;
  std::string phase;    // "forward", "backward" or "optimizer"
  std::string layer;    // layer path ("sequential/dense_3"); "" outside layers (loss, optimizer)
  std::string op;       // op chain, innermost last ("matmul", "backward of sqrt > divide")
  // The text fit raises: "training step 13 (epoch 1, batch 13): " + the error's text as the op
  // raised it ("layer 'sequential/dense_3': matmul produced a non-finite value ...", the full layer
  // path and op chain; layers it passed on the way up restate it less precisely).
  std::string message;
  std::string cause;  // the failing op's own explanation (the error without its layer/op prefix)
  // One line for logs: "CheckNumerics: training step 13 (epoch 1, batch 13), backward pass: layer
  // 'sequential/dense_3', op 'backward of sqrt > divide' produced the first non-finite value: ...".
  std::string str() const;
};

// "training step 13 (epoch 1, batch 13): "
std::string training_step_prefix(int64_t step, int epoch, int64_t batch);

// A report for `error` raised by train step `step` (epoch, batch as above). The layer, op and pass
// come from the failure check numerics recorded on this thread (last_numeric_failure(), which the
// step must clear before it runs); a NumericError raised otherwise falls back on the error's own
// layer and op.
NumericReport make_numeric_report(const Error& error, int64_t step, int epoch, int64_t batch);

}  // namespace pitfall
