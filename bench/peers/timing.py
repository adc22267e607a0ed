"""Timing loop shared by the Python benchmark peers: warm-up, then repetitions until both a minimum count
and a minimum time are reached (capped at max_reps). Returns the samples in milliseconds."""
import time

def bench(fn, warmup, min_reps, max_reps, min_ms):
    for _ in range(warmup):
        fn()
    samples = []
    start = time.perf_counter()
    while len(samples) < max_reps and (len(samples) < min_reps or (time.perf_counter() - start) * 1e3 < min_ms):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return samples
