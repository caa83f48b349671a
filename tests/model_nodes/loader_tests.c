/* Loader nodes: what each loads, the model cache, missing files, unsupported options. */
#include <string.h>

#include "kernels/ops.h"
#include "model_nodes.h"
#include "tests/testing.h"
#include "text_encoders/clip_model.h"
#include "text_encoders/t5_model.h"
#include "unet/flux_loader.h"
#include "vae/ae_model.h"

static void test_models_folder_builds(void) {
    CHECK(mn_settings() != NULL);
}

static void test_unet_loader_loads_the_dit(void) {
    size_t before = fg_model_cache_size();
    fg_model_obj *a = mn_unet("tiny-flux.safetensors", "default");
    fg_model_obj *b = mn_unet("tiny-flux.safetensors", "default");
    if (!a || !b) goto done;
    CHECK(a->flux->p.arch.hidden == 256 && a->flux->p.arch.depth == 2, "hidden %lld", (long long)a->flux->p.arch.hidden);
    CHECK(a->flux->p.arch.context_in_dim == 64 && a->flux->p.arch.vec_in_dim == 128);
    CHECK(a->flux->p.arch.guidance_embed);
    /* a dev-type model: ModelSamplingFlux with the default shift */
    CHECK(a->sampling.kind == FG_SAMPLING_FLUX && a->sampling.shift == 1.15);
    CHECK(a != b, "each node output is its own object");
    CHECK(a->flux == b->flux, "the cache shares one loaded model");
    CHECK(fg_model_cache_size() == before + 1, "cache %zu, before %zu", fg_model_cache_size(), before);
    CHECK(a->flux->img_in.w.dtype == FG_BF16);
done:
    if (a) fg_object_unref(&a->base);
    if (b) fg_object_unref(&b->base);
    CHECK(fg_model_cache_size() == before, "the last reference frees the model");
}

/* One forward pass of the DiT on a 4x4 latent with deterministic inputs. */
static bool forward_small(const fg_flux_model *m, fg_tensor *out) {
    fg_tensor x = {0}, t = {0}, ctx = {0}, y = {0}, g = {0};
    bool ok = CHECK_OK(fg_tensor_alloc(&x, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, 16, 4, 4))) &&
              CHECK_OK(fg_tensor_alloc(&t, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1))) &&
              CHECK_OK(fg_tensor_alloc(&ctx, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, 4, 64))) &&
              CHECK_OK(fg_tensor_alloc(&y, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, 128))) &&
              CHECK_OK(fg_tensor_alloc(&g, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1))) &&
              CHECK_OK(fg_tensor_alloc(out, FG_DEVICE_CPU, FG_F32, FG_SHAPE(1, 16, 4, 4)));
    if (ok) {
        fg_tensor *all[] = {&x, &ctx, &y};
        for (int k = 0; k < 3; k++)
            for (int64_t i = 0; i < fg_tensor_numel(all[k]); i++) ((float *)all[k]->data)[i] = (float)((i * 7 + k) % 13) / 6.0f - 1.0f;
        ((float *)t.data)[0] = 0.6f;
        ((float *)g.data)[0] = 3.5f;
        fg_flux_inputs in = {.x = &x, .timestep = &t, .context = &ctx, .y = &y, .guidance = &g};
        ok = CHECK_OK(fg_flux_forward(m, &in, out, NULL));
    }
    fg_tensor *tmp[] = {&x, &t, &ctx, &y, &g};
    for (int k = 0; k < 5; k++) fg_tensor_free(tmp[k]);
    return ok;
}

