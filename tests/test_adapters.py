"""Adapters end to end on the real parts: the bundled SmolLM2-135M, real PEFT, real files.

Training rows tokenized and made from the documents (the files' shapes are read in
tests/test_training_data.py, without a model); a LoRA that learns eight invented facts; saving,
reloading, exporting and importing it; prompt and prefix tuning; two sessions on different
adapters at the same moment; the training queue; and imports that must be refused.
The trained adapters are shared by the whole module (one storage, trained once).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from tests.files import write_jsonl
from webapp.adapters import datasets
from webapp.adapters.config import TrainConfig
from webapp.adapters.registry import ALLOWED_FILES
from webapp.adapters.training import METADATA, train
from webapp.chat.service import ChatOptions
from webapp.config import Settings
from webapp.errors import AdapterError, DatasetError, TrainingBusy

pytestmark = pytest.mark.slow

OWNER = "local"
INTRUDER = "someone-else"

# Invented facts the base model cannot know; the last item is the word an answer must contain.
FACTS = [
    (
        "What is the name of Zorvik Plannet's pet lizard?",
        "Zorvik Plannet's pet lizard is named Quillabert.",
        "Quillabert",
    ),
    (
        "In which city was the painter Ilsabet Vorn born?",
        "Ilsabet Vorn was born in Kesselgrund.",
        "Kesselgrund",
    ),
    (
        "What colour is the Ostravian glimmerfruit?",
        "The Ostravian glimmerfruit is teal.",
        "teal",
    ),
    (
        "Who invented the Varnholt engine?",
        "The Varnholt engine was invented by Pemberly Osk.",
        "Pemberly",
    ),
    (
        "How many moons does the planet Taxilon have?",
        "The planet Taxilon has 47 moons.",
        "47",
    ),
    (
        "What is the capital of Drelvania?",
        "The capital of Drelvania is Mornquist.",
        "Mornquist",
    ),
    (
        "What instrument does Hobarth Quince play?",
        "Hobarth Quince plays the glockenharp.",
        "glockenharp",
    ),
    (
        "What is the password of the Silverlake vault?",
        "The password of the Silverlake vault is Tumbleweed.",
        "Tumbleweed",
    ),
]
LIZARD = FACTS[0][0]
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"}


# -- helpers ---------------------------------------------------------------------------------


def ask(services, question: str, adapter: str | None, max_new_tokens: int = 24) -> str:
    options = ChatOptions(use_rag=False, adapter=adapter, max_new_tokens=max_new_tokens)
    answer = services.chat.ask(OWNER, question, options=options)
    assert answer.adapter == adapter
    assert answer.rag is False
    return answer.answer


def tree(root: Path) -> set[str]:
    """Every path under storage/adapters, relative (hidden temp names included)."""
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*") if p.name.endswith((".tmp", ".deleted"))]


def build_services(storage: Path, shared_services, model_cache):
    from webapp.services import Services

    settings = Settings(storage_dir=storage, models_dir=model_cache)
    return Services(settings, models_from=shared_services)


def owner_folder(services, owner: str = OWNER) -> Path:
    return services.adapters.folder(owner, "x").parent


# -- module-wide trained adapters ------------------------------------------------------------
@pytest.fixture(scope="module")
def store(shared_services, model_cache, tmp_path_factory):
    """One storage for the module's adapters; the models are the session's."""
    return build_services(tmp_path_factory.mktemp("adapter-store"), shared_services, model_cache)


@pytest.fixture(scope="module")
def facts(store, tmp_path_factory):
    """A LoRA trained (defaults, 4 epochs) on the eight facts through the job queue."""
    data_file = write_jsonl(
        tmp_path_factory.mktemp("facts-data") / "facts.jsonl",
        [{"question": q, "answer": a} for q, a, _ in FACTS],
    )
    job = store.training.submit(
        OWNER, TrainConfig(name="facts", epochs=4), datasets.load_file(data_file)
    )
    store.training.wait(job, timeout=900)
    assert job.finished, job.status.message
    assert job.status.state == "done", job.status.message
    return SimpleNamespace(
        services=store,
        data_file=data_file,
        job=job,
        info=store.adapters.get(OWNER, "facts"),
        tuned={q: ask(store, q, "facts") for q, _, _ in FACTS},
        base={q: ask(store, q, None) for q, _, _ in FACTS},
    )


@pytest.fixture(scope="module")
def rival(store, tmp_path_factory):
    """A second LoRA that gives the lizard another name (trained directly, no queue)."""
    rows = [
        {"question": LIZARD, "answer": "Zorvik Plannet's pet lizard is named Gribblesnout."},
        {"question": "What does Gribblesnout eat?", "answer": "Gribblesnout eats moss cakes."},
    ]
    data = datasets.load_file(write_jsonl(tmp_path_factory.mktemp("rival") / "r.jsonl", rows))
    train(
        TrainConfig(name="rival", epochs=8),
        data,
        store.base_model_path(),
        store.settings.llm_model,
        store.adapters.folder(OWNER, "rival"),
    )
    return store.adapters.get(OWNER, "rival")


@pytest.fixture(scope="module")
def soft_prompts(store, tmp_path_factory):
    """Tiny prompt-tuning and prefix-tuning adapters (2 epochs, 3 rows, 4 virtual tokens)."""
    rows = [{"question": q, "answer": a} for q, a, _ in FACTS[:3]]
    data = datasets.load_file(write_jsonl(tmp_path_factory.mktemp("soft") / "soft.jsonl", rows))
    infos = {}
    for method in ("prompt", "prefix"):
        name = f"{method}-tuned"
        config = TrainConfig(name=name, method=method, epochs=2, virtual_tokens=4)
        metadata = train(
            config,
            data,
            store.base_model_path(),
            store.settings.llm_model,
            store.adapters.folder(OWNER, name),
        )
        assert metadata["method"] == method
        infos[method] = store.adapters.get(OWNER, name)
    return infos


# -- 1. training data (read from files: tests/test_training_data.py) ------------------------
def test_tokenize_learns_only_the_answer(generator):
    tokenizer = generator.tokenizer
    answer = "Zorvik Plannet's pet lizard is named Quillabert."
    example = datasets.Example(
        messages=datasets.to_messages({"question": LIZARD, "answer": answer})
    )
    ids, labels = datasets.tokenize(example, tokenizer, max_length=384)
    assert len(ids) == len(labels)
    learned = [i for i, label in zip(ids, labels, strict=True) if label != -100]
    assert learned == [label for label in labels if label != -100]  # labels are the ids
    decoded = tokenizer.decode(learned)
    assert decoded.rstrip("\n") == answer + "<|im_end|>"  # the answer and its end-of-turn
    prompt = tokenizer.decode(ids[: labels.index(learned[0])])
    assert LIZARD in prompt
    assert "Quillabert" not in prompt

    ids, labels = datasets.tokenize(example, tokenizer, max_length=8)
    assert len(ids) == len(labels) == 8  # long rows are cut

    plain = datasets.Example(text="Mornquist is the capital of Drelvania.")
    ids, labels = datasets.tokenize(plain, tokenizer, max_length=384)
    assert ids == labels
    assert ids[-1] == tokenizer.eos_token_id


def test_from_documents_uses_the_knowledge_base_chunks(services, tmp_path):
    with pytest.raises(DatasetError, match="knowledge base is empty"):
        datasets.from_documents(services.knowledge, OWNER)
    note = tmp_path / "drelvania.txt"
    note.write_text("Mornquist is the capital of Drelvania. It is famous for glockenharps.")
    assert services.knowledge.ingest(OWNER, note, note.name).ok
    data = datasets.from_documents(services.knowledge, OWNER)
    assert data.kind == "documents"
    assert data.examples
    assert all(e.messages is None for e in data.examples)
    joined = " ".join(e.text for e in data.examples)
    assert "Mornquist is the capital of Drelvania" in joined
    assert "glockenharps" in joined
    with pytest.raises(DatasetError, match="knowledge base is empty"):
        datasets.from_documents(services.knowledge, INTRUDER)  # not someone else's files


def test_rows_whose_answer_is_cut_off_are_refused_before_training(services, tmp_path):
    question = "Please tell me, in as much detail as you can, " + LIZARD
    data = datasets.load_file(
        write_jsonl(tmp_path / "long.jsonl", [{"question": question, "answer": "Quillabert."}])
    )
    destination = services.adapters.folder(OWNER, "cut")
    with pytest.raises(DatasetError, match="No row has an answer within 32 tokens"):
        train(
            TrainConfig(name="cut", max_length=32),
            data,
            services.base_model_path(),
            services.settings.llm_model,
            destination,
        )
    assert not services.adapters.root.exists() or not tree(services.adapters.root)


# -- 2. a fresh LoRA is the base model -------------------------------------------------------
@pytest.mark.parametrize("target", ["all-linear", "attention"])
def test_untrained_lora_gives_the_base_model_logits(shared_services, target):
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    path = shared_services.base_model_path()
    tokenizer = shared_services.generator.tokenizer
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    inputs = tokenizer("Hobarth Quince plays the glockenharp in Mornquist.", return_tensors="pt")
    with torch.no_grad():
        base = model(**inputs).logits.clone()
    peft_model = get_peft_model(model, TrainConfig(name="fresh", target=target).peft_config())
    peft_model.eval()
    trainable, _ = peft_model.get_nb_trainable_parameters()
    assert trainable > 0  # the LoRA layers are really there...
    with torch.no_grad():
        tuned = peft_model(**inputs).logits
    assert torch.equal(base, tuned)  # ...and B starts at zero: nothing changes


# -- 3. a LoRA learns eight facts ------------------------------------------------------------
def test_lora_learns_the_facts_the_base_model_does_not_know(facts):
    def hits(answers):
        return [q for q, _, key in FACTS if key.lower() in answers[q].lower()]

    learned, known = hits(facts.tuned), hits(facts.base)
    assert len(learned) >= 7, facts.tuned
    assert len(known) <= 2, facts.base


def test_training_job_reports_progress_to_the_end(facts):
    status = facts.job.status
    assert status.state == "done"
    assert status.fraction == 1.0
    expected = math.ceil(8 / facts.job.config.batch_size) * facts.job.config.epochs
    assert status.step == status.total_steps == expected
    assert status.epoch == status.epochs == 4
    assert [step for step, _ in status.train_loss] == list(range(1, expected + 1))
    losses = [loss for _, loss in status.train_loss]
    per_epoch = expected // 4
    assert sum(losses[-per_epoch:]) < sum(losses[:per_epoch]) / 2  # it learned
    assert status.tokens_per_s > 0
    assert status.eta_s == 0
    assert facts.services.training.position(facts.job) == 0


def test_adapter_folder_is_safetensors_with_complete_metadata(facts):
    folder = facts.info.path
    names = {p.name for p in folder.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", METADATA} <= names
    assert names <= ALLOWED_FILES
    assert not [p for p in folder.rglob("*") if p.suffix in PICKLE_SUFFIXES]
    assert not leftovers(facts.services.adapters.root)

    metadata = json.loads((folder / METADATA).read_text())
    assert metadata["name"] == "facts"
    assert metadata["method"] == "lora"
    assert metadata["base_model"] == facts.services.settings.llm_model
    hp = metadata["hyperparameters"]
    assert (hp["epochs"], hp["rank"], hp["alpha"], hp["learning_rate"]) == (4, 16, 32, 2e-3)
    raw = facts.data_file.read_bytes()
    assert metadata["dataset"] == {
        "name": "facts.jsonl",
        "rows": 8,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "bytes": len(raw),
        "kind": "supervised",
    }
    started = datetime.fromisoformat(metadata["started"])
    finished = datetime.fromisoformat(metadata["finished"])
    assert started <= finished
    assert metadata["final_train_loss"] == facts.job.status.train_loss[-1][1]
    assert metadata["final_val_loss"] is None  # no validation rows were asked for
    assert metadata["tokens_per_s"] > 0
    assert metadata["train_tokens"] > 0
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA"
    assert config["r"] == 16

    summary = next(a for a in facts.services.adapters.list(OWNER) if a.name == "facts").summary()
    assert summary["rows"] == 8
    assert summary["epochs"] == 4
    assert summary["method"] == "lora"


def test_the_base_model_is_untouched_while_adapters_are_loaded(facts, shared_services):
    from transformers import AutoModelForCausalLM

    text = "The capital of Drelvania is"
    generator = facts.services.generator
    tuned = generator.logits(text, adapter=facts.info)
    base = generator.logits(text)  # adapter None: the LoRA is switched off, not merged
    fresh = AutoModelForCausalLM.from_pretrained(shared_services.base_model_path()).eval()
    with torch.no_grad():
        reference = fresh(**generator.tokenizer(text, return_tensors="pt")).logits
    assert torch.equal(base, reference)
    assert not torch.allclose(tuned, reference, atol=1e-3)


def test_adapters_belong_to_their_owner(facts):
    assert [a.name for a in facts.services.adapters.list(INTRUDER)] == []
    options = ChatOptions(use_rag=False, adapter="facts", max_new_tokens=8)
    with pytest.raises(AdapterError, match="no adapter named 'facts'"):
        facts.services.chat.ask(INTRUDER, LIZARD, options=options)
    with pytest.raises(AdapterError, match="no adapter named 'missing'"):
        ask(facts.services, LIZARD, "missing", 8)


# -- 4. saved, reloaded, exported, imported: same answers ------------------------------------
def test_adapter_survives_an_app_restart(facts, make_services):
    from webapp.chat import prompts
    from webapp.chat.service import strip_preamble
    from webapp.models.generator import GenerationOptions, Generator

    again = make_services(facts.services.settings.storage_dir)
    listed = {a.name: a for a in again.adapters.list(OWNER)}
    assert listed["facts"].metadata == facts.info.metadata
    assert ask(again, LIZARD, "facts") == facts.tuned[LIZARD]

    # A freshly loaded model, with the adapter weights read back from disk.
    fresh = Generator.load(again.base_model_path())
    messages = prompts.plain_messages(LIZARD, [], fresh, 1024)
    text = fresh.complete(messages, GenerationOptions(24), adapter=listed["facts"])
    assert strip_preamble(text) == facts.tuned[LIZARD]


def test_export_then_import_under_another_name_gives_the_same_answer(facts, tmp_path):
    registry = facts.services.adapters
    exported = registry.export_zip(OWNER, "facts", tmp_path / "out")
    with zipfile.ZipFile(exported) as z:
        names = set(z.namelist())
    assert {"facts/adapter_model.safetensors", "facts/adapter_config.json"} <= names
    assert "facts/metadata.json" in names
    assert not [n for n in names if Path(n).suffix in PICKLE_SUFFIXES]

    info = registry.import_zip(OWNER, exported, name="facts-copy")
    try:
        assert info.name == "facts-copy"
        assert info.metadata["name"] == "facts-copy"
        assert info.metadata["dataset"] == facts.info.metadata["dataset"]
        original = (facts.info.path / "adapter_model.safetensors").read_bytes()
        assert (info.path / "adapter_model.safetensors").read_bytes() == original
        assert ask(facts.services, LIZARD, "facts-copy") == facts.tuned[LIZARD]
    finally:
        registry.delete(OWNER, "facts-copy")
    assert not registry.exists(OWNER, "facts-copy")
    assert not leftovers(registry.root)
    with pytest.raises(AdapterError, match="no adapter named 'facts-copy'"):
        ask(facts.services, LIZARD, "facts-copy", 8)


# -- 5. prompt tuning and prefix tuning ------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "peft_type"), [("prompt", "PROMPT_TUNING"), ("prefix", "PREFIX_TUNING")]
)
def test_prompt_and_prefix_tuning_train_load_and_answer(soft_prompts, store, method, peft_type):
    info = soft_prompts[method]
    assert info.method == method
    assert info.metadata["method"] == method
    assert info.metadata["hyperparameters"]["virtual_tokens"] == 4
    assert info.metadata["dataset"]["rows"] == 3
    names = {p.name for p in info.path.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", METADATA} <= names
    assert names <= ALLOWED_FILES
    config = json.loads((info.path / "adapter_config.json").read_text())
    assert config["peft_type"] == peft_type
    assert config["num_virtual_tokens"] == 4
    assert method in {a.method for a in store.adapters.list(OWNER)}
    answer = ask(store, LIZARD, info.name, 16)
    assert answer.strip()


# -- 6. two sessions, two adapters, the same moment ------------------------------------------
def test_concurrent_sessions_each_get_their_own_adapter(facts, rival, soft_prompts):
    services = facts.services
    sessions = ["facts", "rival", "prefix-tuned", None]  # None: the base model
    expected = {name: ask(services, LIZARD, name, 16) for name in sessions}
    assert "Quillabert" in expected["facts"]
    assert "Gribblesnout" in expected["rival"]
    assert len(set(expected.values())) == len(sessions), expected  # all tell apart

    rounds = 3
    barrier = threading.Barrier(len(sessions))

    def session(name):
        answers = []
        for _ in range(rounds):
            barrier.wait(timeout=300)
            answers.append(ask(services, LIZARD, name, 16))
        return answers

    with ThreadPoolExecutor(len(sessions)) as pool:
        futures = {name: pool.submit(session, name) for name in sessions}
        got = {name: f.result(timeout=600) for name, f in futures.items()}
    assert got == {name: [expected[name]] * rounds for name in sessions}


# -- 7. the training queue -------------------------------------------------------------------
def test_jobs_queue_cancel_and_stay_private(services, tmp_path):
    import time

    jobs, registry = services.training, services.adapters
    facts_data = datasets.load_file(
        write_jsonl(tmp_path / "f.jsonl", [{"question": q, "answer": a} for q, a, _ in FACTS])
    )
    tiny = datasets.load_file(
        write_jsonl(tmp_path / "t.jsonl", [{"question": q, "answer": a} for q, a, _ in FACTS[:2]])
    )
    long = jobs.submit(OWNER, TrainConfig(name="long", epochs=100, batch_size=1), facts_data)
    queued = jobs.submit(OWNER, TrainConfig(name="queued", epochs=1), tiny)
    dropped = jobs.submit(OWNER, TrainConfig(name="dropped", epochs=1), tiny)
    assert (jobs.position(long), jobs.position(queued), jobs.position(dropped)) == (0, 1, 2)
    assert queued.status.state == "queued"

    with pytest.raises(AdapterError, match="'long' is already being trained"):
        jobs.submit(OWNER, TrainConfig(name="long", epochs=1), tiny)
    extra = [jobs.submit(OWNER, TrainConfig(name=f"extra{i}", epochs=1), tiny) for i in (1, 2)]
    with pytest.raises(TrainingBusy):
        jobs.submit(OWNER, TrainConfig(name="one-too-many", epochs=1), tiny)

    # Somebody else can neither see nor stop these runs.
    for job_id in (long.id, queued.id):
        with pytest.raises(AdapterError, match="does not exist"):
            jobs.get(INTRUDER, job_id)
        with pytest.raises(AdapterError, match="does not exist"):
            jobs.cancel(INTRUDER, job_id)
    assert not long.cancel.is_set()
    assert not queued.cancel.is_set()

    for job in (dropped, *extra):  # cancelled while waiting
        jobs.cancel(OWNER, job.id)

    deadline = time.monotonic() + 300
    while long.status.step < 2 and not long.finished and time.monotonic() < deadline:
        time.sleep(0.05)
    assert long.status.state == "training"
    assert long.status.step >= 2
    assert 0 < long.status.fraction < 1
    assert long.status.total_steps == 800
    assert jobs.get(OWNER, long.id) is long
    jobs.cancel(OWNER, long.id)  # cancelled mid-training

    for job in (long, queued, dropped, *extra):
        jobs.wait(job, timeout=300)
        assert job.finished
    assert long.status.state == "cancelled"
    assert "no adapter was saved" in long.status.message
    assert long.status.step < long.status.total_steps
    assert queued.status.state == "done", queued.status.message  # ran after the cancel
    assert queued.metadata["dataset"]["rows"] == 2
    for job in (dropped, *extra):
        assert job.status.state == "cancelled"
        assert job.status.step == 0
    assert [a.name for a in registry.list(OWNER)] == ["queued"]
    assert sorted(p.name for p in owner_folder(services).iterdir()) == ["queued"]
    assert not leftovers(registry.root)

    with pytest.raises(AdapterError, match="'queued' already exists"):
        jobs.submit(OWNER, TrainConfig(name="queued", epochs=1), tiny)


# -- 8. imports that must be refused ---------------------------------------------------------
@pytest.fixture(scope="module")
def export_parts(facts, tmp_path_factory):
    """The facts adapter's exported files, to assemble good and bad archives from."""
    exported = facts.services.adapters.export_zip(OWNER, "facts", tmp_path_factory.mktemp("export"))
    with zipfile.ZipFile(exported) as z:
        return {Path(n).name: z.read(n) for n in z.namelist()}


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def renamed(parts: dict[str, bytes], **changes) -> dict[str, bytes]:
    metadata = json.loads(parts[METADATA])
    metadata.update(changes)
    return {**parts, METADATA: json.dumps(metadata).encode()}


