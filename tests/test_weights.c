/* models/weights: prefixed views, diffusers shard indexes, shape checks, fp8 scales, tensors
 * added at load time, and hostile indexes. */
#include <stdio.h>
#include <string.h>

#include "core/safetensors.h"
#include "kernels/ops.h"
#include "models/weights.h"
#include "models/weights_internal.h"
#include "tests/testing.h"

static float data_a[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static float data_scale[1] = {0.5f};
static uint8_t data_fp8[4] = {0x38, 0x40, 0x44, 0x48}; /* e4m3: 1, 2, 3, 4 */

static char path_buf[4][1024];

static const char *tmp_path(int slot, const char *name) {
    snprintf(path_buf[slot], sizeof path_buf[slot], "%s/%s", test_tmpdir(), name);
    return path_buf[slot];
}

static void write_file(const char *path, const char *const *names, const fg_tensor *tensors, int n) {
    fg_st_writer *w = NULL;
    if (!CHECK_OK(fg_st_writer_create(&w))) return;
    for (int i = 0; i < n; i++) CHECK_OK(fg_st_writer_add(w, names[i], &tensors[i]));
    CHECK_OK(fg_st_writer_write(w, path));
    fg_st_writer_free(w);
}

static fg_tensor host_view(fg_dtype dt, int ndim, const int64_t *shape, void *data) {
    fg_tensor t;
    memset(&t, 0, sizeof t);
    CHECK_OK(fg_tensor_view(&t, dt, FG_DEVICE_CPU, ndim, shape, data));
    return t;
}

static void write_checkpoint(const char *path) {
    fg_tensor t[4] = {
        host_view(FG_F32, FG_SHAPE(3, 4), data_a),
        host_view(FG_F32, FG_SHAPE(2, 2), data_a),
        host_view(FG_F8_E4M3, FG_SHAPE(2, 2), data_fp8),
        host_view(FG_F32, FG_SHAPE(1), data_scale),
    };
    const char *names[4] = {"model.diffusion_model.img_in.weight", "vae.decoder.conv_in.weight",
                            "model.diffusion_model.lin.weight", "model.diffusion_model.lin.weight_scale"};
    write_file(path, names, t, 4);
}

static void test_prefixed_views(void) {
    const char *path = tmp_path(0, "ckpt.safetensors");
    write_checkpoint(path);
    fg_weights *all = NULL, *dit = NULL, *vae = NULL;
    if (!CHECK_OK(fg_weights_open(path, &all))) return;
    CHECK(fg_weights_count(all) == 4);
    CHECK_OK(fg_weights_view(all, "model.diffusion_model.", &dit));
    CHECK_OK(fg_weights_view(all, "vae.", &vae));
    fg_weights_close(all); /* the views keep the file open */
    if (!dit || !vae) return;
    CHECK(fg_weights_count(dit) == 3, "%zu", fg_weights_count(dit));
    CHECK(fg_weights_count(vae) == 1);
    CHECK(strcmp(fg_weights_name(vae, 0), "decoder.conv_in.weight") == 0);
    CHECK(fg_weights_has(dit, "img_in.weight") && !fg_weights_has(dit, "decoder.conv_in.weight"));
    fg_tensor t;
    if (CHECK_OK(fg_weights_get_shaped(dit, "img_in.weight", FG_SHAPE(3, 4), &t)))
        CHECK(((float *)t.data)[11] == 12.0f && !t.owns_data);
    CHECK_ERR(fg_weights_get_shaped(dit, "img_in.weight", FG_SHAPE(4, 3), &t),
              "'model.diffusion_model.img_in.weight' has shape [3, 4] but the model needs [4, 3]");
    CHECK_ERR(fg_weights_get(dit, "txt_in.weight", &t), "missing tensor 'model.diffusion_model.txt_in.weight'");
    CHECK_ERR(fg_weights_get(vae, "txt_in.weight", &t), "ckpt.safetensors");
    float scale = 0;
    CHECK_OK(fg_weights_scale(dit, "lin.weight", &scale));
    CHECK(scale == 0.5f, "%g", (double)scale);
    CHECK_OK(fg_weights_scale(dit, "img_in.weight", &scale));
    CHECK(scale == 1.0f);
    fg_weights_close(dit);
    fg_weights_close(vae);
}

static void test_owned_tensors(void) {
    const char *path = tmp_path(0, "owned.safetensors");
    write_checkpoint(path);
    fg_weights *w = NULL, *other = NULL;
    if (!CHECK_OK(fg_weights_open(path, &w))) return;
    fg_tensor t;
    CHECK_OK(fg_tensor_alloc_host(&t, FG_F32, FG_SHAPE(5)));
    ((float *)t.data)[4] = 42.0f;
    CHECK_OK(fg_weights_add_owned(w, "fused.qkv.weight", &t));
    CHECK(t.data == NULL, "ownership moved");
    CHECK(fg_weights_count(w) == 5 && strcmp(fg_weights_name(w, 4), "fused.qkv.weight") == 0);
    fg_tensor got;
    if (CHECK_OK(fg_weights_get(w, "fused.qkv.weight", &got))) CHECK(((float *)got.data)[4] == 42.0f && !got.owns_data);
    fg_tensor dup;
    CHECK_OK(fg_tensor_alloc_host(&dup, FG_F32, FG_SHAPE(1)));
    CHECK_ERR(fg_weights_add_owned(w, "fused.qkv.weight", &dup), "already exists");
    CHECK_OK(fg_weights_view(w, "", &other));
    if (other) CHECK(!fg_weights_has(other, "fused.qkv.weight"), "owned tensors belong to their view");
    fg_weights_close(other);
    fg_weights_close(w);
}

static void write_index(const char *path, const char *json) {
    FILE *f = fopen(path, "w");
    if (!f) {
        CHECK(false, "cannot write %s", path);
        return;
    }
    fputs(json, f);
    fclose(f);
}

static void test_sharded_index(void) {
    fg_tensor a = host_view(FG_F32, FG_SHAPE(2, 3), data_a), b = host_view(FG_F32, FG_SHAPE(4), data_a + 6);
    write_file(tmp_path(0, "m-00001-of-00002.safetensors"), (const char *const[]){"x_embedder.weight"}, &a, 1);
    write_file(tmp_path(1, "m-00002-of-00002.safetensors"), (const char *const[]){"proj_out.bias"}, &b, 1);
    const char *index = tmp_path(2, "m.safetensors.index.json");
    write_index(index, "{\"metadata\": {\"total_size\": 40}, \"weight_map\": {"
                       "\"x_embedder.weight\": \"m-00001-of-00002.safetensors\","
                       "\"proj_out.bias\": \"m-00002-of-00002.safetensors\"}}");
    fg_weights *w = NULL;
    if (!CHECK_OK(fg_weights_open(index, &w))) return;
    CHECK(fg_weights_count(w) == 2);
    fg_tensor t;
    if (CHECK_OK(fg_weights_get_shaped(w, "proj_out.bias", FG_SHAPE(4), &t))) CHECK(((float *)t.data)[0] == 7.0f);
    CHECK(strstr(fg_weights_path(w), "index.json") != NULL);
    fg_weights_close(w);
}

static void test_hostile_indexes(void) {
    const char *index = tmp_path(2, "bad.index.json");
    fg_weights *w = NULL;
    write_index(index, "{\"weight_map\": {\"a\": \"../etc/passwd\"}}");
    CHECK_ERR(fg_weights_open(index, &w), "invalid shard name");
    write_index(index, "{\"weight_map\": {\"a\": 5}}");
    CHECK_ERR(fg_weights_open(index, &w), "invalid shard name");
    write_index(index, "{\"weight_map\": []}");
    CHECK_ERR(fg_weights_open(index, &w), "weight_map");
    write_index(index, "{\"weight_map\": {}}");
    CHECK_ERR(fg_weights_open(index, &w), "no shards");
    write_index(index, "{\"weight_map\": {\"a\": \"missing.safetensors\"}}");
    CHECK_ERR(fg_weights_open(index, &w), "missing.safetensors");
    write_index(index, "[1, 2");
    CHECK_ERR(fg_weights_open(index, &w), "not a JSON shard index");
    CHECK_ERR(fg_weights_open(tmp_path(3, "nope.safetensors"), &w), "nope.safetensors");
}

static void test_bad_scale(void) {
    float two[2] = {1, 2};
    fg_tensor t[2] = {host_view(FG_F8_E4M3, FG_SHAPE(2, 2), data_fp8), host_view(FG_F32, FG_SHAPE(2), two)};
    const char *path = tmp_path(0, "badscale.safetensors");
    write_file(path, (const char *const[]){"l.weight", "l.scale_weight"}, t, 2);
    fg_weights *w = NULL;
    if (!CHECK_OK(fg_weights_open(path, &w))) return;
    float s;
    CHECK_ERR(fg_weights_scale(w, "l.weight", &s), "must be one float");
    fg_weights *up = NULL;
    CHECK_ERR(fg_weights_upload(w, FG_DEVICE_CPU, FG_BF16, &up, NULL), "must be one float");
    CHECK(!up, "no view on failure");
    fg_weights_close(w);
}

/* The converted names of a diffusers DiT without the file's originals (what gets uploaded). */
static void test_added_only(void) {
    const char *path = tmp_path(0, "added.safetensors");
    write_checkpoint(path);
    fg_weights *w = NULL, *added = NULL;
    if (!CHECK_OK(fg_weights_open(path, &w))) return;
    fg_tensor t;
    CHECK_OK(fg_tensor_alloc_host(&t, FG_F32, FG_SHAPE(3)));
    ((float *)t.data)[2] = 5.0f;
    CHECK_OK(fg_weights_add_owned(w, "fused.weight", &t));
    if (CHECK_OK(fg_weights_added_only(w, &added))) {
        CHECK(fg_weights_count(added) == 1 && fg_weights_has(added, "fused.weight"));
        CHECK(!fg_weights_has(added, "model.diffusion_model.img_in.weight"));
        fg_tensor got;
        if (CHECK_OK(fg_weights_get(added, "fused.weight", &got))) CHECK(((float *)got.data)[2] == 5.0f);
        fg_weights_close(added);
    }
    fg_weights_close(w); /* after the borrowing view */
}

/* A checkpoint with every case the upload handles: F32 values that BF16 rounds, a BF16 tensor
 * (copied as is), an fp8 weight with each spelling of the scale, an integer tensor, an odd
 * size (the next offset must still be aligned). */
static void write_upload_checkpoint(const char *path, float *f32, uint16_t *bf16, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        f32[i] = 1.0f + (float)i / 3.0f + 1e-3f * (float)(i % 7);
        bf16[i] = fg_f32_to_bf16(-0.37f * (float)i);
    }
    static int64_t ids[3] = {7, -1, 1LL << 40};
    static float scale_a[1] = {0.25f}, scale_b[1] = {3.0f};
    fg_tensor t[7] = {
        host_view(FG_F32, FG_SHAPE(n), f32),          host_view(FG_BF16, FG_SHAPE(n), bf16),
        host_view(FG_F8_E4M3, FG_SHAPE(2, 2), data_fp8), host_view(FG_F32, FG_SHAPE(1), scale_a),
        host_view(FG_F8_E4M3, FG_SHAPE(4), data_fp8),    host_view(FG_F32, FG_SHAPE(1), scale_b),
        host_view(FG_I64, FG_SHAPE(3), ids),
    };
    const char *names[7] = {"dit.a.weight", "dit.b.bias", "dit.q.weight", "dit.q.weight_scale", "dit.r.weight",
                            "dit.r.scale_weight", "dit.ids"};
    write_file(path, names, t, 7);
}

