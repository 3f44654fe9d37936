#!/usr/bin/env python3
"""Independent oracle for packages/events/test/oracle.test.ts.

Computes canonical JSON, content hashes, reference hashes, event IDs, redactions and signatures
with the libraries Synapse itself uses (canonicaljson, signedjson, matrix-synapse), so our
TypeScript can be checked against them. Protocol: newline-delimited JSON over stdin/stdout.
  startup  -> {"ready": true, "versions": {...}}  or  {"ready": false, "error": "..."}
  request  <- {"seed": b64, "server": str, "key_id": "ed25519:x", "events": [{"v": "10", "event": {...}}]}
  response -> {"results": [...]} (one entry per event; "error" set if Synapse refused it)
"""
import hashlib
import json
import sys


def emit(obj):
    sys.stdout.write(json.dumps(obj, ensure_ascii=True) + "\n")
    sys.stdout.flush()


try:
    import canonicaljson
    import signedjson
    from canonicaljson import encode_canonical_json
    from signedjson.key import decode_signing_key_base64, get_verify_key
    from signedjson.sign import verify_signed_json
    from unpaddedbase64 import encode_base64

    import synapse
    from synapse.api.room_versions import KNOWN_ROOM_VERSIONS
    from synapse.crypto.event_signing import (
        add_hashes_and_signatures,
        compute_content_hash,
        compute_event_reference_hash,
    )
    from synapse.events import make_event_from_dict

    # Redaction moved to Rust in recent Synapse; older releases had it in Python.
    try:
        from synapse.synapse_rust.events import redact_event_dict as _redact
    except ImportError:  # pragma: no cover - older Synapse
        from synapse.events.utils import prune_event_dict as _redact
except Exception as e:  # noqa: BLE001 - any import failure means "no oracle"
    emit({"ready": False, "error": "%s: %s" % (type(e).__name__, e)})
    sys.exit(0)


def canonical_text(value):
    return encode_canonical_json(value).decode("utf-8")


def check(request):
    key = decode_signing_key_base64("ed25519", request["key_id"].split(":", 1)[1], request["seed"])
    verify_key = get_verify_key(key)
    server = request["server"]
    results = []
    for item in request["events"]:
        rv = KNOWN_ROOM_VERSIONS[item["v"]]
        event = item["event"]
        out = {}
        try:
            out["canonical"] = canonical_text(event)
            out["content_hash"] = encode_base64(compute_content_hash(event, hashlib.sha256)[1])

            redacted = _redact(rv, event)
            # Synapse keeps a few unsigned fields for its own bookkeeping; the spec drops unsigned.
            redacted.pop("unsigned", None)
            out["redacted"] = canonical_text(redacted)

            ev = make_event_from_dict(event, rv)
            out["reference_hash"] = encode_base64(compute_event_reference_hash(ev)[1])
            out["event_id"] = ev.event_id
            out["room_id"] = ev.room_id

            try:
                verify_signed_json(_redact(rv, event), server, verify_key)
                out["verifies"] = True
            except Exception as e:  # noqa: BLE001
                out["verifies"] = False
                out["verify_error"] = str(e)

            fresh = {k: v for k, v in event.items() if k not in ("hashes", "signatures")}
            add_hashes_and_signatures(rv, fresh, server, key)
            out["hashes"] = fresh["hashes"]
            out["signatures"] = fresh["signatures"]
        except Exception as e:  # noqa: BLE001 - report, let the test show the event
            out["error"] = "%s: %s" % (type(e).__name__, e)
        results.append(out)
    return {"results": results}


def main():
    emit(
        {
            "ready": True,
            "versions": {
                "synapse": getattr(synapse, "__version__", "?"),
                "canonicaljson": getattr(canonicaljson, "__version__", "?"),
                "signedjson": getattr(signedjson, "__version__", "?"),
            },
            "room_versions": sorted(KNOWN_ROOM_VERSIONS.keys()),
        }
    )
    # Read bytes and decode ourselves: the locale's stdin encoding may not be UTF-8.
    for raw in sys.stdin.buffer:
        line = raw.decode("utf-8").strip()
        if not line:
            continue
        try:
            emit(check(json.loads(line)))
        except Exception as e:  # noqa: BLE001
            emit({"error": "%s: %s" % (type(e).__name__, e)})


if __name__ == "__main__":
    main()
