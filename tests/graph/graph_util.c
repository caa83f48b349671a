/* Helpers for test_graph: loading fixture workflows and running validation into a string. */
#include "tests/graph/graph_util.h"

#include <stdlib.h>
#include <string.h>

#include "graph/validate.h"

char *graph_validate_text(const json_t *prompt, const fg_run_settings *settings, bool *ok) {
    fg_validation v;
    fg_error *err = fg_validate_prompt(prompt, settings, &v);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (err) {
        fprintf(f, "%s", fg_error_message(err));
        fg_error_free(err);
    } else {
        fg_validation_print(&v, NULL, f);
    }
    fclose(f);
    *ok = !err && v.ok && !v.error;
    fg_validation_clear(&v);
    return text;
}

/* Same value: numbers compared by value (1 == 1.0), objects by keys, arrays in order. */
bool graph_json_same(const json_t *a, const json_t *b) {
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b)) return false;
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b)) return false;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) if (!graph_json_same(v, json_object_get(b, k))) return false;
        return true;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!graph_json_same(json_array_get(a, i), json_array_get(b, i))) return false;
        return true;
    }
    return json_equal((json_t *)a, (json_t *)b);
}
