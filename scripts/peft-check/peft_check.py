"""Loads gmai-vl-r1's saved LoRA adapter with real PEFT on HF transformers' Qwen2.5-VL and compares
logits with ours (written by make_adapter.mjs).
Usage: OMP_NUM_THREADS=1 venv/bin/python peft_check.py [outDir]
Three loads: (1) the adapter as saved; (2) the same with PeftModel.from_pretrained(key_mapping=<transformers'
legacy Qwen2-VL renaming>); (3) a copy with tensor names renamed to the module paths of transformers >= 4.52
(what PEFT itself writes there). Also re-saves (2) with PEFT's save_pretrained into <outDir>/peft_resaved."""
import json, os, re, shutil, sys, warnings, logging
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
import torch
torch.set_num_threads(1)
import transformers, peft
from safetensors.torch import load_file, save_file
from transformers import Qwen2_5_VLForConditionalGeneration
from peft import PeftModel, get_peft_model_state_dict
from peft.tuners.lora import LoraLayer

out = sys.argv[1] if len(sys.argv) > 1 else "peft-check-out"
meta = json.load(open(os.path.join(out, "meta.json")))
model_dir, adapter_dir = meta["modelDir"], meta["adapterDir"]
IMAGE_TOKEN_ID = json.load(open(os.path.join(model_dir, "config.json")))["image_token_id"]
# transformers' own legacy renaming for Qwen2(.5)-VL checkpoints (conversion_mapping.py, Qwen2VLForConditionalGeneration)
LEGACY_KEY_MAPPING = {r"^visual": "model.visual", r"^model(?!\.(language_model|visual))": "model.language_model"}
print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}")
TOL = 1e-4
results = {}

def ours(name, case):
    c = meta["cases"][case]
    return np.fromfile(os.path.join(out, f"{name}_{case}.f32"), dtype=np.float32).reshape(c["seq"], c["vocab"])

def inputs(case):
    c = meta["cases"][case]
    ids = torch.tensor([c["inputIds"]], dtype=torch.long)
    kw = dict(input_ids=ids, attention_mask=torch.ones_like(ids))
    if c.get("imageGridThw"):
        px = np.fromfile(os.path.join(out, "image_pixel_values.f32"), dtype=np.float32).reshape(c["pixelShape"])
        kw["pixel_values"] = torch.from_numpy(px.copy())
        kw["image_grid_thw"] = torch.tensor(c["imageGridThw"], dtype=torch.long)
        # transformers 5.x builds the 3D (M-RoPE) positions only when the processor's mm_token_type_ids
        # (text 0, image 1, video 2) are given; without them it silently falls back to 1D positions.
        kw["mm_token_type_ids"] = (ids == IMAGE_TOKEN_ID).int()
    return kw

@torch.no_grad()
def logits(m, case):
    m.eval()
    return m(**inputs(case)).logits[0].float().numpy()

CUR = [""]
def cmp(label, a, b, check=True):
    d = np.abs(a.astype(np.float64) - b.astype(np.float64)).max()
    scale = np.abs(b).max()
    print(f"  {label:48s} max|diff| {d:.3e}  rel {d/scale:.3e}  (max|logit| {scale:.3f})")
    if check: results[f"{CUR[0]}{label}"] = bool(d / scale < TOL)
    return d / scale

cases = list(meta["cases"])
file_t = load_file(os.path.join(adapter_dir, "adapter_model.safetensors"))

def new_base():
    return Qwen2_5_VLForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32).eval()

base = new_base()
base_logits = {k: logits(base, k) for k in cases}
print("HF base model vs our base logits:")
for k in cases: cmp(f"[{k}] HF base vs ours", base_logits[k], ours("base", k))

def to_new_layout(k):  # checkpoint layout -> transformers >= 4.52 module paths
    p = "base_model.model."
    rest = k[len(p):]
    for pat, rep in LEGACY_KEY_MAPPING.items():
        rest, n = re.subn(pat, rep, rest)
        if n: break
    return p + rest

