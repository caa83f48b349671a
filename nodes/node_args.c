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

/* A scalar input's value, which must hold `held` (a COMBO travels as a STRING). */
static fg_error *scalar(const fg_node_args *a, const char *name, fg_type want, const fg_value **v) {
    FG_TRY(declared(a, name, want, v));
    fg_type held = want == FG_TYPE_COMBO ? FG_TYPE_STRING : want;
    if ((*v)->type == FG_TYPE_NONE) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s input is missing", name);
    if ((*v)->type != held)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s input holds %s, expected %s", name, fg_type_name((*v)->type),
                         fg_type_name(held));
    return NULL;
}

fg_error *fg_arg_int(const fg_node_args *a, const char *name, int64_t *out) {
    const fg_value *v;
    FG_TRY(scalar(a, name, FG_TYPE_INT, &v));
    *out = v->u.i;
    return NULL;
}

fg_error *fg_arg_seed(const fg_node_args *a, const char *name, uint64_t *out) {
    int64_t i;
    FG_TRY(fg_arg_int(a, name, &i));
    *out = (uint64_t)i; /* seeds travel as the same 64 bits (value.h) */
    return NULL;
}

fg_error *fg_arg_float(const fg_node_args *a, const char *name, double *out) {
    const fg_value *v;
    FG_TRY(scalar(a, name, FG_TYPE_FLOAT, &v));
    *out = v->u.f;
    return NULL;
}

fg_error *fg_arg_bool(const fg_node_args *a, const char *name, bool *out) {
    const fg_value *v;
    FG_TRY(scalar(a, name, FG_TYPE_BOOLEAN, &v));
    *out = v->u.b;
    return NULL;
}

fg_error *fg_arg_string(const fg_node_args *a, const char *name, const char **out) {
    const fg_value *v;
    FG_TRY(declared(a, name, FG_TYPE_STRING, &v));
    if (v->type != FG_TYPE_STRING || !v->u.s)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s input holds %s, expected STRING", name, fg_type_name(v->type));
    *out = v->u.s;
    return NULL;
}

fg_error *fg_arg_object_opt(const fg_node_args *a, const char *name, fg_type type, const fg_object **out) {
    const fg_value *v;
    *out = NULL;
    FG_TRY(declared(a, name, type, &v));
    if (v->type == FG_TYPE_NONE) return NULL;
    if (v->type != type || !v->u.obj || v->u.obj->type != type)
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s input holds %s, expected %s", name, fg_type_name(v->type),
                         fg_type_name(type));
    *out = v->u.obj;
    return NULL;
}

fg_error *fg_arg_object(const fg_node_args *a, const char *name, fg_type type, const fg_object **out) {
    FG_TRY(fg_arg_object_opt(a, name, type, out));
    if (!*out) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s input is invalid: None", name);
    return NULL;
}
