/* Sampling nodes (comfyui.md 3.5): declarations only in this issue (inputs, validation);
 * the sampling issue adds their execute functions below the table. */
#include "nodes/node_families.h"

/* Exactly ComfyUI's lists (validation is exact-match); a name we do not implement still
 * validates and is rejected when the sampler runs. */
const char *const fg_sampler_names[] = {
    "euler", "euler_cfg_pp", "euler_ancestral", "euler_ancestral_cfg_pp", "heun", "heunpp2", "exp_heun_2_x0",
    "exp_heun_2_x0_sde", "dpm_2", "dpm_2_ancestral", "lms", "dpm_fast", "dpm_adaptive", "dpmpp_2s_ancestral",
    "dpmpp_2s_ancestral_cfg_pp", "dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m", "dpmpp_2m_cfg_pp", "dpmpp_2m_sde",
    "dpmpp_2m_sde_gpu", "dpmpp_2m_sde_heun", "dpmpp_2m_sde_heun_gpu", "dpmpp_3m_sde", "dpmpp_3m_sde_gpu", "ddpm",
    "lcm", "ipndm", "ipndm_v", "deis", "res_multistep", "res_multistep_cfg_pp", "res_multistep_ancestral",
    "res_multistep_ancestral_cfg_pp", "gradient_estimation", "gradient_estimation_cfg_pp", "er_sde", "seeds_2",
    "seeds_3", "sa_solver", "sa_solver_pece", "ddim", "uni_pc", "uni_pc_bh2", NULL};
const char *const fg_scheduler_names[] = {"simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta",
                                          "normal", "linear_quadratic", "kl_optimal", NULL};
static const char *const enable_disable[] = {"enable", "disable", NULL};
static const char *const disable_enable[] = {"disable", "enable", NULL};

#define IN_STEPS IN_INT("steps", 20, 1, 10000, 1)
#define IN_CFG                                                                                \
    {.name = "cfg", .type = FG_TYPE_FLOAT, .def = 8.0, .min = 0.0, .max = 100.0, .step = 0.1, .round = 0.01, \
     .has_min = true, .has_max = true}
#define IN_SAMPLER IN_COMBO("sampler_name", fg_sampler_names, "euler")
#define IN_SCHEDULER IN_COMBO("scheduler", fg_scheduler_names, "simple")
#define IN_DENOISE IN_FLOAT("denoise", 1.0, 0.0, 1.0, 0.01)
#define IN_MODEL IN_SOCKET("model", FG_TYPE_MODEL)
#define IN_POS IN_SOCKET("positive", FG_TYPE_CONDITIONING)
#define IN_NEG IN_SOCKET("negative", FG_TYPE_CONDITIONING)
#define IN_LATENT IN_SOCKET("latent_image", FG_TYPE_LATENT)
#define OUT_LATENT .outputs = {FG_TYPE_LATENT}, .output_names = {"LATENT"}, .n_outputs = 1
#define OUT_TWO_LATENTS                                                                     \
    .outputs = {FG_TYPE_LATENT, FG_TYPE_LATENT}, .output_names = {"output", "denoised_output"}, .n_outputs = 2

