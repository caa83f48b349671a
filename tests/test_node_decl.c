/* One declaration per node (nodes/node_decl.h): a node's spec is derived from ComfyUI's
 * definition of its class plus fluxgraph's short C declaration, and a declaration that does
 * not fit ComfyUI's definition is refused with a message naming the class and input. Then the
 * named inputs (nodes/node_args.h): reading an undeclared name, a declared input as another
 * type, or a value of the wrong type fails with a message naming the node and the input. */
#include <string.h>

#include "nodes/node_args.h"
#include "nodes/node_decl.h"
#include "nodes/registry.h"
#include "testing.h"

static fg_error *no_execute(fg_node_ctx *ctx, const fg_node_args *args, fg_value *out) {
    (void)ctx, (void)args, (void)out;
    return NULL;
}

static void test_every_declaration_is_accepted(void) {
    CHECK_OK(fg_node_registry_check());
    CHECK(fg_node_count() >= 39, "%zu nodes", fg_node_count());
    for (size_t i = 0; i < fg_node_count(); i++)
        CHECK(fg_node_at(i)->execute, "%s has no execute function", fg_node_at(i)->class_type);
}

/* A declaration with no rules takes everything from ComfyUI's definition. */
static void test_spec_from_comfyui(void) {
    fg_node_spec s;
    fg_node_decl d = {NODE("SolidMask", no_execute)};
    if (!CHECK_OK(fg_node_spec_derive(&d, &s))) return;
    CHECK(s.n_inputs == 3 && strcmp(s.inputs[0].name, "value") == 0 && s.inputs[0].type == FG_TYPE_FLOAT);
    CHECK(s.inputs[0].def == 1.0 && s.inputs[0].has_min && s.inputs[0].max == 1.0 && s.inputs[0].step == 0.01);
    CHECK(strcmp(s.inputs[2].name, "height") == 0 && s.inputs[2].type == FG_TYPE_INT && s.inputs[2].def == 512);
    CHECK(s.n_outputs == 1 && s.outputs[0] == FG_TYPE_MASK && strcmp(s.output_names[0], "MASK") == 0);
    CHECK(s.execute == no_execute && s.category && s.display_name && !s.output_node && !s.hidden);
    fg_node_spec_release(&s);
    /* ComfyUI's combo list is copied; ONLY keeps a subset in ComfyUI's order */
    static const char *const dtypes[] = {"default", "fp8_e5m2", NULL};
    fg_node_decl u = {NODE("UNETLoader", no_execute),
                      .rules = {FILES("unet_name", FG_COMBO_DIFFUSION_MODELS), ONLY("weight_dtype", dtypes)}};
    if (!CHECK_OK(fg_node_spec_derive(&u, &s))) return;
    CHECK(s.inputs[0].source == FG_COMBO_DIFFUSION_MODELS && !s.inputs[0].options);
    CHECK(s.inputs[1].options == dtypes);
    fg_node_spec_release(&s);
    fg_node_decl save = {NODE("SaveImage", no_execute)};
    if (!CHECK_OK(fg_node_spec_derive(&save, &s))) return;
    CHECK(s.output_node && s.hidden == (FG_HIDDEN_PROMPT | FG_HIDDEN_EXTRA_PNGINFO));
    CHECK(s.inputs[1].def_string && strcmp(s.inputs[1].def_string, "ComfyUI") == 0);
    fg_node_spec_release(&s);
    fg_node_decl crop = {NODE("ImageScale", no_execute)};
    if (!CHECK_OK(fg_node_spec_derive(&crop, &s))) return;
    const char *const *o = s.inputs[fg_node_input_index(&s, "crop")].options;
    CHECK(o && strcmp(o[0], "disabled") == 0 && strcmp(o[1], "center") == 0 && !o[2], "crop options");
    fg_node_spec_release(&s);
}

static void expect_refused(const fg_node_decl *d, const char *needle) {
    fg_node_spec s;
    CHECK_ERR(fg_node_spec_derive(d, &s), needle);
    CHECK(s.n_inputs == 0 && !s.owned_options, "a refused declaration leaves an empty spec");
}

