/* fluxgraph run FILE: ComfyUI's Queue Prompt, headless. Jobs come from the workflow with
 * --set / --seed / --prompt overrides, repeated by --batch-count and --prompts; one executor
 * serves them all, so loaded models and unchanged results are reused. Exit codes: 0 ok,
 * 2 invalid workflow or usage, 3 runtime failure (including Ctrl-C). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/fs.h"
#include "core/progress.h"
#include "graph/executor.h"
#include "graph/validate.h"
#include "graph/workflow.h"

#define RUN_USAGE                                                                                          \
    "usage: fluxgraph run FILE [--models DIR] [--output DIR] [--input DIR] [--set NODE.INPUT=VALUE]...\n" \
    "                     [--seed N] [--prompt TEXT] [--batch-count N] [--prompts FILE] [--json]\n"       \
    "                     [--no-metadata] [--format png|jpeg] [--quality N] [--strict-lora] [--fail-fast]\n"
#define EXIT_INVALID 2
#define EXIT_RUNTIME 3
#define MAX_SETS 256

typedef struct run_opts {
    const char *path, *models, *output, *input, *prompt, *prompts_file;
    const char *sets[MAX_SETS];
    int nsets;
    bool has_seed, json, no_metadata, jpeg, strict_lora, fail_fast;
    uint64_t seed;
    long batch_count;
    int quality;
} run_opts;

static volatile int g_cancel;

/* The first Ctrl-C (or SIGTERM / SIGHUP: a service manager, a closed terminal) asks for a clean
 * stop after the current node or step, so no half-written image is left behind; a second one
 * falls back to the default action (immediate exit). */
static void on_stop_signal(int sig) {
    static const char msg[] = "\nfluxgraph run: stopping after the current step (signal again to abort)\n";
    g_cancel = 1;
    signal(sig, SIG_DFL);
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
}

/* ---- overrides ---------------------------------------------------------------------- */

static bool parse_u64(const char *s, uint64_t *out) {
    if (!s || *s < '0' || *s > '9') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

/* JSON for a seed: integers beyond int64 travel as the big-int marker. */
static json_t *u64_json(uint64_t v) {
    if (v <= (uint64_t)INT64_MAX) return json_integer((json_int_t)v);
    char digits[24];
    snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    return json_pack("{s:s}", FG_BIGINT_KEY, digits);
}

/* A node by id, else by its unique _meta.title. */
static fg_error *find_node(json_t *prompt, const char *ref, const char **id_out) {
    if (json_is_object(json_object_get(prompt, ref))) {
        *id_out = ref;
        return NULL;
    }
    const char *id, *found = NULL;
    json_t *node;
    int hits = 0;
    json_object_foreach(prompt, id, node) {
        const char *title = json_string_value(json_object_get(json_object_get(node, "_meta"), "title"));
        if (title && strcmp(title, ref) == 0) {
            found = id;
            hits++;
        }
    }
    if (hits == 0) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "--set: no node with id or title '%s'", ref);
    if (hits > 1) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "--set: %d nodes are titled '%s'; use the node id", hits, ref);
    *id_out = found;
    return NULL;
}

static fg_error *parse_typed(const fg_input_spec *in, const char *text, json_t **out) {
    char *end;
    uint64_t u;
    switch (in->type) {
    case FG_TYPE_INT: {
        if (text[0] != '-' && parse_u64(text, &u)) *out = u64_json(u);
        else {
            errno = 0;
            long long v = strtoll(text, &end, 10);
            if (errno || end == text || *end) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "'%s' is not an integer", text);
            *out = json_integer(v);
        }
        return NULL;
    }
    case FG_TYPE_FLOAT: {
        double v = strtod(text, &end);
        if (end == text || *end) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "'%s' is not a number", text);
        /* JSON has no nan/inf (jansson refuses them), and 1e999 overflows to inf. */
        if (!isfinite(v)) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "'%s' is not a finite number", text);
        *out = json_real(v);
        return *out ? NULL : fg_errorf(FG_ERR_OUT_OF_MEMORY, "'%s'", text);
    }
    case FG_TYPE_BOOLEAN:
        if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0) *out = json_true();
        else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0) *out = json_false();
        else return fg_errorf(FG_ERR_INVALID_ARGUMENT, "'%s' is not true or false", text);
        return NULL;
    case FG_TYPE_STRING:
    case FG_TYPE_COMBO:
        *out = json_string(text);
        return *out ? NULL : fg_errorf(FG_ERR_INVALID_ARGUMENT, "the value is not valid UTF-8");
    default:
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "input '%s' is a %s link, not a value", in->name,
                         fg_type_name(in->type));
    }
}

