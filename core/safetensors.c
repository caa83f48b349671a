/* Placeholder: replaced by the strict reader and streaming writer. */
#include "core/safetensors.h"
