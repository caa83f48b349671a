/* `fluxgraph nodes --json` against ComfyUI 0.30's /object_info (nodes/comfyui/object_info.json):
 * for every supported node the entries are equal, key order included, except combo option
 * lists, where ours is ComfyUI's list without exactly the values nodes/comfyui/not_offered.json
 * names. Then: the values we offer run, and the ones we leave out fail validation the way
 * ComfyUI reports a value not in its list. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "graph/validate.h"
#include "nodes/comfy_defs.h"
#include "nodes/node_info.h"
#include "nodes/registry.h"
#include "sampling/samplers.h"
#include "sampling/schedulers.h"
#include "testing.h"

static json_t *g_not_offered; /* "Class.input" -> [values] */

static void load_not_offered(void) {
    json_error_t err;
    json_t *doc = json_load_file("nodes/comfyui/not_offered.json", 0, &err);
    CHECK(doc, "nodes/comfyui/not_offered.json: %s (line %d)", err.text, err.line);
    g_not_offered = json_object();
    size_t i, k;
    json_t *group, *input;
    json_array_foreach(json_object_get(doc, "groups"), i, group) {
        CHECK(json_is_string(json_object_get(group, "reason")), "group %zu gives no reason", i);
        json_array_foreach(json_object_get(group, "inputs"), k, input) {
            const char *key = json_string_value(input);
            if (!json_object_get(g_not_offered, key)) json_object_set_new(g_not_offered, key, json_array());
            json_array_extend(json_object_get(g_not_offered, key), json_object_get(group, "values"));
        }
    }
    json_decref(doc);
}

static bool listed(const json_t *list, const char *s) {
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (strcmp(json_string_value(v), s) == 0) return true;
    return false;
}

/* Equal JSON with keys in the same order; reports the first difference under path. */
static bool same(const json_t *a, const json_t *b, const char *path) {
    char sub[512];
    if (json_is_object(a) && json_is_object(b)) {
        void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);
        for (; ia && ib; ia = json_object_iter_next((json_t *)a, ia), ib = json_object_iter_next((json_t *)b, ib)) {
            const char *ka = json_object_iter_key(ia), *kb = json_object_iter_key(ib);
            snprintf(sub, sizeof sub, "%s.%s", path, kb);
            CHECK(strcmp(ka, kb) == 0, "%s: ours has key '%s' where 0.30 has '%s'", path, ka, kb);
            if (strcmp(ka, kb) != 0 || !same(json_object_iter_value(ia), json_object_iter_value(ib), sub)) return false;
        }
        CHECK(!ia && !ib, "%s: ours has %s key '%s'", path, ia ? "an extra" : "no",
              json_object_iter_key(ia ? ia : ib));
        return !ia && !ib;
    }
    if (json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b)) {
        for (size_t i = 0; i < json_array_size(a); i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if (!same(json_array_get(a, i), json_array_get(b, i), sub)) return false;
        }
        return true;
    }
    char *ta = json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT), *tb = json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT);
    bool eq = json_equal((json_t *)a, (json_t *)b);
    CHECK(eq, "%s: ours %.300s, 0.30 %.300s", path, ta ? ta : "(none)", tb ? tb : "(none)");
    free(ta), free(tb);
    return eq;
}

/* Ours must be 0.30's list less exactly the not-offered values, in 0.30's order. */
static void same_combo(const char *cls, const char *input, const json_t *ours, const json_t *ref) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", cls, input);
    const json_t *dropped = json_object_get(g_not_offered, key);
    json_t *want = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(ref, i, v) if (!listed(dropped, json_string_value(v))) json_array_append(want, v);
    json_array_foreach(dropped, i, v) CHECK(listed(ref, json_string_value(v)), "%s: not_offered.json names '%s', "
                                            "which 0.30 does not offer", key, json_string_value(v));
    char path[300];
    snprintf(path, sizeof path, "%s options (0.30's less not_offered.json)", key);
    same(ours, want, path);
    json_decref(want);
}

