/* Shared by test_flux.c and the layout tests: golden cases, running a model, differences. */
#ifndef FG_TESTS_FLUX_COMMON_H
#define FG_TESTS_FLUX_COMMON_H

#include <stdbool.h>

#include "core/safetensors.h"
#include "unet/flux_loader.h"

#define TINY_FLUX "models/diffusion_models/tiny-flux.safetensors"
#define GOLDEN_FLUX "golden/flux.safetensors"

/* x, timestep, context, y, guidance of golden case cK (aligned host copies). */
typedef struct flux_case {
    fg_tensor x, timestep, context, y, guidance;
} flux_case;

/* The golden file (opened once, NULL if it cannot be). */
const fg_safetensors *flux_golden(void);
/* The tiny model (loaded once, NULL on failure). */
const fg_flux_model *flux_tiny(void);
void flux_common_cleanup(void);

/* Reads a golden tensor as an aligned F32 host copy. */
bool flux_golden_tensor(const char *name, fg_tensor *out);
bool flux_case_load(const char *case_id, flux_case *c);
void flux_case_free(flux_case *c);
fg_flux_inputs flux_case_inputs(const flux_case *c);

/* An owned copy of t on dev (empty, with a recorded failure, when that fails). */
fg_tensor flux_copy_to(const fg_tensor *t, fg_device dev);
/* The tiny DiT over a BF16 upload of its file to test_device(), with BF16 activations; NULL
 * (failure recorded) when that fails. stats may be NULL. */
fg_flux_model *flux_uploaded_tiny(fg_upload_stats *stats);
/* Runs m on the case (inputs moved to m's device, the output back to the host); *out is
 * allocated on the host (free with fg_tensor_free). */
bool flux_run(const fg_flux_model *m, const fg_flux_inputs *in, fg_tensor *out, fg_flux_trace *trace);
/* Loads path with fg_flux_load and runs golden case c0 into *out. */
bool flux_run_file(const char *path, fg_tensor *out);

/* max |a - b| (same shapes; a huge value when they differ). */
double flux_max_abs_diff(const fg_tensor *a, const fg_tensor *b);
/* sqrt(mean((a-b)^2)) / sqrt(mean(b^2)). */
double flux_rel_rms_diff(const fg_tensor *a, const fg_tensor *b);

/* Layout and error tests (tests/flux/flux_layouts.c). */
void test_layout_prefixed(void);
void test_layout_diffusers(void);
void test_layout_diffusers_sharded(void);
void test_layout_fp8_plain(void);
void test_layout_fp8_scaled(void);
void test_layout_fp8_diffusers_scaled(void);
void test_load_errors_bfl(void);
void test_load_errors_diffusers(void);
/* tests/flux/flux_runner_cases.c */
void test_runner_matches_forward(void);
/* The GPU's path on the CPU (tests/flux/flux_device.c). */
void test_bf16_golden(void);
void test_activation_estimate(void);
void test_forward_error_frees_everything(void);
void test_memory_check(void);

#endif
