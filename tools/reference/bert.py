#!/usr/bin/env python3
"""Independent PyTorch reference for BERT and RoBERTa (Hugging Face transformers' modeling_bert.py and
modeling_roberta.py: BertForSequenceClassification, BertForMaskedLM, RobertaForSequenceClassification,
RobertaForMaskedLM).

Usage: /usr/bin/python3 tools/reference/bert.py <model_folder> <out.safetensors>

Reads <model_folder>/config.json and <model_folder>/model.safetensors (parsed by hand in common.py: no
transformers, no safetensors package). The head comes from config.json's `architectures`, as transformers picks
the class. Runs the model on fixed inputs in float64 and float32 and writes a safetensors file (F32) with the
float64 output (`logits`: class logits [batch, n_labels] or masked-LM logits [batch, pos, vocab]), every
TransformerLens HookedEncoder activation under its TL name, the gradient of the loss with respect to
`embed.hook_embed`, and the loss. See tools/reference/README.md.
"""

import math
from functools import partial

import torch
import torch.nn.functional as F

from common import check_vocab, compact, golden_tensors, layer_norm_tl, load_weights, provenance, read_args
from common import report, run_reference, write_golden

# id 0 is the tiny tokenizer's [PAD]: mid-sequence and unmasked it is an ordinary token to BERT, while RoBERTa
# numbers positions around it (create_position_ids_from_input_ids), which this input checks.
INPUT_IDS = [[2, 17, 0, 5, 99, 7, 60, 3], [2, 8, 33, 71, 12, 90, 104, 3]]
# segments A/B where the model has two token types; all 0 where it has one (RoBERTa)
TOKEN_TYPE_IDS = [[0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1, 1, 1]]
CLASS_TARGETS = [1, 0]
MLM_TARGETS = [[17, 42, 5, 99, 7, 60, 3, 2], [8, 33, 71, 12, 90, 104, 3, 2]]

ACT = {"gelu": F.gelu, "relu": torch.relu}


class Config:
    def __init__(self, cfg):
        self.model_type = cfg["model_type"]
        if self.model_type not in ("bert", "roberta"):
            raise SystemExit(f"model_type {self.model_type!r} is not bert or roberta")
        self.d = cfg["hidden_size"]
        self.n_heads = cfg["num_attention_heads"]
        self.n_layers = cfg["num_hidden_layers"]
        self.d_mlp = cfg["intermediate_size"]
        self.eps = cfg.get("layer_norm_eps", 1e-12)
        self.act = cfg.get("hidden_act", "gelu")
        if self.act not in ACT:
            raise SystemExit(f"unsupported hidden_act {self.act!r}")
        self.type_vocab_size = cfg.get("type_vocab_size", 2)
        self.n_positions = cfg["max_position_embeddings"]
        self.pad = cfg.get("pad_token_id", 0)
        self.tie = cfg.get("tie_word_embeddings", True)
        if cfg.get("position_embedding_type", "absolute") != "absolute":
            raise SystemExit("only absolute position embeddings")
        archs = cfg.get("architectures", [])
        if any(a.endswith("ForSequenceClassification") for a in archs):
            self.head = "classifier"
        elif any(a.endswith("ForMaskedLM") for a in archs):
            self.head = "mlm"
        else:
            raise SystemExit(f"architectures {archs!r}: expected *ForSequenceClassification or *ForMaskedLM")
        if self.d % self.n_heads != 0:
            raise SystemExit(f"hidden_size {self.d} is not divisible by num_attention_heads {self.n_heads}")
        self.d_head = self.d // self.n_heads