const fg_node_spec fg_nodes_sampling[] = {
    {.class_type = "KSampler", .display_name = "KSampler", .category = "sampling",
     .description = "Denoises a latent with a sampler, a scheduler and classifier-free guidance.",
     .inputs = {IN_MODEL, IN_SEED("seed"), IN_STEPS, IN_CFG, IN_SAMPLER, IN_SCHEDULER, IN_POS, IN_NEG, IN_LATENT,
                IN_DENOISE},
     .n_inputs = 10, OUT_LATENT},
    {.class_type = "KSamplerAdvanced", .display_name = "KSampler (Advanced)", .category = "sampling",
     .description = "KSampler with start/end steps and optional noise.",
     .inputs = {IN_MODEL, IN_COMBO("add_noise", enable_disable, "enable"), IN_SEED("noise_seed"), IN_STEPS, IN_CFG,
                IN_SAMPLER, IN_SCHEDULER, IN_POS, IN_NEG, IN_LATENT, IN_INT("start_at_step", 0, 0, 10000, 1),
                IN_INT("end_at_step", 10000, 0, 10000, 1),
                IN_COMBO("return_with_leftover_noise", disable_enable, "disable")},
     .n_inputs = 13, OUT_LATENT},
    {.class_type = "SamplerCustom", .display_name = "SamplerCustom", .category = "sampling/custom_sampling",
     .description = "Samples with an explicit sampler and sigmas.",
     .inputs = {IN_MODEL, IN_BOOL("add_noise", true), IN_SEED("noise_seed"), IN_CFG, IN_POS, IN_NEG,
                IN_SOCKET("sampler", FG_TYPE_SAMPLER), IN_SOCKET("sigmas", FG_TYPE_SIGMAS), IN_LATENT},
     .n_inputs = 9, OUT_TWO_LATENTS},
    {.class_type = "SamplerCustomAdvanced", .display_name = "SamplerCustomAdvanced",
     .category = "sampling/custom_sampling",
     .description = "Samples with explicit noise, guider, sampler and sigmas.",
     .inputs = {IN_SOCKET("noise", FG_TYPE_NOISE), IN_SOCKET("guider", FG_TYPE_GUIDER),
                IN_SOCKET("sampler", FG_TYPE_SAMPLER), IN_SOCKET("sigmas", FG_TYPE_SIGMAS), IN_LATENT},
     .n_inputs = 5, OUT_TWO_LATENTS},
    {.class_type = "BasicGuider", .display_name = "BasicGuider", .category = "sampling/custom_sampling/guiders",
     .description = "Guides with a single conditioning (no classifier-free guidance).",
     .inputs = {IN_MODEL, IN_SOCKET("conditioning", FG_TYPE_CONDITIONING)}, .n_inputs = 2,
     .outputs = {FG_TYPE_GUIDER}, .output_names = {"GUIDER"}, .n_outputs = 1},
    {.class_type = "CFGGuider", .display_name = "CFGGuider", .category = "sampling/custom_sampling/guiders",
     .description = "Classifier-free guidance between a positive and a negative conditioning.",
     .inputs = {IN_MODEL, IN_POS, IN_NEG, IN_CFG}, .n_inputs = 4,
     .outputs = {FG_TYPE_GUIDER}, .output_names = {"GUIDER"}, .n_outputs = 1},
    {.class_type = "RandomNoise", .display_name = "RandomNoise", .category = "sampling/custom_sampling/noise",
     .description = "Seeded initial noise.",
     .inputs = {IN_SEED("noise_seed")}, .n_inputs = 1,
     .outputs = {FG_TYPE_NOISE}, .output_names = {"NOISE"}, .n_outputs = 1},
    {.class_type = "DisableNoise", .display_name = "DisableNoise", .category = "sampling/custom_sampling/noise",
     .description = "No initial noise.", .n_inputs = 0,
     .outputs = {FG_TYPE_NOISE}, .output_names = {"NOISE"}, .n_outputs = 1},
    {.class_type = "KSamplerSelect", .display_name = "KSamplerSelect", .category = "sampling/custom_sampling/samplers",
     .description = "Picks a sampler by name.",
     .inputs = {IN_SAMPLER}, .n_inputs = 1,
     .outputs = {FG_TYPE_SAMPLER}, .output_names = {"SAMPLER"}, .n_outputs = 1},
    {.class_type = "BasicScheduler", .display_name = "BasicScheduler",
     .category = "sampling/custom_sampling/schedulers",
     .description = "The sigma schedule of a model for a scheduler, steps and denoise.",
     .inputs = {IN_MODEL, IN_SCHEDULER, IN_STEPS, IN_DENOISE}, .n_inputs = 4,
     .outputs = {FG_TYPE_SIGMAS}, .output_names = {"SIGMAS"}, .n_outputs = 1},
    {.class_type = "ModelSamplingFlux", .display_name = "ModelSamplingFlux", .category = "advanced/model",
     .description = "Sets the FLUX time shift from the image size.",
     .inputs = {IN_MODEL, IN_FLOAT("max_shift", 1.15, 0.0, 100.0, 0.01), IN_FLOAT("base_shift", 0.5, 0.0, 100.0, 0.01),
                IN_INT("width", 1024, 16, 16384, 8), IN_INT("height", 1024, 16, 16384, 8)},
     .n_inputs = 5, .outputs = {FG_TYPE_MODEL}, .output_names = {"MODEL"}, .n_outputs = 1},
};
const size_t fg_nodes_sampling_count = sizeof fg_nodes_sampling / sizeof fg_nodes_sampling[0];

/* ---- execute functions ---------------------------------------------------------------- */
