/* fuzz_safetensors.c - libFuzzer target: the weights-file header parsers
 * (bench/weights.c): the input is a whole safetensors file (8-byte header
 * length, JSON header, data) as `--weights FILE` would read it, or, when
 * it starts with .npy's magic, one .npy file of a weights directory. Every
 * refusal must say why, and an accepted header must lie inside the input
 * (issue 18: bad files exit 2 with the reason and never crash). Run by
 * `make fuzz`. */
#include "../bench/weights.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bench_st_header h;
    char err[512];
    err[0] = '\0';
    if (size >= 6 && !memcmp(data, "\x93NUMPY", 6)) {
        int ndim;
        uint64_t shape[LAYER_PARAM_MAX_DIMS];
        size_t off;
        enum layer_dtype dt;
        int rc = bench_npy_parse(data, size, &dt, &ndim, shape, &off, err, sizeof(err));
        if ((rc && !err[0]) || (!rc && (off > size || ndim < 1 || ndim > LAYER_PARAM_MAX_DIMS ||
                                        (dt != LAYER_F32 && dt != LAYER_F16))))
            abort();
        return 0;
    }
    int rc = bench_st_parse(data, size, &h, err, sizeof(err));
    if (rc) {
        if (!err[0])
            abort();
        return 0;
    }
    for (size_t i = 0; i < h.n; i++)
        if (h.t[i].begin > h.t[i].end || h.t[i].end > h.data_len ||
            h.data_start + h.data_len != size ||
            (h.t[i].dtype != LAYER_F32 && h.t[i].dtype != LAYER_BF16 && h.t[i].dtype != LAYER_F16))
            abort();
    bench_st_free(&h);
    return 0;
}
