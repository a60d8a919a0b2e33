/* weights.h - a layer's parameter tensors out to and in from files: one
 * safetensors file (Hugging Face's format: an 8-byte little-endian header
 * length, a JSON header naming every tensor's dtype, shape and byte range,
 * then the raw data) or a directory of NumPy .npy files, one per tensor.
 *
 * Tensors are the layer's param op's list (layer.h; names and shapes per
 * family in reports/WEIGHTS.md), little-endian, each written in the dtype
 * the layer stores it in (safetensors F32, BF16, F16; .npy '<f4', '<f2',
 * and bf16 as '<f4' widened exactly: NumPy has no bfloat16). Loading takes
 * a file tensor of any of the three into a tensor of any stored dtype
 * (widening exact, narrowing to nearest even), checks every tensor's
 * presence, shape and finiteness after that conversion (an f16 overflow is
 * refused, not made infinite), refuses tensors the layer does not have,
 * then calls the layer's derive op. A bad file is
 * LAYER_EWEIGHTS with err naming the file, the tensor, what was expected
 * and what was found; nothing in a file can make these functions read or
 * write outside their buffers. The header's JSON is parsed by jansson.
 */
#ifndef SPARSEBENCH_WEIGHTS_H
#define SPARSEBENCH_WEIGHTS_H

#include "../impls/layer.h"

#include <stddef.h>
#include <stdint.h>

/* Headers larger than this are refused (Hugging Face's own limit is 100 MB). */
#define BENCH_ST_MAX_HEADER (100u << 20)

/* One tensor of a safetensors header; begin and end are byte offsets into
 * the data that follows the header. */
struct bench_st_tensor {
    char name[LAYER_PARAM_NAME_LEN];
    enum layer_dtype dtype; /* the file's: F32, BF16 or F16 */
    int ndim;
    uint64_t shape[LAYER_PARAM_MAX_DIMS];
    uint64_t begin, end;
};

struct bench_st_header {
    size_t n;                  /* tensors, __metadata__ excluded */
    struct bench_st_tensor *t; /* (n), in the header's order */
    uint64_t data_start;       /* 8 + header length: where offset 0 is in the file */
    uint64_t data_len;         /* file size - data_start */
};

/* Parse and validate a safetensors header: json (hlen bytes) from a file of
 * file_size bytes whose header length field said hlen. Every tensor must be
 * F32, BF16 or F16 with a shape of 1..LAYER_PARAM_MAX_DIMS dims whose byte size is its
 * data_offsets' span, inside the data; names unique and shorter than
 * LAYER_PARAM_NAME_LEN; __metadata__, if present, a map of strings.
 * Returns 0, LAYER_EWEIGHTS (err says why) or LAYER_ENOMEM; on failure *h
 * holds nothing to free. */
int bench_st_parse_header(const char *json, size_t hlen, uint64_t file_size,
                          struct bench_st_header *h, char *err, size_t errlen);
/* The same from a whole file in memory (the fuzz target's entry point). */
int bench_st_parse(const unsigned char *buf, size_t len, struct bench_st_header *h, char *err,
                   size_t errlen);
void bench_st_free(struct bench_st_header *h);

/* Parse an .npy file's header (format 1.0, 2.0 or 3.0): it must be '<f4'
 * (*dtype = LAYER_F32) or '<f2' (LAYER_F16), C order, 1..LAYER_PARAM_MAX_DIMS
 * dims. *data_off = where the data starts. Returns 0 or LAYER_EWEIGHTS. */
int bench_npy_parse(const unsigned char *buf, size_t len, enum layer_dtype *dtype, int *ndim,
                    uint64_t *shape, size_t *data_off, char *err, size_t errlen);

/* Write every parameter of l to path: a safetensors file when path ends in
 * ".safetensors", else a directory of NAME.npy files (created). The
 * safetensors metadata records impl, knobs (resolved), d_model, scale and
 * seed from cfg and info. Returns 0, LAYER_EUNSUPPORTED (no param op),
 * LAYER_EINVAL (cannot write: err names the file and the reason). */
int bench_weights_save(struct layer *l, const struct layer_config *cfg, const char *path, char *err,
                       size_t errlen);

/* Is path a readable weights file with a valid header (or a directory)?
 * 0, or LAYER_EWEIGHTS with err: what a sweep checks before it measures. */
int bench_weights_peek(const char *path, char *err, size_t errlen);

/* Replace l's parameters with path's (a safetensors file or a directory of
 * .npy files), then derive. Returns 0, LAYER_EWEIGHTS, LAYER_EUNSUPPORTED
 * or LAYER_ENOMEM, err filled. */
int bench_weights_load(struct layer *l, const char *path, char *err, size_t errlen);

#endif
