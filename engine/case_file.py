"""Signed case exports and their offline check (`govflow audit verify-export FILE`).

Three files carry a case, each signed with the server's Ed25519 key (engine/signing.py) and each
carrying the head of the case's audit chain:
- JSON: the whole case plus `format`, `exported_at`, `exported_by` and a `signature` block over the
  canonical JSON of everything else. The file is written in one fixed layout (sorted keys, two-space
  indent), so a changed byte is caught even where it would not change the parsed content.
- CSV: the whole case in one file: a comment line that names the case, what it holds, the signature and
  the chain head (`# case ID (...), N events, T tasks, C comments, signed Ed25519 PUBLIC_KEY SIGNATURE,
  chain head HASH`), then one section per part, each under a `# section NAME` line: `instance` and
  `definition` as field,value rows (the BPMN by its sha256), then the tables `tasks`, `events` (with
  their hashes) and `comments`. The signature covers the whole file as it would read with the SIGNATURE
  left empty; an older export (events only, no sections) is still read.
- HTML: the printable case file; its last line is `<!-- govflow-signature {...} -->` over every byte above
  it, and it embeds the JSON case so the chain can be replayed from the file alone.

The check recomputes the signature, requires the signing key to be the trusted one, and replays the
exported events' hash chain up to the carried head.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field

from engine.audit import canonical_json, chain_hash, exported_fields
from engine.signing import ExportKey, key_id, signature_holds

FORMAT = "govflow-case-export/1"
CSV_SIGNED = re.compile(r", signed Ed25519 (?P<key>[A-Za-z0-9+/=]+) (?P<value>[A-Za-z0-9+/=]*)(?=, chain head )")
HTML_SIGNATURE, HTML_SIGNATURE_END = "<!-- govflow-signature ", " -->"
EMBED_START = '<script type="application/json" id="govflow-case">'
EMBED_END = "</script>"
CSV_FIRST_LINE = re.compile(r"^# case (?P<id>\S+) .*, chain head (?P<head>[0-9a-f]*)$")
CSV_COUNTS = re.compile(r", (?P<events>\d+) events, (?P<tasks>\d+) tasks, (?P<comments>\d+) comments,")
SECTION = "# section "
CSV_SECTIONS = ("instance", "definition", "tasks", "events", "comments")
EVENT_COLUMNS = ("seq", "at", "actor", "role", "org_unit", "action", "element_id", "data", "prev_hash", "hash")


def json_layout(document: dict) -> bytes:
    """The one layout a JSON export is written in."""
    return (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def signed_json(case: dict, key: ExportKey, exported_by: str, exported_at: str) -> bytes:
    document = case | {"format": FORMAT, "exported_by": exported_by, "exported_at": exported_at}
    document["signature"] = key.sign(canonical_json(document).encode())
    return json_layout(document)


def _signed_text(text: str, key: ExportKey, opening: str, closing: str) -> bytes:
    body = (text if text.endswith("\n") else text + "\n").encode()
    return body + f"{opening}{canonical_json(key.sign(body))}{closing}\n".encode()


def case_csv(case: dict) -> str:
    """The whole case (`views.case_export`) as one CSV text in sections; the first line names the chain head."""
    instance, definition = case["instance"], case["definition"]
    tasks, events, comments = case["tasks"], case["events"], case["comments"]
    out = io.StringIO()
    out.write(
        f"# case {instance['id']} ({instance['process_key']} v{instance['version']}), {len(events)} events, "
        f"{len(tasks)} tasks, {len(comments)} comments, chain head {case['chain_head']}\n"
    )
    writer = csv.writer(out, lineterminator="\n")
    reference = {k: v for k, v in definition.items() if k != "bpmn_xml"}  # the BPMN by its hash
    for name, fields in (("instance", instance), ("definition", reference)):
        writer.writerow([SECTION + name])
        writer.writerows([("field", "value"), *((k, _cell(v)) for k, v in fields.items())])
    writer.writerow([SECTION + "tasks"])
    _table(writer, tasks)
    writer.writerow([SECTION + "events"])
    writer.writerow(EVENT_COLUMNS)
    for e in events:
        actor = e["actor"]
        writer.writerow(
            [e["seq"], e["at"], actor["username"], actor["role"], actor["org_unit"], e["action"], e["element_id"]]
            + [_cell(e["data"]), e["prev_hash"], e["hash"]]
        )
    writer.writerow([SECTION + "comments"])
    _table(writer, comments)
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    return (
        value
        if isinstance(value, str)
        else json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    )


def _table(writer: csv.writer, records: list[dict]) -> None:
    if records:
        writer.writerow(list(records[0]))
        writer.writerows([_cell(v) for v in record.values()] for record in records)


def csv_sections(text: str) -> dict[str, list[dict]] | None:
    """The sections of a CSV export's body (after its first line), each a list of rows by column name;
    None for an older export without sections (its body is the events table alone)."""
    sections: dict[str, list[list[str]]] = {}
    current = None
    for row in csv.reader(io.StringIO(text)):
        if len(row) == 1 and row[0].startswith(SECTION):
            current = sections.setdefault(row[0][len(SECTION) :], [])
        elif current is not None:
            current.append(row)
        elif row:
            return None
    return {name: [dict(zip(rows[0], row, strict=False)) for row in rows[1:]] for name, rows in sections.items()}


def signed_csv(text: str, key: ExportKey) -> bytes:
    first, _, rest = text.partition("\n")
    head, _, chain_head = first.rpartition(", chain head ")

    def with_value(value: str) -> bytes:
        return f"{head}, signed Ed25519 {key.public_key} {value}, chain head {chain_head}\n{rest}".encode()

    return with_value(key.sign(with_value(""))["value"])


def signed_html(html: str, key: ExportKey) -> bytes:
    return _signed_text(html, key, HTML_SIGNATURE, HTML_SIGNATURE_END)


def embedded_case(case: dict) -> str:
    """The JSON case as a script element of the HTML file (no `</script>` can occur inside it)."""
    text = json.dumps(case, ensure_ascii=False, sort_keys=True).replace("<", "\\u003c")
    return f"{EMBED_START}{text}{EMBED_END}"


@dataclass
class ExportCheck:
    kind: str
    instance_id: str | None = None
    events: int = 0
    chain_head: str | None = None
    key_id: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "kind": self.kind,
            "instance_id": self.instance_id,
            "events": self.events,
            "chain_head": self.chain_head,
            "key_id": self.key_id,
            "problems": self.problems,
        }


def verify_export(data: bytes, trusted_key: str | None) -> ExportCheck:
    """Check an export file: its signature, that the trusted key made it, and its events' chain."""
    head = data.lstrip()[:200].lower()
    if head.startswith(b"{"):
        return _check_json(data, trusted_key)
    if head.startswith(b"# case "):
        return _check_csv(data, trusted_key)
    if head.startswith(b"<!doctype html"):
        return _check_html(data, trusted_key)
    return ExportCheck("unknown", problems=["This is not a govflow case export (JSON, CSV or HTML case file)."])


