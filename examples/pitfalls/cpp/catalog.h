// The pitfall catalog for C++ programs: the same shape as the Python catalog (python/pitfall/catalog.py).
//
// A program describes one entry (id, title, symptom, cause, fix, Keras code, public source), a
// `broken` and a `fixed` run (each returns a Run: a one-line setup, curves, named values, texts) and a
// `signature` (Checks on the two runs, with the numbers derived in the program). run_entry() runs both
// variants from the same engine state, prints them side by side as `pitfall run PNN` does and returns
// the exit status: 0 only when every broken check holds (reproduced) and every fixed check holds (fix
// works).
//
//   int main(int argc, char** argv) { return catalog::run_entry(entry(), argc, argv); }
//
// Kept to one header so that each program stays a single source file linking only the library.
#pragma once
#include <pitfall/pitfall.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace catalog {

// A number, an integer or a short text, printed as the Python catalog prints it.
struct Value {
  enum class Kind { number, integer, text } kind = Kind::text;
  double number = 0.0;
  long long integer = 0;
  std::string text;
  Value(double v) : kind(Kind::number), number(v) {}                  // NOLINT(google-explicit-constructor)
  Value(float v) : kind(Kind::number), number(v) {}                   // NOLINT(google-explicit-constructor)
  Value(int v) : kind(Kind::integer), integer(v) {}                   // NOLINT(google-explicit-constructor)
  Value(long v) : kind(Kind::integer), integer(v) {}                  // NOLINT(google-explicit-constructor)
  Value(long long v) : kind(Kind::integer), integer(v) {}             // NOLINT(google-explicit-constructor)
  Value(std::string v) : kind(Kind::text), text(std::move(v)) {}      // NOLINT(google-explicit-constructor)
  Value(const char* v) : kind(Kind::text), text(v) {}                 // NOLINT(google-explicit-constructor)
};

// Numbers with 6 significant digits (Python's f"{x:.6g}"), exact for integers and special values.
inline std::string fmt(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  return buffer;
}
inline std::string fmt(const Value& value) {
  switch (value.kind) {
    case Value::Kind::number: return fmt(value.number);
    case Value::Kind::integer: return std::to_string(value.integer);
    case Value::Kind::text: return value.text;
  }
  return value.text;
}

// What one variant did. Insertion order is kept: it is the order of the printed rows.
struct Run {
  std::string setup;
  std::vector<std::pair<std::string, std::vector<double>>> curves;  // name -> value per step/epoch
  std::vector<std::pair<std::string, Value>> values;                // name -> number or short text
  std::vector<std::pair<std::string, std::string>> texts;           // name -> long text (error messages)
  std::string x_label = "epoch";
  std::vector<std::string> warnings;  // the engine's warnings during the run (filled by the runner)
  std::string label;                  // "broken" | "fixed" (filled by the runner)

  void curve(const std::string& name, std::vector<double> points) { curves.emplace_back(name, std::move(points)); }
  void value(const std::string& name, Value v) { values.emplace_back(name, std::move(v)); }
  void text(const std::string& name, std::string t) { texts.emplace_back(name, std::move(t)); }

  // The value or curve `name`; a missing name is a bug in the program, reported as such.
  double number(const std::string& name) const {
    for (const auto& [key, v] : values) {
      if (key != name) continue;
      if (v.kind == Value::Kind::number) return v.number;
      if (v.kind == Value::Kind::integer) return static_cast<double>(v.integer);
      throw std::runtime_error("catalog: value '" + name + "' of the " + label + " run is text, not a number");
    }
    throw std::runtime_error("catalog: the " + label + " run has no value '" + name + "'");
  }
  // The value `name` as printed ("yes", "inf", "0.05").
  std::string shown(const std::string& name) const {
    for (const auto& [key, v] : values) {
      if (key == name) return fmt(v);
    }
    throw std::runtime_error("catalog: the " + label + " run has no value '" + name + "'");
  }
  const std::vector<double>& points(const std::string& name) const {
    for (const auto& [key, c] : curves) {
      if (key == name) return c;
    }
    throw std::runtime_error("catalog: the " + label + " run has no curve '" + name + "'");
  }
  bool warned_containing(const std::string& part) const {
    return std::any_of(warnings.begin(), warnings.end(),
                       [&](const std::string& w) { return w.find(part) != std::string::npos; });
  }
};

// One claim about one variant, the value measured, and whether it held.
struct Check {
  std::string variant;  // "broken" | "fixed"
  std::string claim;
  std::string measured;
  bool ok;
};
inline Check check(const std::string& variant, const std::string& claim, const Value& measured, bool ok) {
  if (variant != "broken" && variant != "fixed") {
    throw std::invalid_argument("check variant must be 'broken' or 'fixed', got '" + variant + "'");
  }
  return Check{variant, claim, fmt(measured), ok};
}