def check_load(tag, adapter_path, **kw):
    print(f"\n=== {tag} ===")
    CUR[0] = tag.split(" ")[0] + " "
    caught = []
    class H(logging.Handler):
        def emit(self, r): caught.append(r.getMessage())
    h = H()
    for lg in ("peft", "transformers"): logging.getLogger(lg).addHandler(h)
    try:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            pm = PeftModel.from_pretrained(new_base(), adapter_path, **kw)
            # load the same adapter again under another name to get PEFT's load_result itself
            lr = pm.load_adapter(adapter_path, adapter_name="check", **kw)
    finally:
        for lg in ("peft", "transformers"): logging.getLogger(lg).removeHandler(h)
    msgs = [str(x.message) for x in w] + caught
    key_msgs = [m for m in msgs if re.search(r"missing|unexpected", m, re.I)]
    for m in key_msgs: print("  PEFT says:", m[:300] + (f"... [{len(m)} chars]" if len(m) > 300 else ""))
    if not key_msgs: print("  PEFT warnings about missing/unexpected keys: none")
    miss = [k for k in lr.missing_keys if "lora_" in k]
    print(f"  load_result: {len(miss)} missing lora keys (of {len(lr.missing_keys)} missing), {len(lr.unexpected_keys)} unexpected")
    results[f"{tag}: no missing/unexpected"] = not miss and not lr.unexpected_keys and not key_msgs
    pm.delete_adapter("check"); pm.set_adapter("default")
    # every tensor in the file vs the weight PEFT holds in the module
    saved = load_file(os.path.join(adapter_path, "adapter_model.safetensors"))
    mods = {n: m for n, m in pm.named_modules() if isinstance(m, LoraLayer) and "default" in m.lora_A}
    worst, matched, seen = 0.0, 0, set()
    for n, m in mods.items():
        for ab in ("lora_A", "lora_B"):
            held = getattr(m, ab)["default"].weight.detach()
            cand = [k for k in (f"{n}.{ab}.weight",) if k in saved]
            # also find the file tensor in the legacy layout
            if not cand:
                cand = [k for k in saved if to_new_layout(k) == f"{n}.{ab}.weight"]
            if not cand: print("  no file tensor for", n, ab); continue
            k = cand[0]; seen.add(k); matched += 1
            worst = max(worst, (held - saved[k]).abs().max().item())
    print(f"  file: {len(saved)} tensors = {len(saved)//2} modules; PEFT created {len(mods)} LoRA modules "
          f"(scaling {next(iter(mods.values())).scaling['default']})")
    print(f"  {matched} file tensors vs PEFT's module weights: max |diff| {worst:.3e}; file tensors unmatched: {len(set(saved)-seen)}")
    results[f"{tag}: all tensors loaded exactly"] = worst == 0 and matched == len(saved) and len(mods) == len(saved) // 2
    for k in cases:
        pl = logits(pm, k)
        cmp(f"[{k}] PEFT vs ours (adapter model)", pl, ours("lora", k))
        cmp(f"[{k}]   (size of the adapter effect: PEFT vs base)", pl, ours("base", k), check=False)
    with pm.disable_adapter():
        for k in cases: cmp(f"[{k}] PEFT disable_adapter() vs our base", logits(pm, k), ours("base", k))
    return pm

# (1) as saved
check_load("(1) adapter as saved by gmai-vl-r1", adapter_dir)
# (2) with transformers' legacy key mapping passed explicitly
pm = check_load("(2) same, PeftModel.from_pretrained(key_mapping=LEGACY_KEY_MAPPING)", adapter_dir, key_mapping=LEGACY_KEY_MAPPING)
resaved = os.path.join(out, "peft_resaved")
shutil.rmtree(resaved, ignore_errors=True)
pm.save_pretrained(resaved)
rs = load_file(os.path.join(resaved, "adapter_model.safetensors"))
print(f"  PEFT save_pretrained -> {resaved}: {len(rs)} tensors, e.g. {sorted(rs)[0]}, {sorted(rs)[-1]}")
print("  PEFT's own key names = our names renamed by LEGACY_KEY_MAPPING:", set(rs) == {to_new_layout(k) for k in file_t})
print("PEFT merge_and_unload() vs ours:")
CUR[0] = "(2) "
merged = pm.merge_and_unload()
for k in cases: cmp(f"[{k}] merge_and_unload vs ours (adapter model)", logits(merged, k), ours("lora", k))
del pm, merged
# (3) renamed copy
renamed = os.path.join(out, "adapter_new_layout")
os.makedirs(renamed, exist_ok=True)
shutil.copy(os.path.join(adapter_dir, "adapter_config.json"), renamed)
save_file({to_new_layout(k): v for k, v in file_t.items()}, os.path.join(renamed, "adapter_model.safetensors"), metadata={"format": "pt"})
check_load("(3) tensor names renamed to model.language_model.* / model.visual.*", renamed)

print("\nSUMMARY")
for k, v in results.items(): print(f"  {'ok  ' if v else 'FAIL'} {k}")
