/* Placeholder: replaced by the real probe component. */
#include "cli/probe.h"

fg_error *probe_t5(probe_ctx *ctx) {
    (void)ctx;
    return fg_errorf(FG_ERR_UNSUPPORTED, "probe component t5 is not implemented yet");
}
