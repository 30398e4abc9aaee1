"""The layout shows the architecture (ARCHITECTURE.md, "Python layout"): packages by capability,
no import circle, the domain free of its transports, modules of a readable size. Read off the
source with `ast`, so a lazy import inside a function counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("idm", "webui", "idm_cli")
TRANSPORTS = ("flask", "flask_babel", "flask_wtf", "flask_limiter", "flask_talisman", "werkzeug", "jinja2",
              "wtforms", "click", "rich", "gunicorn")
PUBLIC_ERRORS = {"IdmError", "InvalidInput", "NotFound", "PermissionDenied", "AuthenticationFailed",
                 "DirectoryUnavailable", "ConstraintViolation", "AlreadyExists"}
MAX_LINES = 400  # a module past this holds more than one thing (STYLE.md: 100-300 for a domain module)


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def imports_of(path: Path) -> set[str]:
    """Every module named by an import anywhere in the file (`from a import b` is a.b when b is
    a module, else a)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{alias.name}" for alias in node.names]
            modules = [s for s in subs if s in MODULES]
            found.update(modules)
            if len(modules) < len(subs):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_no_import_circle() -> None:
    edges = {m: {i for i in imports_of(p) if i in MODULES and i != m} for m, p in MODULES.items()}
    assert _cycles(edges) == []


def test_the_domain_has_few_top_level_modules_and_packages_by_capability() -> None:
    top = sorted(p.name for p in (ROOT / "idm").glob("*.py"))
    assert len(top) <= 8, top
    packages = {p.name for p in (ROOT / "idm").iterdir() if (p / "__init__.py").is_file()}
    assert {"rules", "directory", "tree", "identity", "filing", "oversight", "auth", "pki", "bulk",
            "ops"} <= packages


def test_the_domain_knows_nothing_of_its_transports() -> None:
    wrong = {m: sorted(i for i in imports_of(p) if i.split(".")[0] in (*TRANSPORTS, "webui", "idm_cli"))
             for m, p in MODULES.items() if m.startswith("idm.") or m == "idm"}
    assert {m: i for m, i in wrong.items() if i} == {}


def test_modules_stay_small() -> None:
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in MODULES.items()}
    assert {m: n for m, n in sizes.items() if n > MAX_LINES} == {}


def _calls(path: Path) -> set[str]:
    """`module.function` for every call of a function through a module name in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                isinstance(node.func.value, ast.Name):
            found.add(f"{node.func.value.id}.{node.func.attr}")
    return found


def test_only_the_pipeline_checks_a_form() -> None:
    """Every admin operation runs through `idm.pipeline`; nothing else calls the form check."""
    checking = {m for m, p in MODULES.items() if m != "idm.filing.fit"
                and ("idm.filing.fit" in imports_of(p) and _calls(p) & {"fit.received", "fit.check"})}
    assert checking == {"idm.pipeline"}


def test_one_web_module_opens_directory_sessions() -> None:
    """Views call `idm` functions only; the request's sessions are opened by `webui.acting`."""
    direct = {m for m, p in MODULES.items() if m.startswith("webui")
              and any(i == "ldap" or i.startswith(("ldap.", "idm.directory")) for i in imports_of(p))}
    assert direct <= {"webui.acting"}


def test_one_error_boundary_in_the_web_ui() -> None:
    """Public errors become pages and messages in `webui.errors` alone. The exceptions are the
    four forms that show their own refusal beside what was typed, and catch only that: the
    sign-in, the second factor, the new password, and a form filled in online (its values, an
    ID number among them, are not carried in a cookie through a redirect)."""
    catching = {}
    for m, p in MODULES.items():
        if not m.startswith("webui") or m == "webui.errors":
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                names = {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)}
                if names & PUBLIC_ERRORS:
                    catching.setdefault(m, set()).update(names)
    assert catching == {"webui.auth": {"AuthenticationFailed"},
                        "webui.mfa": {"InvalidInput", "AuthenticationFailed"},
                        "webui.account": {"InvalidInput", "AuthenticationFailed"},
                        "webui.form_views": {"InvalidInput"}}


def test_no_bind_that_holds_the_gil() -> None:
    """python-ldap 3.4's interactive SASL bind is its one call that keeps the GIL while it waits:
    a slapd holding it unanswered froze the keeper whole (tests/test_keeper.py). Every EXTERNAL
    bind goes through `idm.directory.connection.external_bind`, and none is interactive."""
    callers = sorted(str(p.relative_to(ROOT)) for p in [*MODULES.values(), *(ROOT / "benches").rglob("*.py")]
                     for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
                     if isinstance(node, ast.Attribute) and node.attr.endswith("interactive_bind_s"))
    assert callers == []
