"""The benchmark's peer: a Llama checkpoint exported to ONNX for onnxruntime-node.

    python benchmarks/peer/export_onnx.py DIR [--legacy] [--skip-check]

DIR holds config.json + model.safetensors (write them with
`npm run bench:model -- --write-checkpoint benchmarks/peer/out --shapes smollm --dtype F32`:
the same random weights the benchmark makes). Writes DIR/model.onnx (float32, opset 18) with
explicit key-value inputs and outputs, and DIR/onnx.json (the checkpoint's sha256, which
benchmarks/model.ts compares before it runs the peer).

Graph contract: inputs input_ids [1, T] int64 and past_key.{i} / past_value.{i} [1, Hkv, P, hd]
float32 (P = 0 for the prefill); outputs logits [1, T, V] and present_key.{i} / present_value.{i}
[1, Hkv, P + T, hd]. Positions run from P; the mask is causal over the past and the new tokens.

The model is a small hand-written torch Llama over the checkpoint's tensors (tied embeddings share
one initializer, as in transformers' export), checked against transformers' LlamaForCausalLM on a
prompt and a cached step before the export. Needs torch, transformers, onnx and onnxscript (pip).
"""

import argparse
import hashlib
import json
import math
import os
import sys
import time

import torch
from safetensors.torch import load_file


class Llama(torch.nn.Module):
    def __init__(self, config, tensors):
        super().__init__()
        self.n_layers = config["num_hidden_layers"]
        self.hq = config["num_attention_heads"]
        self.hkv = config["num_key_value_heads"]
        self.d = config["hidden_size"]
        self.hd = config.get("head_dim") or self.d // self.hq
        self.eps = config["rms_norm_eps"]
        theta = config.get("rope_theta", 10000.0)
        f32 = {k: v.to(torch.float32) for k, v in tensors.items()}
        p = lambda name: torch.nn.Parameter(f32[name], requires_grad=False)
        self.embed = p("model.embed_tokens.weight")
        self.lm_head = self.embed if config.get("tie_word_embeddings") else p("lm_head.weight")
        self.layers = torch.nn.ModuleList()
        for i in range(self.n_layers):
            layer = torch.nn.Module()
            pre = f"model.layers.{i}."
            for name, key in [("ln1", "input_layernorm"), ("ln2", "post_attention_layernorm")]:
                setattr(layer, name, p(pre + key + ".weight"))
            for name in ["q_proj", "k_proj", "v_proj", "o_proj"]:
                setattr(layer, name, p(pre + "self_attn." + name + ".weight"))
            for name in ["gate_proj", "up_proj", "down_proj"]:
                setattr(layer, name, p(pre + "mlp." + name + ".weight"))
            self.layers.append(layer)
        self.norm = p("model.norm.weight")
        self.register_buffer(
            "inv_freq", 1.0 / (theta ** (torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd)), persistent=False
        )

    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

    @staticmethod
    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat([-x[..., half:], x[..., :half]], dim=-1)

    def forward(self, input_ids, past):
        # past: a flat list [k0, v0, k1, v1, ...], each [1, Hkv, P, hd]
        t = input_ids.shape[1]
        p0 = past[0].shape[2]
        pos = torch.arange(t, dtype=torch.float32) + p0
        freqs = pos[:, None] * self.inv_freq[None, :]
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos(), emb.sin()
        # causal over past + new: query i (absolute p0 + i) sees keys j <= p0 + i
        keys = torch.arange(t + p0)
        mask = torch.where(keys[None, :] <= (torch.arange(t) + p0)[:, None], 0.0, float("-inf"))
        x = torch.nn.functional.embedding(input_ids, self.embed)
        present = []
        groups = self.hq // self.hkv
        for i, L in enumerate(self.layers):
            h = self.rms(x, L.ln1)
            q = (h @ L.q_proj.T).view(1, t, self.hq, self.hd).transpose(1, 2)
            k = (h @ L.k_proj.T).view(1, t, self.hkv, self.hd).transpose(1, 2)
            v = (h @ L.v_proj.T).view(1, t, self.hkv, self.hd).transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            k = torch.cat([past[2 * i], k], dim=2)
            v = torch.cat([past[2 * i + 1], v], dim=2)
            present += [k, v]
            # grouped-query attention: [1, Hkv, G, T, hd] against [1, Hkv, 1, S, hd], no repeat
            qg = q.view(1, self.hkv, groups, t, self.hd)
            scores = qg @ k[:, :, None].transpose(-1, -2) / math.sqrt(self.hd) + mask
            attn = torch.softmax(scores, dim=-1) @ v[:, :, None]
            attn = attn.reshape(1, self.hq, t, self.hd).transpose(1, 2).reshape(1, t, self.hq * self.hd)
            x = x + attn @ L.o_proj.T
            h = self.rms(x, L.ln2)
            x = x + (torch.nn.functional.silu(h @ L.gate_proj.T) * (h @ L.up_proj.T)) @ L.down_proj.T
        logits = self.rms(x, self.norm) @ self.lm_head.T
        return logits, present


