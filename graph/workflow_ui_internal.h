/* The UI -> API conversion's model of a saved workflow, private to graph/workflow_ui*.c.
 * The rules are the frontend's (1.48.7), summarised in docs/ui_workflow_conversion.md; the
 * section numbers below refer to it. */
#ifndef FG_GRAPH_WORKFLOW_UI_INTERNAL_H
#define FG_GRAPH_WORKFLOW_UI_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "nodes/comfy_defs.h"

#define UI_ID_MAX 32
#define UI_MAX_DEPTH 32 /* subgraphs nested deeper than this are refused */
#define UI_PATH_MAX ((UI_MAX_DEPTH + 2) * UI_ID_MAX)
#define UI_INPUT_NODE (-10)
#define UI_OUTPUT_NODE (-20)

typedef struct ui_graph ui_graph;

typedef struct ui_link {
    long long id;
    char from[UI_ID_MAX];
    long long from_slot;
    char to[UI_ID_MAX];
    long long to_slot;
} ui_link;

/* An input slot in the frontend's runtime order (§8.2). */
typedef struct ui_input {
    const char *name, *type;
    const json_t *link;  /* the stored link id, NULL when unconnected */
    const char *widget;  /* the widget this socket feeds, NULL for a plain socket */
} ui_input;

/* A subgraph definition's input or output slot. */
typedef struct ui_io {
    const char *name, *type;
    const json_t *link_ids;
} ui_io;

typedef struct ui_node {
    char id[UI_ID_MAX];
    const json_t *obj;
    const char *type, *title;
    long long mode;
    size_t file_pos;
    const fg_comfy_layout *layout; /* NULL: not a core node */
    const ui_graph *sub;           /* the definition, when this is a subgraph instance */
    ui_input *ins;
    size_t n_ins;
    const char **out_types;
    size_t n_outs;
    json_t **values;               /* one per layout widget; NULL = undefined (owned) */
    /* Instances: the promoted widget value of each definition input (§2.8-2.10), computed
     * once (a definition's nodes are shared by all instances of the outer definition). */
    json_t **promoted;
    bool *has_promoted;
    json_t *overrides;             /* {"innerId": {"widget": value}} from proxyWidgets */
    int promoted_state;            /* 0 not yet, 1 computing, 2 done */
} ui_node;

struct ui_graph {
    const json_t *obj;
    const char *sg_id, *name;      /* NULL for the root graph */
    ui_node *nodes;                /* sorted by id */
    ui_node **in_file_order;
    size_t n_nodes;
    ui_link *links;                /* sorted by id */
    size_t n_links;
    ui_io *inputs, *outputs;       /* definitions only */
    size_t n_inputs, n_outputs;
};

typedef struct ui_doc {
    const char *label;
    ui_graph root;
    ui_graph *defs;
    size_t n_defs;
    struct layout_cache *layouts;
    uint64_t rng;       /* dynamic prompt choices (seeded from the clock on first use) */
    json_t *renumbered; /* the workflow as the frontend rewrites it on opening (subgraph node
                           ids renumbered, group nodes made subgraphs), or NULL if unchanged */
} ui_doc;

/* A subgraph instance being flattened: the graph, the instance node in the parent graph and
 * the execution-id prefix ("194:" or "112:57:"). */
typedef struct ui_scope {
    const ui_graph *g;
    const struct ui_scope *parent;
    ui_node *instance;
    char path[UI_PATH_MAX];
    int depth;
} ui_scope;

/* What an input resolves to (§2.5-3.6). */
typedef enum { UI_NONE, UI_LINK, UI_VALUE } ui_origin_kind;
typedef struct ui_origin {
    ui_origin_kind kind;
    char node[UI_PATH_MAX];
    long long slot;
    const json_t *value;
} ui_origin;

/* workflow_ui_index.c */
fg_error *ui_doc_open(const json_t *ui, const char *label, ui_doc *doc) FG_MUST_CHECK;
void ui_doc_close(ui_doc *doc);
ui_node *ui_find_node(const ui_graph *g, const char *id);
const ui_link *ui_find_link(const ui_graph *g, long long id);
bool ui_is_virtual(const ui_node *n);
int ui_widget_index(const ui_node *n, const char *name);
fg_error *ui_instance_promoted(ui_doc *doc, ui_node *inst, int depth) FG_MUST_CHECK;

/* workflow_ui_groups.c: legacy group nodes of the root graph become subgraph instances in
 * work (a copy of the workflow), as the frontend converts them when it opens the file. */
bool ui_has_group_nodes(const json_t *ui);
fg_error *ui_expand_group_nodes(json_t *work, const char *label) FG_MUST_CHECK;

/* workflow_ui_resolve.c */
fg_error *ui_resolve_input(ui_doc *doc, const ui_scope *s, ui_node *n, size_t slot, const char *want,
                           int hops, ui_origin *out) FG_MUST_CHECK;
void ui_scope_child(const ui_scope *parent, ui_node *instance, ui_scope *child);

#endif