def _check_signature(check: ExportCheck, signature: object, signed: bytes, trusted_key: str | None) -> None:
    if not isinstance(signature, dict) or not all(isinstance(signature.get(k), str) for k in ("public_key", "value")):
        check.problems.append("The file carries no signature.")
        return
    check.key_id = key_id(signature["public_key"])
    if not signature_holds(signature["public_key"], signature["value"], signed):
        check.problems.append("The signature does not match the content: the file was changed after it was signed.")
    if trusted_key is None:
        check.problems.append("No trusted public key to check the signer against (give --public-key).")
    elif signature["public_key"] != trusted_key:
        check.problems.append(
            f"The file was signed with key {check.key_id}, not with the trusted key {key_id(trusted_key)}."
        )


def _check_chain(check: ExportCheck, events: list, chain_head: object) -> None:
    check.events = len(events)
    check.chain_head = chain_head if isinstance(chain_head, str) else None
    prev = ""
    for n, event in enumerate(events, start=1):
        try:
            if not isinstance(event, dict) or event.get("seq") != n:
                check.problems.append(f"Event {n} is missing or out of order.")
                return
            if event.get("prev_hash") != prev:
                check.problems.append(f"Event {n}: its prev_hash does not match the event before it.")
                return
            if chain_hash(prev, exported_fields(event)) != event.get("hash"):
                check.problems.append(f"Event {n}: its content does not match its hash (it was changed).")
                return
        except (TypeError, ValueError):
            check.problems.append(f"Event {n} cannot be read.")
            return
        prev = event["hash"]
    if prev != chain_head:
        check.problems.append(f"The events end at hash {prev or '(none)'} but the file's chain head is {chain_head}.")


def _check_json(data: bytes, trusted_key: str | None) -> ExportCheck:
    check = ExportCheck("json")
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        check.problems.append("The file is not valid JSON (it was changed or cut short).")
        return check
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        check.problems.append("This JSON file is not a govflow case export.")
        return check
    check.instance_id = (document.get("instance") or {}).get("id")
    if json_layout(document) != data:
        check.problems.append("The file's bytes differ from the layout it was signed in (it was edited).")
    signature = document.pop("signature", None)
    _check_signature(check, signature, canonical_json(document).encode(), trusted_key)
    events = document.get("events")
    _check_chain(check, events if isinstance(events, list) else [], document.get("chain_head"))
    return check


