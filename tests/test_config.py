import pytest

from evalkit.config import EngineSpec, SweepSpec, budget_label, parse_budget, parse_budget_list
from evalkit.errors import EvalkitError


@pytest.mark.parametrize("text,tokens", [("1k", 1024), ("2K", 2048), ("512", 512), ("1.5k", 1536), (" 4k ", 4096)])
def test_parse_budget(text, tokens):
    assert parse_budget(text) == tokens


@pytest.mark.parametrize("text", ["abc", "", "-1", "0", "1.3", "k", "1kk"])
def test_parse_budget_rejects(text):
    with pytest.raises(EvalkitError, match="budget"):
        parse_budget(text)


def test_budget_list_sorted_unique_and_labels():
    assert parse_budget_list("4k,1k,2k,1k") == (1024, 2048, 4096)
    assert [budget_label(b) for b in (1024, 1536, 16, None)] == ["1k", "1536", "16", "unconstrained"]


def test_spec_validation():
    base = dict(name="x", engine=EngineSpec(), benchmarks=("arith",), budgets=(16,))
    assert SweepSpec(**base).budget_points == (16,)
    assert SweepSpec(**{**base, "unconstrained": True}).budget_points == (16, None)
    with pytest.raises(EvalkitError, match="--samples"):
        SweepSpec(**{**base, "samples": 0})
    with pytest.raises(EvalkitError, match="--benchmarks"):
        SweepSpec(**{**base, "benchmarks": ()})


def test_spec_roundtrip():
    spec = SweepSpec(name="x", engine=EngineSpec(model="m"), benchmarks=("arith",), budgets=(16, 32), unconstrained=True)
    assert SweepSpec.from_json(spec.to_json()) == spec


def test_one_budget_order_for_points_and_labels():
    from evalkit.config import budget_label, budget_order, label_order

    points = [10240, None, 512, 2048, 1024]
    assert sorted(points, key=budget_order) == [512, 1024, 2048, 10240, None]
    labels = [budget_label(b) for b in points] + ["random-0.5"]
    assert sorted(labels, key=label_order) == ["512", "1k", "2k", "10k", "unconstrained", "random-0.5"]
    # string length is not the order: codeforces-rating's default (the largest budget) with 512, 1k, 2k is 2k
    assert max(["512", "1k", "2k"], key=label_order) == "2k"
