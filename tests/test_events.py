"""The audit trail in the owner's words (issue 16 defect 7): every action has a label."""

from __future__ import annotations

import ast
from pathlib import Path

from flask_babel import force_locale

from crm.audit import Actor
from crm.main import events

CRM = Path(__file__).resolve().parent.parent / "crm"


def _action_codes(node: ast.expr | None, constants: dict[str, str]) -> list[str] | None:
    """The codes an ``action`` argument can take, or None when it is not written out.

    A module-level constant (``REFUSED_ACTION = "access.denied"``) counts as written out.
    """
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name) and node.id in constants:
        return [constants[node.id]]
    if isinstance(node, ast.IfExp):
        body = _action_codes(node.body, constants)
        orelse = _action_codes(node.orelse, constants)
        return None if body is None or orelse is None else body + orelse
    return None


def _constants(tree: ast.Module) -> dict[str, str]:
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _is_record_call(path: Path, func: ast.expr) -> bool:
    via_module = (
        isinstance(func, ast.Attribute)
        and func.attr == "record"
        and isinstance(func.value, ast.Name)
        and func.value.id == "audit"
    )
    inside = path.name == "audit.py" and isinstance(func, ast.Name) and func.id == "record"
    return via_module or inside


def _action_arg(call: ast.Call, index: int, keyword: str) -> ast.expr | None:
    if len(call.args) > index:
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def recorded_actions() -> tuple[set[str], list[str]]:
    """Every action code any module in crm/ passes to ``audit.record``, and calls it cannot read.

    A module's own wrapper (``def _audit(session, actor, action, row)`` that passes its
    ``action`` parameter on) is followed to its callers in that module.
    """
    codes: set[str] = set()
    unreadable = []
    for path in sorted(CRM.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        constants = _constants(tree)
        wrappers: dict[str, tuple[int, str]] = {}
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef):
                continue
            params = [a.arg for a in fn.args.args]
            for node in ast.walk(fn):
                if isinstance(node, ast.Call) and _is_record_call(path, node.func):
                    arg = _action_arg(node, 2, "action")
                    if isinstance(arg, ast.Name) and arg.id in params:
                        wrappers[fn.name] = (params.index(arg.id), arg.id)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            if _is_record_call(path, node.func):
                arg = _action_arg(node, 2, "action")
                if isinstance(arg, ast.Name) and any(
                    arg.id == name for _i, name in wrappers.values()
                ):
                    continue  # inside a wrapper: its callers are read instead
            elif isinstance(node.func, ast.Name) and node.func.id in wrappers:
                index, name = wrappers[node.func.id]
                arg = _action_arg(node, index, name)
            else:
                continue
            found = _action_codes(arg, constants)
            if found is None:
                unreadable.append(f"{path.relative_to(CRM.parent)}:{node.lineno}")
            else:
                codes.update(found)
    return codes, unreadable


def test_every_recorded_action_has_a_label() -> None:
    codes, unreadable = recorded_actions()
    assert len(codes) > 50  # the walker finds the calls
    assert unreadable == [], "write the action code out so it can be labelled"
    assert sorted(codes - set(events.ACTIONS)) == []


def test_every_action_belongs_to_a_filter_group() -> None:
    grouped = {code for _p, _g, actions in events.filter_choices() for code, _l in actions}
    assert grouped == set(events.ACTIONS)


def test_details_read_as_words(app) -> None:
    with app.test_request_context(), force_locale("sv"):
        text = events.details_text({"full": True, "kept": [], "providers": [], "corrects": None})
        assert text == "Allt: ja"
        assert events.object_label("user", "1") == "Användare #1"


def test_the_audit_page_shows_labels_and_filters_by_them(app, auth_client, db):
    with app.app_context():
        from crm import audit
        from crm.db import get_session

        s = get_session()
        audit.record(s, Actor.system(), "person.create", object_type="person", object_id=7)
        audit.record(s, Actor.system(), "privacy.restrict", object_type="person", object_id=7)
        s.commit()
    html = auth_client.get("/audit").get_data(as_text=True)
    assert "Loggade in" in html and "auth.login" not in html.split("<table")[1]
    assert "Person tillagd" in html and "Systemet" in html
    assert '<option value="person.create">Person tillagd</option>' in html
    only = auth_client.get("/audit?action=person.create").get_data(as_text=True)
    table = only.split("<table")[1]
    assert "Person tillagd" in table and "Behandling begränsad" not in table
    group = auth_client.get("/audit?action=privacy.").get_data(as_text=True).split("<table")[1]
    assert "Behandling begränsad" in group and "Person tillagd" not in group
