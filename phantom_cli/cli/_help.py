"""The one source of every command group's summary and examples (standard library only).

``phantom --help`` lists ``SUMMARIES`` (``main.COMMANDS`` is built from them without importing a
command module); each group's own ``--help`` starts with the same summary (``group_help``), then
its ``DETAILS``, and ends with its ``EXAMPLES`` (``examples``). tests/cli/test_help_text.py
checks that every group agrees and that every example names a real command.
"""

from __future__ import annotations

SUMMARIES: dict[str, str] = {
    "chat": "Chat with a companion, an NPC or an activity (TUI).",
    "playground": "Build a companion request, send it, copy it (TUI).",
    "api": "Call any API path with your key and print the response JSON.",
    "activities": "Browse published activities (characters, scenarios).",
    "instances": "Your activity instances, their messages, streamed chat.",
    "personas": "Your personas: who you are in conversations.",
    "skins": "Character skins (looks) used by generation.",
    "media": "Your media collection, and image/video generation.",
    "scratchpad": "Read and edit a companion's scratchpad (working notes).",
    "npc": "Talk to NPCs: sessions with a state machine, score and outcome.",
    "companion": "Talk to a companion defined by a persona file.",
    "transcripts": "Fork, export, import conversations; print their tree of branches.",
    "auth": "Log in to the hosted API; show, check or forget the key.",
    "config": "Show and change settings, with each value's source.",
    "profile": "Named profiles: backend, base URL and defaults.",
    "serve": "Run the embedded local backend, or manage the background one.",
    "keys": "API keys of the local backend (local extension).",
    "admin": "Author content on the local backend (local only).",
    "test": "Run scenario tests: NPC state, score, outcome, flags, replies.",
}

# What a group's --help says after its summary (the longer explanation, where there is one).
DETAILS: dict[str, str] = {
    "activities": "Activities are published characters and scenarios; starting one creates an "
    "instance ('phantom instances create').",
    "instances": "An instance is a conversation started from an activity.",
    "personas": "Not companion characters: a persona describes you.",
    "scratchpad": "Type companion: one per companion; type conversation: one per conversation.",
    "npc": "Seed 001. The session id defaults to one derived from the profile and its player "
    "name, so init and later say calls meet in the same session. lint, graph and walk read a "
    "machine file (phantom-npc/1) for its author.",
    "companion": "The conversation is kept locally per chat id.",
    "transcripts": "ID is a companion chat_id, an NPC session id (user_session_id) or an "
    "instance id; --kind chooses when it names more than one. Formats: docs/transcripts.md.",
    "auth": "Store, check, show or forget the API key of a profile.",
    "config": "Settings live in config.toml; 'list' shows each value's source.",
    "profile": "Which backend, base URL and defaults to use.",
    "serve": "In the foreground, or in the background (start, stop, status).",
    "admin": "Import/export character cards, publish activities, import skins and NPC personas.",
    "test": "Scenario files are phantom-scenario/1; they check NPC state, score, outcome, companion "
    "flags and replies. 'phantom test SUITE' is 'phantom test run SUITE' (options: phantom test "
    "run --help).",
    "keys": "Minting, listing and revoking keys needs a key with the 'admin' scope (the owner key "
    "written at first start has it).",
}

# Shown at the end of a group's --help.
EXAMPLES: dict[str, str] = {
    "chat": "Examples: phantom chat; phantom chat --npc abc123; phantom chat --persona luna.toml; "
    "phantom chat --activity act_luna",
    "playground": "Example: phantom playground --persona luna.toml",
    "api": "Example: phantom api GET /api/v1/skins -f limit=5",
    "activities": "Examples: phantom activities list --companion --featured; "
    "phantom activities get act_luna",
    "instances": 'Examples: phantom instances create act_luna; phantom instances chat inst_123 "Hi"',
    "personas": 'Examples: phantom personas list; phantom personas create "Ash" --gender non-binary',
    "skins": "Examples: phantom skins list --gender female; phantom skins get skin_1",
    "media": "Examples: phantom media list --type image; phantom media generate image --skin skin_1 "
    "--category portrait --wait",
    "scratchpad": "Examples: phantom scratchpad get --companion luna; "
    "phantom scratchpad edit --companion luna",
    "npc": "Examples: phantom npc init abc123; phantom npc say abc123 'How much?'; "
    "phantom npc history abc123; phantom npc fork abc123 --at 1 --as try-again; "
    "phantom npc lint merchant.json; phantom npc walk merchant.json --to deal_struck -o deal.yaml",
    "companion": "Examples: phantom companion say -P luna.toml 'Hi!'; "
    "phantom companion transcript -P luna.toml",
    "transcripts": "Examples: phantom transcripts export luna --format sillytavern -o luna.jsonl; "
    "phantom transcripts fork luna --at 2 --as luna-alt; phantom transcripts tree luna; "
    "phantom transcripts import chat.jsonl --as companion",
    "auth": 'Examples: phantom auth login; echo "$KEY" | phantom --profile prod auth login; '
    "phantom auth status",
    "config": "Examples: phantom config list; phantom config set player_name Ash; "
    "phantom config get engine",
    "profile": "Examples: phantom profile add staging --url https://staging.example; "
    "phantom profile use staging; phantom profile list",
    "serve": "Examples: phantom serve --port 0; phantom serve --engine scripted --idle-timeout 0; "
    "phantom serve status",
    "keys": "Examples: phantom keys create --user alice; phantom keys create --user ops --scope admin; "
    "phantom keys list; phantom keys revoke key_123",
    "admin": "Examples: phantom admin activities; phantom admin import-card mira.png; "
    "phantom admin publish act_123",
    "test": "Examples: phantom test examples/scenarios; phantom test s.yaml -k 'merchant and not "
    "vault' -j 4 --junit out.xml; phantom test schema > scenario.schema.json; phantom test record "
    "--npc abc123 -o s.yaml; phantom test compare s.yaml -p local -p hosted. Exit codes: 0 all "
    "passed, 1 a scenario failed, 2 bad scenario file or usage, 130 interrupted.",
}


def group_help(name: str) -> str:
    """The ``help=`` of the group ``name``: its summary, then its details (if any)."""
    detail = DETAILS.get(name)
    return SUMMARIES[name] + (f"\n\n{detail}" if detail else "")


def examples(name: str) -> str:
    """The ``epilog=`` of the group ``name``."""
    return EXAMPLES[name]
