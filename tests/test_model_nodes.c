/* The loader, conditioning and VAE nodes run directly on the tiny fixture models from a
 * temporary ComfyUI-style models folder (tests/model_nodes/). */
#include "model_nodes/model_nodes.h"
#include "tests/testing.h"

int main(void) {
    loader_tests();
    conditioning_tests();
    vae_node_tests();
    return test_summary();
}