/* NODE.INPUT=VALUE (the node part may be a title containing dots: the input is after the
 * last dot before '='). */
static fg_error *apply_set(json_t *prompt, const char *assignment) {
    const char *eq = strchr(assignment, '=');
    if (!eq) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "--set '%s': expected NODE.INPUT=VALUE", assignment);
    char lhs[1024];
    snprintf(lhs, sizeof lhs, "%.*s", (int)(eq - assignment), assignment);
    char *dot = strrchr(lhs, '.');
    if (!dot || dot == lhs || !dot[1])
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "--set '%s': expected NODE.INPUT=VALUE", assignment);
    *dot = 0;
    const char *id = NULL, *input = dot + 1;
    FG_TRY(find_node(prompt, lhs, &id));
    json_t *node = json_object_get(prompt, id);
    const char *cls = json_string_value(json_object_get(node, "class_type"));
    const fg_node_spec *spec = cls ? fg_node_find(cls) : NULL;
    if (!spec) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "--set: node %s has an unknown class", id);
    int at = fg_node_input_index(spec, input);
    if (at < 0) return fg_errorf(FG_ERR_INVALID_ARGUMENT, "--set: node %s (%s) has no input '%s'", id, cls, input);
    json_t *value = NULL;
    FG_TRY_CTX(parse_typed(&spec->inputs[at], eq + 1, &value), "--set node %s (%s) input '%s'", id, cls, input);
    json_t *inputs = json_object_get(node, "inputs");
    if (!json_is_object(inputs)) {
        inputs = json_object();
        json_object_set_new(node, "inputs", inputs);
    }
    json_object_set_new(inputs, input, value);
    return NULL;
}

/* Every constant seed / noise_seed: set to `seed` (set) or advanced by `add`. Returns how many. */
static int adjust_seeds(json_t *prompt, bool set, uint64_t seed, uint64_t add) {
    const char *id;
    json_t *node;
    int n = 0;
    json_object_foreach(prompt, id, node) {
        json_t *inputs = json_object_get(node, "inputs");
        static const char *const names[] = {"seed", "noise_seed"};
        for (int k = 0; k < 2; k++) {
            json_t *v = json_object_get(inputs, names[k]);
            uint64_t cur;
            if (!v || json_is_array(v)) continue;
            if (set) cur = seed;
            else if (fg_json_get_u64(v, &cur)) cur += add;
            else continue;
            json_object_set_new(inputs, names[k], u64_json(cur));
            n++;
        }
    }
    return n;
}

static const char *text_class(const char *cls) {
    if (strcmp(cls, "CLIPTextEncode") == 0 || strcmp(cls, "CLIPTextEncodeFlux") == 0) return cls;
    return NULL;
}

/* Follows a CONDITIONING link back through pass-through nodes to the text encoders. */
static void collect_encoders(json_t *prompt, const json_t *link, json_t *found, int depth) {
    if (!json_is_array(link) || depth > 64) return;
    const char *src = json_string_value(json_array_get(link, 0));
    json_t *node = src ? json_object_get(prompt, src) : NULL;
    const char *cls = json_string_value(json_object_get(node, "class_type"));
    if (!cls) return;
    if (text_class(cls)) {
        json_object_set_new(found, src, json_string(cls));
        return;
    }
    const char *name;
    json_t *v;
    json_object_foreach(json_object_get(node, "inputs"), name, v)
        if (strncmp(name, "conditioning", 12) == 0) collect_encoders(prompt, v, found, depth + 1);
}