def position_ids(cfg, ids):
    if cfg.model_type == "roberta":
        # modeling_roberta.create_position_ids_from_input_ids: padding_idx + cumsum of the non-pad tokens
        mask = ids.ne(cfg.pad).int()
        return (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + cfg.pad
    # BertEmbeddings: the registered position_ids buffer, arange(max_position_embeddings)[:seq_len]
    return torch.arange(ids.shape[1]).unsqueeze(0).expand(ids.shape[0], -1)


def token_types(cfg, ids):
    tt = torch.tensor(TOKEN_TYPE_IDS, dtype=torch.long)
    return tt if cfg.type_vocab_size > 1 else torch.zeros_like(ids)


def lin(W, name, x):
    return x @ W[f"{name}.weight"].T + W[f"{name}.bias"]


def forward(cfg, w, ids, tt, dtype, embed_leaf=False):
    """TL HookedEncoder-style forward that records every hook. Returns (logits, hooks, embed)."""
    W = {k: v.to(dtype) for k, v in w.items()}
    hooks = {}
    B, T = ids.shape
    H, Dh = cfg.n_heads, cfg.d_head
    act = ACT[cfg.act]
    embed = W["embeddings.word_embeddings.weight"][ids]
    if embed_leaf:
        embed = embed.detach().clone().requires_grad_(True)
    hooks["embed.hook_embed"] = embed
    pos = W["embeddings.position_embeddings.weight"][position_ids(cfg, ids)]
    hooks["embed.hook_pos_embed"] = pos
    typ = W["embeddings.token_type_embeddings.weight"][tt]
    hooks["embed.hook_token_type_embed"] = typ
    x = layer_norm_tl(
        embed + typ + pos, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], cfg.eps, hooks, "embed.ln"
    )
    hooks["hook_full_embed"] = x
    for L in range(cfg.n_layers):
        p = f"encoder.layer.{L}"
        b = f"blocks.{L}"
        hooks[f"{b}.hook_resid_pre"] = x
        q, k, v = (lin(W, f"{p}.attention.self.{n}", x).view(B, T, H, Dh) for n in ("query", "key", "value"))
        hooks[f"{b}.attn.hook_q"] = q
        hooks[f"{b}.attn.hook_k"] = k
        hooks[f"{b}.attn.hook_v"] = v
        qh, kh, vh = (t.transpose(1, 2) for t in (q, k, v))  # [B, H, T, Dh]
        scores = qh @ kh.transpose(-1, -2) / math.sqrt(Dh)  # bidirectional: no mask without padding
        hooks[f"{b}.attn.hook_attn_scores"] = scores
        pattern = torch.softmax(scores, dim=-1)
        hooks[f"{b}.attn.hook_pattern"] = pattern
        z = (pattern @ vh).transpose(1, 2)  # [B, T, H, Dh]
        hooks[f"{b}.attn.hook_z"] = z
        attn_out = lin(W, f"{p}.attention.output.dense", z.reshape(B, T, cfg.d))
        hooks[f"{b}.hook_attn_out"] = attn_out
        mid = x + attn_out
        hooks[f"{b}.hook_resid_mid"] = mid
        a = layer_norm_tl(
            mid, W[f"{p}.attention.output.LayerNorm.weight"], W[f"{p}.attention.output.LayerNorm.bias"], cfg.eps, hooks, f"{b}.ln1"
        )
        pre = lin(W, f"{p}.intermediate.dense", a)
        hooks[f"{b}.mlp.hook_pre"] = pre
        post = act(pre)
        hooks[f"{b}.mlp.hook_post"] = post
        mlp_out = lin(W, f"{p}.output.dense", post)
        hooks[f"{b}.hook_mlp_out"] = mlp_out
        resid_post = a + mlp_out
        hooks[f"{b}.hook_resid_post"] = resid_post
        x = layer_norm_tl(resid_post, W[f"{p}.output.LayerNorm.weight"], W[f"{p}.output.LayerNorm.bias"], cfg.eps, hooks, f"{b}.ln2")
        hooks[f"{b}.hook_normalized_resid_post"] = x
    if cfg.head == "classifier":
        dense, out = ("classifier.dense", "classifier.out_proj") if cfg.model_type == "roberta" else ("pooler.dense", "classifier")
        pooled = torch.tanh(lin(W, dense, x[:, 0]))
        hooks["pooler.hook_pooler_out"] = pooled
        logits = lin(W, out, pooled)
    else:
        if cfg.model_type == "roberta":
            head, ln, head_act = "lm_head", "lm_head.layer_norm", F.gelu  # RobertaLMHead calls gelu itself
            dense = "lm_head.dense"
        else:
            head, ln, head_act = "cls.predictions", "cls.predictions.transform.LayerNorm", act
            dense = "cls.predictions.transform.dense"
        t = head_act(lin(W, dense, x))
        t = layer_norm_tl(t, W[f"{ln}.weight"], W[f"{ln}.bias"], cfg.eps, hooks, "mlm_head.ln")
        decoder = W["embeddings.word_embeddings.weight"] if cfg.tie else W[f"{head}.decoder.weight"]
        logits = t @ decoder.T + W[f"{head}.bias"]
    return logits, hooks, embed