static void check_uploaded(const fg_weights *up, const char *name, fg_dtype dt, const float *want, int64_t n) {
    fg_tensor t, first;
    if (!CHECK_OK(fg_weights_get(up, name, &t)) || !CHECK_OK(fg_weights_get(up, "a.weight", &first))) return;
    CHECK(t.dtype == dt && t.device == FG_DEVICE_CPU && fg_tensor_numel(&t) == n, "%s: %s", name,
          fg_dtype_name(t.dtype));
    /* the block starts at a.weight; host blocks are 64-byte aligned, device ones 256 */
    CHECK(((uintptr_t)t.data - (uintptr_t)first.data) % 256 == 0, "%s is not at a 256-byte offset", name);
    for (int64_t i = 0; i < n && fg_tensor_numel(&t) == n; i++) {
        float got;
        fg_convert_to_f32(&got, (char *)t.data + i * (int64_t)fg_dtype_size(dt), dt, 1);
        float exact = fg_bf16_to_f32(fg_f32_to_bf16(want[i]));
        if (got != exact) {
            CHECK(false, "%s[%lld] = %g, want bf16(%g) = %g", name, (long long)i, (double)got, (double)want[i],
                  (double)exact);
            return;
        }
    }
}

static void test_upload_bf16(void) {
    enum { N = 1001 };
    static float f32[N];
    static uint16_t bf16[N];
    const char *path = tmp_path(0, "upload.safetensors");
    write_upload_checkpoint(path, f32, bf16, N);
    fg_weights *file = NULL, *src = NULL, *up = NULL;
    if (!CHECK_OK(fg_weights_open(path, &file))) return;
    CHECK_OK(fg_weights_view(file, "dit.", &src));
    fg_weights_close(file);
    if (!src) return;
    fg_upload_stats stats = {0};
    if (!CHECK_OK(fg_weights_upload(src, FG_DEVICE_CPU, FG_BF16, &up, &stats))) {
        fg_weights_close(src);
        return;
    }
    fg_weights_close(src); /* the upload owns its copy */
    CHECK(fg_weights_device(up) == FG_DEVICE_CPU);
    CHECK(fg_weights_count(up) == 5, "scale tensors dropped: %zu names", fg_weights_count(up));
    CHECK(!fg_weights_has(up, "q.weight_scale") && !fg_weights_has(up, "r.scale_weight"));
    float bf[N], q[4], r[4];
    for (int i = 0; i < N; i++) bf[i] = fg_bf16_to_f32(bf16[i]);
    for (int i = 0; i < 4; i++) q[i] = 0.25f * (float)(i + 1), r[i] = 3.0f * (float)(i + 1);
    check_uploaded(up, "a.weight", FG_BF16, f32, N);
    check_uploaded(up, "b.bias", FG_BF16, bf, N);
    check_uploaded(up, "q.weight", FG_BF16, q, 4);
    check_uploaded(up, "r.weight", FG_BF16, r, 4);
    float scale = 0;
    CHECK_OK(fg_weights_scale(up, "q.weight", &scale));
    CHECK(scale == 1.0f, "the scale is folded: %g", (double)scale);
    fg_tensor ids;
    if (CHECK_OK(fg_weights_get(up, "ids", &ids)))
        CHECK(ids.dtype == FG_I64 && ((int64_t *)ids.data)[2] == (1LL << 40) && ((int64_t *)ids.data)[1] == -1);
    size_t want_read = N * 4 + N * 2 + 4 + 4 + 3 * 8;
    CHECK(stats.bytes_read == want_read, "read %zu, want %zu", stats.bytes_read, want_read);
    CHECK(stats.bytes_device >= N * 2 * 2 + 8 + 24 && stats.bytes_device <= N * 2 * 2 + 8 + 24 + 4 * 256,
          "%zu device bytes", stats.bytes_device);
    CHECK(stats.seconds >= 0 && stats.seconds < 60);
    fg_weights_close(up);
}