/* --prompt: the positive text of the workflow (sampler positive / guider conditioning). */
static fg_error *apply_prompt(json_t *prompt, const char *text) {
    json_t *found = json_object();
    const char *id;
    json_t *node;
    json_object_foreach(prompt, id, node) {
        const char *cls = json_string_value(json_object_get(node, "class_type"));
        json_t *inputs = json_object_get(node, "inputs");
        if (!cls) continue;
        if (strncmp(cls, "KSampler", 8) == 0 || strcmp(cls, "SamplerCustom") == 0 || strcmp(cls, "CFGGuider") == 0)
            collect_encoders(prompt, json_object_get(inputs, "positive"), found, 0);
        else if (strcmp(cls, "BasicGuider") == 0)
            collect_encoders(prompt, json_object_get(inputs, "conditioning"), found, 0);
    }
    fg_error *err = NULL;
    if (json_object_size(found) != 1) {
        char list[1024] = "";
        size_t len = 0;
        json_t *cls;
        json_object_foreach(found, id, cls)
            len += (size_t)snprintf(list + len, len < sizeof list ? sizeof list - len : 0, "%s%s (%s)", len ? ", " : "",
                                    id, json_string_value(cls));
        err = json_object_size(found) == 0
                  ? fg_errorf(FG_ERR_INVALID_ARGUMENT, "--prompt: no text encoder feeds a sampler's positive input")
                  : fg_errorf(FG_ERR_INVALID_ARGUMENT, "--prompt is ambiguous: candidate nodes %s; use --set NODE.text=...",
                              list);
    } else {
        void *it = json_object_iter(found);
        json_t *inputs = json_object_get(json_object_get(prompt, json_object_iter_key(it)), "inputs");
        if (strcmp(json_string_value(json_object_iter_value(it)), "CLIPTextEncode") == 0)
            json_object_set_new(inputs, "text", json_string(text));
        else {
            json_object_set_new(inputs, "clip_l", json_string(text));
            json_object_set_new(inputs, "t5xxl", json_string(text));
        }
    }
    json_decref(found);
    return err;
}

/* A --prompts line: plain text (as --prompt) or a JSON object of NODE.INPUT: value overrides
 * ("prompt" and "seed" keys act as the options). */
static fg_error *apply_line(json_t *prompt, const char *line) {
    if (line[0] != '{') return apply_prompt(prompt, line);
    json_error_t jerr;
    json_t *obj = json_loads(line, 0, &jerr);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "--prompts line is not a JSON object: %s", jerr.text);
    }
    fg_error *err = NULL;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (err) break;
        uint64_t seed;
        char *text = json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_ENCODE_ANY);
        if (!text) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "--prompts");
        else if (strcmp(key, "prompt") == 0) err = apply_prompt(prompt, text);
        else if (strcmp(key, "seed") == 0) {
            if (!parse_u64(text, &seed)) err = fg_errorf(FG_ERR_INVALID_ARGUMENT, "--prompts: bad seed '%s'", text);
            else adjust_seeds(prompt, true, seed, 0);
        } else {
            size_t n = strlen(key) + strlen(text) + 2;
            char *assign = malloc(n);
            if (!assign) err = fg_errorf(FG_ERR_OUT_OF_MEMORY, "--prompts");
            else {
                snprintf(assign, n, "%s=%s", key, text);
                err = apply_set(prompt, assign);
                free(assign);
            }
        }
        free(text);
    }
    json_decref(obj);
    return err;
}

/* ---- events ------------------------------------------------------------------------- */

typedef struct node_time {
    char id[64], cls[64];
    double seconds;
    int runs;
} node_time;

typedef struct run_ui {
    const run_opts *o;
    fg_progress bar;
    char bar_node[64];
    char running[64];   /* the node of the last executing event */
    json_t *executed;   /* ids run in the current job (execution_error's "executed") */
    node_time *times;
    size_t ntimes, cap;
    int images;
} run_ui;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000);
}

