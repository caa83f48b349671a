/* Placeholder: replaced by the torch-exact generator. */
#include "core/rng.h"
