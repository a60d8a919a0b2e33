/* fuzz_knobs.c - libFuzzer target: the knob parser (impls/common/knobs.c)
 * and each family's knob checks, through layer_check (which parses and
 * validates the knobs and sizes the layer without allocating it). The
 * first byte picks the layer, the rest is the knob string. Run by `make fuzz`. */
#include "../impls/layer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    uint64_t bytes;
    if (size < 1 || layer_count() == 0)
        return 0;
    const struct layer_ops *ops = layer_get(data[0] % layer_count());
    char *knobs = malloc(size);
    if (!knobs)
        return 0;
    memcpy(knobs, data + 1, size - 1);
    knobs[size - 1] = '\0';
    struct layer_config cfg = {
        .d_model = 16, .scale = 2, .seed = 1, .threads = 1, .max_tokens = 4, .knobs = knobs};
    err[0] = '\0';
    int rc = layer_check(ops, &cfg, &bytes, err, sizeof(err));
    if (rc && !err[0]) /* every refusal says why */
        abort();
    free(knobs);
    return 0;
}