/* F32 upload keeps values exactly; a clone of an upload sees its tensors on its device. */
static void test_upload_f32_and_clone(void) {
    enum { N = 33 };
    static float f32[N];
    static uint16_t bf16[N];
    const char *path = tmp_path(0, "upload32.safetensors");
    write_upload_checkpoint(path, f32, bf16, N);
    fg_weights *src = NULL, *up = NULL, *clone = NULL;
    if (!CHECK_OK(fg_weights_open(path, &src))) return;
    CHECK(fg_weights_device(src) == FG_DEVICE_CPU);
    if (CHECK_OK(fg_weights_upload(src, FG_DEVICE_CPU, FG_F32, &up, NULL))) {
        fg_tensor t;
        if (CHECK_OK(fg_weights_get(up, "dit.a.weight", &t)))
            CHECK(t.dtype == FG_F32 && memcmp(t.data, f32, sizeof f32) == 0);
        if (CHECK_OK(fg_weights_get(up, "dit.q.weight", &t))) CHECK(t.dtype == FG_F32 && ((float *)t.data)[3] == 1.0f);
        CHECK_OK(fg_weights_clone(up, &clone));
        if (clone) CHECK(fg_weights_count(clone) == 5 && fg_weights_device(clone) == FG_DEVICE_CPU);
        fg_weights_close(clone);
    }
    fg_weights *bad = NULL;
    CHECK_ERR(fg_weights_upload(src, FG_DEVICE_CPU, FG_I32, &bad, NULL), "not a float dtype");
    CHECK(!bad);
    fg_weights_close(up);
    fg_weights_close(src);
}