def forward_hf(cfg, w, ids, tt, dtype):
    """A second, literal transcription of HF's modules (BertEmbeddings / RobertaEmbeddings, BertSelfAttention with
    transpose_for_scores and the finfo.min extended mask, BertSelfOutput, BertIntermediate, BertOutput, BertPooler
    + classifier / RobertaClassificationHead, BertLMPredictionHead / RobertaLMHead), F.linear and F.layer_norm,
    used only to cross-check the hooked forward above."""
    W = {k: v.to(dtype) for k, v in w.items()}
    B, T = ids.shape
    H, Dh = cfg.n_heads, cfg.d_head

    def linear(name, x):
        return F.linear(x, W[f"{name}.weight"], W[f"{name}.bias"])

    def ln(name, x):
        return F.layer_norm(x, (cfg.d,), W[f"{name}.weight"], W[f"{name}.bias"], cfg.eps)

    emb = F.embedding(ids, W["embeddings.word_embeddings.weight"])
    emb = emb + F.embedding(tt, W["embeddings.token_type_embeddings.weight"])
    emb = emb + F.embedding(position_ids(cfg, ids), W["embeddings.position_embeddings.weight"])
    h = ln("embeddings.LayerNorm", emb)
    attention_mask = torch.ones(B, T, dtype=dtype)  # HF's default when none is given
    ext = (1.0 - attention_mask[:, None, None, :]) * torch.finfo(dtype).min

    def split(x):
        return x.view(x.size()[:-1] + (H, Dh)).permute(0, 2, 1, 3)

    for L in range(cfg.n_layers):
        p = f"encoder.layer.{L}"
        q = split(linear(f"{p}.attention.self.query", h))
        k = split(linear(f"{p}.attention.self.key", h))
        v = split(linear(f"{p}.attention.self.value", h))
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(Dh) + ext
        a = F.softmax(s, dim=-1)
        c = torch.matmul(a, v).permute(0, 2, 1, 3).contiguous()
        c = c.view(c.size()[:-2] + (cfg.d,))
        h = ln(f"{p}.attention.output.LayerNorm", linear(f"{p}.attention.output.dense", c) + h)
        i = ACT[cfg.act](linear(f"{p}.intermediate.dense", h))
        h = ln(f"{p}.output.LayerNorm", linear(f"{p}.output.dense", i) + h)
    if cfg.head == "classifier":
        if cfg.model_type == "roberta":
            return linear("classifier.out_proj", torch.tanh(linear("classifier.dense", h[:, 0, :])))
        return linear("classifier", torch.tanh(linear("pooler.dense", h[:, 0])))
    if cfg.model_type == "roberta":
        x = ln("lm_head.layer_norm", F.gelu(linear("lm_head.dense", h)))
        dec = W["embeddings.word_embeddings.weight"] if cfg.tie else W["lm_head.decoder.weight"]
        return F.linear(x, dec, W["lm_head.bias"])
    x = ln("cls.predictions.transform.LayerNorm", ACT[cfg.act](linear("cls.predictions.transform.dense", h)))
    dec = W["embeddings.word_embeddings.weight"] if cfg.tie else W["cls.predictions.decoder.weight"]
    return F.linear(x, dec, W["cls.predictions.bias"])


def loss_of(cfg, logits):
    """Classifier: Σ_b log_softmax(logits)[b, target_b]; MLM: Σ_{b,p} log_softmax(logits)[b, p, target_{b,p}]."""
    logp = torch.log_softmax(logits, dim=-1)
    if cfg.head == "classifier":
        t = torch.tensor(CLASS_TARGETS, dtype=torch.long)
        return logp[torch.arange(len(CLASS_TARGETS)), t].sum()
    t = torch.tensor(MLM_TARGETS, dtype=torch.long)
    return logp.gather(-1, t.unsqueeze(-1)).sum()


def main():
    folder, out_path, config = read_args("bert.py")
    cfg = Config(config)
    w = load_weights(folder, f"{cfg.model_type}.")
    ids = torch.tensor(INPUT_IDS, dtype=torch.long)
    tt = token_types(cfg, ids)
    token_targets = [torch.tensor(MLM_TARGETS)] if cfg.head == "mlm" else []  # class targets are not token ids
    check_vocab(w["embeddings.word_embeddings.weight"].shape[0], ids, *token_targets)
    if int(position_ids(cfg, ids).max()) >= cfg.n_positions:
        raise SystemExit(f"positions exceed max_position_embeddings {cfg.n_positions}")

    torch.manual_seed(0)
    ref = run_reference(partial(forward, cfg, w, ids, tt), partial(forward_hf, cfg, w, ids, tt), partial(loss_of, cfg))
    metadata = {
        "input_ids": compact(INPUT_IDS),
        "token_type_ids": compact(tt.tolist()),
        "head": cfg.head,
        "causal": "false",  # every query reads every key: a checker must not expect a causal pattern
        "targets": compact(CLASS_TARGETS if cfg.head == "classifier" else MLM_TARGETS),
        "reference": provenance("bert.py"),
        "f32_vs_f64_max_abs_logits": repr(ref.f32_diff),
    }
    write_golden(out_path, golden_tensors(ref, "grad.embed.hook_embed"), metadata, f" ({cfg.model_type}, {cfg.head})")
    report(ref)


if __name__ == "__main__":
    main()
