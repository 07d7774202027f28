"""Every API path in one place (spec/api.md): a correction is a one-line change.

Paths are templates for `str.format`; path parameters are percent-encoded by the client.
"""

from __future__ import annotations

API = "/api/v1"

# companion chat (seed 000)
COMPANION_CHAT = f"{API}/companion/chat"
SCRATCHPAD = f"{API}/companion/scratchpad"

# NPC chat (seed 001)
NPC_INIT = f"{API}/chat/{{persona_id}}/init-session"
NPC_MESSAGE = f"{API}/chat/{{persona_id}}/message"
NPC_HISTORY = f"{API}/chat/{{persona_id}}/history"
NPC_RESET = f"{API}/chat/{{persona_id}}/reset"

# platform resources (seed 002)
SKINS = f"{API}/skins"
SKIN = f"{API}/skins/{{id}}"
MEDIA_COLLECTION = f"{API}/media/collection"
MEDIA_COLLECTION_ITEM = f"{API}/media/collection/{{id}}"
GENERATE_IMAGE = f"{API}/generate/image"
GENERATE_VIDEO = f"{API}/generate/video"
GENERATE_JOB = f"{API}/generate/jobs/{{job_id}}"  # local extension
ACTIVITIES = f"{API}/activities"
ACTIVITY = f"{API}/activities/{{id}}"
INSTANCES = f"{API}/activity-instances"
INSTANCE = f"{API}/activity-instances/{{id}}"
INSTANCE_MESSAGES = f"{API}/activity-instances/{{instance_id}}/messages"
INSTANCE_MESSAGE = f"{API}/activity-instances/{{instance_id}}/messages/{{message_id}}"
INSTANCE_CHAT = f"{API}/activity-instances/{{instance_id}}/chat"
PERSONAS = f"{API}/personas"
PERSONA = f"{API}/personas/{{id}}"
PERSONA_DEFAULT = f"{API}/personas/{{id}}/default"

# local extensions served only by the embedded backend
HEALTH = "/health"
LOCAL = f"{API}/local"
LOCAL_INFO = f"{LOCAL}/info"  # engine, version, backend kind
LOCAL_PROMPT = f"{LOCAL}/prompts/{{turn_id}}"  # assembled prompt of a turn (debug)
LOCAL_NPCS = f"{LOCAL}/npcs"  # NPC personas and their machines
LOCAL_NPC = f"{LOCAL}/npcs/{{persona_id}}"  # one NPC persona and its machines
LOCAL_NPC_FORK = f"{LOCAL}/npcs/{{persona_id}}/fork"  # a session forked at turn N
LOCAL_EXTRACTION_PENDING = f"{LOCAL}/memory/pending"  # queued/running extraction jobs (phantom test)
LOCAL_ADMIN = f"{LOCAL}/admin"
