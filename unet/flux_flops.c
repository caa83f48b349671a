#include "unet/flux_flops.h"

/* 2 * rows * out * in, in double (int64 would overflow for large batches of large models). */
static double linear_flops(double rows, int64_t out, int64_t in) { return 2.0 * rows * (double)out * (double)in; }

/* Layers applied once per sample (to the timestep, guidance and pooled vectors). */
static double vector_flops(const fg_flux_config *c, double b) {
    const int64_t h = c->hidden;
    double f = linear_flops(b, h, c->time_dim) + linear_flops(b, h, h); /* time_in */
    f += linear_flops(b, h, c->vec_in_dim) + linear_flops(b, h, h);     /* vector_in */
    if (c->guidance_embed) f += linear_flops(b, h, c->time_dim) + linear_flops(b, h, h);
    f += (double)c->depth * 2.0 * linear_flops(b, 6 * h, h);            /* img_mod, txt_mod */
    f += (double)c->depth_single * linear_flops(b, 3 * h, h);           /* single modulation */
    return f + linear_flops(b, 2 * h, h);                               /* final adaLN */
}

/* The per-token Linears of one double-block stream: qkv, proj, mlp.0, mlp.2. */
static double stream_flops(const fg_flux_config *c, double tokens) {
    const int64_t h = c->hidden, m = c->mlp_hidden;
    return linear_flops(tokens, 3 * h, h) + linear_flops(tokens, h, h) + linear_flops(tokens, m, h) +
           linear_flops(tokens, h, m);
}

/* The per-token Linears of one single block: linear1 (qkv + mlp in), linear2 (attn + mlp out). */
static double single_flops(const fg_flux_config *c, double tokens) {
    const int64_t h = c->hidden, m = c->mlp_hidden;
    return linear_flops(tokens, 3 * h + m, h) + linear_flops(tokens, h, h + m);
}

fg_flux_flops fg_flux_forward_flops(const fg_flux_config *c, int64_t batch, int64_t image_tokens,
                                    int64_t text_tokens) {
    fg_flux_flops f = {0, 0, 0};
    if (!c || batch <= 0 || image_tokens <= 0 || text_tokens <= 0 || c->num_heads <= 0) return f;
    const double b = (double)batch, li = b * (double)image_tokens, lt = b * (double)text_tokens;
    const int64_t h = c->hidden;
    f.linear = linear_flops(li, h, c->in_channels) + linear_flops(lt, h, c->context_in_dim); /* img_in, txt_in */
    f.linear += vector_flops(c, b);
    f.linear += (double)c->depth * (stream_flops(c, li) + stream_flops(c, lt));
    f.linear += (double)c->depth_single * single_flops(c, li + lt);
    f.linear += linear_flops(li, c->out_channels, h); /* final_layer.linear */
    const double l = (double)(image_tokens + text_tokens), head_dim = (double)(h / c->num_heads);
    f.attention = (double)(c->depth + c->depth_single) * 4.0 * b * (double)c->num_heads * l * l * head_dim;
    f.total = f.linear + f.attention;
    return f;
}

int64_t fg_flux_image_tokens(int64_t width_px, int64_t height_px) {
    const int64_t lw = width_px / 8, lh = height_px / 8; /* the latent; EmptyLatentImage floors */
    if (lw <= 0 || lh <= 0) return 0;
    return ((lw + 1) / 2) * ((lh + 1) / 2);
}