/* One input: [type] or [type, {options}], a combo's list compared by the rule above. */
static void same_input(const char *cls, const char *name, const json_t *a, const json_t *b, const char *path) {
    const json_t *a0 = json_array_get(a, 0), *b0 = json_array_get(b, 0);
    CHECK(json_array_size(a) == json_array_size(b), "%s: ours has %zu elements, 0.30 %zu", path,
          json_array_size(a), json_array_size(b));
    if (json_is_array(a0) && json_is_array(b0))
        same_combo(cls, name, a0, b0);
    else if (!same(a0, b0, path))
        return;
    json_t *ao = json_array_get(a, 1), *bo = json_array_get(b, 1);
    if (!ao || !bo) return;
    json_t *ac = json_deep_copy(ao), *bc = json_deep_copy(bo);
    if (json_is_string(b0) && strcmp(json_string_value(b0), "COMBO") == 0) {
        same_combo(cls, name, json_object_get(ao, "options"), json_object_get(bo, "options"));
        /* the lists are compared; the rest of the object (order included) must match */
        if (json_object_get(ac, "options")) json_object_set_new(ac, "options", json_array());
        if (json_object_get(bc, "options")) json_object_set_new(bc, "options", json_array());
    }
    char sub[600];
    snprintf(sub, sizeof sub, "%s[1]", path);
    same(ac, bc, sub);
    json_decref(ac), json_decref(bc);
}

static void same_node(const char *cls, const json_t *ours, const json_t *ref) {
    /* Key order and everything but "input" first, with "input" compared as empty objects. */
    json_t *a = json_deep_copy(ours), *b = json_deep_copy(ref);
    if (json_object_get(a, "input")) json_object_set_new(a, "input", json_object());
    if (json_object_get(b, "input")) json_object_set_new(b, "input", json_object());
    same(a, b, cls);
    json_decref(a), json_decref(b);
    const json_t *ai = json_object_get(ours, "input"), *bi = json_object_get(ref, "input");
    const char *sec;
    json_t *bs;
    char path[512];
    snprintf(path, sizeof path, "%s.input", cls);
    json_t *ak = json_object(), *bk = json_object(); /* the sections' names in order */
    json_object_foreach((json_t *)ai, sec, bs) json_object_set_new(ak, sec, json_null());
    json_object_foreach((json_t *)bi, sec, bs) json_object_set_new(bk, sec, json_null());
    same(ak, bk, path);
    json_decref(ak), json_decref(bk);
    json_object_foreach((json_t *)bi, sec, bs) {
        const json_t *as = json_object_get(ai, sec);
        if (!json_is_object(as) || !json_is_object(bs)) {
            snprintf(path, sizeof path, "%s.input.%s", cls, sec);
            same(as, bs, path);
            continue;
        }
        /* same names in the same order, then each input */
        json_t *an = json_object(), *bn = json_object();
        const char *name;
        json_t *v;
        json_object_foreach((json_t *)as, name, v) json_object_set_new(an, name, json_null());
        json_object_foreach(bs, name, v) json_object_set_new(bn, name, json_null());
        snprintf(path, sizeof path, "%s.input.%s", cls, sec);
        same(an, bn, path);
        json_decref(an), json_decref(bn);
        json_object_foreach(bs, name, v) {
            snprintf(path, sizeof path, "%s.input.%s.%s", cls, sec, name);
            const json_t *a_in = json_object_get(as, name);
            if (!a_in) continue;
            if (json_is_array(v))
                same_input(cls, name, a_in, v, path);
            else
                same(a_in, v, path); /* hidden: "PROMPT" ... */
        }
    }
}

static const char *empty_dir(const char *name) {
    const char *d = test_tmp_file(name);
    mkdir(d, 0700);
    return d;
}

static void test_nodes_json_is_comfyui(void) {
    fg_run_settings s = {.models_dir = empty_dir("models"), .input_dir = empty_dir("input")};
    json_t *all = fg_node_info_all(&s);
    CHECK(all && json_object_size(all) == fg_node_count());
    const char *cls;
    json_t *ours;
    json_object_foreach(all, cls, ours) {
        const json_t *ref = fg_comfy_def_find(cls);
        CHECK(ref, "%s is not a ComfyUI 0.30 node", cls);
        if (ref) same_node(cls, ours, ref);
    }
    /* Every not-offered entry names an input of a supported node. */
    const char *key;
    json_t *v;
    json_object_foreach(g_not_offered, key, v) {
        char cls_name[128];
        const char *dot = strchr(key, '.');
        snprintf(cls_name, sizeof cls_name, "%.*s", dot ? (int)(dot - key) : 0, key);
        const fg_node_spec *spec = fg_node_find(cls_name);
        CHECK(dot && spec && fg_node_input_index(spec, dot + 1) >= 0, "not_offered.json: %s is no input we support", key);
    }
    json_decref(all);
}

