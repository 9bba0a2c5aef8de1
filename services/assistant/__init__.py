"""The citizens' assistant: answers grounded in the court's own content, with or without a model.

Modules: `conversation` (validate, answer, the answer paths, storage calls, retention cleanup, the CLI),
`compose` (the answers' text: matched entry, urgency first, guarded situations, channels), `review` (what the admin
page of unanswered questions and page feedback reads),
`guardrails` (urgency, advice, payments, restricted data, overrides; what an answer may not state),
`process_status` (a CNJ number answered from the process lookup), `llm` (the OpenAI-compatible client through the
resilience layer, with a per-worker cap), `store` (conversations kept masked for CHAT_RETENTION_DAYS).
The passages come from the one search index over the content (services.search).
"""
from services.assistant.conversation import (
    CACHE_NS,
    MAX_CHARS,
    PATHS,
    InvalidMessage,
    Reply,
    State,
    answer,
    cli,
    current,
    delete_conversation,
    greeting,
    init_app,
    transcript,
    validate,
)

__all__ = ["CACHE_NS", "MAX_CHARS", "PATHS", "InvalidMessage", "Reply", "State", "answer", "cli", "current",
           "delete_conversation", "greeting", "init_app", "transcript", "validate"]
