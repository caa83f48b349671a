/* Activation scopes (kernels/scope.h): nested scopes give back everything, the byte counters
 * follow allocations, releases and moves exactly, and a stage that fails part-way leaks
 * nothing. The CPU backend's memory statistics are the independent witness. */
#include <string.h>

#include "kernels/ops.h"
#include "kernels/scope.h"
#include "tests/testing.h"

static size_t cpu_in_use(void) {
    fg_memory_stats s = {0};
    CHECK_OK(fg_device_memory_stats(FG_DEVICE_CPU, &s));
    return s.in_use;
}

/* n F32 elements: n * 4 bytes (multiples of 16 keep the allocator's 64-byte rounding out). */
static fg_tensor *floats(fg_scope *s, int64_t n) {
    fg_tensor *t = NULL;
    CHECK_OK(fg_scope_alloc(s, FG_DEVICE_CPU, FG_F32, FG_SHAPE(n), &t));
    return t;
}

static void test_nested_scopes_release_everything(void) {
    const size_t before = cpu_in_use();
    fg_scope root = fg_scope_open(NULL);
    fg_scope child = fg_scope_open(&root);
    fg_scope grandchild = fg_scope_open(&child);
    fg_tensor *a = floats(&root, 64), *b = floats(&child, 128), *c = floats(&grandchild, 256);
    CHECK(a && b && c && a->data && b->data && c->data);
    CHECK(((float *)c->data)[255] == 0.0f, "scope tensors start zeroed");
    CHECK(fg_scope_bytes(&root) == (64 + 128 + 256) * 4, "root counts its children: %zu", fg_scope_bytes(&root));
    CHECK(fg_scope_bytes(&child) == (128 + 256) * 4);
    CHECK(cpu_in_use() == before + (64 + 128 + 256) * 4, "the backend saw every byte");
    fg_scope_end(&grandchild);
    CHECK(fg_scope_bytes(&child) == 128 * 4 && fg_scope_bytes(&root) == (64 + 128) * 4);
    fg_scope_end(&child);
    fg_scope_end(&root);
    CHECK(fg_scope_bytes(&root) == 0 && cpu_in_use() == before, "%zu bytes left", cpu_in_use() - before);
    fg_scope_end(&root); /* ending twice is harmless */
    CHECK(cpu_in_use() == before);
}

/* More tensors than fit inline: the heap chunks are walked and freed too (ASan checks them). */
static void test_many_tensors(void) {
    const size_t before = cpu_in_use();
    fg_scope s = fg_scope_open(NULL);
    fg_tensor *first = floats(&s, 16), *t = NULL;
    for (int i = 1; i < 5 * FG_SCOPE_INLINE + 3; i++) t = floats(&s, 16);
    CHECK(first && t && first->data && t->data && first != t);
    CHECK(fg_scope_bytes(&s) == (size_t)(5 * FG_SCOPE_INLINE + 3) * 64, "%zu", fg_scope_bytes(&s));
    fg_scope_release(&s, first); /* an inline slot while chunks exist */
    fg_scope_release(&s, t);     /* a slot of the newest chunk */
    CHECK(fg_scope_bytes(&s) == (size_t)(5 * FG_SCOPE_INLINE + 1) * 64);
    fg_scope_end(&s);
    CHECK(cpu_in_use() == before);
}

static void test_peak_counter(void) {
    fg_scope root = fg_scope_open(NULL);
    fg_tensor *a = floats(&root, 100 * 16); /* 6400 bytes */
    fg_scope stage = fg_scope_open(&root);
    fg_tensor *b = floats(&stage, 200 * 16); /* 12800 */
    floats(&stage, 50 * 16);                 /* 3200: peak 22400 */
    fg_scope_release(&stage, b);
    CHECK(fg_scope_bytes(&root) == 9600 && fg_scope_peak_bytes(&root) == 22400, "%zu / %zu",
          fg_scope_bytes(&root), fg_scope_peak_bytes(&root));
    floats(&stage, 100 * 16); /* 6400: 16000 live, below the peak */
    CHECK(fg_scope_peak_bytes(&root) == 22400 && fg_scope_peak_bytes(&stage) == 16000,
          "%zu %zu", fg_scope_peak_bytes(&root), fg_scope_peak_bytes(&stage));
    fg_scope_end(&stage);
    /* A caller's tensor released from inside a stage: the owner's counts drop. */
    fg_scope inner = fg_scope_open(&root);
    fg_scope_release(&inner, a);
    CHECK(a->data == NULL && fg_scope_bytes(&root) == 0 && fg_scope_bytes(&inner) == 0);
    fg_scope_end(&inner);
    fg_scope_end(&root);
    CHECK(fg_scope_peak_bytes(&root) == 22400, "the peak stays readable after the end");
}

