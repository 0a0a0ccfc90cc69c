"""Train the LoRA adapter behind the `smollm2-reasoner` demo model (evalkit/data/smollm2-reasoner.lora.safetensors).

The base is the `smollm2-demo` directory evalkit builds (SmolLM2-135M-Instruct). The data are evalkit's own
`arith` problems from generator seeds >= 10_000 (the benchmark serves --arith-seed 0 unless told otherwise), each
answered with short step lines inside the thinking, then `\\boxed{answer}` and EOS. Harder problems take more
steps, so a thinking budget matters: cut early, the model must guess.

Every example is built from exactly the token ids a sweep sends and continues from: the chat prompt from
`ChatTokenizer.chat_prompt_ids` (which opens `<think>\\n`), the model's thinking, the tokenizer's encoding of
`</think>` (what elastic appends when the budget runs out), then the solution. A tenth of the examples are cut
mid-thinking with `</think>` appended, loss on the answer only, so a forced close is followed by an answer, not
by more thinking.

Deterministic: seeded data and torch.manual_seed. Sized for two CPU cores shared with other work (under `nice`,
about 45 min): 700 examples, one epoch, LoRA rank 8 on the top 10 layers, the frozen base in bf16.
    nice -n 10 python scripts/train_reasoner.py            # writes evalkit/data/smollm2-reasoner.lora.safetensors
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import random
import re
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalkit.benchmarks import get_benchmark  # noqa: E402
from evalkit.benchmarks.arith import generate  # noqa: E402
from evalkit.benchmarks.base import apply_template  # noqa: E402
from evalkit.engines.base import ChatTokenizer  # noqa: E402
from evalkit.engines.models import ensure_demo_model  # noqa: E402
from evalkit.engines.reasoner import ADAPTER_PATH, CHAT_TEMPLATE, TARGETS  # noqa: E402

FIRST_SEED = 10_000  # the benchmark's problems come from --arith-seed (0 by default); training never uses those
MIX = {1: 0.10, 2: 0.20, 3: 0.40, 4: 0.20, 5: 0.10}  # difficulty -> share of the examples
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}
_WORD = re.compile(r"has (\d+) \w+(?:, buys (\d+) bags with (\d+) \w+ in each| and gets (\d+) more)")


def _times(a: int, b: int) -> tuple[str, int]:
    """One line for a * b; a two-digit multiplier is split into tens and units, a step a small model can follow."""
    c = a * b
    if abs(b) < 10 or b % 10 == 0:
        return f"{a} * {b} = {c}.", c
    tens, units = b - b % 10, b % 10
    return f"{a} * {b} = {a} * {tens} + {a} * {units} = {a * tens} + {a * units} = {c}.", c


def _walk(node: ast.AST, lines: list[str]) -> int:
    if isinstance(node, ast.Constant):
        return int(node.value)
    assert isinstance(node, ast.BinOp), ast.dump(node)
    a, b = _walk(node.left, lines), _walk(node.right, lines)
    op = _OPS[type(node.op)]
    if op == "*":
        line, c = _times(a, b)
    else:
        c = a + b if op == "+" else a - b
        line = f"{a} {op} {b} = {c}."
    lines.append(line)
    return c


def steps(question: str) -> tuple[list[str], int]:
    """The worked lines for one arith question and the value they reach."""
    if question.startswith("What is "):
        lines: list[str] = []
        value = _walk(ast.parse(question[len("What is "):-1], mode="eval").body, lines)
        return lines, value
    m = _WORD.search(question)
    assert m, question
    a = int(m.group(1))
    if m.group(4):
        b = int(m.group(4))
        return [f"{a} + {b} = {a + b}."], a + b
    bags, each = int(m.group(2)), int(m.group(3))
    bought = bags * each
    return [f"{bags} * {each} = {bought}.", f"{a} + {bought} = {a + bought}.", f"{a} / 2 = {a // 2} (rounded down).",
            f"{a + bought} - {a // 2} = {a + bought - a // 2}."], a + bought - a // 2


def examples(tok: ChatTokenizer, count: int, seed: int) -> list[tuple[list[int], list[int]]]:
    """(input ids, labels) pairs; label -100 is not learned (the prompt, and a cut thinking)."""
    bench = get_benchmark("arith")
    rng = random.Random(f"evalkit-reasoner-{seed}")
    out = []
    per_set = 50
    for d, share in MIX.items():
        n = round(count * share)
        for k in range(math.ceil(n / per_set)):
            rows = generate({"difficulty": d, "count": per_set, "seed": FIRST_SEED + 100 * d + k})
            for i, row in enumerate(rows[: n - k * per_set]):
                problem = apply_template(bench.to_problem(row, i), bench.default_prompt)
                lines, value = steps(row["question"])
                assert value == row["answer"], (row, lines)
                prompt = tok.chat_prompt_ids(problem.prompt, bench.system_prompt)
                think = tok.encode("".join(line + "\n" for line in lines))
                answer = tok.encode(f"\n\\boxed{{{value}}}") + [min(tok.eos_ids)]
                if rng.random() < 0.1 and len(think) > 4:
                    cut = rng.randrange(1, len(think) - 2)  # the budget ran out: elastic appends `</think>`
                    ids = prompt + think[:cut] + list(tok.close_ids) + answer
                    learn_from = len(ids) - len(answer)
                else:
                    ids = prompt + think + list(tok.close_ids) + answer
                    learn_from = len(prompt)
                out.append((ids, [-100] * learn_from + ids[learn_from:]))
    rng.shuffle(out)
    return out


class LoRALinear(torch.nn.Module):
    def __init__(self, base: torch.nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        self.lora_A = torch.nn.Parameter(torch.randn(rank, base.in_features) / math.sqrt(base.in_features))
        self.lora_B = torch.nn.Parameter(torch.zeros(base.out_features, rank))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The frozen base runs in bf16 (about 3x faster on CPU); the small LoRA path stays in fp32.
        return self.base(x) + ((x.float() @ self.lora_A.T @ self.lora_B.T) * self.scale).to(x.dtype)


def add_lora(model: torch.nn.Module, rank: int, alpha: float, top_layers: int) -> dict[str, LoRALinear]:
    """LoRA on attention and MLP of the top `top_layers` decoder layers only: backpropagation then stops there,
    which is what makes this trainable on two shared CPU cores."""
    wrapped = {}
    n_layers = len(model.model.layers)
    for name, module in list(model.named_modules()):
        m = re.match(r"model\.layers\.(\d+)\.", name + ".")
        if not m or int(m.group(1)) < n_layers - top_layers:
            continue
        for child_name, child in list(module.named_children()):
            if child_name in TARGETS and isinstance(child, torch.nn.Linear):
                lora = LoRALinear(child, rank, alpha)
                setattr(module, child_name, lora)
                wrapped[f"{name}.{child_name}"] = lora
    return wrapped


def batches(data: list[tuple[list[int], list[int]]], max_tokens: int, rng: random.Random) -> list[list[int]]:
    """Indices grouped by similar length (little padding), each batch under max_tokens padded tokens."""
    order = sorted(range(len(data)), key=lambda i: len(data[i][0]))
    out, cur, longest = [], [], 0
    for i in order:
        n = len(data[i][0])
        if cur and max(longest, n) * (len(cur) + 1) > max_tokens:
            out.append(cur)
            cur, longest = [], 0
        cur.append(i)
        longest = max(longest, n)
    if cur:
        out.append(cur)
    rng.shuffle(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=320)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--top-layers", type=int, default=8, help="LoRA on this many top decoder layers (of 30)")
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--batch-tokens", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ADAPTER_PATH))
    ap.add_argument("--dry-run", action="store_true", help="print a few examples and the token count, train nothing")
    args = ap.parse_args()

    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(args.seed)
    base_dir = ensure_demo_model()
    hf_tok = AutoTokenizer.from_pretrained(base_dir)
    hf_tok.chat_template = CHAT_TEMPLATE  # the reasoner's own template: what its sweeps will send
    tok = ChatTokenizer(hf_tok)
    data = examples(tok, args.examples, args.seed)
    n_tokens = sum(len(ids) for ids, _ in data)
    print(f"{len(data)} examples, {n_tokens} tokens, {n_tokens / len(data):.0f} per example", flush=True)
    if args.dry_run:
        for ids, labels in data[:4]:
            print(repr(tok.decode(ids)))
        return

    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.bfloat16)
    for p in model.parameters():
        p.requires_grad_(False)
    wrapped = add_lora(model, args.rank, args.alpha, args.top_layers)
    params = [p for m in wrapped.values() for p in (m.lora_A, m.lora_B)]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    rng = random.Random(f"evalkit-reasoner-batches-{args.seed}")
    plan = [b for _ in range(args.epochs) for b in batches(data, args.batch_tokens, rng)]
    warmup = max(1, len(plan) // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.05, 1 - s / len(plan)))
    pad = min(tok.eos_ids)
    model.train()
    start, seen = time.time(), 0
    for step, idx in enumerate(plan):
        longest = max(len(data[i][0]) for i in idx)
        ids = torch.full((len(idx), longest), pad)
        labels = torch.full((len(idx), longest), -100)
        mask = torch.zeros((len(idx), longest), dtype=torch.long)
        for row, i in enumerate(idx):
            x, y = data[i]
            ids[row, : len(x)], labels[row, : len(y)], mask[row, : len(x)] = torch.tensor(x), torch.tensor(y), 1
        # Logits only where there is something to learn: the LM head over 49k words is a large share of the cost.
        hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1]
        target = labels[:, 1:]
        keep = target != -100
        logits = model.lm_head(hidden[keep]).float()
        loss = torch.nn.functional.cross_entropy(logits, target[keep])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        seen += int(mask.sum())
        if step % 5 == 0 or step == len(plan) - 1:
            el = time.time() - start
            print(f"step {step + 1}/{len(plan)} loss {loss.item():.3f} {seen / el:.0f} tok/s {el / 60:.1f} min",
                  flush=True)

    from safetensors.torch import save_file

    tensors = {}
    for name, m in wrapped.items():
        tensors[f"{name}.lora_A"] = m.lora_A.detach().to(torch.float16).contiguous()
        tensors[f"{name}.lora_B"] = m.lora_B.detach().to(torch.float16).contiguous()
    meta = {"rank": str(args.rank), "alpha": str(args.alpha), "base": "smollm2-demo",
            "trained": json.dumps({k: v for k, v in vars(args).items() if k not in ("out", "dry_run")})}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, args.out, metadata=meta)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e6:.1f} MB) in {(time.time() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
