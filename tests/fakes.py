"""Local fake mail providers: real HTTP on 127.0.0.1, state kept, faults injectable.

Each fake implements the endpoints the adapters use, with the semantics providers.md
describes (MailerLite cannot reactivate; Mailchimp keeps status on status_if_new and refuses
forgotten addresses; Brevo's batch only updates and DELETE drops the blocklist). Every request
is logged for contract checks. ``faults`` is a queue applied to the next requests: an int
status, a (status, headers) pair, "timeout", "reset", "badjson" or "slow" (answers normally
after ``stall`` seconds).

``limits = True`` makes a fake enforce its provider's published rate limits and answer 429
the way that provider documents (see ``_limited``); off by default so the suite stays fast.
``clock`` is the time the limits are counted in (tests share a virtual one with the adapter).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask import Flask
from flask import Response
from flask import g
from flask import request
from werkzeug.serving import make_server


@dataclass
class Fake:
    """State and controls of one fake provider."""

    name: str
    url: str = ""
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    forgotten: set[str] = field(default_factory=set)
    log: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Any] = field(default_factory=list)
    #: Mailchimp's abuse reports (spam complaints), as its API lists them
    abuse_reports: list[dict[str, Any]] = field(default_factory=list)
    #: Brevo's import processes by id, and the seconds before one is processed (None: only
    #: when the test calls finish_imports); 0 processes at once
    processes: dict[int, dict[str, Any]] = field(default_factory=dict)
    import_delay: float | None = 0.0
    #: seconds a "timeout" fault stalls (longer than the adapter's timeout)
    stall: float = 2.0
    #: enforce the provider's published rate limits (see _limited)
    limits: bool = False
    clock: Callable[[], float] = time.monotonic
    #: 429s answered because of ``limits``, by bucket
    throttled: dict[str, int] = field(default_factory=dict)
    #: fixed windows: bucket -> [window start, requests counted]
    windows: dict[str, list[float]] = field(default_factory=dict)
    inflight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def status(self, email: str) -> str | None:
        """The provider-side status of an address (None when absent)."""
        c = self.contacts.get(email.lower())
        return c["status"] if c else None


def _fault(fake: Fake) -> Response | None:
    if not fake.faults:
        return None
    fault = fake.faults.pop(0)
    if fault == "timeout":
        time.sleep(fake.stall)
        return Response("{}", 200, mimetype="application/json")
    if fault == "slow":
        time.sleep(fake.stall)
        return None  # then answer normally
    if fault == "reset":
        raise ConnectionResetError  # werkzeug drops the connection without an answer
    if fault == "badjson":
        return Response("<html>gateway</html>", 200, mimetype="application/json")
    status, headers = (fault, {}) if isinstance(fault, int) else fault
    return Response(
        json.dumps({"message": "injected"}), status, headers=headers, mimetype="application/json"
    )


# --- published rate limits ------------------------------------------------------------------


def _count(fake: Fake, bucket: str, calls: int, seconds: float) -> tuple[bool, int, float]:
    """Count a request in a fixed window; (allowed, remaining, seconds to the window's reset)."""
    now = fake.clock()
    window = fake.windows.get(bucket)
    if window is None or now >= window[0] + seconds:
        window = fake.windows[bucket] = [now, 0]
    reset = window[0] + seconds - now
    if window[1] >= calls:
        fake.throttled[bucket] = fake.throttled.get(bucket, 0) + 1
        return False, 0, reset
    window[1] += 1
    return True, int(calls - window[1]), reset


def _mailerlite_limits(fake: Fake, body: Any) -> tuple[Response | None, dict[str, str]]:
    # developers.mailerlite.com/getting-started, "Rate limits": 120 requests a minute; over
    # it 429 {"message": "Too Many Attempts."} with X-RateLimit-Limit, X-RateLimit-Remaining
    # and Retry-After. /api/batching, "Rate limits": a batch made only of POST api/subscribers
    # is an import, 5 a minute, over it 429 {"message": "You're being rate limited on import
    # creation."} - the page shows no headers, so none are sent.
    ok, remaining, reset = _count(fake, "global", 120, 60.0)
    headers = {"X-RateLimit-Limit": "120", "X-RateLimit-Remaining": str(remaining)}
    if not ok:
        headers["Retry-After"] = str(max(1, math.ceil(reset)))
        return _ok({"message": "Too Many Attempts."}, 429), headers
    items = body.get("requests") if request.path == "/api/batch" and body else None
    upsert = ("POST", "api/subscribers")
    if items and all((r.get("method"), r.get("path")) == upsert for r in items):
        ok, _, _ = _count(fake, "import", 5, 60.0)
        if not ok:
            return _ok({"message": "You're being rate limited on import creation."}, 429), {}
    return None, headers


def _brevo_limits(fake: Fake) -> tuple[Response | None, dict[str, str]]:
    # developers.brevo.com/docs/api-limits (general tier): /v3/contacts/* 10 per second and
    # 36,000 per hour, all other endpoints 100 per hour. docs/limit-headers: responses carry
    # x-sib-ratelimit-limit, -remaining and -reset (seconds); no Retry-After is documented.
    # The 429 body's wording is not documented (UNVERIFIED); Brevo's errorModel shape is used.
    if request.path.startswith("/v3/contacts"):
        buckets = [("contacts-s", 10, 1.0), ("contacts-h", 36_000, 3600.0)]
    else:
        buckets = [("other-h", 100, 3600.0)]
    headers: dict[str, str] = {}
    for bucket, calls, seconds in buckets:
        ok, remaining, reset = _count(fake, bucket, calls, seconds)
        if not headers or not ok:
            headers = {
                "x-sib-ratelimit-limit": str(calls),
                "x-sib-ratelimit-remaining": str(remaining),
                "x-sib-ratelimit-reset": str(max(1, math.ceil(reset))),
            }
        if not ok:
            body = {"code": "too_many_requests", "message": "Rate limit exceeded"}
            return _ok(body, 429), headers
    return None, headers


def _mailchimp_limits(fake: Fake) -> Response | None:
    # "limit of 10 concurrent connections for your API key" (mailchimp.com/developer/
    # marketing/guides/run-async-requests-batch-endpoint/); over it 429 TooManyRequests
    # (mailchimp.com/developer/marketing/docs/errors/) as problem+json, without Retry-After
    # or rate-limit headers (none are documented).
    if fake.inflight >= 10:
        fake.throttled["connections"] = fake.throttled.get("connections", 0) + 1
        return Response(
            json.dumps(
                {
                    "type": "https://mailchimp.com/developer/marketing/docs/errors/",
                    "title": "Too Many Requests",
                    "status": 429,
                    "detail": "You have exceeded the limit of 10 simultaneous connections.",
                    "instance": "",
                }
            ),
            429,
            mimetype="application/problem+json",
        )
    fake.inflight += 1
    g.counted = True
    return None


def _limited(fake: Fake, body: Any) -> Response | None:
    """Apply the provider's published limits to this request; a 429 answer, or None."""
    with fake.lock:
        if fake.name == "mailchimp":
            return _mailchimp_limits(fake)
        answer, headers = (
            _mailerlite_limits(fake, body) if fake.name == "mailerlite" else _brevo_limits(fake)
        )
    g.limit_headers = headers
    return answer


def _app(fake: Fake, routes: Any) -> Flask:
    app = Flask(f"fake-{fake.name}")

    @app.before_request
    def record_and_fault() -> Response | None:
        body = request.get_data()
        parsed = json.loads(body) if request.is_json and body else None
        fake.log.append(
            {
                "method": request.method,
                "path": request.path,
                "args": request.args.to_dict(),
                "headers": dict(request.headers),
                "json": parsed,
            }
        )
        # limits first: a stalled request ("slow") holds its Mailchimp connection meanwhile
        answer = _limited(fake, parsed) if fake.limits else None
        return answer if answer is not None else _fault(fake)

    @app.after_request
    def limit_headers(response: Response) -> Response:
        response.headers.update(g.get("limit_headers") or {})
        return response

    @app.teardown_request
    def release(_exc: BaseException | None) -> None:
        if g.get("counted"):
            with fake.lock:
                fake.inflight -= 1

    routes(app, fake)
    return app


def _ok(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status, mimetype="application/json")


# --- MailerLite ----------------------------------------------------------------------------------


def _mailerlite(app: Flask, fake: Fake) -> None:
    def upsert(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        email = body["email"].lower()
        c = fake.contacts.get(email)
        created = c is None
        if created:
            c = fake.contacts[email] = {
                "id": str(10**16 + len(fake.contacts)),
                "email": email,
                "status": "active",
                "groups": [],
                "fields": {},
                "updated_at": "2026-01-01 00:00:00",
            }
        status = body.get("status")
        if status == "unsubscribed":
            c["status"] = "unsubscribed"
            c["unsubscribed_at"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        elif status == "active" and c["status"] != "active":
            pass  # the API cannot reactivate (abuse prevention)
        c["fields"].update(body.get("fields") or {})
        c["groups"] = sorted(set(c["groups"]) | set(body.get("groups") or []))
        return (201 if created else 200), {"data": c}

    @app.post("/api/batch")
    def batch() -> Response:
        reqs = request.get_json()["requests"]
        if len(reqs) > 50:
            return _ok({"message": "too many"}, 422)
        responses = []
        for r in reqs:
            if r["body"].get("email", "").startswith("invalid"):
                responses.append({"code": 422, "body": {"message": "The given data was invalid."}})
                continue
            code, body = upsert(r["body"])
            responses.append({"code": code, "body": body})
        return _ok(
            {
                "total": len(reqs),
                "successful": sum(r["code"] < 300 for r in responses),
                "failed": sum(r["code"] >= 300 for r in responses),
                "responses": responses,
            }
        )

    @app.delete("/api/subscribers/<sid>/groups/<gid>")
    def unassign(sid: str, gid: str) -> Response:
        c = next((c for c in fake.contacts.values() if c["id"] == sid), None)
        if c is None or gid not in c["groups"]:
            return Response(status=404)
        c["groups"].remove(gid)
        return Response(status=204)

    @app.get("/api/subscribers/<key>")
    def get(key: str) -> Response:
        c = fake.contacts.get(key.lower()) or next(
            (c for c in fake.contacts.values() if c["id"] == key), None
        )
        return _ok({"data": c}) if c else Response(status=404)

    @app.post("/api/subscribers/<sid>/forget")
    def forget(sid: str) -> Response:
        c = next((c for c in fake.contacts.values() if c["id"] == sid), None)
        if c is None:
            return Response(status=404)
        del fake.contacts[c["email"]]
        fake.forgotten.add(c["email"])
        return _ok(
            {
                "message": "Subscriber data will be completely deleted and forgotten "
                "within 30 days.",
                "data": c,
            }
        )

    @app.get("/api/groups/<gid>/subscribers")
    def group_members(gid: str) -> Response:
        items = [c for c in fake.contacts.values() if gid in c["groups"]]
        return _ok({"data": items[: int(request.args.get("limit", 25))], "meta": {}})

    @app.get("/api/subscribers")
    def listing() -> Response:
        status = request.args.get("filter[status]")
        items = [c for c in fake.contacts.values() if c["status"] == status]
        limit = int(request.args.get("limit", 25))
        start = int(request.args.get("cursor") or 0)
        page = items[start : start + limit]
        nxt = str(start + limit) if start + limit < len(items) else None
        return _ok({"data": page, "meta": {"next_cursor": nxt}})


# --- Mailchimp -----------------------------------------------------------------------------------


def _md5(email: str) -> str:
    return hashlib.md5(email.lower().encode()).hexdigest()  # noqa: S324


def _mailchimp(app: Flask, fake: Fake) -> None:
    def forgotten_error(email: str) -> dict[str, Any]:
        return {
            "email_address": email,
            "error": "Forgotten Email Not Subscribed",
            "error_code": "ERROR_GENERIC",
        }

    def new_member(email: str, status: str) -> dict[str, Any]:
        return {
            "email_address": email,
            "id": _md5(email),
            "status": status,
            "merge_fields": {},
            "last_changed": "2026-01-01T00:00:00+00:00",
        }

    def set_status(c: dict[str, Any], status: str) -> None:
        c["status"] = status
        c["last_changed"] = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())

    @app.post("/3.0/lists/<list_id>")
    def batch(list_id: str) -> Response:
        """Batch subscribe/unsubscribe as documented (shared/specs/mailchimp, postListsId).

        ``status`` is required per member (``status_if_new`` is not part of
        Add_List_Members); an existing member is an ERROR_CONTACT_EXISTS item unless
        ``update_existing``, which overwrites its status.
        """
        body = request.get_json()
        update_existing = bool(body.get("update_existing"))
        errors = []
        for m in body["members"]:
            email = m["email_address"].lower()
            if email in fake.forgotten:
                errors.append(forgotten_error(email))
                continue
            if m.get("status") not in ("subscribed", "unsubscribed", "cleaned", "pending"):
                errors.append(
                    {
                        "email_address": email,
                        "error": "Invalid Resource",
                        "error_code": "ERROR_GENERIC",
                        "field": "status",
                        "field_message": "Schema describes enum, NULL found instead",
                    }
                )
                continue
            c = fake.contacts.get(email)
            if c is None:
                c = fake.contacts[email] = new_member(email, m["status"])
            elif not update_existing:
                errors.append(
                    {
                        "email_address": email,
                        "error": f"{email} is already a list member, do you want to update?",
                        "error_code": "ERROR_CONTACT_EXISTS",
                    }
                )
                continue
            else:
                set_status(c, m["status"])
            c["merge_fields"].update(m.get("merge_fields") or {})
        return _ok(
            {"new_members": [], "updated_members": [], "errors": errors, "error_count": len(errors)}
        )

    @app.put("/3.0/lists/<list_id>/members/<h>")
    def put_member(list_id: str, h: str) -> Response:
        """Add or update: ``status_if_new`` only applies to a new (or archived) member."""
        m = request.get_json()
        email = m["email_address"].lower()
        if _md5(email) != h:
            return _ok({"title": "Invalid Resource", "status": 400}, 400)
        if email in fake.forgotten:
            return _ok({"title": "Forgotten Email Not Subscribed", "status": 400}, 400)
        c = fake.contacts.get(email)
        if c is None:
            status = m.get("status") or m.get("status_if_new")
            if not status:
                return _ok({"title": "Invalid Resource", "status": 400}, 400)
            c = fake.contacts[email] = new_member(email, status)
        elif c["status"] == "archived":
            set_status(c, m.get("status") or m.get("status_if_new") or "subscribed")
        elif "status" in m:
            set_status(c, m["status"])
        c["merge_fields"].update(m.get("merge_fields") or {})
        return _ok(c)

    @app.post("/3.0/lists/<list_id>/members/<h>/actions/delete-permanent")
    def delete_permanent(list_id: str, h: str) -> Response:
        c = next((c for c in fake.contacts.values() if c["id"] == h), None)
        if c is None:
            if any(_md5(e) == h for e in fake.forgotten):
                return Response(
                    json.dumps({"title": "Forgotten Email Not Subscribed", "status": 400}),
                    400,
                    mimetype="application/problem+json",
                )
            return Response(
                json.dumps({"title": "Resource Not Found", "status": 404}),
                404,
                mimetype="application/problem+json",
            )
        del fake.contacts[c["email_address"]]
        fake.forgotten.add(c["email_address"])
        return Response(status=204)

    @app.delete("/3.0/lists/<list_id>/members/<h>")
    def archive(list_id: str, h: str) -> Response:
        c = next((c for c in fake.contacts.values() if c["id"] == h), None)
        if c is None:
            return Response(
                json.dumps({"title": "Resource Not Found", "status": 404}),
                404,
                mimetype="application/problem+json",
            )
        c["status"] = "archived"
        return Response(status=204)

    @app.get("/3.0/lists/<list_id>")
    def list_info(list_id: str) -> Response:
        return _ok({"id": list_id, "name": "Nyhetsbrev"})

    @app.get("/3.0/lists/<list_id>/members")
    def members(list_id: str) -> Response:
        items = [c for c in fake.contacts.values() if c["status"] == request.args["status"]]
        offset, count = int(request.args.get("offset", 0)), int(request.args.get("count", 10))
        return _ok({"members": items[offset : offset + count], "total_items": len(items)})

    @app.get("/3.0/lists/<list_id>/abuse-reports")
    def abuse(list_id: str) -> Response:
        offset, count = int(request.args.get("offset", 0)), int(request.args.get("count", 10))
        reports = fake.abuse_reports
        return _ok({"abuse_reports": reports[offset : offset + count], "total_items": len(reports)})


# --- Brevo ---------------------------------------------------------------------------------------


def _apply_import(fake: Fake, body: dict[str, Any]) -> None:
    """What a completed import does (shared/specs/brevo, requestContactImport).

    Creates missing contacts, updates existing ones' attributes when ``updateExistingContacts``
    (the default), adds them to ``listIds``, and blocklists them only when ``emailBlacklist``
    is true - it never lifts a blocklisting.
    """
    update = body.get("updateExistingContacts", True)
    for item in body["jsonBody"]:
        email = item["email"].lower()
        c = fake.contacts.get(email)
        if c is not None and not update:
            continue
        if c is None:
            c = fake.contacts[email] = {
                "email": email,
                "emailBlacklisted": False,
                "listIds": [],
                "attributes": {},
                "modifiedAt": "2026-01-01T00:00:00+00:00",
            }
        c["attributes"].update(item.get("attributes") or {})
        c["listIds"] = sorted(set(c["listIds"]) | set(body.get("listIds") or []))
        if body.get("emailBlacklist"):
            c["emailBlacklisted"] = True
        c["status"] = "unsubscribed" if c["emailBlacklisted"] else "active"


def finish_imports(fake: Fake, *, now: float | None = None) -> None:
    """Process Brevo imports whose time has come (all of them when ``now`` is None)."""
    for process in sorted(fake.processes.values(), key=lambda p: p["id"]):
        due = process["due"]
        if process["status"] == "completed" or (now is not None and (due is None or due > now)):
            continue
        _apply_import(fake, process.pop("body"))
        process["status"] = "completed"


def _brevo(app: Flask, fake: Fake) -> None:
    @app.before_request
    def run_due_imports() -> None:
        finish_imports(fake, now=time.monotonic())

    @app.post("/v3/contacts/import")
    def import_() -> Response:
        """Accept the import and process it later: 202 with a processId (importContacts)."""
        body = request.get_json()
        pid = len(fake.processes) + 1
        delay = fake.import_delay
        fake.processes[pid] = {
            "id": pid,
            "name": "IMPORTUSER",
            "status": "queued",
            "due": None if delay is None else time.monotonic() + delay,
            "body": body,
        }
        if delay == 0:
            finish_imports(fake, now=time.monotonic())
        return _ok({"processId": pid}, 202)

    @app.get("/v3/processes/<int:pid>")
    def process(pid: int) -> Response:
        p = fake.processes.get(pid)
        if p is None:
            return _ok({"code": "invalid_parameter", "message": "processId is invalid"}, 404)
        return _ok({k: p[k] for k in ("id", "name", "status")})

    @app.post("/v3/contacts/batch")
    def batch() -> Response:
        for item in request.get_json()["contacts"]:
            c = fake.contacts.get(item["email"].lower())
            if c is not None and item.get("emailBlacklisted"):
                c["emailBlacklisted"], c["status"] = True, "unsubscribed"
        return Response(status=204)

    @app.post("/v3/contacts/lists/<int:list_id>/contacts/remove")
    def remove_from_list(list_id: int) -> Response:
        done = []
        for email in request.get_json()["emails"]:
            c = fake.contacts.get(email.lower())
            if c is not None and list_id in c["listIds"]:
                c["listIds"].remove(list_id)
                done.append(email)
        return _ok({"contacts": {"success": done, "failure": []}}, 201)

    @app.delete("/v3/contacts/<identifier>")
    def delete(identifier: str) -> Response:
        c = fake.contacts.pop(identifier.lower(), None)
        if c is None:
            return _ok({"code": "document_not_found", "message": "Contact not found"}, 404)
        fake.forgotten.add(c["email"])
        return Response(status=204)

    @app.get("/v3/contacts/lists/<int:list_id>")
    def list_info(list_id: int) -> Response:
        return _ok({"id": list_id, "name": "Nyhetsbrev", "totalSubscribers": len(fake.contacts)})

    @app.get("/v3/contacts")
    def listing() -> Response:
        items = list(fake.contacts.values())
        offset, limit = int(request.args.get("offset", 0)), int(request.args.get("limit", 50))
        return _ok({"contacts": items[offset : offset + limit], "count": len(items)})


# --- Paloma --------------------------------------------------------------------------------------
#
# The documented shapes only (integrations/paloma.py cites them): HTTP Basic auth with the
# account id and API hash; ``GET api/contactfield`` lists {FieldKey, IsPrimaryField,
# TranslatedName}; ``GET api/Contact/GetFlatContactByPrimaryFieldValue`` answers the flat
# contact {Id, CustomerId, OwnerId, <FieldKey>: value}; ``POST Api/Contact/RegisterNewContact``
# and ``PUT Api/Contact`` write. Nothing else exists: no unsubscribe, no opt-out listing.
# ``fake.fields`` is the account's contact fields; ``fake.drop_fields`` names fields a write
# silently ignores (to prove the adapter reads back what it wrote).

PALOMA_FIELDS = [
    {"FieldKey": "Email", "IsPrimaryField": True, "TranslatedName": "E-post"},
    {"FieldKey": "FirstName", "IsPrimaryField": False, "TranslatedName": "Förnamn"},
    {"FieldKey": "crm_unsubscribe_url", "IsPrimaryField": False, "TranslatedName": "CRM"},
]


def _paloma(app: Flask, fake: Fake) -> None:
    fake.fields = [dict(f) for f in PALOMA_FIELDS]  # type: ignore[attr-defined]
    fake.drop_fields = set()  # type: ignore[attr-defined]

    @app.before_request
    def basic_auth() -> Response | None:
        auth = request.authorization
        if auth is None or auth.type != "basic" or not auth.username or not auth.password:
            return _ok({"Message": "Authorization has been denied for this request."}, 401)
        return None

    def flat(c: dict[str, Any]) -> dict[str, Any]:
        return {"Id": c["Id"], "CustomerId": 1, "OwnerId": 1, **c["values"]}

    def write(c: dict[str, Any], body: dict[str, Any]) -> None:
        keys = {f["FieldKey"] for f in fake.fields}  # type: ignore[attr-defined]
        for key, value in body.items():
            if key in keys and key not in fake.drop_fields:  # type: ignore[attr-defined]
                c["values"][key] = value

    @app.get("/contacts/api/contactfield")
    def fields() -> Response:
        return _ok(fake.fields)  # type: ignore[attr-defined]

    @app.get("/contacts/api/Contact/GetFlatContactByPrimaryFieldValue")
    def by_primary() -> Response:
        c = fake.contacts.get(request.args.get("primaryFieldValue", "").lower())
        if c is None:
            return _ok({"Message": "Not found"}, 404)
        return _ok(flat(c))

    @app.post("/contacts/Api/Contact/RegisterNewContact")
    def register() -> Response:
        body = request.get_json()
        email = str(body["Email"]).lower()
        c = fake.contacts.setdefault(
            email,
            {"Id": len(fake.contacts) + 1, "values": {}, "lists": [], "status": "active"},
        )
        write(c, body)
        c["lists"] = sorted(set(c["lists"]) | set(body.get("ContactListGuids") or []))
        return _ok(flat(c))

    @app.put("/contacts/Api/Contact")
    def update() -> Response:
        body = request.get_json()
        c = next((c for c in fake.contacts.values() if c["Id"] == body.get("Id")), None)
        if c is None:
            return _ok({"Message": "Not found"}, 404)
        write(c, body)
        return _ok(flat(c))


ROUTES = {
    "mailerlite": (_mailerlite, "/api"),
    "mailchimp": (_mailchimp, "/3.0"),
    "brevo": (_brevo, "/v3"),
    "paloma": (_paloma, "/contacts"),
}


@contextmanager
def serve(name: str) -> Iterator[Fake]:
    """Run a fake provider on a free port of 127.0.0.1 for the duration of the block."""
    fake = Fake(name)
    routes, prefix = ROUTES[name]
    server = make_server("127.0.0.1", 0, _app(fake, routes), threaded=True)
    fake.url = f"http://127.0.0.1:{server.server_port}{prefix}"
    # A short poll interval: shutdown() waits for it, once per test.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        thread.join()