static void emit_json(const char *type, json_t *data) {
    json_t *msg = json_pack("{s:s, s:o}", "type", type, "data", data);
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    if (text) printf("%s\n", text);
    fflush(stdout);
    free(text);
    json_decref(msg);
}

static void json_event(run_ui *ui, const fg_event *ev) {
    json_t *ts = json_integer((json_int_t)now_ms());
    switch (ev->kind) {
    case FG_EVENT_EXECUTION_START:
        emit_json("execution_start", json_pack("{s:s, s:o}", "prompt_id", ev->prompt_id, "timestamp", ts));
        return;
    case FG_EVENT_EXECUTION_CACHED:
        emit_json("execution_cached", json_pack("{s:O, s:s, s:o}", "nodes", ev->node_ids, "prompt_id", ev->prompt_id,
                                                "timestamp", ts));
        return;
    case FG_EVENT_EXECUTING:
        emit_json("executing", ev->node_id ? json_pack("{s:s, s:s, s:s}", "node", ev->node_id, "display_node",
                                                       ev->node_id, "prompt_id", ev->prompt_id)
                                           : json_pack("{s:n, s:s}", "node", "prompt_id", ev->prompt_id));
        break;
    case FG_EVENT_PROGRESS:
        emit_json("progress", json_pack("{s:I, s:I, s:s, s:s}", "value", (json_int_t)ev->value, "max",
                                        (json_int_t)ev->max, "prompt_id", ev->prompt_id, "node", ev->node_id));
        break;
    case FG_EVENT_EXECUTED:
        if (ev->output)
            emit_json("executed", json_pack("{s:s, s:s, s:O, s:s}", "node", ev->node_id, "display_node", ev->node_id,
                                            "output", ev->output, "prompt_id", ev->prompt_id));
        break;
    case FG_EVENT_EXECUTION_ERROR:
        emit_json("execution_error",
                  json_pack("{s:s, s:s, s:s, s:O, s:s, s:s, s:[], s:{}, s:[]}", "prompt_id", ev->prompt_id, "node_id",
                            ev->node_id ? ev->node_id : "", "node_type", ev->class_type ? ev->class_type : "",
                            "executed", ui->executed, "exception_message", ev->message ? ev->message : "",
                            "exception_type", "RuntimeError", "traceback", "current_inputs", "current_outputs"));
        break;
    case FG_EVENT_EXECUTION_SUCCESS:
        emit_json("execution_success", json_pack("{s:s, s:o}", "prompt_id", ev->prompt_id, "timestamp", ts));
        return;
    }
    json_decref(ts);
}

static void add_time(run_ui *ui, const fg_event *ev) {
    size_t i = 0;
    while (i < ui->ntimes && strcmp(ui->times[i].id, ev->node_id) != 0) i++;
    if (i == ui->ntimes) {
        if (ui->ntimes == ui->cap) {
            size_t cap = ui->cap ? ui->cap * 2 : 16;
            node_time *grown = realloc(ui->times, cap * sizeof *grown);
            if (!grown) return;
            ui->times = grown;
            ui->cap = cap;
        }
        memset(&ui->times[i], 0, sizeof ui->times[i]);
        snprintf(ui->times[i].id, sizeof ui->times[i].id, "%s", ev->node_id);
        snprintf(ui->times[i].cls, sizeof ui->times[i].cls, "%s", ev->class_type ? ev->class_type : "?");
        ui->ntimes++;
    }
    ui->times[i].seconds += ev->seconds;
    ui->times[i].runs++;
}

static void print_images(run_ui *ui, const json_t *output) {
    size_t k;
    json_t *img;
    json_array_foreach(json_object_get(output, "images"), k, img) {
        const char *sub = json_string_value(json_object_get(img, "subfolder"));
        const char *type = json_string_value(json_object_get(img, "type"));
        const char *root = type && strcmp(type, "temp") == 0 ? "temp" : NULL;
        if (ui->o->json) continue;
        printf("%s/%s%s%s%s\n", ui->o->output, root ? "temp/" : "", sub && *sub ? sub : "", sub && *sub ? "/" : "",
               json_string_value(json_object_get(img, "filename")));
        ui->images++;
    }
    fflush(stdout);
}

