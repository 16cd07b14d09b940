from edpbrl.experiments.bench_encoder import run, sample_prompts


def test_rows_per_spec_and_batch_with_ratios_to_the_first():
    rows = run(specs=("hashing:32", "sum:hashing:32"), batches=(5, 40), texts=40)
    assert [(r["spec"], r["batch"]) for r in rows] == [
        ("hashing:32", 5), ("hashing:32", 40), ("sum:hashing:32", 5), ("sum:hashing:32", 40)
    ]  # fmt: skip
    assert all(r["texts"] == 40 and r["texts_per_second"] > 0 for r in rows)
    assert rows[0]["ratio_to_first"] == rows[1]["ratio_to_first"] == 1.0
    r = rows[2]
    assert r["ratio_to_first"] == r["texts_per_second"] / rows[0]["texts_per_second"]


def test_prompts_are_distinct_and_seeded():
    a = sample_prompts(30, seed=1)
    assert len(set(a)) == 30 and a == sample_prompts(30, seed=1) and a != sample_prompts(30, seed=2)
