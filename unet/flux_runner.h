/* Runs the DiT step after step for a sampler, as fast as the device allows. The host-side
 * tables are built by the runner (timestep/guidance embeddings per call, RoPE once per input
 * shape: the model keeps no cache), everything else is device work: on a backend with graphs
 * the second call of a given input shape records that work as a graph and later calls replay
 * it, so a step costs one launch instead of ~1,000. Inputs are copied into buffers the runner
 * owns (a graph replays on fixed addresses). Results equal fg_flux_forward's; backends without
 * graphs (the CPU) and FG_CUDA_GRAPHS=0 run eagerly. */
#ifndef FG_UNET_FLUX_RUNNER_H
#define FG_UNET_FLUX_RUNNER_H

#include <stddef.h>

#include "core/error.h"
#include "unet/flux_model.h"

typedef struct fg_flux_runner fg_flux_runner;

/* The model must outlive the runner. */
fg_error *fg_flux_runner_new(const fg_flux_model *m, fg_flux_runner **out) FG_MUST_CHECK;
/* fg_flux_forward's contract, except that every tensor may live on any device: the runner
 * copies the inputs into its own buffers and its result into out anyway, so a sampler keeping
 * its latents on the host passes them as they are. */
fg_error *fg_flux_runner_forward(fg_flux_runner *r, const fg_flux_inputs *in, fg_tensor *out) FG_MUST_CHECK;
/* Calls served by a graph replay so far, and whether graphs were given up on (for logs/tests). */
int fg_flux_runner_replays(const fg_flux_runner *r);
/* The most bytes the activations of the last eagerly run forward held at once (its scopes'
 * count, kernels/scope.h; the entry's buffers and tables not included; 0 before any). A
 * replay runs the same allocations. Also logged at debug level for each new input shape. */
size_t fg_flux_runner_activation_peak(const fg_flux_runner *r);
void fg_flux_runner_free(fg_flux_runner *r);

#endif