static void end_bar(run_ui *ui) {
    if (ui->bar.active) fg_progress_end(&ui->bar);
    ui->bar_node[0] = 0;
}

static void on_event(void *user, const fg_event *ev) {
    run_ui *ui = user;
    if (ui->o->json) json_event(ui, ev);
    switch (ev->kind) {
    case FG_EVENT_EXECUTING:
        snprintf(ui->running, sizeof ui->running, "%s", ev->node_id ? ev->node_id : "");
        if (ev->node_id && !ui->o->json) fprintf(stderr, "node %s (%s)\n", ev->node_id, ev->class_type);
        break;
    case FG_EVENT_PROGRESS:
        if (ui->o->json) break;
        if (strcmp(ui->bar_node, ev->node_id) != 0) {
            char label[64];
            end_bar(ui);
            snprintf(label, sizeof label, "  %s", ev->class_type ? ev->class_type : ev->node_id);
            fg_progress_begin(&ui->bar, stderr, label, ev->max, -1);
            snprintf(ui->bar_node, sizeof ui->bar_node, "%s", ev->node_id);
        }
        fg_progress_update(&ui->bar, ev->value);
        break;
    case FG_EVENT_EXECUTED:
        end_bar(ui);
        if (strcmp(ui->running, ev->node_id) == 0) { /* not a cached output node's replay */
            json_array_append_new(ui->executed, json_string(ev->node_id));
            add_time(ui, ev);
        }
        if (ev->output) print_images(ui, ev->output);
        break;
    case FG_EVENT_EXECUTION_ERROR:
        end_bar(ui);
        break;
    default:
        break;
    }
}

static void print_summary(const run_ui *ui) {
    if (ui->ntimes == 0) return;
    double total = 0;
    fprintf(stderr, "time per node:\n");
    for (size_t i = 0; i < ui->ntimes; i++) {
        char d[32];
        total += ui->times[i].seconds;
        fprintf(stderr, "  %-6s %-28s %10s%s\n", ui->times[i].id, ui->times[i].cls,
                fg_format_duration(ui->times[i].seconds, d, sizeof d), ui->times[i].runs > 1 ? " (all runs)" : "");
    }
    char d[32];
    fprintf(stderr, "  total %39s\n", fg_format_duration(total, d, sizeof d));
}

/* ---- jobs --------------------------------------------------------------------------- */

static void make_prompt_id(char *out, size_t cap) {
    static uint64_t state;
    if (!state) state = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
    uint64_t r[2];
    for (int i = 0; i < 2; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        r[i] = state;
    }
    snprintf(out, cap, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(r[0] >> 32), (unsigned)(r[0] >> 16) & 0xffff,
             (unsigned)r[0] & 0xfff, (unsigned)((r[1] >> 48) & 0x3fff) | 0x8000,
             (unsigned long long)(r[1] & 0xffffffffffffULL));
}

/* 0 valid (v then holds the converted prompt the job runs); prints the errors and returns
 * EXIT_INVALID otherwise. The caller clears v either way. */
static int validate_job(const json_t *prompt, const json_t *ui, const fg_run_settings *settings, const run_opts *o,
                        fg_validation *v) {
    fg_error *err = fg_validate_prompt(prompt, settings, v);
    if (err) {
        cli_report(err);
        return EXIT_INVALID;
    }
    bool ok = v->ok && !v->error;
    if (!ok && o->json) {
        json_t *j = fg_validation_to_json(v);
        if (j) emit_json("validation_error", j);
    }
    if (!ok || json_object_size(v->node_errors) > 0) fg_validation_print(v, ui, stderr);
    return ok ? 0 : EXIT_INVALID;
}

