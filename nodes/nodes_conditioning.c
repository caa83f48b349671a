/* Conditioning nodes (comfyui.md 3.3): text encoding, FLUX guidance, combining. The spec
 * table comes first; execute functions are added below it by the execution work. */
#include "nodes/node_families.h"

#define OUT_COND .outputs = {FG_TYPE_CONDITIONING}, .output_names = {"CONDITIONING"}, .n_outputs = 1

const fg_node_spec fg_nodes_conditioning[] = {
    {.class_type = "CLIPTextEncode", .display_name = "CLIP Text Encode (Prompt)", .category = "conditioning",
     .description = "Encodes a text prompt with every encoder of the CLIP object.",
     .inputs = {IN_TEXT("text"), IN_SOCKET("clip", FG_TYPE_CLIP)}, .n_inputs = 2, OUT_COND},
    {.class_type = "CLIPTextEncodeFlux", .display_name = "CLIPTextEncodeFlux", .category = "advanced/conditioning/flux",
     .description = "Encodes separate CLIP-L and T5-XXL texts and sets the FLUX guidance.",
     .inputs = {IN_SOCKET("clip", FG_TYPE_CLIP), IN_TEXT("clip_l"), IN_TEXT("t5xxl"),
                IN_FLOAT("guidance", 3.5, 0.0, 100.0, 0.1)},
     .n_inputs = 4, OUT_COND},
    {.class_type = "FluxGuidance", .display_name = "FluxGuidance", .category = "advanced/conditioning/flux",
     .description = "Sets the guidance strength the FLUX-dev model receives.",
     .inputs = {IN_SOCKET("conditioning", FG_TYPE_CONDITIONING), IN_FLOAT("guidance", 3.5, 0.0, 100.0, 0.1)},
     .n_inputs = 2, OUT_COND},
    {.class_type = "ConditioningZeroOut", .display_name = "ConditioningZeroOut", .category = "advanced/conditioning",
     .description = "Replaces the conditioning tensors by zeros, keeping the other extras.",
     .inputs = {IN_SOCKET("conditioning", FG_TYPE_CONDITIONING)}, .n_inputs = 1, OUT_COND},
    {.class_type = "ConditioningCombine", .display_name = "Conditioning (Combine)", .category = "conditioning",
     .description = "Concatenates two conditioning lists.",
     .inputs = {IN_SOCKET("conditioning_1", FG_TYPE_CONDITIONING), IN_SOCKET("conditioning_2", FG_TYPE_CONDITIONING)},
     .n_inputs = 2, OUT_COND},
    {.class_type = "ConditioningSetTimestepRange", .display_name = "ConditioningSetTimestepRange",
     .category = "advanced/conditioning",
     .description = "Restricts conditioning to a part of the sampling schedule.",
     .inputs = {IN_SOCKET("conditioning", FG_TYPE_CONDITIONING), IN_FLOAT("start", 0.0, 0.0, 1.0, 0.001),
                IN_FLOAT("end", 1.0, 0.0, 1.0, 0.001)},
     .n_inputs = 3, OUT_COND},
};
const size_t fg_nodes_conditioning_count = sizeof fg_nodes_conditioning / sizeof fg_nodes_conditioning[0];

/* ---- execute functions ---------------------------------------------------------------- */