def _split_signature(data: bytes, opening: str, closing: str) -> tuple[bytes, object]:
    body, _, last = data.rstrip(b"\n").rpartition(b"\n")
    line = last.decode("utf-8", errors="replace")
    if not line.startswith(opening) or not line.endswith(closing):
        return data, None
    try:
        return body + b"\n", json.loads(line[len(opening) : len(line) - len(closing)])
    except ValueError:
        return body + b"\n", None


def _check_csv(data: bytes, trusted_key: str | None) -> ExportCheck:
    check = ExportCheck("csv")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        check.problems.append("The file is not UTF-8 text.")
        return check
    first, _, rest = text.partition("\n")
    signed = CSV_SIGNED.search(first)
    if signed is None:
        _check_signature(check, None, b"", trusted_key)
    else:
        unsigned = first[: signed.start("value")] + first[signed.end("value") :] + "\n" + rest
        signature = {"public_key": signed["key"], "value": signed["value"]}
        _check_signature(check, signature, unsigned.encode(), trusted_key)
    matched = CSV_FIRST_LINE.match(first)
    if matched is None:
        check.problems.append("The first line does not name the case and its chain head.")
        return check
    check.instance_id = matched["id"]
    try:
        sections = csv_sections(rest)
    except csv.Error:
        check.problems.append("The file cannot be read as CSV.")
        return check
    if sections is None:  # an export from before the sections: the events table alone
        rows = list(csv.DictReader(io.StringIO(rest)))
    else:
        rows = sections.get("events", [])
        _check_csv_sections(check, first, sections)
    events = []
    try:
        for row in rows:
            events.append(
                {
                    "stream": matched["id"],
                    "instance_id": matched["id"],
                    "seq": int(row["seq"]),
                    "at": row["at"],
                    "actor": {
                        "username": row["actor"],
                        "role": row["role"] or None,
                        "org_unit": row["org_unit"] or None,
                    },
                    "action": row["action"],
                    "element_id": row["element_id"] or None,
                    "data": json.loads(row["data"]),
                    "prev_hash": row["prev_hash"],
                    "hash": row["hash"],
                }
            )
    except (KeyError, TypeError, ValueError):
        check.problems.append(f"Event {len(events) + 1} cannot be read.")
        return check
    _check_chain(check, events, matched["head"])
    return check


def _check_csv_sections(check: ExportCheck, first: str, sections: dict[str, list[dict]]) -> None:
    """Every part of the case is there, as many rows as the first line says, and the instance is the case."""
    missing = [name for name in CSV_SECTIONS if name not in sections]
    if missing:
        check.problems.append(f"The file lacks the section(s) {', '.join(missing)}.")
    counts = CSV_COUNTS.search(first)
    for part in ("events", "tasks", "comments"):
        if counts is not None and part in sections and len(sections[part]) != int(counts[part]):
            check.problems.append(
                f"The first line counts {counts[part]} {part} but the file holds {len(sections[part])}."
            )
    instance = {row.get("field"): row.get("value") for row in sections.get("instance", [])}
    if "instance" in sections and instance.get("id") != check.instance_id:
        check.problems.append("The instance section is not the case the first line names.")
    definition = {row.get("field"): row.get("value") for row in sections.get("definition", [])}
    if "definition" in sections and not re.fullmatch(r"[0-9a-f]{64}", definition.get("bpmn_sha256") or ""):
        check.problems.append("The definition section does not name the BPMN version by its sha256.")


def _check_html(data: bytes, trusted_key: str | None) -> ExportCheck:
    check = ExportCheck("html")
    body, signature = _split_signature(data, HTML_SIGNATURE, HTML_SIGNATURE_END)
    _check_signature(check, signature, body, trusted_key)
    text = body.decode("utf-8", errors="replace")
    start = text.find(EMBED_START)
    end = text.find(EMBED_END, start + len(EMBED_START)) if start >= 0 else -1
    try:
        case = json.loads(text[start + len(EMBED_START) : end]) if end >= 0 else None
    except ValueError:
        case = None
    if not isinstance(case, dict):
        check.problems.append("The case record embedded in the page is missing or cannot be read.")
        return check
    check.instance_id = (case.get("instance") or {}).get("id")
    events = case.get("events")
    _check_chain(check, events if isinstance(events, list) else [], case.get("chain_head"))
    return check
