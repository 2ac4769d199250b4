#include "pitfall/training/defaults_table.h"

#include <vector>

#include "pitfall/layers/conventions.h"
#include "pitfall/optim/defaults.h"

namespace pitfall {

std::string format_defaults() {
  std::string out = format_optimizer_defaults();
  out += "\n" + table_line("LAYERS", "keras", "torch") + "\n";
  // The layer table has one row per convention; pair them up side by side.
  const auto rows = layer_convention_rows();
  std::vector<bool> used(rows.size(), false);
  std::string component;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (used[i] || rows[i].convention != "keras") continue;
    std::string torch_value = "-";
    for (size_t j = 0; j < rows.size(); ++j) {
      if (!used[j] && rows[j].convention == "torch" && rows[j].component == rows[i].component &&
          rows[j].setting == rows[i].setting) {
        torch_value = rows[j].value;
        used[j] = true;
        break;
      }
    }
    used[i] = true;
    if (rows[i].component != component) {
      component = rows[i].component;
      out += component + "\n";
    }
    out += table_line("  " + rows[i].setting, rows[i].value, torch_value);
  }
  return out;
}

}  // namespace pitfall
