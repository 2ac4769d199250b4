// What the weightless layers on spatial dimensions share (padding, cropping, upsampling, spatial
// dropout): their data_format, which of the input's axes are spatial, and the (before, after)
// amounts per spatial axis of ZeroPadding2D / Cropping2D.
#pragma once
#include <string>
#include <vector>

#include "pitfall/core/arguments.h"
#include "pitfall/core/shape.h"

namespace pitfall {

enum class DataFormat { channels_last, channels_first };

// data_format: "channels_last" or "channels_first" (any case), None meaning channels_last; stored
// as the resolved name. (Convolutions and pooling take layer_arguments.h's data_format_argument,
// which is channels_last only.)
Argument layout_data_format_argument();
DataFormat data_format_of(const Arguments& arguments);  // reads "data_format"

// The spatial axes of a rank-`rank` input: 1 .. rank-2 for channels_last, 2 .. rank-1 for
// channels_first (axis 0 is the batch).
std::vector<int64_t> spatial_axes(DataFormat format, int64_t rank);
int64_t channels_axis(DataFormat format, int64_t rank);
// How a rank-3 or rank-4 input is laid out, for messages: "(batch, rows, cols, channels)".
std::string spatial_layout(DataFormat format, int64_t rank);

// ShapeError unless `shape` has `rank` axes, as Keras's InputSpec(ndim=...): "<where> expects a
// 3D input (batch, steps, features), got shape (2, 3)". `where`: the layer's describe(), or inside
// call() its class name (the layer then prefixes its name and the input's shape itself).
void check_input_rank(const std::string& where, const Shape& shape, int64_t rank, const std::string& layout);

// An argument holding (before, after) amounts for two spatial axes, as Keras's ZeroPadding2D and
// Cropping2D take it: an int n (((n, n), (n, n))), a pair (h, w) (((h, h), (w, w))) or a pair of
// pairs ((top, bottom), (left, right)); non-negative; stored as [[top, bottom], [left, right]].
Argument side_pairs_argument(const std::string& name, Json default_value, const std::string& doc);
// The stored value as {{top, bottom}, {left, right}}.
std::vector<std::vector<int64_t>> side_pairs_of(const Arguments& arguments, const std::string& name);

}  // namespace pitfall
