/* probe rng: torch.manual_seed(seed); torch.randn(shape) for every tensor of the golden RNG
 * file. Seed and shape come from the tensor's metadata entry, e.g.
 * "s4_x1": "{\"seed\": \"18364758544493064720\", \"shape\": [15]}". ComfyUI's prepare_noise
 * without batch_index is the same single randn call over the whole batch, so it needs no case
 * of its own. */
#include <stdio.h>
#include <string.h>

#include "cli/probe.h"
#include "core/rng.h"
#include "sampling/noise.h"

/* Seeds are u64 decimal strings; 20 digits max, so anything longer is rejected by length. */
enum { SEED_TEXT_CAP = 32 };

static fg_error *produce_one(probe_ctx *ctx, const fg_st_entry *e) {
    const char *meta = fg_safetensors_metadata(probe_golden(ctx), e->name);
    if (!meta) return fg_errorf(FG_ERR_UNSUPPORTED, "no metadata entry with its seed and shape");
    char seed_text[SEED_TEXT_CAP];
    uint64_t seed;
    int ndim;
    int64_t shape[FG_MAX_DIMS];
    FG_TRY(probe_json_string(meta, "seed", seed_text, sizeof seed_text));
    FG_TRY_CTX(probe_parse_u64(seed_text, &seed), "seed");
    FG_TRY(probe_json_shape(meta, "shape", &ndim, shape));

    char want[96], have[96];
    fg_shape_str(ndim, shape, want, sizeof want);
    fg_shape_str(e->ndim, e->shape, have, sizeof have);
    if (e->dtype != FG_F32)
        return fg_errorf(FG_ERR_UNSUPPORTED, "dtype %s, randn produces F32", fg_dtype_name(e->dtype));
    /* The stored tensor's shape was validated against the file size; trusting the metadata's
     * instead would let a hostile file request an arbitrarily large allocation. */
    if (ndim != e->ndim || memcmp(shape, e->shape, (size_t)ndim * sizeof shape[0]) != 0)
        return fg_errorf(FG_ERR_FORMAT, "metadata shape %s but tensor shape %s", want, have);

    fg_tensor t;
    FG_TRY(fg_tensor_alloc_host(&t, FG_F32, ndim, shape));
    fg_torch_generator gen;
    fg_torch_manual_seed(&gen, seed);
    /* The kernel --noise-compat chose, so each variant can be checked against its fixture. */
    fg_torch_randn(&gen, (float *)t.data, fg_tensor_numel(&t), fg_noise_variant());
    return probe_output_add(ctx, e->name, &t);
}

fg_error *probe_rng(probe_ctx *ctx) {
    const fg_safetensors *golden = probe_golden(ctx);
    const size_t count = fg_safetensors_count(golden);
    if (count == 0) return fg_errorf(FG_ERR_FORMAT, "no tensors to reproduce");
    for (size_t i = 0; i < count; i++) {
        const fg_st_entry *e = fg_safetensors_entry(golden, i);
        FG_TRY_CTX(produce_one(ctx, e), "tensor '%s'", e->name);
    }
    return NULL;
}
