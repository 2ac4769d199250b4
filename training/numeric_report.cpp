#include "pitfall/training/numeric_report.h"

#include "pitfall/core/registry.h"

namespace pitfall {

std::string training_step_prefix(int64_t step, int epoch, int64_t batch) {
  return "training step " + std::to_string(step) + " (epoch " + std::to_string(epoch) + ", batch " +
         std::to_string(batch) + "): ";
}

NumericReport make_numeric_report(const Error& error, int64_t step, int epoch, int64_t batch) {
  NumericReport report;
  report.step = step;
  report.epoch = epoch;
  report.batch = batch;
  const std::string text = error.what();
  const NumericFailure* failure = last_numeric_failure();
  // The record is this error's when the error's text still holds the failure's own message (layers
  // the error passed through restate it with a prefix; a different NumericError would not hold it).
  if (failure && text.find(failure->message) == std::string::npos) failure = nullptr;
  // The text as raised names the full layer path; the restated one only the outer layers.
  report.message = training_step_prefix(step, epoch, batch) + (failure ? failure->text : text);
  if (failure) {
    report.layer = failure->layer;
    report.op = failure->op;
    report.phase = failure->phase.empty() ? "forward" : failure->phase;
    report.cause = failure->message;
  } else {
    report.layer = error.layer();
    report.op = error.op();
    report.phase = report.op.rfind("backward of ", 0) == 0 ? "backward" : "forward";
    report.cause = error.message();
  }
  return report;
}

std::string NumericReport::str() const {
  std::string where;
  if (!layer.empty()) where += "layer '" + layer + "'";
  if (!op.empty()) where += (where.empty() ? "" : ", ") + std::string("op '") + op + "'";
  if (where.empty()) where = "an op outside any layer";
  std::string prefix = training_step_prefix(step, epoch, batch);
  prefix.resize(prefix.size() - 2);  // without ": "
  return "CheckNumerics: " + prefix + ", " + phase + " pass: " + where + " produced the first non-finite value: " +
         cause;
}

}  // namespace pitfall
