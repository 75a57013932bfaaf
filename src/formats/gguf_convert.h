// Conversion of a ModelSource (usually a Hugging Face folder) into a GGUF writer, with llama.cpp's choice of
// tensor types: matrices take the requested type; 1-D tensors, norms, biases and the MoE router stay F32.
// The tokenizer is added by the caller (the tokenizer module sits above formats).
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "formats/gguf.h"
#include "formats/model_source.h"

namespace whale::gguf {

// The llama.cpp general.file_type of a whole-file type (f32 0, f16 1, q8_0 7, bf16 32).
uint32_t llama_file_type(DType type);

// The type a tensor is written with when `requested` is asked for (see the file comment). A matrix whose rows
// do not fit the requested block size falls back to F16, as llama.cpp's converter does.
DType converted_type(const TensorView& tensor, DType requested);

// Copies `source`'s metadata (plus general.type, general.file_type, general.quantization_version) and adds
// every tensor, converted to converted_type(tensor, requested) while writing. `source` must outlive
// writer.write(). `requested` must be F32, F16, BF16 or Q8_0 (or another type ref::quantize_row supports).
void add_model(const ModelSource& source, DType requested, Writer& writer);

}  // namespace whale::gguf