static int run_job(fg_executor *ex, const fg_workflow *base, json_t *prompt, const fg_run_settings *settings,
                   run_ui *ui) {
    fg_validation v;
    int rc = validate_job(prompt, base->ui, settings, ui->o, &v);
    if (rc) {
        fg_validation_clear(&v);
        return rc;
    }
    fg_workflow job = {.prompt = prompt, .ui = base->ui, .source = base->source};
    char prompt_id[48];
    make_prompt_id(prompt_id, sizeof prompt_id);
    json_array_clear(ui->executed);
    fg_error *err = fg_executor_run_validated(ex, &job, &v, prompt_id, on_event, ui);
    fg_validation_clear(&v);
    if (!err) return 0;
    if (fg_error_code_of(err) == FG_ERR_CANCELLED || g_cancel)
        fprintf(stderr, "fluxgraph run: interrupted (Ctrl-C or signal): %s; no partial image was written\n",
                fg_error_message(err));
    else fprintf(stderr, "fluxgraph run: error: %s\n", fg_error_message(err));
    fg_error_free(err);
    return EXIT_RUNTIME;
}

/* The base prompt with --set, --seed and --prompt applied. */
static fg_error *base_overrides(json_t *prompt, const run_opts *o) {
    for (int i = 0; i < o->nsets; i++) FG_TRY(apply_set(prompt, o->sets[i]));
    if (o->has_seed && adjust_seeds(prompt, true, o->seed, 0) == 0)
        fprintf(stderr, "fluxgraph run: warning: --seed: the workflow has no seed or noise_seed input\n");
    if (o->prompt) FG_TRY(apply_prompt(prompt, o->prompt));
    return NULL;
}

/* The jobs of --prompts FILE: its non-blank lines, with their line numbers in the file (for
 * messages: a user looks a bad job up by the number their editor shows). */
typedef struct job_lines {
    char **text;
    size_t *file_line;
    size_t n, cap;
} job_lines;

static void job_lines_free(job_lines *jl) {
    for (size_t i = 0; i < jl->n; i++) free(jl->text[i]);
    free(jl->text);
    free(jl->file_line);
}

static fg_error *job_lines_add(job_lines *jl, const char *line, size_t file_line) {
    if (jl->n == jl->cap) {
        size_t cap = jl->cap ? jl->cap * 2 : 16;
        char **text = realloc(jl->text, cap * sizeof *text);
        if (text) jl->text = text;
        size_t *numbers = text ? realloc(jl->file_line, cap * sizeof *numbers) : NULL;
        if (!numbers) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "--prompts");
        jl->file_line = numbers;
        jl->cap = cap;
    }
    if (!(jl->text[jl->n] = strdup(line))) return fg_errorf(FG_ERR_OUT_OF_MEMORY, "--prompts");
    jl->file_line[jl->n++] = file_line;
    return NULL;
}

/* One job per non-blank line of FILE, or one job without it. */
static fg_error *read_lines(const char *path, job_lines *jl) {
    if (!path) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return fg_errorf(FG_ERR_IO, "--prompts %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, file_line = 0;
    ssize_t len;
    fg_error *err = NULL;
    while (!err && (len = getline(&line, &cap, f)) >= 0) {
        file_line++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len > 0) err = job_lines_add(jl, line, file_line);
    }
    free(line);
    fclose(f);
    if (!err && jl->n == 0) err = fg_errorf(FG_ERR_INVALID_ARGUMENT, "--prompts %s has no jobs", path);
    return err;
}

/* Failed jobs of a batch: by default every job runs and the failures are listed at the end. */
typedef struct job_failures {
    size_t done, failed;
    int rc;           /* EXIT_RUNTIME if any job failed while running, else EXIT_INVALID */
    const char *what; /* "line" (of --prompts) or "job" */
    char list[512];   /* "5, 30" (cut with "..." when long) */
} job_failures;

static void note_failure(job_failures *f, int rc, const char *what, size_t number) {
    f->what = what;
    f->failed++;
    if (rc == EXIT_RUNTIME || !f->rc) f->rc = rc;
    size_t used = strlen(f->list);
    if (used + 32 >= sizeof f->list) {
        if (!strstr(f->list, "...")) snprintf(f->list + used, sizeof f->list - used, ", ...");
        return;
    }
    snprintf(f->list + used, sizeof f->list - used, "%s%zu", used ? ", " : "", number);
}

