"""NumPy matmul peer for bench/run.ts.

usage: python3 matmul.py '<json spec>'
spec: {"cases": [{"name", "batch", "M", "K", "N"}], "warmup", "min_reps", "max_reps", "min_ms"}
Thread count comes from OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, which bench/run.ts sets before starting us.
Prints one JSON object on the last line of stdout: {"peer": "...", "results": [{"name", "samples_ms"}]}.
"""

import json
import os
import sys
import time

import numpy as np

from timing import bench  # noqa: E402  (sibling module: the script folder is on sys.path)


def blas_name():
    try:
        cfg = np.show_config(mode="dicts")  # numpy >= 1.25
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', 'blas')} {blas.get('version', '')}".strip()
    except Exception:
        return "BLAS"




def main():
    spec = json.loads(sys.argv[1])
    rng = np.random.default_rng(0)
    results = []
    for c in spec["cases"]:
        b, m, k, n = c["batch"], c["M"], c["K"], c["N"]
        lead = [b] if b > 1 else []
        a = rng.standard_normal([*lead, m, k], dtype=np.float32)
        w = rng.standard_normal([*lead, k, n], dtype=np.float32)
        samples = bench(lambda: np.matmul(a, w), spec["warmup"], spec["min_reps"], spec["max_reps"], spec["min_ms"])
        results.append({"name": c["name"], "samples_ms": samples})
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "?")
    peer = f"numpy {np.__version__} ({blas_name()}, {threads} threads)"
    print(json.dumps({"peer": peer, "results": results}))


if __name__ == "__main__":
    main()
