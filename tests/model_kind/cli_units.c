/* The test programs link the library layers only, not cli/; this unit brings in the two CLI
 * modules test_model_kind exercises (they depend on nothing else from cli/). */
#include "cli/model_kind.c"
#include "cli/model_layouts.c"
