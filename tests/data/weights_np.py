#!/usr/bin/env python3
"""weights_np.py SRC.safetensors NPY_DIR RAND.safetensors RAND_NPY_DIR SEED [F16_DIR F16.safetensors]

The independent side of tests/check_weights.c: nothing here uses sparsebench's
writer. Reads SRC's header with json (names and shapes), then writes
  NPY_DIR            SRC's tensors (numpy.frombuffer) saved by numpy.save;
  RAND.safetensors   fresh tensors drawn by numpy, assembled here by hand
                     (u64 header length, JSON header padded to 8 bytes, data);
  RAND_NPY_DIR       the same fresh tensors saved by numpy.save;
  F16_DIR            SRC's tensors cast by numpy's astype(float16) (round to
                     nearest even), saved by numpy.save ('<f2');
  F16.safetensors    the same float16 arrays assembled by hand as "F16".
SRC's F32 tensors are read as float32; BF16 ones (NumPy has no bfloat16) are
widened by hand: the 16 bits shifted into the top of a float32.
"""
import json
import os
import struct
import sys

import numpy as np


def main():
    src, npy_dir, rand_st, rand_dir, seed = sys.argv[1:6]
    f16_dir, f16_st = (sys.argv[6:8] + [None, None])[:2]
    with open(src, "rb") as f:
        buf = f.read()
    (hlen,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + hlen])
    data = buf[8 + hlen :]
    names = [k for k in header if k != "__metadata__"]
    rng = np.random.default_rng(int(seed))
    os.makedirs(npy_dir, exist_ok=True)
    os.makedirs(rand_dir, exist_ok=True)
    fresh, half = {}, {}
    for name in names:
        t = header[name]
        b, e = t["data_offsets"]
        a = read_tensor(data[b:e], t["dtype"]).reshape(t["shape"])
        np.save(os.path.join(npy_dir, name + ".npy"), a)
        if f16_dir:
            half[name] = np.ascontiguousarray(a.astype(np.float16), dtype="<f2")
        # Positive where a variance or a Tucker core is expected, small elsewhere.
        if name.endswith("running_var"):
            r = rng.uniform(0.5, 1.5, size=a.shape)
        elif name.endswith("tucker_core"):
            r = rng.uniform(0.0, 1.0, size=a.shape)
        else:
            r = rng.normal(0.0, 0.05, size=a.shape)
        fresh[name] = np.ascontiguousarray(r, dtype="<f4")
        np.save(os.path.join(rand_dir, name + ".npy"), fresh[name])
    # another order than sparsebench's
    assemble(rand_st, fresh, list(reversed(names)), "F32")
    if f16_dir:
        os.makedirs(f16_dir, exist_ok=True)
        for name in names:
            np.save(os.path.join(f16_dir, name + ".npy"), half[name])
        assemble(f16_st, half, names, "F16")


def read_tensor(raw, dtype):
    """A safetensors tensor's bytes as float32 (BF16 widened exactly)."""
    if dtype == "F32":
        return np.frombuffer(raw, dtype="<f4")
    if dtype == "F16":
        return np.frombuffer(raw, dtype="<f2").astype(np.float32)
    if dtype == "BF16":
        return (np.frombuffer(raw, dtype="<u2").astype("<u4") << 16).view("<f4")
    raise SystemExit("weights_np.py: unexpected dtype " + dtype)


def assemble(path, arrays, order, dtype):
    """A safetensors file of arrays in this order, written by hand."""
    hdr, off = {"__metadata__": {"written_by": "tests/data/weights_np.py"}}, 0
    for name in order:
        n = arrays[name].nbytes
        hdr[name] = {"dtype": dtype, "shape": list(arrays[name].shape), "data_offsets": [off, off + n]}
        off += n
    text = json.dumps(hdr).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in order:
            f.write(arrays[name].tobytes())


if __name__ == "__main__":
    main()