static void test_foreign_tensor_is_left_alone(void) {
    const size_t before = cpu_in_use();
    fg_scope a = fg_scope_open(NULL), b = fg_scope_open(NULL);
    fg_tensor *t = floats(&a, 16);
    fg_scope_release(&b, t); /* not b's (nor an ancestor's): nothing happens */
    CHECK(t->data && fg_scope_bytes(&a) == 64 && fg_scope_bytes(&b) == 0);
    fg_scope child = fg_scope_open(&a);
    fg_tensor *u = floats(&child, 16);
    fg_scope_release(&a, u); /* a child's tensor is not the parent's to release */
    CHECK(u->data && fg_scope_bytes(&child) == 64);
    fg_scope_end(&child);
    fg_scope_end(&b);
    fg_scope_end(&a);
    CHECK(cpu_in_use() == before);
}

static void test_move_out(void) {
    const size_t before = cpu_in_use();
    fg_tensor kept = {0};
    fg_scope root = fg_scope_open(NULL);
    fg_scope s = fg_scope_open(&root);
    fg_tensor *t = floats(&s, 32);
    ((float *)t->data)[3] = 7.0f;
    fg_scope_move_out(&s, t, &kept);
    CHECK(kept.owns_data && kept.data && t->data == NULL);
    CHECK(fg_scope_bytes(&s) == 0 && fg_scope_bytes(&root) == 0 && fg_scope_peak_bytes(&root) == 128);
    fg_scope_end(&s);
    fg_scope_end(&root);
    CHECK(((float *)kept.data)[3] == 7.0f && cpu_in_use() == before + 128, "the moved tensor outlives its scope");
    fg_tensor_free(&kept);
    CHECK(cpu_in_use() == before);
}

/* A stage that allocates, then fails in an op: FG_SCOPED returns the error with the stage's
 * temporaries gone; what it had put in the caller's scope goes when that one ends. */
static fg_error *failing_stage(fg_scope *s, fg_scope *tmp, fg_tensor **result) {
    fg_tensor *x = floats(tmp, 64), *y = floats(tmp, 32);
    FG_TRY(fg_scope_alloc(s, FG_DEVICE_CPU, FG_F32, FG_SHAPE(64), result));
    return fg_add(*result, x, y); /* 64 + 32: shapes do not broadcast */
}

static fg_error *run_failing(fg_scope *s, fg_tensor **result) {
    FG_SCOPED(s, tmp, failing_stage(s, &tmp, result));
    return NULL;
}

static void test_error_path_leaks_nothing(void) {
    const size_t before = cpu_in_use();
    fg_scope root = fg_scope_open(NULL);
    fg_tensor *result = NULL, *bad = (fg_tensor *)&root;
    CHECK_ERR(run_failing(&root, &result), "add");
    CHECK(fg_scope_bytes(&root) == 256, "only the caller's tensor is left: %zu", fg_scope_bytes(&root));
    CHECK_ERR(fg_scope_alloc(&root, FG_DEVICE_CPU, FG_F32, FG_SHAPE(-1), &bad), NULL);
    CHECK(bad == NULL && fg_scope_bytes(&root) == 256, "a failed allocation holds nothing");
    fg_scope_end(&root);
    CHECK(cpu_in_use() == before, "%zu bytes leaked", cpu_in_use() - before);
}

int main(void) {
    RUN_TEST(test_nested_scopes_release_everything);
    RUN_TEST(test_many_tensors);
    RUN_TEST(test_peak_counter);
    RUN_TEST(test_foreign_tensor_is_left_alone);
    RUN_TEST(test_move_out);
    RUN_TEST(test_error_path_leaks_nothing);
    return test_summary();
}
