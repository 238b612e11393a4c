"""Typed settings of the ai service (VIGIL_* variables; see README and docs/ai.md)."""

from pydantic import SecretStr

from vigil.runtime.config import ServiceSettings


class AiSettings(ServiceSettings):
    # Any OpenAI-compatible endpoint; empty means no LLM: RCA answers with its deterministic ranking and a
    # template summary, marked as such.
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: SecretStr = SecretStr("")
    # One model call may take this long, retried this many times (the openai client's own retry with backoff).
    llm_timeout_seconds: float = 20.0
    llm_max_retries: int = 1
    # The model's answer is capped at this many tokens; the evidence it reads at VIGIL_LLM_MAX_INPUT_CHARS.
    llm_max_output_tokens: int = 800
    llm_max_input_chars: int = 24_000
    # POST /api/rca waits this long for the narrative; past it the deterministic result is returned and the
    # narrative is added to the stored result when it arrives (narrative_status "pending").
    rca_llm_wait_seconds: float = 5.0
    # Default analysis window: this long before the symptoms (the incident's time) to 15 minutes after; and the
    # baseline: this long before the window.
    rca_lookback_minutes: int = 60
    rca_baseline_hours: int = 24
    # Runbook http steps: private, loopback and link-local addresses are refused unless allowed here.
    runbook_http_allow_private: bool = False
    # Comma-separated host names (or IPs) allowed even when they resolve to private addresses.
    runbook_http_allowed_hosts: str = ""
    # The copilot's tool-calling loop: at most this many model turns.
    copilot_max_steps: int = 6

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)