struct Entry {
  std::string id;       // "P07"
  std::string title;
  std::string symptom;  // what you see in Keras
  std::string cause;    // why it happens
  std::string fix;      // what to change
  std::string keras;    // the Keras code that shows it (documentation; not printed)
  std::string source;   // where it is documented publicly (documentation; not printed)
  std::function<Run(uint64_t seed)> broken;
  std::function<Run(uint64_t seed)> fixed;
  std::function<std::vector<Check>(const Run& broken, const Run& fixed)> signature;
};

// ---------------------------------------------------------------- helpers the programs share
// "ErrorType: message" of what `function` throws, "" when it does not throw.
inline std::string error_message(const std::function<void()>& function) {
  try {
    function();
  } catch (const pitfall::ShapeError& e) {
    return std::string("ShapeError: ") + e.what();
  } catch (const pitfall::DTypeError& e) {
    return std::string("DTypeError: ") + e.what();
  } catch (const pitfall::ValueError& e) {
    return std::string("ValueError: ") + e.what();
  } catch (const std::exception& e) {
    return std::string("Error: ") + e.what();
  }
  return "";
}

// A History's values for `name` ("loss", "accuracy", ...).
inline std::vector<double> curve_from_history(const pitfall::History& history, const std::string& name = "loss") {
  const auto found = history.history.find(name);
  return found == history.history.end() ? std::vector<double>{} : found->second;
}

inline double min_of(const std::vector<double>& values) {
  double low = INFINITY;
  for (double v : values) {
    if (std::isfinite(v)) low = std::min(low, v);
  }
  return low;
}

// ---------------------------------------------------------------- running and printing
namespace detail {

inline std::string wrap(const std::string& text, size_t width, size_t indent) {
  std::istringstream words(text);
  std::vector<std::string> lines;
  std::string word, line;
  while (words >> word) {
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      lines.push_back(line);
      line = word;
    } else {
      line = line.empty() ? word : line + " " + word;
    }
  }
  if (!line.empty()) lines.push_back(line);
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? "\n" + std::string(indent, ' ') : "") + lines[i];
  return out;
}

inline std::string strip(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\n");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\n") - first + 1);
}

inline std::string indent_lines(const std::string& text, const std::string& prefix) {
  std::string out;
  for (char c : text) out += c == '\n' ? "\n" + prefix : std::string(1, c);
  return out;
}

