/* fluxgraph nodes [--json]: the node catalogue, as text or in ComfyUI's /object_info shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "nodes/comfy_defs.h"
#include "graph/workflow.h"
#include "nodes/node_ctx.h"

static json_t *number(double x, bool integer) {
    return integer ? json_integer((json_int_t)x) : json_real(x);
}

static json_t *combo_options(const fg_input_spec *in, const fg_run_settings *settings) {
    json_t *list = json_array();
    if (in->source == FG_COMBO_FIXED) {
        for (const char *const *o = in->options; *o; o++) json_array_append_new(list, json_string(*o));
        return list;
    }
    char **names = NULL;
    size_t n = 0;
    fg_error *err = fg_node_list_models(settings, in->source, &names, &n);
    fg_error_free(err);
    for (size_t i = 0; i < n; i++) json_array_append_new(list, json_string(names[i]));
    fg_string_list_free(names);
    return list;
}

static json_t *input_entry(const fg_input_spec *in, const fg_run_settings *settings) {
    json_t *opts = json_object();
    bool is_int = in->type == FG_TYPE_INT;
    if (is_int || in->type == FG_TYPE_FLOAT) {
        json_object_set_new(opts, "default", number(in->def, is_int));
        if (in->has_min) json_object_set_new(opts, "min", number(in->min, is_int));
        if (in->has_max)
            json_object_set_new(opts, "max", in->max_u64 ? json_pack("{s:s}", FG_BIGINT_KEY, "18446744073709551615")
                                                         : number(in->max, is_int));
        if (in->step > 0) json_object_set_new(opts, "step", number(in->step, is_int));
        if (in->round > 0) json_object_set_new(opts, "round", json_real(in->round));
    } else if (in->type == FG_TYPE_BOOLEAN) {
        json_object_set_new(opts, "default", json_boolean(in->def != 0));
    } else if (in->type == FG_TYPE_STRING) {
        json_object_set_new(opts, "default", json_string(in->def_string ? in->def_string : ""));
        if (in->multiline) json_object_set_new(opts, "multiline", json_true());
        if (in->dynamic_prompts) json_object_set_new(opts, "dynamicPrompts", json_true());
    } else if (in->type == FG_TYPE_COMBO && in->def_string) {
        json_object_set_new(opts, "default", json_string(in->def_string));
    }
    if (in->control_after_generate) json_object_set_new(opts, "control_after_generate", json_true());
    if (in->image_upload) json_object_set_new(opts, "image_upload", json_true());
    if (in->force_input) json_object_set_new(opts, "forceInput", json_true());
    json_t *type = in->type == FG_TYPE_COMBO ? combo_options(in, settings) : json_string(fg_type_name(in->type));
    if (json_object_size(opts) == 0) {
        json_decref(opts);
        return json_pack("[o]", type);
    }
    return json_pack("[o, o]", type, opts);
}

static const char *node_category(const fg_node_spec *s);

static json_t *node_info(const fg_node_spec *s, const fg_run_settings *settings) {
    json_t *req = json_object(), *opt = json_object(), *req_order = json_array(), *opt_order = json_array();
    for (int i = 0; i < s->n_inputs; i++) {
        const fg_input_spec *in = &s->inputs[i];
        json_object_set_new(in->optional ? opt : req, in->name, input_entry(in, settings));
        json_array_append_new(in->optional ? opt_order : req_order, json_string(in->name));
    }
    json_t *input = json_pack("{s:o}", "required", req), *order = json_pack("{s:o}", "required", req_order);
    if (json_object_size(opt)) {
        json_object_set_new(input, "optional", opt);
        json_object_set_new(order, "optional", opt_order);
    } else {
        json_decref(opt);
        json_decref(opt_order);
    }
    json_t *out = json_array(), *is_list = json_array(), *names = json_array();
    for (int i = 0; i < s->n_outputs; i++) {
        json_array_append_new(out, json_string(fg_type_name(s->outputs[i])));
        json_array_append_new(is_list, json_false());
        json_array_append_new(names, json_string(s->output_names[i] ? s->output_names[i] : fg_type_name(s->outputs[i])));
    }
    /* Display name, description and category as ComfyUI 0.30 reports them (null where it does). */
    const json_t *def = fg_comfy_def_find(s->class_type);
    json_t *display = def ? json_deep_copy(json_object_get(def, "display_name")) : json_string(s->display_name);
    json_t *description = def ? json_deep_copy(json_object_get(def, "description"))
                              : json_string(s->description ? s->description : "");
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:s, s:b}", "input", input, "input_order", order,
                     "output", out, "output_is_list", is_list, "output_name", names, "name", s->class_type,
                     "display_name", display ? display : json_null(), "description",
                     description ? description : json_null(), "category", node_category(s), "output_node",
                     s->output_node);
}

static const char *node_category(const fg_node_spec *s) {
    const char *c = json_string_value(json_object_get(fg_comfy_def_find(s->class_type), "category"));
    return c ? c : s->category;
}

static void print_text(void) {
    for (size_t i = 0; i < fg_node_count(); i++) {
        const fg_node_spec *s = fg_node_at(i);
        printf("%s (%s)%s%s\n  in: ", s->class_type, node_category(s), s->output_node ? " [output]" : "",
               s->execute ? "" : " [declared, not runnable yet]");
        for (int k = 0; k < s->n_inputs; k++)
            printf("%s%s %s%s", k ? ", " : "", s->inputs[k].name, fg_type_name(s->inputs[k].type),
                   s->inputs[k].optional ? "?" : "");
        printf("\n  out: ");
        for (int k = 0; k < s->n_outputs; k++) printf("%s%s", k ? ", " : "", fg_type_name(s->outputs[k]));
        printf("%s\n", s->n_outputs ? "" : "-");
    }
}

int cmd_nodes(int argc, char **argv) {
    int json = 0;
    const char *models = getenv("FLUXGRAPH_MODELS");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "--models") == 0 && i + 1 < argc) models = argv[++i];
        else {
            fprintf(stderr, "fluxgraph nodes: unexpected argument '%s'\nusage: fluxgraph nodes [--json] [--models DIR]\n",
                    argv[i]);
            return 2;
        }
    }
    if (!json) {
        print_text();
        return 0;
    }
    fg_run_settings settings = {.models_dir = models && *models ? models : NULL};
    json_t *all = json_object();
    for (size_t i = 0; i < fg_node_count(); i++)
        json_object_set_new(all, fg_node_at(i)->class_type, node_info(fg_node_at(i), &settings));
    char *text = fg_workflow_dump_api(all);
    json_decref(all);
    if (!text) return cli_report(fg_errorf(FG_ERR_OUT_OF_MEMORY, "writing the node list"));
    printf("%s\n", text);
    free(text);
    return 0;
}
