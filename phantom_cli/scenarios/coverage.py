"""``phantom test --coverage``: which transitions of each NPC machine a suite exercised.

Read from the NPC turns' actual values: the state before the turn (the previous turn's state; for
the first turn after opening or a reset, the first entry of ``state_path`` or the machine's
initial state), the transition the backend reports (``transition``, a local extension; else the
one whose decision and target match), and ``redirect_limit_exceeded`` (the state's
``on_redirect_limit``). Machine definitions come from the backend (``GET /local/npcs/{id}``,
local) or the shipped personas; without a definition only what was observed is listed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

REDIRECT_LIMIT = "on_redirect_limit"


@dataclass
class MachineCoverage:
    persona: str
    machine: str
    transitions: list[tuple[str, str, str]] = field(default_factory=list)  # (state, id, to) defined
    hits: Counter[tuple[str, str]] = field(default_factory=Counter)  # (state, id) -> turns
    known: bool = False  # the definition is known

    def covered(self) -> int:
        return sum(1 for s, t, _ in self.transitions if self.hits[(s, t)])

    def to_dict(self) -> dict[str, Any]:
        defined = {(s, t) for s, t, _ in self.transitions}
        rows = [{"state": s, "transition": t, "to": to, "hits": self.hits[(s, t)]} for s, t, to in self.transitions]
        rows += [{"state": s, "transition": t, "to": None, "hits": n, "defined": False}
                 for (s, t), n in sorted(self.hits.items()) if (s, t) not in defined and t != "redirect"]
        return {"persona": self.persona, "machine": self.machine, "known": self.known,
                "covered": self.covered(), "total": len(self.transitions),
                "redirects": sum(n for (_s, t), n in self.hits.items() if t == "redirect"),
                "transitions": rows}


def _definition_from_doc(doc: dict[str, Any]) -> Any:
    from phantom_cli.backend.npc.machine import NpcPersona

    machines = [{k: v for k, v in m.items() if k not in ("outcomes", "unlocked_by", "player")}
                for m in doc.get("machines") or []]
    return NpcPersona.model_validate({"format": doc.get("format", "phantom-npc/1"), "persona": doc["persona"],
                                      "intents": doc.get("intents") or {}, "machines": machines})


async def fetch_definitions(client: Any, persona_ids: set[str]) -> dict[str, Any]:
    """persona id -> NpcPersona, from the backend's local extension or the shipped files."""
    from phantom_cli.client import paths
    from phantom_cli.client._validate import fill

    out: dict[str, Any] = {}
    shipped: dict[str, Any] | None = None
    for pid in sorted(persona_ids):
        try:
            r = await client.request("GET", fill(paths.LOCAL_NPC, persona_id=pid), raise_for_status=False)
            if r.status_code == 200:
                out[pid] = _definition_from_doc(r.json())
                continue
        except Exception:  # noqa: BLE001 - hosted API or an odd answer: fall back below
            pass
        if shipped is None:
            from phantom_cli.backend.npc.machine import shipped_personas

            shipped = shipped_personas()
        if pid in shipped:
            out[pid] = shipped[pid]
    return out


class Coverage:
    def __init__(self, definitions: dict[str, Any] | None = None) -> None:
        self.definitions = definitions or {}
        self.machines: dict[tuple[str, str], MachineCoverage] = {}

    def _machine(self, persona_id: str, machine_id: str) -> MachineCoverage:
        key = (persona_id, machine_id)
        mc = self.machines.get(key)
        if mc is None:
            mc = MachineCoverage(persona_id, machine_id)
            p = self.definitions.get(persona_id)
            m = p.machine(machine_id) if p is not None else None
            if m is not None:
                mc.known = True
                for sname, st in m.states.items():
                    for t in st.transitions:
                        mc.transitions.append((sname, t.id, t.to or sname))
                    if st.on_redirect_limit is not None:
                        mc.transitions.append((sname, REDIRECT_LIMIT, st.on_redirect_limit.to))
            self.machines[key] = mc
        return mc

    def declare(self, persona_id: str, machine_id: str | None) -> None:
        """List a machine the suite targets, even if no turn of it succeeds."""
        p = self.definitions.get(persona_id)
        mid = machine_id or (p.primary_machine if p is not None else None)
        if mid:
            self._machine(persona_id, mid)

    def add(self, scenario: Any, result: Any) -> None:
        t = scenario.target
        if t.kind != "npc" or not result.steps:
            return
        p = self.definitions.get(t.id)
        prev: str | None = None
        for sr in result.steps:
            if sr.kind == "reset":
                prev = None
                continue
            if sr.kind != "say":
                continue
            a = sr.actual or {}
            status = a.get("status", 200)
            if not isinstance(status, int) or status >= 400 or a.get("state") is None:
                continue
            mid = a.get("machine_id") or t.machine or (p.primary_machine if p is not None else "?")
            m = p.machine(mid) if p is not None else None
            frm = prev
            if frm is None:
                path = a.get("state_path")
                frm = path[0] if isinstance(path, list) and path else (m.initial_state if m else "?")
            to = str(a["state"])
            tid = self._transition(m, frm, to, a)
            self._machine(t.id, mid).hits[(frm, tid)] += 1
            prev = to

    @staticmethod
    def _transition(m: Any, frm: str, to: str, a: dict[str, Any]) -> str:
        if a.get("redirect_limit_exceeded"):
            return REDIRECT_LIMIT
        tid = a.get("transition")
        decision = a.get("decision")
        if isinstance(tid, str) and tid:
            return tid
        if decision == "redirect":
            return "redirect"
        if m is not None and frm in m.states:
            for t in m.states[frm].transitions:
                if t.decision == decision and (t.to or frm) == to:
                    return t.id
        return f"{decision}->{to}"

    def to_dict(self) -> dict[str, Any]:
        ms = [mc.to_dict() for _k, mc in sorted(self.machines.items())]
        covered = sum(m["covered"] for m in ms)
        total = sum(m["total"] for m in ms)
        return {"machines": ms, "covered": covered, "total": total,
                "percent": round(100.0 * covered / total, 1) if total else None}

    def table(self) -> str:
        """Plain text: per machine, every transition with its hits, and the covered fraction."""
        out: list[str] = []
        for (pid, mid), mc in sorted(self.machines.items()):
            d = mc.to_dict()
            pct = f"{100.0 * d['covered'] / d['total']:.0f}%" if d["total"] else "n/a"
            head = f"{pid} / {mid}: {d['covered']}/{d['total']} transitions ({pct})"
            if not mc.known:
                head = f"{pid} / {mid}: definition unknown; transitions seen:"
            out.append(head)
            rows = d["transitions"]
            w1 = max([len(r["state"]) for r in rows] + [5])
            w2 = max([len(r["transition"]) for r in rows] + [10])
            for r in rows:
                mark = "ok" if r["hits"] else "--"
                to = f"-> {r['to']}" if r["to"] else "(not in the machine)"
                out.append(f"  {mark} {r['state']:<{w1}}  {r['transition']:<{w2}}  {to:<24} {r['hits']}")
        return "\n".join(out)
