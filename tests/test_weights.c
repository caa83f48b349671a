/* models/weights: prefixed views, diffusers shard indexes, shape checks, fp8 scales, tensors
 * added at load time, and hostile indexes. */
#include <stdio.h>
#include <string.h>

#include "core/safetensors.h"
#include "models/weights.h"
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
    fg_weights_close(w);
}

int main(void) {
    RUN_TEST(test_prefixed_views);
    RUN_TEST(test_owned_tensors);
    RUN_TEST(test_sharded_index);
    RUN_TEST(test_hostile_indexes);
    RUN_TEST(test_bad_scale);
    return test_summary();
}
