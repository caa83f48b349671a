/* ComfyUI's common_upscale (comfy.utils): an optional center crop, then a resize of every
 * plane of a float32 NCHW tensor — the layout ComfyUI resizes in (ImageScale moves IMAGE's
 * NHWC channels to dim 1 first; LatentUpscale's latents are NCHW already). Callers holding
 * NHWC data transpose around the call, as ComfyUI does.
 *
 * Methods reproduce PyTorch's F.interpolate(size=(height, width), mode=...) on the CPU with
 * align_corners=False and no antialiasing, in float32 with PyTorch's operation order:
 *   nearest-exact  src = min(floorf((dst + 0.5) * scale), in - 1), scale = (float)in / out
 *   bilinear       src = max(scale * (dst + 0.5f) - 0.5f, 0); 2 taps, the second clamped
 *   bicubic        src = scale * (dst + 0.5f) - 0.5f; 4 taps at floor(src) - 1 .. + 2 clamped
 *                  to the border; Keys cubic convolution with A = -0.75
 *   area           adaptive average pooling: window [floor(i*in/out), ceil((i+1)*in/out)),
 *                  summed row by row in float, then divided by its height and its width
 * PyTorch's own builds may fuse multiply-adds (FMA), so agreement is to about 1 ulp.
 *   lanczos        Pillow's LANCZOS resize (support 3, 22-bit fixed-point coefficients,
 *                  8-bit intermediate, horizontal pass first as Pillow <= 12 always does;
 *                  Pillow 13 picks the pass order by a cost estimate, so some shapes differ
 *                  there by a few levels) of the planes quantised like
 *                  ComfyUI: uint8(clip(255 * x, 0, 255)) (truncation), output u8 / 255. Only
 *                  for 1 or 3 channels (Pillow premultiplies alpha in 2- and 4-channel images).
 *   bislerp        ComfyUI's comfy.utils.bislerp (core/image_bislerp.c, docs/upscale.md): width
 *                  pass then height pass, each output pixel a slerp of the channel vectors of
 *                  two source pixels, chosen from bilinearly resized coordinate rows; its
 *                  special cases (zero vectors, near-parallel and near-opposite pairs) included.
 *                  Agrees with ComfyUI to a few ulp. Any channel count.
 * Crop "center" keeps the window ComfyUI's double-precision, round-half-to-even arithmetic
 * gives (fg_upscale_crop_window); "disabled" resizes the whole image (aspect not kept). */
#ifndef FG_CORE_IMAGE_RESIZE_H
#define FG_CORE_IMAGE_RESIZE_H

#include <stdint.h>

#include "core/error.h"

typedef enum fg_upscale_method {
    FG_UPSCALE_NEAREST_EXACT,
    FG_UPSCALE_BILINEAR,
    FG_UPSCALE_AREA,
    FG_UPSCALE_BICUBIC,
    FG_UPSCALE_LANCZOS,
    FG_UPSCALE_BISLERP,
} fg_upscale_method;

typedef enum fg_upscale_crop { FG_CROP_DISABLED, FG_CROP_CENTER } fg_upscale_crop;

/* ComfyUI's option strings ("nearest-exact", "bilinear", "area", "bicubic", "lanczos",
 * "bislerp"; "disabled", "center"). */
fg_error *fg_upscale_method_parse(const char *name, fg_upscale_method *out) FG_MUST_CHECK;
const char *fg_upscale_method_name(fg_upscale_method method);
fg_error *fg_upscale_crop_parse(const char *name, fg_upscale_crop *out) FG_MUST_CHECK;

/* The source window [y, y + crop_h) x [x, x + crop_w) kept before resizing to width x height. */
typedef struct fg_crop_window {
    int x, y, width, height;
} fg_crop_window;
fg_error *fg_upscale_crop_window(int src_w, int src_h, int width, int height, fg_upscale_crop crop,
                                 fg_crop_window *out) FG_MUST_CHECK;

/* src: [batch, channels, src_h, src_w] contiguous; dst: [batch, channels, height, width]. */
fg_error *fg_common_upscale(const float *src, int64_t batch, int64_t channels, int src_h, int src_w, float *dst,
                            int width, int height, fg_upscale_method method, fg_upscale_crop crop) FG_MUST_CHECK;

#endif
