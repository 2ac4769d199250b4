#include "pitfall/layers/spatial_arguments.h"

#include <cctype>

#include "pitfall/core/error.h"

namespace pitfall {

namespace {

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool is_count(const Json& value) { return value.is_int() && value.as_int() >= 0; }

}  // namespace

Argument layout_data_format_argument() {
  return Argument("data_format", ArgKind::string)
      .allow_none()
      .checked([](const Json& value) -> std::string {
        const std::string text = lower(value.as_string());
        return text == "channels_last" || text == "channels_first" ? "" : "\"channels_last\" or \"channels_first\"";
      })
      .normalized([](const Json& value) { return value.is_null() ? Json("channels_last") : Json(lower(value.as_string())); })
      .described("the order of the dimensions: channels_last (batch, ..., channels) or channels_first "
                 "(batch, channels, ...); None means channels_last");
}

DataFormat data_format_of(const Arguments& arguments) {
  return arguments.text("data_format") == "channels_first" ? DataFormat::channels_first : DataFormat::channels_last;
}

std::vector<int64_t> spatial_axes(DataFormat format, int64_t rank) {
  std::vector<int64_t> axes;
  const int64_t first = format == DataFormat::channels_last ? 1 : 2;
  for (int64_t a = first; a < first + rank - 2; ++a) axes.push_back(a);
  return axes;
}

int64_t channels_axis(DataFormat format, int64_t rank) { return format == DataFormat::channels_last ? rank - 1 : 1; }

std::string spatial_layout(DataFormat format, int64_t rank) {
  const bool last = format == DataFormat::channels_last;
  if (rank == 3) return last ? "(batch, steps, features)" : "(batch, features, steps)";
  return last ? "(batch, rows, cols, channels)" : "(batch, channels, rows, cols)";
}

void check_input_rank(const std::string& where, const Shape& shape, int64_t rank, const std::string& layout) {
  if (static_cast<int64_t>(shape.size()) == rank) return;
  throw ShapeError(where + " expects a " + std::to_string(rank) + "D input " + layout + ", got shape " +
                   shape_str(shape) + " (" + std::to_string(shape.size()) + "D)");
}

Argument side_pairs_argument(const std::string& name, Json default_value, const std::string& doc) {
  const std::string allowed =
      "a non-negative int, a pair of them (rows, columns) or a pair of pairs ((top, bottom), (left, right))";
  return Argument(name, ArgKind::json, std::move(default_value))
      .checked([allowed](const Json& value) -> std::string {
        if (is_count(value)) return "";
        if (!value.is_array() || value.as_array().size() != 2) return allowed;
        for (const Json& side : value.as_array()) {
          if (is_count(side)) continue;
          if (!side.is_array() || side.as_array().size() != 2 || !is_count(side.as_array()[0]) ||
              !is_count(side.as_array()[1])) {
            return allowed;
          }
        }
        return "";
      })
      .normalized([](const Json& value) {
        const auto pair = [](const Json& side) {
          return side.is_array() ? Json::from_vector(side.as_int_vector())
                                 : Json::from_vector(std::vector<int64_t>{side.as_int(), side.as_int()});
        };
        if (!value.is_array()) return Json(Json::Array{pair(value), pair(value)});
        return Json(Json::Array{pair(value.as_array()[0]), pair(value.as_array()[1])});
      })
      .described(doc);
}

std::vector<std::vector<int64_t>> side_pairs_of(const Arguments& arguments, const std::string& name) {
  std::vector<std::vector<int64_t>> out;
  for (const Json& side : arguments.at(name).as_array()) out.push_back(side.as_int_vector());
  return out;
}

}  // namespace pitfall
