"""PyTorch CPU peer for the GPT-2 section of bench/run.ts (bench/gpt2.ts).

usage: python3 gpt2_model.py '<json spec>'
spec: {"mode": "check" | "time",
       "weights": path to model.safetensors (F32, bare GPT2Model names, Conv1D weights [in, out]),
       "config": the HF config.json object, "threads": n,
       "forward": {"lengths": [1, 16, 128], "ids": [...at least max(lengths) token ids...],
                   "warmup", "min_reps", "max_reps", "min_ms"},
       "generate": {"prompt": [...], "new_tokens": 32, "warmup": w, "reps": r},
       "logits_dir": folder for logits_<T>.f32 (raw little-endian f32 [T, d_vocab] of the forward pass)}
"check" writes the logits at each length and generates once (bench/gpt2.ts compares both with ours before
anything is timed); "time" times the forward passes and the generations, and reports the tokens it generated.

GPT-2 written the way transformers' modeling_gpt2.py runs it (GPT2LMHeadModel, eager attention): Conv1D as
addmm, matmul + causal mask + softmax attention (torch 1.13 has no scaled_dot_product_attention), tanh GELU,
tied unembedding; generation keeps a KV cache the way GPT2Attention does with past_key_values (torch.cat of
the past keys/values each step) and, like transformers >= 4.45 (logits_to_keep), unembeds only the last
position while generating. Greedy decoding. Weights are parsed from the safetensors file by hand (no
transformers, no safetensors package). Everything runs under torch.inference_mode().
Prints one JSON object on the last line of stdout.
"""

import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

from timing import bench  # noqa: E402  (sibling module: the script folder is on sys.path)


