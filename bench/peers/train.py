"""PyTorch CPU peer for the "train" section of bench/run.ts (bench/train.ts): one full training step of the
GPT-2-small-shaped model of bench/peers/gpt2_model.py (the same safetensors file), written the way one writes a
PyTorch training loop.

usage: python3 train.py '<json spec>'
spec: {"mode": "check" | "time", "weights": path, "config": the HF config.json object, "threads": n,
       "ids": [[...], ...] token ids [batch, pos], "lr", "betas", "eps", "weight_decay", "clip",
       "out_dir": folder for grads.safetensors and params.safetensors ("check"),
       "warmup", "reps": untimed and timed steps ("time")}

One step: zero_grad(set_to_none=True), the forward (gpt2_model.GPT2: Conv1D as addmm, eager attention, tanh GELU,
tied unembedding; no dropout), the causal-LM loss (F.cross_entropy of the logits at positions 0..T-2 against the
ids at 1..T-1, mean over the batch's 4·127 targets, as transformers' GPT2LMHeadModel shifts them), backward to
every parameter, clip_grad_norm_(all parameters, clip), torch.optim.AdamW (two param groups: weight decay on the
parameters of 2 or more dimensions, none on biases and norm weights, as the Hugging Face Trainer groups them),
and loss.item().

"check" runs one step from the weights on fresh optimizer state and writes the clipped gradients (grads.safetensors,
taken after clipping, before the update) and the updated parameters (params.safetensors), F32, under the
checkpoint's names; it prints the loss and the gradient norm before clipping, both clip_grad_norm_'s (float32 sums,
which also sets the clipping coefficient) and one summed in float64. "time" runs `warmup` steps (the
first creates AdamW's state), then `reps` timed steps, and reports their wall times in ms, and each phase's
median (forward + loss, backward, clipping, AdamW).
Prints one JSON object on the last line of stdout.
"""

import json
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

from gpt2_model import GPT2, read_safetensors  # noqa: E402  (sibling module: the script folder is on sys.path)


def write_safetensors(path, tensors):
    """F32 tensors by name, in the given order (no metadata)."""
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        b = t.detach().contiguous().float().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class Trainer:
    def __init__(self, spec):
        w = read_safetensors(spec["weights"])
        # leaves that train: their own (writable) storage, as nn.Parameters hold
        self.params = {name: t.clone().requires_grad_() for name, t in w.items()}
        self.model = GPT2(self.params, spec["config"])
        decay = [p for p in self.params.values() if p.dim() >= 2]
        no_decay = [p for p in self.params.values() if p.dim() < 2]
        self.opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": spec["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
            lr=spec["lr"],
            betas=tuple(spec["betas"]),
            eps=spec["eps"],
        )
        self.clip = spec["clip"]
        self.ids = torch.tensor(spec["ids"], dtype=torch.long)  # [batch, pos]
        self.V = spec["config"]["vocab_size"]

    def step(self, before_clip=None, before_update=None, phases=None):
        """One full step; returns the loss and the gradient norm before clipping (clip_grad_norm_'s). `phases`, a
        list, gets the wall times (s) of forward + loss, backward, clipping and the update (CPU ops are
        synchronous, so reading the clock between them adds nothing to the step)."""
        t0 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        logits, _ = self.model.forward(self.ids)  # [batch, pos, d_vocab]
        loss = F.cross_entropy(logits[:, :-1, :].reshape(-1, self.V), self.ids[:, 1:].reshape(-1))
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        if before_clip is not None:
            before_clip()
        t3 = time.perf_counter()
        norm = torch.nn.utils.clip_grad_norm_(self.params.values(), self.clip)
        t4 = time.perf_counter()
        if before_update is not None:
            before_update()
        t5 = time.perf_counter()
        self.opt.step()
        t6 = time.perf_counter()
        if phases is not None:
            phases.append([t1 - t0, t2 - t1, t4 - t3, t6 - t5])
        return loss.item(), float(norm)


def main():
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec["threads"])
    tr = Trainer(spec)
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "?")
    peer = f"torch {torch.__version__} CPU ({torch.get_num_threads()} threads, OPENBLAS_NUM_THREADS={blas})"
    if spec["mode"] == "check":
        out = spec["out_dir"]
        extra, norm64 = [], []

        def exact_norm():
            # the norm in float64 sums (clip_grad_norm_ sums float32: off by ~1e-4 relative on 124M entries)
            t = time.perf_counter()
            norm64.append(float(sum(p.grad.double().pow(2).sum() for p in tr.params.values()).sqrt()))
            extra.append(time.perf_counter() - t)

        def save_grads():
            t = time.perf_counter()
            write_safetensors(os.path.join(out, "grads.safetensors"), {n: p.grad for n, p in tr.params.items()})
            extra.append(time.perf_counter() - t)

        t0 = time.perf_counter()
        loss, norm = tr.step(exact_norm, save_grads)
        ms = (time.perf_counter() - t0 - sum(extra)) * 1e3  # the step, without the checks' own work
        write_safetensors(os.path.join(out, "params.safetensors"), tr.params)
        print(json.dumps({"peer": peer, "loss": loss, "grad_norm": norm, "grad_norm_f64": norm64[0], "check_ms": ms}))
        return
    for _ in range(spec["warmup"]):
        tr.step()
    samples, losses, phases = [], [], []
    for _ in range(spec["reps"]):
        t0 = time.perf_counter()
        loss, _ = tr.step(phases=phases)
        samples.append((time.perf_counter() - t0) * 1e3)
        losses.append(loss)
    # each phase's median over the timed steps, ms: forward + loss, backward, clip, AdamW
    med = [sorted(p[i] for p in phases)[len(phases) // 2] * 1e3 for i in range(4)]
    print(json.dumps({"peer": peer, "samples_ms": samples, "losses": losses, "phases_ms": med}))


if __name__ == "__main__":
    main()