static void test_declarations_that_do_not_fit_are_refused(void) {
    static const char *const warp[] = {"euler", "warp_drive", NULL};
    static const char *const backwards[] = {"heun", "euler", NULL};
    static const char *const any[] = {"1", NULL};
    expect_refused(&(fg_node_decl){NODE("NoSuchNode", no_execute)}, "NoSuchNode is not a ComfyUI node");
    expect_refused(&(fg_node_decl){NODE("VAELoader", no_execute), .rules = {FILES("vae_file", FG_COMBO_VAE)}},
                   "VAELoader declares a rule for 'vae_file', which ComfyUI's VAELoader has no input of");
    expect_refused(&(fg_node_decl){NODE("KSamplerSelect", no_execute), .rules = {ONLY("sampler_name", warp)}},
                   "KSamplerSelect.sampler_name offers 'warp_drive', which ComfyUI does not");
    expect_refused(&(fg_node_decl){NODE("KSamplerSelect", no_execute), .rules = {ONLY("sampler_name", backwards)}},
                   "KSamplerSelect.sampler_name lists 'euler' out of ComfyUI's order");
    expect_refused(&(fg_node_decl){NODE("BasicScheduler", no_execute), .rules = {ONLY("steps", any)}},
                   "BasicScheduler.steps is of type INT, not a combo");
    expect_refused(&(fg_node_decl){NODE("CheckpointLoaderSimple", no_execute)},
                   "CheckpointLoaderSimple.ckpt_name: ComfyUI lists no values");
    expect_refused(&(fg_node_decl){NODE("VAELoader", no_execute),
                                   .rules = {{.name = "vae_name", .options = any, .source = FG_COMBO_VAE}}},
                   "VAELoader.vae_name declares both");
    expect_refused(&(fg_node_decl){NODE("CLIPVisionEncode", no_execute)},
                   "CLIPVisionEncode output 0 has type CLIP_VISION_OUTPUT");
    expect_refused(&(fg_node_decl){NODE("ControlNetApply", no_execute)},
                   "ControlNetApply.control_net has type CONTROL_NET, which fluxgraph has no values of");
    expect_refused(&(fg_node_decl){NODE(NULL, no_execute)}, "without a class");
}

/* ---- named inputs --------------------------------------------------------------------- */

static void test_args_by_name(void) {
    const fg_node_spec *spec = fg_node_find("EmptyLatentImage");
    CHECK(spec);
    if (!spec) return;
    fg_value v[3] = {fg_value_int(64), fg_value_float(32.0), fg_value_int(2)};
    fg_node_args a = {.spec = spec, .values = v};
    int64_t i = 0;
    CHECK_OK(fg_arg_int(&a, "width", &i));
    CHECK(i == 64);
    CHECK_OK(fg_arg_int(&a, "batch_size", &i));
    CHECK(i == 2);
    CHECK_ERR(fg_arg_int(&a, "widht", &i), "EmptyLatentImage declares no input 'widht'");
    double f;
    CHECK_ERR(fg_arg_float(&a, "width", &f), "EmptyLatentImage input 'width' is declared INT, read as FLOAT");
    CHECK_ERR(fg_arg_int(&a, "height", &i), "EmptyLatentImage input 'height' holds FLOAT, expected INT");
    const char *s;
    CHECK_ERR(fg_arg_string(&a, "width", &s), "is declared INT, read as STRING");
    CHECK(fg_arg_given(&a, "width") && !fg_arg_given(&a, "widht"));
}

static void test_object_args(void) {
    const fg_node_spec *spec = fg_node_find("VAEDecode");
    CHECK(spec);
    if (!spec) return;
    fg_value v[2] = {{.type = FG_TYPE_NONE}, {.type = FG_TYPE_NONE}};
    fg_node_args a = {.spec = spec, .values = v};
    const fg_object *obj = (const fg_object *)&v;
    CHECK_ERR(fg_arg_object(&a, "samples", FG_TYPE_LATENT, &obj), "samples input is invalid: None");
    CHECK(!obj, "*out is cleared");
    CHECK_OK(fg_arg_object_opt(&a, "vae", FG_TYPE_VAE, &obj));
    CHECK(!obj && !fg_arg_given(&a, "vae"));
    CHECK_ERR(fg_arg_object(&a, "samples", FG_TYPE_IMAGE, &obj), "VAEDecode input 'samples' is declared LATENT, read as IMAGE");
    v[0] = fg_value_int(3);
    CHECK_ERR(fg_arg_object(&a, "samples", FG_TYPE_LATENT, &obj), "VAEDecode input 'samples' holds INT, expected LATENT");
    /* an optional input left out */
    const fg_node_spec *loader = fg_node_find("CLIPLoader");
    fg_value lv[3] = {fg_value_string("a.safetensors"), fg_value_string("sd3"), {.type = FG_TYPE_NONE}};
    fg_node_args la = {.spec = loader, .values = lv};
    const char *text = NULL;
    CHECK(loader && !fg_arg_given(&la, "device") && fg_arg_given(&la, "type"));
    CHECK_ERR(fg_arg_string(&la, "device", &text), "CLIPLoader input 'device' is missing");
    CHECK_OK(fg_arg_string(&la, "type", &text));
    CHECK(text && strcmp(text, "sd3") == 0, "a COMBO reads as a string");
    for (int k = 0; k < 3; k++) fg_value_clear(&lv[k]);
}

int main(void) {
    RUN_TEST(test_every_declaration_is_accepted);
    RUN_TEST(test_spec_from_comfyui);
    RUN_TEST(test_declarations_that_do_not_fit_are_refused);
    RUN_TEST(test_args_by_name);
    RUN_TEST(test_object_args);
    return test_summary();
}