def empty_past(m, p=0):
    return [torch.zeros(1, m.hkv, p, m.hd) for _ in range(2 * m.n_layers)]


def check_against_transformers(model_dir, m, ids):
    """Our logits and greedy tokens against LlamaForCausalLM's on the prompt and a cached step."""
    from transformers import LlamaForCausalLM

    ref = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32, attn_implementation="eager").eval()
    with torch.no_grad():
        out = ref(ids, use_cache=True)
        ours, present = m(ids, empty_past(m))
        nxt = out.logits[:, -1:].argmax(-1)
        out2 = ref(nxt, past_key_values=out.past_key_values, use_cache=True)
        ours2, _ = m(nxt, present)
    d1 = (out.logits - ours).abs().max().item()
    d2 = (out2.logits - ours2).abs().max().item()
    big = out.logits.abs().max().item()
    same = bool((out.logits.argmax(-1) == ours.argmax(-1)).all() and (out2.logits.argmax(-1) == ours2.argmax(-1)).all())
    print(f"check against transformers LlamaForCausalLM: prompt max |diff| {d1:.2e}, cached step {d2:.2e} "
          f"(max |logit| {big:.3f}); argmax tokens {'identical' if same else 'DIFFER'}")
    if not same or max(d1, d2) > 1e-3 * max(1.0, big):
        sys.exit("the hand-written Llama does not match transformers")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--legacy", action="store_true", help="torch.onnx.export(dynamo=False)")
    ap.add_argument("--skip-check", action="store_true")
    a = ap.parse_args()
    config = json.load(open(os.path.join(a.dir, "config.json")))
    st = os.path.join(a.dir, "model.safetensors")
    sha = hashlib.sha256(open(st, "rb").read()).hexdigest()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    m = Llama(config, load_file(st)).eval()
    ids = (torch.arange(16, dtype=torch.int64)[None] * 7919 + 17) % config["vocab_size"]
    if not a.skip_check:
        check_against_transformers(a.dir, m, ids)

    names_in = ["input_ids"] + [f"past_{kv}.{i}" for i in range(m.n_layers) for kv in ("key", "value")]
    names_out = ["logits"] + [f"present_{kv}.{i}" for i in range(m.n_layers) for kv in ("key", "value")]
    out_path = os.path.join(a.dir, "model.onnx")
    # example: 3 past positions and 5 new tokens (sizes 0 and 1 would be specialised)
    example = (ids[:, :5], empty_past(m, 3))
    t0 = time.time()
    with torch.no_grad():
        if a.legacy:
            axes = {"input_ids": {1: "tokens"}, "logits": {1: "tokens"}}
            for n in names_in[1:]:
                axes[n] = {2: "past"}
            for n in names_out[1:]:
                axes[n] = {2: "total"}
            torch.onnx.export(m, example, out_path, input_names=names_in, output_names=names_out,
                              dynamic_axes=axes, opset_version=18, dynamo=False)
        else:
            tok = torch.export.Dim("tokens", min=1, max=8192)
            past = torch.export.Dim("past", min=0, max=8192)
            shapes = ({1: tok}, [{2: past} for _ in range(2 * m.n_layers)])
            prog = torch.onnx.export(m, example, input_names=names_in, output_names=names_out,
                                     dynamic_shapes=shapes, opset_version=18, dynamo=True, external_data=False)
            prog.save(out_path)
    size = os.path.getsize(out_path)
    exporter = "legacy (dynamo=False)" if a.legacy else "dynamo"
    print(f"{out_path}: {size / 1e6:.1f} MB, {exporter} exporter, opset 18, {time.time() - t0:.1f} s")
    json.dump({"checkpointSha256": sha, "exporter": exporter, "opset": 18, "torch": torch.__version__,
               "inputs": names_in, "outputs": names_out}, open(os.path.join(a.dir, "onnx.json"), "w"), indent=2)


if __name__ == "__main__":
    main()