static void test_unet_loader_fp8(void) {
    fg_model_obj *def = mn_unet("tiny-flux.safetensors", "default");
    fg_model_obj *e4 = mn_unet("tiny-flux.safetensors", "fp8_e4m3fn");
    fg_model_obj *e5 = mn_unet("tiny-flux.safetensors", "fp8_e5m2");
    if (def && e4 && e5) {
        CHECK(e4->flux != def->flux && e5->flux != e4->flux, "weight_dtype is part of the cache key");
        CHECK(e4->flux->double_blocks[0].img.qkv.w.dtype == FG_F8_E4M3);
        CHECK(e4->flux->single_blocks[1].linear2.w.dtype == FG_F8_E4M3);
        CHECK(e5->flux->img_in.w.dtype == FG_F8_E5M2);
        CHECK(def->flux->img_in.w.dtype == FG_BF16, "the default model is untouched");
        /* every narrowed weight is the rounded stored weight: compare through f32 */
        fg_tensor a = {0}, b = {0};
        const fg_tensor *w8 = &e4->flux->txt_in.w, *w = &def->flux->txt_in.w;
        if (CHECK_OK(fg_tensor_alloc_host(&a, FG_F32, w->ndim, w->shape)) &&
            CHECK_OK(fg_tensor_alloc_host(&b, FG_F32, w->ndim, w->shape)) && CHECK_OK(fg_cast(&a, w)) &&
            CHECK_OK(fg_cast(&b, w8))) {
            const float *x = a.data, *y = b.data;
            int bad = 0;
            for (int64_t i = 0; i < fg_tensor_numel(&a); i++) {
                float ax = x[i] < 0 ? -x[i] : x[i], d = x[i] - y[i];
                /* e4m3: 3 mantissa bits, subnormal step 2^-9 */
                if ((d < 0 ? -d : d) > ax * 0.0625f + 0.0009766f) bad++;
            }
            CHECK(bad == 0, "%d weights off by more than half an fp8 step", bad);
        }
        fg_tensor_free_host(&a);
        fg_tensor_free_host(&b);
        /* the narrowed model runs, close to the stored-dtype one */
        fg_tensor out_def = {0}, out_e4 = {0};
        if (forward_small(def->flux, &out_def) && forward_small(e4->flux, &out_e4)) {
            float d = mn_max_abs_diff(&out_def, &out_e4);
            CHECK(d > 0.0f && d < 0.5f, "fp8 vs default forward differ by %g", d);
        }
        fg_tensor_free(&out_def);
        fg_tensor_free(&out_e4);
    }
    fg_model_obj *objs[] = {def, e4, e5};
    for (int i = 0; i < 3; i++)
        if (objs[i]) fg_object_unref(&objs[i]->base);
}

static void test_model_sampling_defaults_and_clone(void) {
    fg_model_obj *s = mn_unet("tiny-schnell.safetensors", "default");
    if (s) {
        CHECK(!s->flux->p.arch.guidance_embed);
        CHECK(s->sampling.kind == FG_SAMPLING_FLOW && s->sampling.shift == 1.0 && s->sampling.multiplier == 1.0);
        size_t before = fg_model_cache_size();
        fg_model_obj *c = NULL;
        if (CHECK_OK(fg_model_obj_clone(s, &c))) {
            CHECK(c != s && c->flux == s->flux && c->sampling.kind == s->sampling.kind);
            c->sampling = (fg_model_sampling_params){.kind = FG_SAMPLING_FLUX, .shift = 0.63, .multiplier = 1.0};
            CHECK(s->sampling.kind == FG_SAMPLING_FLOW, "the clone's settings are its own");
            CHECK(fg_model_cache_size() == before, "a clone shares the loaded model");
            fg_object_unref(&s->base);
            s = NULL;
            /* the clone keeps the model alive */
            CHECK(fg_model_cache_size() == before && c->flux->p.arch.hidden == 256);
            fg_object_unref(&c->base);
            CHECK(fg_model_cache_size() == before - 1);
        }
        if (s) fg_object_unref(&s->base);
    }
}

static void test_unet_loader_errors(void) {
    fg_value in[2] = {fg_value_string("missing.safetensors"), fg_value_string("default")}, out[1];
    CHECK_ERR(mn_run("UNETLoader", in, out), "tiny-flux.safetensors"); /* lists what the folder holds */
    mn_clear(in, 2);
    fg_value in2[2] = {fg_value_string("../vae/tiny-ae.safetensors"), fg_value_string("default")};
    CHECK_ERR(mn_run("UNETLoader", in2, out), "invalid model name");
    mn_clear(in2, 2);
    fg_value in3[2] = {fg_value_string("tiny-flux.safetensors"), fg_value_string("int4")};
    CHECK_ERR(mn_run("UNETLoader", in3, out), "weight_dtype");
    mn_clear(in3, 2);
}

