/* ComfyUI 0.30's node definitions compiled into fluxgraph (nodes/comfy_defs.h): the frontend's
 * layout of a node (widget order with the seed's control combo and the upload button, sockets
 * before widget sockets, defaults), and every node fluxgraph runs is a ComfyUI 0.30 node with
 * the same inputs. */
#include <string.h>

#include "nodes/comfy_defs.h"
#include "nodes/registry.h"
#include "testing.h"

static void expect_widgets(const char *cls, const char *const *names, const bool *serialize, size_t n) {
    fg_comfy_layout L;
    CHECK(fg_comfy_layout_of(cls, &L), "%s is a ComfyUI 0.30 node", cls);
    CHECK(L.n_widgets == n, "%s: %zu widgets, want %zu", cls, L.n_widgets, n);
    for (size_t i = 0; i < n && i < L.n_widgets; i++) {
        CHECK(strcmp(L.widgets[i].name, names[i]) == 0, "%s widget %zu: %s, want %s", cls, i, L.widgets[i].name,
              names[i]);
        CHECK(L.widgets[i].serialize == serialize[i], "%s widget %s: serialize", cls, names[i]);
    }
}

static void test_ksampler_layout(void) {
    static const char *const names[] = {"seed",   "control_after_generate", "steps", "cfg", "sampler_name", "scheduler",
                                        "denoise"};
    static const bool ser[] = {true, false, true, true, true, true, true};
    expect_widgets("KSampler", names, ser, 7);
    fg_comfy_layout L;
    if (!fg_comfy_layout_of("KSampler", &L)) return;
    static const char *const inputs[] = {"model", "positive", "negative", "latent_image", "seed", "steps"};
    for (size_t i = 0; i < 6; i++)
        CHECK(strcmp(L.inputs[i].name, inputs[i]) == 0, "input %zu: %s", i, L.inputs[i].name);
    CHECK(!L.inputs[3].widget && L.inputs[4].widget, "sockets come before widget sockets");
    CHECK(json_integer_value(L.widgets[2].def) == 20 && json_real_value(L.widgets[3].def) == 8.0, "defaults");
    CHECK(strcmp(json_string_value(L.widgets[1].def), "randomize") == 0, "the control combo starts at randomize");
    CHECK(L.n_outputs == 1 && strcmp(L.outputs[0], "LATENT") == 0);
}

static void test_upload_and_primitive_layouts(void) {
    static const char *const load[] = {"image", "upload"};
    static const bool load_ser[] = {true, false};
    expect_widgets("LoadImage", load, load_ser, 2);
    static const char *const prim[] = {"value", "control_after_generate"};
    static const bool prim_ser[] = {true, false};
    expect_widgets("PrimitiveInt", prim, prim_ser, 2);
    fg_comfy_layout L;
    if (fg_comfy_layout_of("PrimitiveInt", &L))
        CHECK(strcmp(json_string_value(L.widgets[1].def), "fixed") == 0, "a declared control default wins");
    /* RandomNoise's noise_seed gets the control combo by its name. */
    static const char *const noise[] = {"noise_seed", "control_after_generate"};
    expect_widgets("RandomNoise", noise, prim_ser, 2);
    /* A node fluxgraph cannot run still has its layout (conversion needs it). */
    static const char *const canny[] = {"low_threshold", "high_threshold"};
    static const bool canny_ser[] = {true, true};
    expect_widgets("Canny", canny, canny_ser, 2);
    CHECK(!fg_comfy_layout_of("NoSuchNode", &L) && !fg_comfy_def_find("NoSuchNode"));
    CHECK(!fg_comfy_def_find(NULL));
}

/* Each node fluxgraph runs exists in ComfyUI 0.30 with every input fluxgraph declares, and
 * what is a widget there is a widget here. */
static void test_registry_matches_comfyui(void) {
    for (size_t i = 0; i < fg_node_count(); i++) {
        const fg_node_spec *spec = fg_node_at(i);
        fg_comfy_layout L;
        bool known = fg_comfy_layout_of(spec->class_type, &L);
        CHECK(known, "%s is not a ComfyUI 0.30 node", spec->class_type);
        if (!known) continue;
        for (int k = 0; k < spec->n_inputs; k++) {
            const fg_input_spec *in = &spec->inputs[k];
            int found = -1;
            for (size_t j = 0; j < L.n_inputs; j++)
                if (strcmp(L.inputs[j].name, in->name) == 0) found = (int)j;
            CHECK(found >= 0, "%s.%s is not an input in ComfyUI 0.30", spec->class_type, in->name);
            if (found < 0) continue;
            bool widget = in->type == FG_TYPE_INT || in->type == FG_TYPE_FLOAT || in->type == FG_TYPE_STRING ||
                          in->type == FG_TYPE_BOOLEAN || in->type == FG_TYPE_COMBO;
            CHECK(L.inputs[found].widget == (widget && !in->force_input), "%s.%s: widget or socket differs",
                  spec->class_type, in->name);
        }
    }
}

int main(void) {
    RUN_TEST(test_ksampler_layout);
    RUN_TEST(test_upload_and_primitive_layouts);
    RUN_TEST(test_registry_matches_comfyui);
    return test_summary();
}
