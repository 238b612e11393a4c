"""Typed settings of the ai service (VIGIL_* variables; see README)."""

from pydantic import SecretStr

from vigil.runtime.config import ServiceSettings


class AiSettings(ServiceSettings):
    # Any OpenAI-compatible endpoint; empty means no LLM: RCA answers with its deterministic ranking and a
    # template summary, marked as such.
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: SecretStr = SecretStr("")
