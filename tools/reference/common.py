"""What the reference scripts (gpt2.py, llama.py, gpt_neox.py, bert.py) share: the hand-written safetensors codec,
the command line, the fixed decoder inputs, the TransformerLens LayerNorm and the run every golden comes from.

Each script reads <model_folder>/config.json and <model_folder>/model.safetensors (parsed by hand here: no
transformers, no safetensors package), runs the model on fixed inputs in float64 and float32, and writes a
safetensors file (F32) with the float64 logits, every TransformerLens hook activation under its TL name, the
gradient of the summed target log-probabilities with respect to the embedding hook, and that loss.

A golden run is the hooked forward in float64 with the loss gradient w.r.t. the embeddings, cross-checked against
the script's literal transcription of the Hugging Face modules (they must agree to 1e-10 in float64), then both
forwards again in float32 to record how far float32 drifts from float64. Needs only PyTorch.
"""

import json
import math
import struct
import sys
from types import SimpleNamespace

import torch

# the decoder goldens' input and next-token targets (bert.py has its own encoder inputs)
INPUT_IDS = [[3, 17, 42, 5, 99, 7, 250, 11]]
TARGETS = [17, 42, 5, 99, 7, 250, 11, 3]

# ——— safetensors by hand ———

_DTYPES = {"F64": (torch.float64, 8), "F32": (torch.float32, 4), "F16": (torch.float16, 2)}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    data = blob[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = bytearray(data[start:end])
        shape = info["shape"]
        dt = info["dtype"]
        if dt == "BF16":
            bits = torch.frombuffer(raw, dtype=torch.int16).to(torch.int32) & 0xFFFF
            t = (bits << 16).view(torch.float32) if len(raw) else torch.zeros(0)
        elif dt in _DTYPES:
            t = torch.frombuffer(raw, dtype=_DTYPES[dt][0]) if len(raw) else torch.zeros(0, dtype=_DTYPES[dt][0])
        else:
            raise SystemExit(f"{path}: tensor {name}: unsupported dtype {dt}")
        if sys.byteorder != "little":
            raise SystemExit("big-endian hosts are not supported")
        out[name] = t.reshape(shape).to(torch.float64)
    return out


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    chunks = []
    offset = 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        chunks.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((-len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in chunks:
            f.write(b)


# ——— command line, checkpoint and metadata ———


def read_args(script):
    """`<script> <model_folder> <out.safetensors>`: returns (folder, out_path, config.json as a dict)."""
    if len(sys.argv) != 3:
        raise SystemExit(f"usage: {script} <model_folder> <out.safetensors>")
    folder, out_path = sys.argv[1], sys.argv[2]
    with open(f"{folder}/config.json") as f:
        return folder, out_path, json.load(f)


def load_weights(folder, prefix):
    """<folder>/model.safetensors in float64, `prefix` stripped from the names that carry it (save_pretrained
    writes the body under the base model's name; original checkpoints have bare names)."""
    raw = read_safetensors(f"{folder}/model.safetensors")
    return {name[len(prefix) :] if name.startswith(prefix) else name: t for name, t in raw.items()}


def decoder_inputs(vocab):
    """INPUT_IDS [1, pos] and TARGETS [pos] as tensors, checked against the vocabulary size."""
    ids = torch.tensor(INPUT_IDS, dtype=torch.long)
    targets = torch.tensor(TARGETS, dtype=torch.long)
    check_vocab(vocab, ids, targets)
    return ids, targets


def check_vocab(vocab, *ids):
    """Every token id in the given tensors indexes the embedding table."""
    if any(int(t.max()) >= vocab for t in ids):
        raise SystemExit(f"input ids / targets must be < vocab size {vocab}")


def compact(value):
    """JSON without spaces: the spelling of list-valued golden metadata."""
    return json.dumps(value, separators=(",", ":"))


def provenance(script):
    """The golden's `reference` metadata: which script and which PyTorch wrote it."""
    return f"tools/reference/{script} (PyTorch {torch.__version__}, float64)"


# ——— shared modules ———


def gelu_new(x):
    # transformers.activations.NewGELUActivation
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def layer_norm_tl(x, weight, bias, eps, hooks, prefix):
    """TransformerLens LayerNorm (unfolded): hook_scale = sqrt(var + eps) of the centered input."""
    x = x - x.mean(-1, keepdim=True)
    scale = (x.pow(2).mean(-1, keepdim=True) + eps).sqrt()
    hooks[f"{prefix}.hook_scale"] = scale
    out = x / scale * weight + bias
    hooks[f"{prefix}.hook_normalized"] = out
    return out


def next_token_loss(logits, targets):
    """Σₚ log_softmax(logits)[0, p, targets[p]]: the summed target log-probability, not negated, not averaged."""
    logp = torch.log_softmax(logits, dim=-1)
    return logp[0, torch.arange(len(targets)), targets].sum()


# ——— the golden run ———


def run_reference(forward, forward_hf, loss_of, label=""):
    """forward(dtype, embed_leaf=False) -> (logits, hooks, embed) is the hooked forward; forward_hf(dtype) -> logits
    the literal HF transcription; loss_of(logits) the scalar whose gradient w.r.t. the embeddings is recorded.
    Returns logits, hooks, embed (with .grad), loss, cross (float64 hooked vs HF), f32_diff and hf32_diff (each
    forward in float32 vs the float64 logits)."""
    logits, hooks, embed = forward(torch.float64, embed_leaf=True)
    loss = loss_of(logits)
    loss.backward()
    with torch.no_grad():
        hf64 = forward_hf(torch.float64)
        cross = (hf64 - logits.detach()).abs().max().item()
        if not cross < 1e-10:
            raise SystemExit(f"{label}hooked forward and HF transcription disagree in float64: max |Δlogits| {cross}")
        logits32, _, _ = forward(torch.float32)
        hf32 = forward_hf(torch.float32)
        f32_diff = (logits32.double() - logits.detach()).abs().max().item()
        hf32_diff = (hf32.double() - logits.detach()).abs().max().item()
    return SimpleNamespace(
        logits=logits, hooks=hooks, embed=embed, loss=loss, cross=cross, f32_diff=f32_diff, hf32_diff=hf32_diff
    )


def run_decoder_reference(forward, forward_hf, targets, label=""):
    """run_reference with the decoder loss: the summed log-probability of each position's next token."""
    return run_reference(forward, forward_hf, lambda logits: next_token_loss(logits, targets), label)


def decoder_metadata(script, ref, **extra):
    """A decoder golden's metadata: the inputs, `extra` (in order), the provenance and the float32 drift."""
    return {
        "input_ids": compact(INPUT_IDS),
        "targets": compact(TARGETS),
        **extra,
        "reference": provenance(script),
        "f32_vs_f64_max_abs_logits": repr(ref.f32_diff),
    }


def golden_tensors(ref, grad_name):
    """The golden's tensors in file order: logits, every hook, the embedding gradient under `grad_name`, the loss."""
    tensors = {"logits": ref.logits}
    tensors.update(ref.hooks)
    tensors[grad_name] = ref.embed.grad
    tensors["loss"] = ref.loss.reshape(1)
    return tensors


def write_golden(out_path, tensors, metadata, note=""):
    """Writes the golden and says so (with `note` after the tensor count)."""
    write_safetensors(out_path, tensors, metadata)
    print(f"wrote {out_path}: {len(tensors)} tensors{note}")


def report(ref, label=""):
    """Prints the loss and how far float32 and the HF transcription land from the float64 logits."""
    print(f"{label}loss (sum of target log-probs, float64) = {ref.loss.item()!r}")
    f32, hf32 = ref.f32_diff, ref.hf32_diff
    print(f"{label}max |logits f32 - f64| hooked = {f32:.3e}, HF transcription f32 = {hf32:.3e}")
    print(f"{label}max |logits hooked f64 - HF transcription f64| = {ref.cross:.3e}")