/* File combos list what the folder holds. */
static void test_file_combos_list_the_folder(void) {
    const char *root = empty_dir("models2");
    char p[1024];
    snprintf(p, sizeof p, "%s/vae", root), mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/vae/ae.safetensors", root);
    FILE *f = fopen(p, "wb");
    if (f) fclose(f);
    fg_run_settings s = {.models_dir = root};
    json_t *info = fg_node_info(fg_node_find("VAELoader"), &s);
    json_t *list = json_array_get(json_object_get(json_object_get(json_object_get(info, "input"), "required"), "vae_name"), 0);
    CHECK(json_array_size(list) == 1 && strcmp(json_string_value(json_array_get(list, 0)), "ae.safetensors") == 0);
    json_decref(info);
}

/* What we offer runs: every sampler and scheduler name resolves in sampling/. */
static void test_offered_samplers_run(void) {
    static const char *const nodes[] = {"KSampler", "KSamplerAdvanced", "KSamplerSelect"};
    for (size_t n = 0; n < 3; n++) {
        const fg_node_spec *spec = fg_node_find(nodes[n]);
        int i = fg_node_input_index(spec, "sampler_name");
        CHECK(i >= 0 && spec->inputs[i].options, "%s.sampler_name", nodes[n]);
        if (i < 0) continue;
        for (const char *const *o = spec->inputs[i].options; *o; o++) {
            fg_sampler smp;
            CHECK_OK(fg_sampler_from_name(*o, &smp));
        }
        int k = fg_node_input_index(spec, "scheduler");
        for (const char *const *o = k >= 0 ? spec->inputs[k].options : NULL; o && *o; o++) {
            fg_scheduler sch;
            CHECK_OK(fg_scheduler_from_name(*o, &sch));
        }
    }
}

/* A FLUX txt2img prompt with one input changed (or removed when value is NULL). */
static json_t *prompt_with(const char *node, const char *input, const char *value) {
    static const char *const text =
        "{\"1\": {\"class_type\": \"UNETLoader\", \"inputs\": {\"unet_name\": \"f.sft\", \"weight_dtype\": \"default\"}},"
        " \"2\": {\"class_type\": \"DualCLIPLoader\", \"inputs\": {\"clip_name1\": \"a.sft\", \"clip_name2\": \"b.sft\","
        " \"type\": \"flux\"}},"
        " \"3\": {\"class_type\": \"CLIPTextEncode\", \"inputs\": {\"text\": \"fox\", \"clip\": [\"2\", 0]}},"
        " \"4\": {\"class_type\": \"EmptySD3LatentImage\", \"inputs\": {\"width\": 64, \"height\": 64, \"batch_size\": 1}},"
        " \"5\": {\"class_type\": \"KSampler\", \"inputs\": {\"model\": [\"1\", 0], \"seed\": 1, \"steps\": 1, \"cfg\": 1.0,"
        " \"sampler_name\": \"euler\", \"scheduler\": \"simple\", \"positive\": [\"3\", 0], \"negative\": [\"3\", 0],"
        " \"latent_image\": [\"4\", 0], \"denoise\": 1.0}},"
        " \"6\": {\"class_type\": \"VAELoader\", \"inputs\": {\"vae_name\": \"ae.sft\"}},"
        " \"7\": {\"class_type\": \"VAEDecode\", \"inputs\": {\"samples\": [\"5\", 0], \"vae\": [\"6\", 0]}},"
        " \"8\": {\"class_type\": \"SaveImage\", \"inputs\": {\"images\": [\"7\", 0], \"filename_prefix\": \"x\"}}}";
    json_t *p = json_loads(text, 0, NULL);
    json_t *inputs = node ? json_object_get(json_object_get(p, node), "inputs") : NULL;
    if (!inputs)
        return p;
    if (value)
        json_object_set_new(inputs, input, json_string(value));
    else
        json_object_del(inputs, input);
    return p;
}

