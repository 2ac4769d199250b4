// Warnings the engine gives (dtype casts, a softmax fed to a from_logits loss, ...). C++ prints them
// to stderr; the Python module routes them to warnings.warn.
#pragma once
#include <functional>
#include <string>

namespace pitfall {

void warn(const std::string& message);
// Warns once per `key` for the process (e.g. "softmax-from-logits:dense_2").
void warn_once(const std::string& key, const std::string& message);
// Replaces the handler (nullptr restores stderr); returns the previous one.
using WarningHandler = std::function<void(const std::string&)>;
WarningHandler set_warning_handler(WarningHandler handler);
void reset_warnings_once();  // forgets which keys warned (tests, clear_session)
// Whether warn_once(key, ...) has already warned: lets a caller skip building an expensive message.
bool has_warned(const std::string& key);

}  // namespace pitfall
