"""The compute thread (webapp.models.compute): model work from any request runs there, and a
question asked while another answer streams is embedded between two decode steps."""

from __future__ import annotations

import threading
import time

import pytest

from webapp.models import compute
from webapp.models.generator import GenerationOptions


def test_work_runs_on_one_thread_and_errors_reach_the_caller():
    seen = {compute.run(threading.get_ident) for _ in range(3)}
    from_other = []
    worker = threading.Thread(target=lambda: from_other.append(compute.run(threading.get_ident)))
    worker.start()
    worker.join()
    assert len(seen | set(from_other)) == 1
    assert threading.get_ident() not in seen

    with pytest.raises(ValueError, match="bad input"):
        compute.run(int, "bad input")
    assert compute.run(lambda: 41 + 1) == 42  # the thread survived the error


@pytest.mark.slow
def test_a_question_is_embedded_while_another_answer_streams(shared_services):
    generator, embedder = shared_services.generator, shared_services.embedder
    long_answer = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
    options = GenerationOptions(max_new_tokens=200, drafts=False)
    first_piece, embedded, finished, ran_on = threading.Event(), [], [], []

    def answer():
        for _ in generator.stream(long_answer, options):
            first_piece.set()
        finished.append(time.perf_counter())

    streaming = threading.Thread(target=answer)
    streaming.start()
    assert first_piece.wait(120)
    encoder = embedder._model[0]  # the transformer module of the sentence-transformers model
    hook = encoder.register_forward_hook(lambda *_: ran_on.append(threading.current_thread().name))
    try:
        vector = embedder.get_query_embedding("Who keeps the lighthouse?")
    finally:
        hook.remove()
    embedded.append(time.perf_counter())
    streaming.join(300)

    assert len(vector) == 384
    assert ran_on == ["model-compute"]
    # Served between two decode steps, not after the answer: the answer was still going.
    assert finished
    assert embedded[0] < finished[0]


@pytest.mark.slow
def test_streaming_on_the_compute_thread_is_refused_not_deadlocked(shared_services):
    generator = shared_services.generator

    def consume():
        return "".join(generator.stream([{"role": "user", "content": "Hi"}]))

    with pytest.raises(RuntimeError, match="compute thread"):
        compute.run(consume)
