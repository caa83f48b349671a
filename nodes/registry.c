/* The node catalogue: every family's declarations turned into specs (nodes/node_decl.h) and
 * sorted by class name, once, on first use. The specs live as long as the process. */
#include "nodes/registry.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "nodes/node_families.h"

#define MAX_NODES 256

static fg_node_spec specs[MAX_NODES];
static const fg_node_spec *sorted[MAX_NODES];
static size_t n_sorted;
static char *first_error; /* the first declaration refused, for fg_node_registry_check */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int cmp_spec(const void *a, const void *b) {
    const fg_node_spec *x = *(const fg_node_spec *const *)a, *y = *(const fg_node_spec *const *)b;
    return strcmp(x->class_type, y->class_type);
}

static void add_family(const fg_node_decl *family, size_t count) {
    for (size_t i = 0; i < count; i++) {
        fg_error *err = n_sorted == MAX_NODES ? fg_errorf(FG_ERR_UNSUPPORTED, "more than %d nodes", MAX_NODES)
                                              : fg_node_spec_derive(&family[i], &specs[n_sorted]);
        if (!err) {
            sorted[n_sorted] = &specs[n_sorted];
            n_sorted++;
            continue;
        }
        FG_LOG_E("node declaration refused: %s", fg_error_message(err));
        if (!first_error) first_error = strdup(fg_error_message(err));
        fg_error_free(err);
    }
}

static void build(void) {
    add_family(fg_nodes_loaders, fg_nodes_loaders_count);
    add_family(fg_nodes_conditioning, fg_nodes_conditioning_count);
    add_family(fg_nodes_latent, fg_nodes_latent_count);
    add_family(fg_nodes_image, fg_nodes_image_count);
    add_family(fg_nodes_vae, fg_nodes_vae_count);
    add_family(fg_nodes_sampling, fg_nodes_sampling_count);
    add_family(fg_nodes_lora, fg_nodes_lora_count);
    qsort(sorted, n_sorted, sizeof sorted[0], cmp_spec);
    for (size_t i = 1; i < n_sorted && !first_error; i++)
        if (strcmp(sorted[i - 1]->class_type, sorted[i]->class_type) == 0) {
            char msg[256];
            snprintf(msg, sizeof msg, "node %s is declared twice", sorted[i]->class_type);
            FG_LOG_E("%s", msg);
            first_error = strdup(msg);
        }
}

fg_error *fg_node_registry_check(void) {
    pthread_once(&once, build);
    if (!first_error) return NULL;
    return fg_errorf(FG_ERR_INVALID_ARGUMENT, "%s", first_error);
}

size_t fg_node_count(void) {
    pthread_once(&once, build);
    return n_sorted;
}

const fg_node_spec *fg_node_at(size_t i) {
    return i < fg_node_count() ? sorted[i] : NULL;
}

const fg_node_spec *fg_node_find(const char *class_type) {
    if (!class_type) return NULL;
    size_t lo = 0, hi = fg_node_count();
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(class_type, sorted[mid]->class_type);
        if (c == 0) return sorted[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static int lower(int c) {
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Case-insensitive Levenshtein distance; names longer than 127 bytes count as far away. */
static int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 127 || lb > 127) return 1 << 20;
    int prev[128], cur[128];
    for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (lower((unsigned char)a[i - 1]) != lower((unsigned char)b[j - 1]));
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof(int));
    }
    return prev[lb];
}

/* A name that contains the query (or is contained in it) is a good suggestion even when the
 * edit distance is large ("Sampler" -> "KSampler"). */
static bool contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    if (n == 0) return false;
    for (; *hay; hay++) {
        size_t k = 0;
        while (k < n && hay[k] && lower((unsigned char)hay[k]) == lower((unsigned char)needle[k])) k++;
        if (k == n) return true;
    }
    return false;
}

size_t fg_node_suggest(const char *class_type, const char **out, size_t max) {
    if (!class_type || !out || max == 0) return 0;
    size_t n = fg_node_count();
    int dist[MAX_NODES];
    size_t len = strlen(class_type);
    int limit = len < 6 ? 2 : (int)(len / 3) + 1;
    for (size_t i = 0; i < n; i++) {
        dist[i] = edit_distance(class_type, sorted[i]->class_type);
        if (dist[i] > limit && len >= 4 &&
            (contains_ci(sorted[i]->class_type, class_type) || contains_ci(class_type, sorted[i]->class_type)))
            dist[i] = limit;
    }
    size_t written = 0;
    while (written < max) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (dist[i] <= limit && (best == n || dist[i] < dist[best])) best = i;
        if (best == n) break;
        out[written++] = sorted[best]->class_type;
        dist[best] = 1 << 21;
    }
    return written;
}

int fg_node_input_index(const fg_node_spec *spec, const char *name) {
    if (!spec || !name) return -1;
    for (int i = 0; i < spec->n_inputs; i++)
        if (strcmp(spec->inputs[i].name, name) == 0) return i;
    return -1;
}
