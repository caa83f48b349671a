/* ComfyUI's bislerp (comfy/utils.py `bislerp`), the upscale method LatentUpscale and
 * LatentUpscaleBy offer for latents: a separable resize, width pass then height pass, that
 * blends the two neighbouring source pixels of each output pixel by spherical linear
 * interpolation of their whole channel vectors instead of per-channel linear interpolation.
 * Used by fg_common_upscale after its crop; docs/upscale.md describes the arithmetic. */
#ifndef FG_CORE_IMAGE_BISLERP_H
#define FG_CORE_IMAGE_BISLERP_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* src: the crop window, in_h x in_w pixels of each [batch, channels] plane, rows src_stride
 * floats apart and planes src_plane floats apart (the window need not be contiguous);
 * dst: contiguous [batch, channels, height, width]. */
fg_error *fg_bislerp(const float *src, size_t src_plane, int src_stride, int64_t batch, int64_t channels, int in_h,
                     int in_w, float *dst, int width, int height) FG_MUST_CHECK;

#endif
