#!/usr/bin/env python3
"""Does a model `sbert train` saved with LoRA (PEFT layout) load in Python and
give sbert's embeddings?  (A manual check: CI has no torch.)

  /work/venv/bin/python tools/check_lora_python_load.py OUTPUT_DIR/final [build/sbert]

Two ways, each compared with `sbert encode` of the same directory:
  1. PEFT directly: SentenceTransformer(base) with its AutoModel wrapped by
     PeftModel.from_pretrained(auto_model, DIR);
  2. sentence-transformers' own loading, SentenceTransformer(DIR), which goes
     through transformers' PEFT integration. transformers 5.24 asks for peft
     >= 0.22 there, newer than any release (0.21.2): the check lowers that
     version floor for this process only and says so.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

TEXTS = ["A man is playing a guitar.", "The weather is lovely today!", "What is the capital of France?"]


def main():
    d = os.path.abspath(sys.argv[1])
    sbert = sys.argv[2] if len(sys.argv) > 2 else "build/sbert"
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "in.txt"), os.path.join(tmp, "out.npy")
        open(inp, "w").write("\n".join(TEXTS) + "\n")
        subprocess.run([sbert, "encode", "--model", d, "--input", inp, "--output", out], check=True)
        ref = np.load(out)
    from peft import PeftModel
    from sentence_transformers import SentenceTransformer

    base = json.load(open(os.path.join(d, "adapter_config.json")))["base_model_name_or_path"]
    st = SentenceTransformer(base, device="cpu")
    st[0].auto_model = PeftModel.from_pretrained(st[0].auto_model, d)
    e1 = st.encode(TEXTS, convert_to_numpy=True)
    print(f"PEFT on the base model: max |ST+peft - sbert| = {np.abs(e1 - ref).max():.3g}")
    import transformers.integrations.peft as tip
    import transformers.utils.peft_utils as pu
    import peft
    pu.MIN_PEFT_VERSION = peft.__version__
    tip.MIN_PEFT_VERSION = peft.__version__
    print(f"(transformers' peft floor lowered to {peft.__version__} for this process)")
    st2 = SentenceTransformer(d, device="cpu")
    e2 = st2.encode(TEXTS, convert_to_numpy=True)
    print(f"SentenceTransformer(DIR): max |ST - sbert| = {np.abs(e2 - ref).max():.3g}")
    ok = np.abs(e1 - ref).max() <= 1e-5 and np.abs(e2 - ref).max() <= 1e-5
    print("OK" if ok else "MISMATCH")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