static void test_dual_clip_loader_any_order(void) {
    fg_clip_obj *a = mn_dual_clip("tiny-clip-l.safetensors", "tiny-t5xxl.safetensors");
    fg_clip_obj *b = mn_dual_clip("tiny-t5xxl.safetensors", "tiny-clip-l.safetensors");
    if (a && b) {
        CHECK(a->clip_l && a->t5 && a->clip_l == b->clip_l && a->t5 == b->t5, "same encoders in either order");
        CHECK(fg_clip_model_config(a->clip_l)->hidden == 128, "clip hidden %lld",
              (long long)fg_clip_model_config(a->clip_l)->hidden);
        CHECK(fg_t5_model_config(a->t5)->d_model == 64);
        CHECK(fg_clip_obj_clip_tokenizer(a) != NULL && fg_clip_obj_t5_tokenizer(a) != NULL);
    }
    if (a) fg_object_unref(&a->base);
    if (b) fg_object_unref(&b->base);
}

static void test_dual_clip_loader_errors(void) {
    fg_value out[1];
    fg_value in[4] = {fg_value_string("tiny-clip-l.safetensors"), fg_value_string("tiny-t5xxl.safetensors"),
                      fg_value_string("sdxl"), fg_value_string("default")};
    CHECK_ERR(mn_run("DualCLIPLoader", in, out), "not supported");
    mn_clear(in, 4);
    fg_value in2[4] = {fg_value_string("tiny-clip-l.safetensors"), fg_value_string("tiny-clip-l.safetensors"),
                       fg_value_string("flux"), fg_value_string("default")};
    CHECK_ERR(mn_run("DualCLIPLoader", in2, out), "both CLIP-L");
    mn_clear(in2, 4);
    fg_value in3[4] = {fg_value_string("tiny-clip-l.safetensors"), fg_value_string("nope.safetensors"),
                       fg_value_string("flux"), fg_value_string("default")};
    CHECK_ERR(mn_run("DualCLIPLoader", in3, out), "text_encoders");
    mn_clear(in3, 4);
}

static void test_clip_loader(void) {
    fg_value out[1];
    fg_value in[3] = {fg_value_string("tiny-clip-l.safetensors"), fg_value_string("stable_diffusion"),
                      fg_value_string("default")};
    if (CHECK_OK(mn_run("CLIPLoader", in, out))) {
        const fg_clip_obj *c = (const fg_clip_obj *)out[0].u.obj;
        CHECK(c->clip_l && !c->t5);
        /* FLUX encoding needs both encoders: the error names the missing one's role */
        fg_value e_in[2] = {fg_value_string("a cat"), fg_value_object(fg_object_ref(out[0].u.obj))}, e_out[1];
        CHECK_ERR(mn_run("CLIPTextEncode", e_in, e_out), "DualCLIPLoader");
        mn_clear(e_in, 2);
        mn_clear(out, 1);
    }
    mn_clear(in, 3);
    fg_value in2[3] = {fg_value_string("tiny-t5xxl.safetensors"), fg_value_string("sd3"), fg_value_string("default")};
    if (CHECK_OK(mn_run("CLIPLoader", in2, out))) {
        CHECK(((const fg_clip_obj *)out[0].u.obj)->t5 != NULL);
        mn_clear(out, 1);
    }
    mn_clear(in2, 3);
    fg_value in3[3] = {fg_value_string("tiny-t5xxl.safetensors"), fg_value_string("stable_diffusion"),
                       fg_value_string("default")};
    CHECK_ERR(mn_run("CLIPLoader", in3, out), "does not take T5-XXL");
    mn_clear(in3, 3);
    fg_value in4[3] = {fg_value_string("tiny-t5xxl.safetensors"), fg_value_string("wan"), fg_value_string("default")};
    CHECK_ERR(mn_run("CLIPLoader", in4, out), "not supported");
    mn_clear(in4, 3);
}