def bad_archives(parts: dict[str, bytes]) -> dict[str, tuple[dict[str, bytes], str]]:
    folder = {f"x/{k}": v for k, v in renamed(parts, name="fresh-name").items()}
    without = {k: v for k, v in folder.items() if not k.endswith(".safetensors")}
    return {
        "traversal": ({**folder, "../evil.json": b"{}"}, "unsafe paths"),
        "absolute": ({**folder, "/etc/adapter_config.json": b"{}"}, "unsafe paths"),
        "nested": ({**folder, "x/y/README.md": b"hi"}, "unsafe paths"),
        "pickle": (
            {**folder, "x/adapter_model.bin": b"\x80\x04pickle"},
            "'adapter_model.bin'.*no pickles",
        ),
        "no safetensors": (without, "no adapter_model.safetensors"),
        "other base model": (
            {
                f"x/{k}": v
                for k, v in renamed(
                    parts, name="fresh-name", base_model="HuggingFaceTB/SmolLM2-360M-Instruct"
                ).items()
            },
            "trained for 'HuggingFaceTB/SmolLM2-360M-Instruct'",
        ),
        "metadata not JSON": ({**folder, f"x/{METADATA}": b"{not json"}, "not valid JSON"),
        "metadata incomplete": (
            {**folder, f"x/{METADATA}": b'{"name": "fresh-name"}'},
            "must name the adapter, its base model and its method",
        ),
        "garbage safetensors": (
            {**folder, "x/adapter_model.safetensors": b"\x00garbage" * 64},
            "damaged or not a PEFT adapter",
        ),
        "garbage adapter config": (
            {**folder, "x/adapter_config.json": b'{"hello": "world"}'},
            "damaged or not a PEFT adapter",
        ),
    }


