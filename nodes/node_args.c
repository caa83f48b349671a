/* Named, type-checked node inputs (nodes/node_args.h). */
#include "nodes/node_args.h"

#include <stddef.h>

/* The declared input called name with the declared type `want` (COMBO counts as STRING when
 * `want` is STRING), or an error naming the node and input. */
static fg_error *declared(const fg_node_args *a, const char *name, fg_type want, const fg_value **v) {
    const char *cls = a && a->spec ? a->spec->class_type : "?";
    int i = a && a->spec ? fg_node_input_index(a->spec, name) : -1;
    if (i < 0) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s declares no input '%s'", cls, name ? name : "(null)");
    fg_type decl = a->spec->inputs[i].type;
    if (decl != want && !(want == FG_TYPE_STRING && decl == FG_TYPE_COMBO))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s input '%s' is declared %s, read as %s", cls, name,
                         fg_type_name(decl), fg_type_name(want));
    *v = &a->values[i];
    return NULL;
}

bool fg_arg_given(const fg_node_args *a, const char *name) {
    int i = a && a->spec ? fg_node_input_index(a->spec, name) : -1;
    return i >= 0 && a->values[i].type != FG_TYPE_NONE;
}

/* A given value of another type than the declared one: only a broken caller gets here (the
 * executor converts constants against the same declaration). */
static fg_error *holds_other(const fg_node_args *a, const char *name, const fg_value *v, fg_type want) {
    if (v->type == FG_TYPE_NONE)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s input '%s' is missing", a->spec->class_type, name);
    return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s input '%s' holds %s, expected %s", a->spec->class_type, name,
                     fg_type_name(v->type), fg_type_name(want));
}

/* A scalar input's value, which must hold `want`, stored into *out (int64_t for INT, double for
 * FLOAT, bool for BOOLEAN). */
static fg_error *read_scalar(const fg_node_args *a, const char *name, fg_type want, void *out) {
    const fg_value *v;
    FG_TRY(declared(a, name, want, &v));
    if (v->type != want) return holds_other(a, name, v, want);
    if (want == FG_TYPE_INT) *(int64_t *)out = v->u.i;
    else if (want == FG_TYPE_FLOAT) *(double *)out = v->u.f;
    else *(bool *)out = v->u.b;
    return NULL;
}

fg_error *fg_arg_int(const fg_node_args *a, const char *name, int64_t *out) {
    return read_scalar(a, name, FG_TYPE_INT, out);
}

fg_error *fg_arg_size(const fg_node_args *a, int64_t *width, int64_t *height) {
    FG_TRY(fg_arg_int(a, "width", width));
    return fg_arg_int(a, "height", height);
}

fg_error *fg_arg_seed(const fg_node_args *a, const char *name, uint64_t *out) {
    int64_t i = 0;
    FG_TRY(fg_arg_int(a, name, &i));
    *out = (uint64_t)i; /* seeds travel as the same 64 bits (value.h) */
    return NULL;
}

fg_error *fg_arg_float(const fg_node_args *a, const char *name, double *out) {
    return read_scalar(a, name, FG_TYPE_FLOAT, out);
}

fg_error *fg_arg_bool(const fg_node_args *a, const char *name, bool *out) {
    return read_scalar(a, name, FG_TYPE_BOOLEAN, out);
}

fg_error *fg_arg_string(const fg_node_args *a, const char *name, const char **out) {
    const fg_value *v;
    FG_TRY(declared(a, name, FG_TYPE_STRING, &v));
    if (v->type != FG_TYPE_STRING || !v->u.s) return holds_other(a, name, v, FG_TYPE_STRING);
    *out = v->u.s;
    return NULL;
}

fg_error *fg_arg_object_opt(const fg_node_args *a, const char *name, fg_type type, const fg_object **out) {
    const fg_value *v;
    *out = NULL;
    FG_TRY(declared(a, name, type, &v));
    if (v->type == FG_TYPE_NONE) return NULL;
    if (v->type != type || !v->u.obj || v->u.obj->type != type) return holds_other(a, name, v, type);
    *out = v->u.obj;
    return NULL;
}

fg_error *fg_arg_object(const fg_node_args *a, const char *name, fg_type type, const fg_object **out) {
    FG_TRY(fg_arg_object_opt(a, name, type, out));
    if (!*out) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s input is invalid: None", name);
    return NULL;
}
