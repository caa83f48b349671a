/* models/lora_patch: ComfyUI's calculate_weight. The golden fixtures (every LoRA file with an
 * expected result) to 1e-6, then unit tests of each rule against double references. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/lora_patch.h"
#include "tests/lora_patch/lora_fixtures.h"
#include "tests/lora_patch/lp_tests.h"
#include "tests/lora_patch/lp_util.h"
#include "tests/testing.h"

/* ---- golden fixtures ------------------------------------------------------------------- */

static int has_expected(const char *name) {
    char rel[300];
    snprintf(rel, sizeof rel, "lora/expected/%s.safetensors", name);
    return access(test_fixture(rel), R_OK) == 0;
}

static void fixtures_match_comfyui(void) {
    DIR *dir = opendir(test_fixture("lora"));
    CHECK(dir != NULL, "cannot list tests/fixtures/lora");
    if (!dir) return;
    size_t files = 0, weights = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        const char *ext = ".safetensors";
        if (len <= strlen(ext) || strcmp(e->d_name + len - strlen(ext), ext) != 0) continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(len - strlen(ext)), e->d_name);
        if (!has_expected(name)) continue;
        lora_fixture_result res;
        if (!CHECK_OK(lora_fixture_check(name, &res))) continue;
        printf("  %-14s %2zu weights, %2zu patches, max abs %.3g%s%s\n", name, res.weights, res.patches,
               res.max_abs, res.worst[0] ? " at " : "", res.worst);
        CHECK(res.max_abs <= 1e-6, "%s: max abs %.3g at %s", name, res.max_abs, res.worst);
        files++;
        weights += res.weights;
    }
    closedir(dir);
    /* the README documents 9 fixture files and 50 patched weights; fewer means files went missing */
    CHECK(files >= 9, "only %zu fixture files", files);
    CHECK(weights >= 50, "only %zu patched weights compared", weights);
}

/* The USO renaming used to find the converted keys in xlabs_uso. */
static void uso_key_conversion(void) {
    static const char *const cases[][2] = {
        {"double_blocks.0.processor.proj_lora1.down.weight", "diffusion_model.double_blocks.0.img_attn.proj.lora_down.weight"},
        {"double_blocks.1.processor.proj_lora2.up.weight", "diffusion_model.double_blocks.1.txt_attn.proj.lora_up.weight"},
        {"double_blocks.18.processor.qkv_lora2.up.weight", "diffusion_model.double_blocks.18.txt_attn.qkv.lora_up.weight"},
        {"double_blocks.3.processor.qkv_lora1.down.weight", "diffusion_model.double_blocks.3.img_attn.qkv.lora_down.weight"},
        {"single_blocks.37.processor.qkv_lora.down.weight", "diffusion_model.single_blocks.37.linear1_qkv.lora_down.weight"},
        {"single_blocks.2.processor.proj_lora.up.weight", "diffusion_model.single_blocks.2.linear2.lora_up.weight"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[256] = "";
        CHECK(lora_uso_convert_key(cases[i][0], buf, sizeof buf) == 1);
        CHECK(strcmp(buf, cases[i][1]) == 0, "%s -> %s", cases[i][0], buf);
    }
}

int main(void) {
    RUN_TEST(fixtures_match_comfyui);
    RUN_TEST(uso_key_conversion);
    lp_run_unit_tests();
    lp_run_reference_tests();
    return test_summary();
}