inline std::string pad(const std::string& text, size_t width) {
  return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

inline std::string curve_summary(const std::vector<double>& values) {
  if (values.empty()) return "-";
  const double low = min_of(values);
  return fmt(values.front()) + " -> " + fmt(values.back()) + " (min " + (std::isfinite(low) ? fmt(low) : "none finite") +
         ", " + std::to_string(values.size()) + " pts)";
}

// The state every variant starts from, as the Python runner sets it.
inline void reset_engine(uint64_t seed) {
  pitfall::clear_session();
  pitfall::set_floatx(pitfall::DType::float32);
  pitfall::reset_global_policy();
  pitfall::set_dtype_mode(pitfall::DTypeMode::warn);
  pitfall::set_random_seed(seed);
}

inline Run run_variant(const std::function<Run(uint64_t)>& variant, const std::string& label, uint64_t seed) {
  reset_engine(seed);
  std::vector<std::string> warnings;
  const pitfall::WarningHandler previous =
      pitfall::set_warning_handler([&warnings](const std::string& message) { warnings.push_back(message); });
  Run run;
  try {
    run = variant(seed);
  } catch (...) {
    pitfall::set_warning_handler(previous);
    reset_engine(seed);
    throw;
  }
  pitfall::set_warning_handler(previous);
  reset_engine(seed);
  run.label = label;
  run.warnings = std::move(warnings);
  return run;
}

template <class Key, class Item>
std::vector<Key> names_in_order(const std::vector<const Run*>& runs, std::vector<std::pair<Key, Item>> Run::*member) {
  std::vector<Key> names;
  for (const Run* run : runs) {
    for (const auto& [name, item] : run->*member) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  return names;
}

}  // namespace detail

struct Outcome {
  uint64_t seed = 0;
  Run broken, fixed;
  bool has_broken = false, has_fixed = false;
  std::vector<Check> checks;
  std::string error;  // what went wrong if the program itself failed

  bool all_hold(const std::string& variant) const {
    bool any = false;
    for (const Check& c : checks) {
      if (c.variant != variant) continue;
      any = true;
      if (!c.ok) return false;
    }
    return error.empty() && any;
  }
  bool reproduced() const { return all_hold("broken"); }
  bool fix_works() const { return all_hold("fixed"); }
  bool ok() const { return reproduced() && fix_works(); }
  std::string verdict() const {
    if (!error.empty()) return "error";
    return std::string(reproduced() ? "reproduced" : "not reproduced") + ", " +
           (fix_works() ? "fix works" : "fix does not work");
  }
};

// Runs broken and fixed with the same seed and measures the signature; a failing program is reported
// in the Outcome, never thrown.
inline Outcome run_pitfall(const Entry& entry, uint64_t seed) {
  Outcome outcome;
  outcome.seed = seed;
  try {
    outcome.broken = detail::run_variant(entry.broken, "broken", seed);
    outcome.has_broken = true;
    outcome.fixed = detail::run_variant(entry.fixed, "fixed", seed);
    outcome.has_fixed = true;
    outcome.checks = entry.signature(outcome.broken, outcome.fixed);
  } catch (const std::exception& e) {
    outcome.error = e.what();
  }
  return outcome;
}

// The side-by-side text, line for line as the Python catalog's format_outcome.
inline std::string format_outcome(const Entry& entry, const Outcome& outcome) {
  using detail::pad;
  std::string out = entry.id + "  " + entry.title + "   (seed " + std::to_string(outcome.seed) + ")\n";
  const std::pair<const char*, const std::string*> sections[] = {
      {"symptom:", &entry.symptom}, {"cause:", &entry.cause}, {"fix:", &entry.fix}};
  for (const auto& [name, text] : sections) {
    if (!text->empty()) out += "  " + pad(name, 9) + detail::wrap(*text, 88, 11) + "\n";
  }
  if (!outcome.has_broken) {
    return out + "  the example failed:\n    " + detail::indent_lines(detail::strip(outcome.error), "    ") + "\n";
  }
  std::vector<const Run*> runs{&outcome.broken};
  if (outcome.has_fixed) runs.push_back(&outcome.fixed);
  std::vector<std::vector<std::string>> rows{{"setup", outcome.broken.setup, outcome.has_fixed ? outcome.fixed.setup : "-"}};
  for (const std::string& name : detail::names_in_order(runs, &Run::curves)) {
    std::vector<std::string> row{name + " per " + runs[0]->x_label};
    for (const Run* run : runs) {
      const auto found = std::find_if(run->curves.begin(), run->curves.end(), [&](const auto& c) { return c.first == name; });
      row.push_back(detail::curve_summary(found == run->curves.end() ? std::vector<double>{} : found->second));
    }
    rows.push_back(row);
  }
  for (const std::string& name : detail::names_in_order(runs, &Run::values)) {
    std::vector<std::string> row{name};
    for (const Run* run : runs) {
      const auto found = std::find_if(run->values.begin(), run->values.end(), [&](const auto& v) { return v.first == name; });
      row.push_back(found == run->values.end() ? "-" : fmt(found->second));
    }
    rows.push_back(row);
  }
  size_t width = 0, column = 36;
  for (const auto& row : rows) {
    width = std::max(width, row[0].size() + 2);
    column = std::max(column, row[1].size() + 2);
  }
  out += "  " + pad("", width) + pad("broken", column) + "fixed\n";
  for (const auto& row : rows) out += "  " + pad(row[0], width) + pad(row[1], column) + (row.size() > 2 ? row[2] : "-") + "\n";
  for (const Run* run : runs) {
    for (const auto& [name, text] : run->texts) {
      out += "  " + run->label + " " + name + ":\n    " + detail::indent_lines(detail::strip(text), "    ") + "\n";
    }
    std::vector<std::string> seen;
    for (const std::string& w : run->warnings) {
      if (std::find(seen.begin(), seen.end(), w) != seen.end()) continue;
      seen.push_back(w);
      out += "  " + run->label + " warned: " + detail::wrap(w, 84, 4) + "\n";
    }
  }
  if (!outcome.checks.empty()) {
    out += "  signature:\n";
    for (const Check& c : outcome.checks) {
      out += std::string("    ") + (c.ok ? "ok  " : "FAIL") + " " + pad(c.variant, 7) + c.claim + ": " + c.measured + "\n";
    }
  }
  if (!outcome.error.empty()) {
    out += "  the example failed:\n    " + detail::indent_lines(detail::strip(outcome.error), "    ") + "\n";
  }
  return out + "  verdict: " + outcome.verdict() + "\n";
}

// main() of a pitfall program: `pitfall_p07_double_softmax [--seed N]`. Prints the outcome; the exit
// status is 0 only when the pitfall is reproduced and the fix works (2 for a bad command line).
inline int run_entry(const Entry& entry, int argc, char** argv) {
  uint64_t seed = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--seed" && i + 1 < argc) {
      char* end = nullptr;
      seed = std::strtoull(argv[++i], &end, 10);
      if (*end != '\0') {
        std::fprintf(stderr, "%s: --seed takes a non-negative integer, got '%s'\n", argv[0], argv[i]);
        return 2;
      }
    } else {
      std::fprintf(stderr, "usage: %s [--seed N]\n  runs %s (%s) broken and fixed and checks its signature\n",
                   argv[0], entry.id.c_str(), entry.title.c_str());
      return argument == "--help" || argument == "-h" ? 0 : 2;
    }
  }
  const Outcome outcome = run_pitfall(entry, seed);
  std::fputs(format_outcome(entry, outcome).c_str(), stdout);
  std::fflush(stdout);
  return outcome.ok() ? 0 : 1;
}

}  // namespace catalog
