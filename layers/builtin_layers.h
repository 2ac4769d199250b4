// Registration of the built-in layer classes for layer_from_config / load_model.
//
// Each layer file defines its `register_<name>_layer()`, which calls register_layer_class(...).
// layer.cpp calls every one of them exactly once, the first time the registry is used, so nothing
// depends on static-initialization order across translation units.
//
// Adding a layer: declare its function here, define it in the layer's .cpp, and add one line to
// register_builtin_layers() in layer.cpp.
#pragma once

namespace pitfall {

// layers/ core (layer.cpp's owner)
void register_input_layer();       // "InputLayer"    layers/input_layer.cpp
void register_dense_layer();       // "Dense"         layers/dense.cpp
void register_activation_layer();  // "Activation"    layers/activation.cpp
void register_dropout_layer();     // "Dropout"       layers/dropout.cpp
void register_flatten_layer();     // "Flatten"       layers/flatten.cpp
void register_reshape_layer();     // "Reshape"       layers/reshape.cpp

void register_add_layer();                       // "Add"
void register_concatenate_layer();               // "Concatenate"
void register_embedding_layer();                 // "Embedding"
void register_batch_normalization_layer();       // "BatchNormalization"
void register_layer_normalization_layer();       // "LayerNormalization"
void register_conv2d_layer();                    // "Conv2D"
void register_max_pooling2d_layer();             // "MaxPooling2D"
void register_average_pooling2d_layer();         // "AveragePooling2D"
void register_global_average_pooling2d_layer();  // "GlobalAveragePooling2D"
void register_simple_rnn_layer();                 // "SimpleRNN"     layers/recurrent.cpp
void register_lstm_layer();                       // "LSTM"          layers/recurrent.cpp

}  // namespace pitfall