/* The folders a run writes to and reads from, checked before the first node runs so a typo
 * does not surface only at SaveImage after all the sampling. The output folder itself is made
 * (nested, as ComfyUI's makedirs) when the first image is saved. */
static fg_error *check_folders(const run_opts *o) {
    FG_TRY_CTX(fg_check_dirs_creatable(o->output), "--output %s", o->output);
    struct stat st;
    if (stat(o->input, &st) == 0 && !S_ISDIR(st.st_mode))
        return fg_errorf(FG_ERR_INVALID_ARGUMENT, "--input %s is not a folder", o->input);
    return NULL;
}

static int run_jobs(const fg_workflow *wf, const run_opts *o, const fg_run_settings *settings) {
    json_t *base = json_deep_copy(wf->prompt);
    fg_error *err = base ? base_overrides(base, o) : fg_errorf(FG_ERR_OUT_OF_MEMORY, "copying the prompt");
    job_lines lines = {0};
    if (!err) err = read_lines(o->prompts_file, &lines);
    if (!err) err = check_folders(o);
    fg_executor *ex = NULL;
    if (!err) err = fg_executor_create(settings, &ex);
    int rc = 0;
    if (err) {
        fprintf(stderr, "fluxgraph run: error: %s\n", fg_error_message(err));
        fg_error_free(err);
        rc = EXIT_INVALID;
    }
    run_ui ui = {.o = o, .executed = json_array()};
    job_failures failures = {0};
    size_t njobs = (lines.n ? lines.n : 1) * (size_t)o->batch_count;
    for (size_t j = 0; !rc && j < njobs && !g_cancel; j++) {
        json_t *prompt = json_deep_copy(base);
        size_t line = j / (size_t)o->batch_count, b = j % (size_t)o->batch_count;
        err = prompt ? NULL : fg_errorf(FG_ERR_OUT_OF_MEMORY, "copying the prompt");
        if (!err && lines.n)
            err = fg_error_wrapf(apply_line(prompt, lines.text[line]), "--prompts line %zu", lines.file_line[line]);
        if (!err && b) adjust_seeds(prompt, false, 0, b);
        int job_rc = EXIT_INVALID;
        if (err) {
            fprintf(stderr, "fluxgraph run: error: %s\n", fg_error_message(err));
            fg_error_free(err);
        } else {
            if (njobs > 1 && !o->json) fprintf(stderr, "job %zu/%zu\n", j + 1, njobs);
            job_rc = run_job(ex, wf, prompt, settings, &ui);
        }
        json_decref(prompt);
        if (!job_rc) failures.done++;
        else if (!g_cancel) note_failure(&failures, job_rc, lines.n ? "line" : "job", lines.n ? lines.file_line[line] : j + 1);
        if (job_rc && (g_cancel || o->fail_fast || njobs == 1)) rc = job_rc;
    }
    if (!rc && g_cancel) {
        fprintf(stderr, "fluxgraph run: interrupted (Ctrl-C or signal)\n");
        rc = EXIT_RUNTIME;
    }
    if (!rc && failures.failed) {
        fprintf(stderr, "fluxgraph run: %zu done, %zu failed: %s%s %s\n", failures.done, failures.failed, failures.what,
                failures.failed == 1 ? "" : "s", failures.list);
        rc = failures.rc;
    }
    if (!o->json) print_summary(&ui);
    fg_executor_free(ex);
    job_lines_free(&lines);
    free(ui.times);
    json_decref(ui.executed);
    json_decref(base);
    return rc;
}

/* ---- options ------------------------------------------------------------------------ */

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "fluxgraph run: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n" RUN_USAGE);
    return EXIT_INVALID;
}