static void test_vae_loader(void) {
    fg_vae_obj *v = mn_vae("tiny-ae.safetensors");
    if (v) {
        CHECK(fg_vae_config(v->vae)->z_channels == 16 && fg_vae_factor(v->vae) == 8);
        fg_vae_obj *w = mn_vae("tiny-ae.safetensors");
        CHECK(w && w->vae == v->vae, "cached");
        if (w) fg_object_unref(&w->base);
        fg_object_unref(&v->base);
    }
    fg_value out[1];
    fg_value in[1] = {fg_value_string("taef1")};
    CHECK_ERR(mn_run("VAELoader", in, out), "not supported");
    mn_clear(in, 1);
    fg_value in2[1] = {fg_value_string("ae.safetensors")};
    CHECK_ERR(mn_run("VAELoader", in2, out), "tiny-ae.safetensors");
    mn_clear(in2, 1);
    /* a file that is not an autoencoder */
    fg_value in3[1] = {fg_value_string("../text_encoders/tiny-t5xxl.safetensors")};
    CHECK_ERR(mn_run("VAELoader", in3, out), NULL);
    mn_clear(in3, 1);
}

static void test_checkpoint_loader(void) {
    fg_value in[1] = {fg_value_string("tiny-aio.safetensors")}, out[3];
    if (CHECK_OK(mn_run("CheckpointLoaderSimple", in, out))) {
        CHECK(out[0].type == FG_TYPE_MODEL && out[1].type == FG_TYPE_CLIP && out[2].type == FG_TYPE_VAE);
        const fg_model_obj *m = (const fg_model_obj *)out[0].u.obj;
        const fg_clip_obj *c = (const fg_clip_obj *)out[1].u.obj;
        const fg_vae_obj *v = (const fg_vae_obj *)out[2].u.obj;
        if (m && c && v) {
            CHECK(m->flux->p.arch.hidden == 256 && m->flux->p.arch.guidance_embed);
            CHECK(c->clip_l && c->t5 && fg_t5_model_config(c->t5)->d_model == 64);
            CHECK(fg_vae_config(v->vae)->z_channels == 16);
            /* the same tensors as the stand-alone files */
            fg_model_obj *u = mn_unet("tiny-flux.safetensors", "default");
            if (u) {
                CHECK(u->flux != m->flux, "another file, another cache entry");
                CHECK(memcmp(u->flux->img_in.w.data, m->flux->img_in.w.data, fg_tensor_nbytes(&u->flux->img_in.w)) == 0);
                fg_object_unref(&u->base);
            }
        }
        mn_clear(out, 3);
    }
    mn_clear(in, 1);

    fg_value in2[1] = {fg_value_string("tiny-dit-only.safetensors")};
    if (CHECK_OK(mn_run("CheckpointLoaderSimple", in2, out))) {
        CHECK(out[0].type == FG_TYPE_MODEL && out[1].type == FG_TYPE_NONE && out[2].type == FG_TYPE_NONE);
        fg_value e_in[2] = {fg_value_string("a cat"), out[1]}, e_out[1];
        CHECK_ERR(mn_run("CLIPTextEncode", e_in, e_out), "clip input is invalid: None");
        mn_clear(e_in, 1);
        mn_clear(out, 3);
    }
    mn_clear(in2, 1);
    fg_value in3[1] = {fg_value_string("nothing.safetensors")};
    CHECK_ERR(mn_run("CheckpointLoaderSimple", in3, out), "tiny-aio.safetensors");
    mn_clear(in3, 1);
}

void loader_tests(void) {
    RUN_TEST(test_models_folder_builds);
    RUN_TEST(test_unet_loader_loads_the_dit);
    RUN_TEST(test_unet_loader_fp8);
    RUN_TEST(test_model_sampling_defaults_and_clone);
    RUN_TEST(test_unet_loader_errors);
    RUN_TEST(test_dual_clip_loader_any_order);
    RUN_TEST(test_dual_clip_loader_errors);
    RUN_TEST(test_clip_loader);
    RUN_TEST(test_vae_loader);
    RUN_TEST(test_checkpoint_loader);
}
