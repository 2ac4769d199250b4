// Runs every registered gradcheck case, and fails for any differentiable op without one.
#include <doctest/doctest.h>

#include <set>

#include "gradcheck_cases.h"

namespace pitfall::testing {

std::vector<GradcheckCase>& gradcheck_cases() {
  static std::vector<GradcheckCase> cases;
  return cases;
}

}  // namespace pitfall::testing

using namespace pitfall;
using namespace pitfall::testing;

TEST_CASE("every differentiable op in the registry has a gradcheck case") {
  std::set<std::string> covered;
  for (const auto& c : gradcheck_cases()) covered.insert(c.op);
  std::vector<std::string> missing;
  for (const auto& info : OpRegistry::instance().ops()) {
    if (info.differentiable && !covered.count(info.name)) missing.push_back(info.name);
  }
  std::string list;
  for (const auto& m : missing) list += m + " ";
  INFO("differentiable ops without a gradcheck case: " << list);
  CHECK(missing.empty());
  // Cases must name real ops (a typo would silently cover nothing).
  for (const auto& name : covered) {
    INFO("gradcheck case for unknown op " << name);
    CHECK(OpRegistry::instance().find(name) != nullptr);
  }
}

TEST_CASE("gradcheck: analytic gradients match central differences in float64 (<= 1e-6)") {
  REQUIRE(!gradcheck_cases().empty());
  for (const auto& c : gradcheck_cases()) {
    SUBCASE((c.op + " / " + c.label).c_str()) {
      const GradcheckResult result = gradcheck(c.fn, c.inputs());
      INFO(c.op << " [" << c.label << "]: max error " << result.max_error << " at " << result.report);
      CHECK(result.ok);
    }
  }
}

TEST_CASE("gradcheck detects a wrong gradient") {
  // A deliberately wrong backward must be caught, or the suite above proves nothing.
  auto wrong_square = [](const std::vector<Tensor>& in) {
    Tensor x = in[0];
    Tensor out = multiply(x.detach(), x.detach());
    if (needs_record({x})) {
      record(out, "wrong_square", {x}, [x](const Tensor& g) { return std::vector<Tensor>{multiply(g, x.detach())}; });
    }
    return out;
  };
  const GradcheckResult result = gradcheck(wrong_square, {pitfall::testing::uniform64({5}, 0.5, 1.5)});
  CHECK_FALSE(result.ok);
  CHECK(result.max_error > 0.1);
}
