#!/usr/bin/env python3
"""weights_np.py SRC.safetensors NPY_DIR RAND.safetensors RAND_NPY_DIR SEED

The independent side of tests/check_weights.c: nothing here uses sparsebench's
writer. Reads SRC's header with json (names and shapes), then writes
  NPY_DIR            SRC's tensors (numpy.frombuffer) saved by numpy.save;
  RAND.safetensors   fresh tensors drawn by numpy, assembled here by hand
                     (u64 header length, JSON header padded to 8 bytes, data);
  RAND_NPY_DIR       the same fresh tensors saved by numpy.save.
"""
import json
import os
import struct
import sys

import numpy as np


def main():
    src, npy_dir, rand_st, rand_dir, seed = sys.argv[1:6]
    with open(src, "rb") as f:
        buf = f.read()
    (hlen,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + hlen])
    data = buf[8 + hlen :]
    names = [k for k in header if k != "__metadata__"]
    rng = np.random.default_rng(int(seed))
    os.makedirs(npy_dir, exist_ok=True)
    os.makedirs(rand_dir, exist_ok=True)
    fresh = {}
    for name in names:
        t = header[name]
        b, e = t["data_offsets"]
        a = np.frombuffer(data[b:e], dtype="<f4").reshape(t["shape"])
        np.save(os.path.join(npy_dir, name + ".npy"), a)
        # Positive where a variance or a Tucker core is expected, small elsewhere.
        if name.endswith("running_var"):
            r = rng.uniform(0.5, 1.5, size=a.shape)
        elif name.endswith("tucker_core"):
            r = rng.uniform(0.0, 1.0, size=a.shape)
        else:
            r = rng.normal(0.0, 0.05, size=a.shape)
        fresh[name] = np.ascontiguousarray(r, dtype="<f4")
        np.save(os.path.join(rand_dir, name + ".npy"), fresh[name])
    hdr, off = {"__metadata__": {"written_by": "tests/data/weights_np.py"}}, 0
    for name in reversed(names):  # another order than sparsebench's
        n = fresh[name].nbytes
        hdr[name] = {"dtype": "F32", "shape": list(fresh[name].shape), "data_offsets": [off, off + n]}
        off += n
    text = json.dumps(hdr).encode()
    text += b" " * (-len(text) % 8)
    with open(rand_st, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in reversed(names):
            f.write(fresh[name].tobytes())


if __name__ == "__main__":
    main()
