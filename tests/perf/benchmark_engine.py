"""Time the engine on generated data: scoring 10,000 assessments, and building the anonymised
benchmark from 10,000 submissions. Run with ``make bench``.

The assessments are generated with a seeded random generator so every run measures the same
work; the figures printed are wall-clock seconds on this machine.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from pathlib import Path

from dd_toolkit.engine.benchmark import BenchmarkEntry, build_benchmark
from dd_toolkit.engine.content import AnswerData, AnswerType, Profile, Question
from dd_toolkit.engine.registry import load_content

ROOT = Path(__file__).resolve().parents[2]


def random_answer(question: Question, rng: random.Random) -> AnswerData:
    kind = question.type
    if rng.random() < 0.05 and question.allow_not_applicable:
        return AnswerData(not_applicable=True, justification="Generated")
    if kind is AnswerType.MATURITY:
        return AnswerData(rng.randint(0, 4))
    if kind is AnswerType.YES_PARTIAL_NO:
        return AnswerData(rng.choice(["yes", "partial", "no"]))
    if kind is AnswerType.SINGLE:
        return AnswerData(rng.choice(question.options).value)
    if kind is AnswerType.MULTI:
        return AnswerData([o.value for o in question.options if rng.random() < 0.5] or [question.options[0].value])
    if kind is AnswerType.NUMBER:
        return AnswerData(rng.randint(0, 5000))
    if kind is AnswerType.DATE:
        return AnswerData("2026-01-01")
    return AnswerData("Generated answer text.")


def generate(content, count: int, seed: int = 7) -> list[tuple[Profile, dict[str, AnswerData]]]:
    rng = random.Random(seed)
    taxonomy = content.bank.taxonomy
    answers_for_all = list(content.bank.questions.values())
    generated = []
    for _ in range(count):
        profile = Profile(
            service_types=tuple(rng.sample(taxonomy.ids("service_types"), rng.randint(1, 2))),
            features=tuple(f for f in taxonomy.ids("features") if rng.random() < 0.4),
            countries=tuple(rng.sample([c.id for c in taxonomy.countries if c.asean], rng.randint(1, 4))),
            size_band=rng.choice(taxonomy.ids("size_bands")),
            under18_users=rng.choice(["yes", "yes", "unknown", "no"]),
            hq_country="SG",
        )
        answers = {q.id: random_answer(q, rng) for q in answers_for_all}
        generated.append((profile, answers))
    return generated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    from dd_toolkit.engine.scoring import score

    content = load_content(ROOT)
    method = content.current_methodology
    data = generate(content, args.count)
    # The generated input lives for the whole run; the collector need not walk it again.
    gc.collect()
    gc.freeze()

    # Scoring keeps what a benchmark needs of each card, as building it from submissions does.
    started = time.perf_counter()
    entries = []
    for number, (profile, answers) in enumerate(data):
        card = score(content.bank, method, profile, answers)
        entries.append(_entry(number, profile, card))
    scoring_seconds = time.perf_counter() - started
    print(
        f"scored {len(entries):,} assessments ({len(content.bank.questions)} questions each) "
        f"in {scoring_seconds:.2f} s ({1000 * scoring_seconds / len(entries):.3f} ms each)"
    )

    started = time.perf_counter()
    benchmark = build_benchmark(entries, cycle=CYCLE, threshold=method.benchmark.disclosure_threshold)
    building_seconds = time.perf_counter() - started
    print(
        f"built the benchmark from {len(entries):,} submissions in {building_seconds:.2f} s "
        f"({len(benchmark.groups)} peer groups, {len(benchmark.disclosed)} shown)"
    )


CYCLE = 2026


def _entry(number: int, profile: Profile, card) -> BenchmarkEntry:
    return BenchmarkEntry(
        organisation_id=number,
        cycle=CYCLE,
        service_types=profile.service_types,
        size_band=profile.size_band,
        countries=profile.countries,
        overall=card.overall,
        modules={m.id: m.score for m in card.modules if m.score is not None},
        lenses=card.lens_scores(),
        indicators={i.id: i.met for i in card.indicators},
        practices=dict(card.practices),
    )


if __name__ == "__main__":
    main()