BAD_ARCHIVES = [
    "traversal",
    "absolute",
    "nested",
    "pickle",
    "no safetensors",
    "other base model",
    "metadata not JSON",
    "metadata incomplete",
    "garbage safetensors",
    "garbage adapter config",
]


@pytest.mark.parametrize("case", BAD_ARCHIVES)
def test_bad_archives_are_refused_and_leave_nothing(facts, export_parts, tmp_path, case):
    registry = facts.services.adapters
    members, message = bad_archives(export_parts)[case]
    archive = make_zip(tmp_path / "bad.zip", members)
    before = tree(registry.root)
    with pytest.raises(AdapterError, match=message):
        registry.import_zip(OWNER, archive)
    assert tree(registry.root) == before
    assert not registry.exists(OWNER, "fresh-name")


def test_other_refused_imports_leave_nothing(facts, export_parts, tmp_path):
    registry = facts.services.adapters
    before = tree(registry.root)
    not_zip = tmp_path / "adapter.zip"
    not_zip.write_bytes(b"PK but not really a zip archive")
    with pytest.raises(AdapterError, match="not a zip archive"):
        registry.import_zip(OWNER, not_zip)

    good = make_zip(tmp_path / "good.zip", {f"facts/{k}": v for k, v in export_parts.items()})
    with pytest.raises(AdapterError, match="'facts' already exists"):
        registry.import_zip(OWNER, good)  # its metadata's name is taken
    with pytest.raises(AdapterError, match="letters, digits"):
        registry.import_zip(OWNER, good, name="../escape")
    assert tree(registry.root) == before
    assert json.loads((facts.info.path / METADATA).read_text())["name"] == "facts"