static int parse_opts(int argc, char **argv, run_opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = strcmp(a, "--models") == 0 || strcmp(a, "--output") == 0 || strcmp(a, "--input") == 0 ||
                     strcmp(a, "--set") == 0 || strcmp(a, "--seed") == 0 || strcmp(a, "--prompt") == 0 ||
                     strcmp(a, "--batch-count") == 0 || strcmp(a, "--prompts") == 0 || strcmp(a, "--format") == 0 ||
                     strcmp(a, "--quality") == 0;
        if (takes && !next) return usage_error("%s needs a value", a);
        if (takes) i++;
        char *end;
        if (strcmp(a, "--models") == 0) o->models = next;
        else if (strcmp(a, "--output") == 0) o->output = next;
        else if (strcmp(a, "--input") == 0) o->input = next;
        else if (strcmp(a, "--prompt") == 0) o->prompt = next;
        else if (strcmp(a, "--prompts") == 0) o->prompts_file = next;
        else if (strcmp(a, "--set") == 0) {
            if (o->nsets == MAX_SETS) return usage_error("too many --set options (%s)", next);
            o->sets[o->nsets++] = next;
        } else if (strcmp(a, "--seed") == 0) {
            if (!parse_u64(next, &o->seed)) return usage_error("--seed '%s' is not an integer in 0..2^64-1", next);
            o->has_seed = true;
        } else if (strcmp(a, "--batch-count") == 0) {
            o->batch_count = strtol(next, &end, 10);
            if (*end || o->batch_count < 1 || o->batch_count > 100000)
                return usage_error("--batch-count '%s' must be 1..100000", next);
        } else if (strcmp(a, "--quality") == 0) {
            o->quality = (int)strtol(next, &end, 10);
            if (*end || o->quality < 1 || o->quality > 100) return usage_error("--quality '%s' must be 1..100", next);
        } else if (strcmp(a, "--format") == 0) {
            if (strcmp(next, "png") != 0 && strcmp(next, "jpeg") != 0 && strcmp(next, "jpg") != 0)
                return usage_error("--format '%s' must be png or jpeg", next);
            o->jpeg = strcmp(next, "png") != 0;
        } else if (strcmp(a, "--json") == 0) o->json = true;
        else if (strcmp(a, "--no-metadata") == 0) o->no_metadata = true;
        else if (strcmp(a, "--strict-lora") == 0) o->strict_lora = true;
        else if (strcmp(a, "--fail-fast") == 0) o->fail_fast = true;
        else if ((a[0] == '-' && a[1]) || o->path) return usage_error("unexpected argument '%s'", a);
        else o->path = a;
    }
    if (!o->path) return usage_error("%s", "no workflow FILE given");
    return 0;
}

int cmd_run(int argc, char **argv) {
    run_opts o = {.output = "output", .input = "input", .batch_count = 1, .quality = 90,
                  .models = getenv("FLUXGRAPH_MODELS")};
    int rc = parse_opts(argc, argv, &o);
    if (rc) return rc;
    if (o.models && !*o.models) o.models = NULL;
    fg_workflow *wf = NULL;
    fg_error *err = fg_workflow_load_file(o.path, &wf);
    if (err) {
        cli_workflow_error("run", err);
        return EXIT_INVALID;
    }
    char temp_dir[4096];
    snprintf(temp_dir, sizeof temp_dir, "%s/temp", o.output);
    fg_run_settings settings = {.models_dir = o.models, .output_dir = o.output, .temp_dir = temp_dir,
                                .input_dir = o.input, .device = g_cli.device, .act_dtype = g_cli.act_dtype, .embed_metadata = !o.no_metadata,
                                .strict_lora = o.strict_lora, .image_format = o.jpeg ? 1 : 0, .jpeg_quality = o.quality, .cancel_flag = &g_cancel};
    static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
    enum { NSTOP = sizeof stop_signals / sizeof stop_signals[0] };
    struct sigaction sa = {0}, old[NSTOP];
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    for (int k = 0; k < NSTOP; k++) sigaction(stop_signals[k], &sa, &old[k]);
    rc = run_jobs(wf, &o, &settings);
    for (int k = 0; k < NSTOP; k++) sigaction(stop_signals[k], &old[k], NULL);
    fg_workflow_free(wf);
    return rc;
}
