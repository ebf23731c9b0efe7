"""The labelled triage sets: messages with a hand-set ``sensitive`` label, written for this
project (never taken from the development set). ``test_training_data`` keeps them out of
training; ``test_builtin`` keeps the triage's floors on them.

- ``sensitive_validation.jsonl``: the first set;
- ``sensitive_probe2.jsonl``: a second, written from the "sensitive" definition (issue #4);
- ``sensitive_probe3.jsonl``: a third, written blind to the training data and the lexicon, in
  all seven languages;
- the retrieval probes' legal-advice consultations, their fresh set and their realistic set
  (written by people who read no law, labelled by others), which carry ``sensitive`` labels
  too.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
RETRIEVAL_PROBES = HERE.parent / "knowledge_base"

#: Floors of the triage (builtin intent, or a safety lexicon match) on each set: measured with
#: `python -m nlu.evaluate --no-rasa --questions PATH` (issue #4), minus a small margin:
#:
#: - validation 1.000 / 0.662, probe2 1.000 / 0.787, probe3 1.000 / 0.844;
#: - the retrieval probes' legal-advice consultations 0.980 / 0.676, after training data
#:   written from that set's three misses (0.939 / 0.667 before); their fresh set 1.000 / 0.537
#:   (0.527 since the under-16 phrases below flag a 16-year-old's question too);
#: - the realistic set: 1.000 / 0.375 on its first four writers. Before the question-form
#:   reports in nlu/data/question_reports_*.yml it was 0.954 / 0.411 on the first two, whose
#:   misses called for them, and 0.966 / 0.373 on the third, held out until then. Its fifth and
#:   sixth writers, added after every change: 1.000 / 0.144 (23 sensitive of 200, 160 flagged;
#:   their labeller read "sensitive" the most narrowly of all, while the flag rate, 0.80, is
#:   that of the first four writers, 0.81). Its seventh and eighth writers, added after every
#:   change: 0.947 / 0.214 (36 of 38; 168 of 200 flagged), then 0.974 / 0.219 with the
#:   under-16 phrases their misses called for ("我15岁", "满16岁", "没满16") in the safety
#:   lexicon; the one left, 16- and 17-year-olds on twelve-hour days, is a question of hours,
#:   since minors of that age may work. Its ninth writer (legal-advice-site style), added
#:   last: 1.000 / 0.181 (15 sensitive of 100, 83 flagged). The whole set: 0.995 / 0.266.
#: The consultations are hard: like the development set, most of their false alarms are plain
#: dismissal, contract and insurance disputes, which are violations but not "sensitive". The
#: realistic set's labellers read "sensitive" more narrowly still (a pregnant worker pushed to
#: quit, twelve-hour days, a boss refusing a resignation: not sensitive), hence its precision.
#: (file, recall floor, precision floor)
TRIAGE_FLOORS: tuple[tuple[Path, float, float], ...] = (
    (HERE / "sensitive_validation.jsonl", 0.96, 0.65),
    (HERE / "sensitive_probe2.jsonl", 0.97, 0.76),
    (HERE / "sensitive_probe3.jsonl", 0.97, 0.80),
    (RETRIEVAL_PROBES / "probe_consult.jsonl", 0.90, 0.62),
    (RETRIEVAL_PROBES / "probe_fresh.jsonl", 0.95, 0.50),
    (RETRIEVAL_PROBES / "probe_real.jsonl", 0.95, 0.25),
)

#: Every labelled triage set.
TRIAGE_SETS: tuple[Path, ...] = tuple(path for path, _, _ in TRIAGE_FLOORS)