def read_safetensors(path):
    """F32 tensors by name, sharing one buffer (copied only where a tensor's offset is misaligned)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
        data = bytearray(f.read())
    if sys.byteorder != "little":
        raise SystemExit("big-endian hosts are not supported")
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name}: expected F32, got {info['dtype']}")
        start, end = info["data_offsets"]
        count = (end - start) // 4
        t = torch.frombuffer(data, dtype=torch.float32, count=count, offset=start) if count else torch.zeros(0)
        if start % 4:
            t = t.clone()
        out[name] = t.reshape(info["shape"])
    return out


class GPT2:
    def __init__(self, w, cfg):
        self.D = cfg["n_embd"]
        self.H = cfg["n_head"]
        self.L = cfg["n_layer"]
        self.Dh = self.D // self.H
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        P = cfg["n_positions"]
        self.w = w
        self.wte = w["wte.weight"]  # [d_vocab, d_model]
        self.wpe = w["wpe.weight"]  # [n_ctx, d_model]
        # GPT2Attention's `bias` buffer: the causal mask, sliced per call
        self.causal = torch.tril(torch.ones((P, P), dtype=torch.bool)).view(1, 1, P, P)
        self.blocks = [{k: w[f"h.{l}.{k}"] for k in self._block_keys()} for l in range(self.L)]

    @staticmethod
    def _block_keys():
        keys = []
        for m in ["ln_1", "ln_2"]:
            keys += [f"{m}.weight", f"{m}.bias"]
        for m in ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"]:
            keys += [f"{m}.weight", f"{m}.bias"]
        return keys

    @staticmethod
    def conv1d(x, w, b):
        # transformers' Conv1D: addmm(bias, x.view(-1, in), weight[in, out])
        size_out = x.size()[:-1] + (w.size(-1),)
        return torch.addmm(b, x.view(-1, x.size(-1)), w).view(size_out)

    def attn(self, p, x, past):
        B, T, D = x.shape
        H, Dh = self.H, self.Dh
        q, k, v = self.conv1d(x, p["attn.c_attn.weight"], p["attn.c_attn.bias"]).split(D, dim=2)
        q = q.view(B, T, H, Dh).permute(0, 2, 1, 3)  # [batch, head, pos, d_head]
        k = k.view(B, T, H, Dh).permute(0, 2, 1, 3)
        v = v.view(B, T, H, Dh).permute(0, 2, 1, 3)
        if past is not None:
            k = torch.cat((past[0], k), dim=-2)  # [batch, head, past + pos, d_head]
            v = torch.cat((past[1], v), dim=-2)
        S = k.size(-2)
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(Dh)  # [batch, head, pos, key_pos]
        mask = self.causal[:, :, S - T : S, :S]
        w = torch.where(mask, w, torch.tensor(torch.finfo(w.dtype).min, dtype=w.dtype))
        w = F.softmax(w, dim=-1)
        z = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous().view(B, T, D)  # [batch, pos, d_model]
        return self.conv1d(z, p["attn.c_proj.weight"], p["attn.c_proj.bias"]), (k, v)

    def forward(self, ids, past=None, last_only=False):
        """ids [batch, pos] → logits [batch, pos or 1, d_vocab] and the new past (list of (k, v) per layer)."""
        B, T = ids.shape
        P = 0 if past is None else past[0][0].size(-2)
        pos = torch.arange(P, P + T, dtype=torch.long).unsqueeze(0)
        x = self.wte[ids] + self.wpe[pos]  # [batch, pos, d_model]
        presents = []
        for l, p in enumerate(self.blocks):
            h = F.layer_norm(x, (self.D,), p["ln_1.weight"], p["ln_1.bias"], self.eps)
            a, kv = self.attn(p, h, None if past is None else past[l])
            presents.append(kv)
            x = x + a
            h = F.layer_norm(x, (self.D,), p["ln_2.weight"], p["ln_2.bias"], self.eps)
            m = F.gelu(self.conv1d(h, p["mlp.c_fc.weight"], p["mlp.c_fc.bias"]), approximate="tanh")
            x = x + self.conv1d(m, p["mlp.c_proj.weight"], p["mlp.c_proj.bias"])
        x = F.layer_norm(x, (self.D,), self.w["ln_f.weight"], self.w["ln_f.bias"], self.eps)
        if last_only:
            x = x[:, -1:, :]
        return F.linear(x, self.wte), presents  # lm_head tied to wte: [batch, pos, d_vocab]

    def generate(self, prompt, new_tokens):
        """Greedy; returns the tokens and the wall time of each step in ms (step 0 includes the prefill)."""
        ids = torch.tensor([prompt], dtype=torch.long)
        past = None
        out, steps = [], []
        for _ in range(new_tokens):
            t0 = time.perf_counter()
            logits, past = self.forward(ids, past, last_only=True)
            nxt = int(torch.argmax(logits[0, -1]).item())
            steps.append((time.perf_counter() - t0) * 1e3)
            out.append(nxt)
            ids = torch.tensor([[nxt]], dtype=torch.long)
        return out, steps


def main():
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec["threads"])
    t0 = time.perf_counter()
    w = read_safetensors(spec["weights"])
    load_ms = (time.perf_counter() - t0) * 1e3
    model = GPT2(w, spec["config"])
    fw = spec["forward"]
    g = spec["generate"]
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "?")
    peer = f"torch {torch.__version__} CPU ({torch.get_num_threads()} threads, OPENBLAS_NUM_THREADS={blas})"
    with torch.inference_mode():
        if spec["mode"] == "check":
            for T in fw["lengths"]:
                logits, _ = model.forward(torch.tensor([fw["ids"][:T]], dtype=torch.long))
                with open(os.path.join(spec["logits_dir"], f"logits_{T}.f32"), "wb") as f:
                    f.write(logits[0].contiguous().numpy().astype("<f4").tobytes())
            tokens, _ = model.generate(g["prompt"], g["new_tokens"])
            print(json.dumps({"peer": peer, "load_ms": load_ms, "tokens": tokens}))
            return
        forward = {}
        for T in fw["lengths"]:
            ids = torch.tensor([fw["ids"][:T]], dtype=torch.long)
            forward[str(T)] = bench(
                lambda ids=ids: model.forward(ids), fw["warmup"], fw["min_reps"], fw["max_reps"], fw["min_ms"]
            )
        runs = []
        for i in range(g["warmup"] + g["reps"]):
            tokens, steps = model.generate(g["prompt"], g["new_tokens"])
            if i >= g["warmup"]:
                runs.append(steps)
    print(json.dumps({"peer": peer, "load_ms": load_ms, "forward_samples_ms": forward, "generate": {"tokens": tokens, "steps_ms": runs}}))


if __name__ == "__main__":
    main()