/* In-memory views (random models) report the device of their tensors. */
static void test_new_view_device(void) {
    fg_weights *w = NULL;
    if (!CHECK_OK(fg_weights_new("random test", &w))) return;
    CHECK(fg_weights_count(w) == 0 && strcmp(fg_weights_path(w), "random test") == 0);
    CHECK(fg_weights_device(w) == FG_DEVICE_CPU);
    fg_tensor t;
    CHECK_OK(fg_tensor_alloc(&t, FG_DEVICE_CPU, FG_BF16, FG_SHAPE(4)));
    CHECK_OK(fg_weights_add_owned(w, "x.weight", &t));
    fg_weights *up = NULL;
    if (CHECK_OK(fg_weights_upload(w, FG_DEVICE_CPU, FG_BF16, &up, NULL))) CHECK(fg_weights_has(up, "x.weight"));
    fg_weights_close(up);
    CHECK_ERR(fg_weights_get(w, "y", &t), "random test");
    fg_weights_close(w);
}

/* A tensor refused by fg_weights_add_owned / fg_weights_override is freed through its backend
 * (a device tensor's storage must not go to free()): the device's live bytes return to where
 * they were. */
static void test_refused_tensor_freed_on_its_device(void) {
    fg_weights *w = NULL;
    if (!CHECK_OK(fg_weights_new("refusals", &w))) return;
    fg_memory_stats before, after;
    fg_tensor a, dup, stray;
    if (CHECK_OK(fg_tensor_alloc(&a, FG_DEVICE_CPU, FG_F32, FG_SHAPE(64))) && CHECK_OK(fg_weights_add_owned(w, "a", &a))) {
        CHECK_OK(fg_device_memory_stats(FG_DEVICE_CPU, &before));
        if (CHECK_OK(fg_tensor_alloc(&dup, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1 << 16))))
            CHECK_ERR(fg_weights_add_owned(w, "a", &dup), "already exists");
        if (CHECK_OK(fg_tensor_alloc(&stray, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1 << 16))))
            CHECK_ERR(fg_weights_override(w, "missing", &stray), "no tensor");
        CHECK_OK(fg_device_memory_stats(FG_DEVICE_CPU, &after));
        CHECK(after.in_use == before.in_use, "%zu bytes live before, %zu after", before.in_use, after.in_use);
    }
    fg_weights_close(w);
}

int main(void) {
    RUN_TEST(test_prefixed_views);
    RUN_TEST(test_owned_tensors);
    RUN_TEST(test_sharded_index);
    RUN_TEST(test_hostile_indexes);
    RUN_TEST(test_bad_scale);
    RUN_TEST(test_upload_bf16);
    RUN_TEST(test_upload_f32_and_clone);
    RUN_TEST(test_new_view_device);
    RUN_TEST(test_added_only);
    RUN_TEST(test_refused_tensor_freed_on_its_device);
    return test_summary();
}