/* The one error of node `node`: its type, and details starting with `details` (NULL: any).
 * With a models folder (s) other nodes may fail too (their files are not there). */
static void expect_error(const fg_run_settings *s, const char *node, const char *input, const char *value,
                         const char *type, const char *details) {
    json_t *p = prompt_with(node, input, value);
    fg_validation v;
    CHECK_OK(fg_validate_prompt(p, s, &v));
    json_t *n = json_object_get(v.node_errors, node), *errs = json_object_get(n, "errors");
    json_t *e = json_array_get(errs, 0), *extra = json_object_get(e, "extra_info");
    const char *got = json_string_value(json_object_get(e, "type")), *d = json_string_value(json_object_get(e, "details"));
    CHECK(!v.ok && (s || json_object_size(v.node_errors) == 1) && json_array_size(errs) == 1, "%s.%s = %s: one error",
          node, input, value ? value : "(missing)");
    CHECK(got && strcmp(got, type) == 0, "%s.%s: %s, want %s", node, input, got ? got : "none", type);
    CHECK(!details || (d && strncmp(d, details, strlen(details)) == 0), "%s.%s details: %s", node, input, d ? d : "");
    const char *named = json_string_value(json_object_get(extra, "input_name"));
    CHECK(named && strcmp(named, input) == 0, "names the input");
    CHECK(json_object_get(n, "class_type") && json_object_get(n, "dependent_outputs"), "names the node");
    if (strcmp(type, "value_not_in_list") == 0) {
        /* extra_info as ComfyUI orders it, input_config being the input's /object_info entry */
        void *it = json_object_iter(extra);
        CHECK(it && strcmp(json_object_iter_key(it), "input_name") == 0);
        it = it ? json_object_iter_next(extra, it) : NULL;
        CHECK(it && strcmp(json_object_iter_key(it), "input_config") == 0, "input_config second");
        it = it ? json_object_iter_next(extra, it) : NULL;
        CHECK(it && strcmp(json_object_iter_key(it), "received_value") == 0, "received_value third");
        const fg_node_spec *spec = fg_node_find(json_string_value(json_object_get(n, "class_type")));
        json_t *config = fg_node_input_info(spec, fg_node_input_index(spec, input), s);
        CHECK(json_equal(json_object_get(extra, "input_config"), config), "%s.%s input_config", node, input);
        json_decref(config);
    }
    fg_validation_clear(&v);
    json_decref(p);
}

static void test_not_offered_values_fail_validation(void) {
    json_t *p = prompt_with(NULL, NULL, NULL);
    fg_validation v;
    CHECK_OK(fg_validate_prompt(p, NULL, &v));
    CHECK(v.ok && json_object_size(v.node_errors) == 0, "the base prompt is valid");
    fg_validation_clear(&v);
    json_decref(p);
    expect_error(NULL, "5", "sampler_name", "dpmpp_sde", "value_not_in_list",
                 "sampler_name: 'dpmpp_sde' not in ['euler', 'euler_ancestral', 'heun',");
    expect_error(NULL, "5", "sampler_name", "res_multistep", "value_not_in_list",
                 "sampler_name: 'res_multistep' not in");
    expect_error(NULL, "2", "type", "sdxl", "value_not_in_list", "type: 'sdxl' not in ['flux']");
    expect_error(NULL, "2", "type", "ace", "value_not_in_list", "type: 'ace' not in ['flux']");
    /* File names are checked against a models folder (none given: not checked at all). */
    fg_run_settings s = {.models_dir = empty_dir("models")};
    expect_error(&s, "6", "vae_name", "pixel_space", "value_not_in_list", "vae_name: 'pixel_space' not in");
    /* No declared default: a missing combo or prompt is missing, as in ComfyUI. */
    expect_error(NULL, "5", "scheduler", NULL, "required_input_missing", NULL);
    expect_error(NULL, "3", "text", NULL, "required_input_missing", NULL);
}

int main(void) {
    load_not_offered();
    RUN_TEST(test_nodes_json_is_comfyui);
    RUN_TEST(test_file_combos_list_the_folder);
    RUN_TEST(test_offered_samplers_run);
    RUN_TEST(test_not_offered_values_fail_validation);
    json_decref(g_not_offered);
    return test_summary();
}
