"""Web UI under load: sign-in, an authenticated account list, the form list over 5,000 forms,
the audit page over 20,000 log records and a password change, each with 20 concurrent clients
against gunicorn, compared with a hello-world route (/healthz) served by the same gunicorn in the
same run. Prints p50/p95 latency and requests/s, and the ratios.

    .venv/bin/python benches/web.py [--clients 20] [--seconds 10] [--workers 4] [--forms 5000]
                                    [--log 20000] [--national DATA_DIR]

Both modes also time the pages each role opens daily: the console of the unit's system admin
(its tree with counts), a county's account list, the audit view, the form list and an open
review campaign. `--national DATA_DIR` runs them on a data folder that holds the national set
(`scripts/gen-national.py`, loaded offline; docs/performance.md, "The console at national
size"): the province's console over its cities, universities and their counts, a county there.

The forms are recorded by the city's system admin through the toolkit (each one a log record
too) and the rest of the log is sign-in events on the admins' entries, written as the web UI
writes them: all of it is what the city's auditor reads.

Everything runs on this machine: a temporary slapd (nist profile, so passwords can be changed
back to back), gunicorn on loopback, and the clients as threads of this script. Sign-in rate
limits are switched off for the run (IDM_WEB_NO_RATELIMIT=1).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

from idm.auth import signin
from idm.config import Settings, new_settings
from idm.directory import lookup
from idm.filing import forms
from idm.filing.fields import FormData
from idm.ops import bootstrap, embedded
from idm.rules import actor as actors

ROOT = Path(__file__).resolve().parents[1]
PASSWORDS = ("Bench-Alpha-Grass-1", "Bench-Beta-River-2")


class Client:
    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as r:
            return r.read().decode()

    def post(self, path: str, data: dict[str, str]) -> str:
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', self.get(path))
        body = urllib.parse.urlencode({**data, "csrf_token": token.group(1) if token else ""}).encode()
        with self.opener.open(self.base + path, body, timeout=30) as r:
            return r.read().decode()


def run(clients: list[Client], action, seconds: float) -> tuple[list[float], float]:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def loop(i: int, client: Client) -> None:
        n = 0
        while time.monotonic() < stop:
            t = time.perf_counter()
            action(i, n, client)
            with lock:
                latencies.append(time.perf_counter() - t)
            n += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(i, cl)) for i, cl in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, len(latencies) / (time.perf_counter() - started)


def make_admin(settings: Settings, node: str, uid: str, role: str) -> str:
    dn = f"uid={uid},ou=admins,{node}"
    with c.ops(settings) as session:
        if session.get(dn, ["1.1"]) is None:  # a national folder keeps them from an earlier run
            session.add(dn, {"objectClass": ["idmAdminAccount"], "uid": [uid], "cn": ["压测"], "sn": ["压"],
                             "idmStatus": ["active"], "idmAdminRole": [role], "idmScope": [node]})
        session.set_password(dn, PASSWORDS[0])
        session.replace(dn, {"pwdReset": []})
    return dn


def fill_log(settings: Settings, admin: str, county: str, how_many_forms: int, records: int) -> None:
    """`how_many_forms` forms recorded by the admin, then sign-in events up to `records` in all."""
    def record_forms(part: range) -> None:
        with signin.admin_session(settings, admin) as session:
            actor = actors.load(session)
            for i in part:
                forms.add(session, actor, FormData(kind="registration", unit=county, name="压测",
                                                   id_number=c.id_number(500_000 + i), mobile="13900000000"))

    def sign_ins(part: range) -> None:
        with lookup.service_session(settings.ldap_uri, settings.suffix, settings.secrets_dir) as session:
            for i in part:
                session.replace(admin, {"idmSignIn": [f"signin-web 10.0.{i // 250 % 250}.{i % 250 + 1}"]})

    threads = 4
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(record_forms, [range(k, how_many_forms, threads) for k in range(threads)]))
        events = max(0, records - how_many_forms)
        list(pool.map(sign_ins, [range(k, events, threads) for k in range(threads)]))
    print(f"recorded {how_many_forms} forms and {max(0, records - how_many_forms)} sign-in events "
          f"in {time.perf_counter() - started:.0f}s", file=sys.stderr)


def start_web(settings: Settings, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = c.free_port()
    env = {**os.environ, "IDM_DATA_DIR": str(settings.data_dir), "IDM_WEB_INSECURE_COOKIES": "1",
           "IDM_WEB_NO_RATELIMIT": "1"}
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--threads", "4", "--log-level", "warning",
         "webui:create_app()"], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    return gunicorn, base


def daily_pages(settings: Settings, base: str, top: str, county: str, clients: int,
                seconds: float) -> dict[str, tuple[list[float], float]]:
    """The pages each role opens daily, each with `clients` signed-in clients: the system admin
    of `top` (its console), of `county` (its account list, form list, review campaign), and
    `top`'s auditor (the audit view). The admins are made here; the county's campaign is opened."""
    from idm.oversight import reviews

    code = county.split(",")[0].split("=")[1]
    make_admin(settings, top, "day.sys", "sysadmin")
    make_admin(settings, top, "day.audit", "auditor")
    county_admin = make_admin(settings, county, "dayc.sys", "sysadmin")
    with signin.admin_session(settings, county_admin) as session:
        actor = actors.load(session)
        if not any(cp.status != "closed" for cp in reviews.list_campaigns(session, code)):
            reviews.open_campaign(session, actor, code)
    hello = [Client(base) for _ in range(clients)]
    out = {"hello (/healthz)": run(hello, lambda i, n, cl: cl.get("/healthz"), seconds)}
    for uid, label, path, expect in (
            ("day.sys", "console (tree, counts)", "/admin/", "管理控制台"),
            ("dayc.sys", "county account list", f"/admin/users?unit={code}", "</table>"),
            ("dayc.sys", "county form list", "/admin/forms/", "申请单"),
            ("dayc.sys", "review campaign", "/admin/reviews/", "核查"),
            ("day.audit", "audit view", "/admin/audit/", "审计")):
        signed = [Client(base) for _ in range(clients)]
        for cl in signed:
            cl.post("/login", {"uid": uid, "password": PASSWORDS[0]})
        page = signed[0].get(path)
        assert expect in page, (label, page[:300])
        out[label] = run(signed, lambda i, n, cl, p=path: cl.get(p), seconds)  # type: ignore[misc]
    return out


def national(args: argparse.Namespace) -> None:
    """The daily pages on a data folder holding the national set, against hello in the same run."""
    from idm.config import load_settings
    from idm.tree import org

    settings = load_settings(Path(args.national))
    started = embedded.start(settings)
    gunicorn = None
    try:
        with c.ops(settings) as session:
            bootstrap.service_accounts(session, settings.secrets_dir)
            province = org.find(session, "150000")
            cities = org.children(session, province.dn)
            city = next(n for n in cities if n.level == "city")
            county = next(n for n in org.children(session, city.dn) if n.level == "county")
            below = len(cities)
        gunicorn, base = start_web(settings, args.workers)
        results = daily_pages(settings, base, province.dn, county.dn, args.clients, args.seconds)
    finally:
        if gunicorn:
            gunicorn.terminate()
            gunicorn.wait()
        if started:
            embedded.stop(settings)
    print(f"national set in {settings.data_dir}: the province 150000 with {below} units below it; "
          f"county {county.code}")
    report(args, results)


def report(args: argparse.Namespace, results: dict[str, tuple[list[float], float]]) -> None:
    hello_rps = results["hello (/healthz)"][1]
    print(f"{args.clients} concurrent clients, {args.seconds:.0f}s each, "
          f"gunicorn {args.workers} workers x 4 threads")
    print(f"{'':28}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>9}{'vs hello':>10}")
    for name, (lat, rps) in results.items():
        if not lat:
            print(f"{name:28}{'none answered within the run':>37}")
            continue
        q = statistics.quantiles(lat, n=20) if len(lat) > 1 else lat * 19
        p50, p95 = statistics.median(lat) * 1000, q[18] * 1000
        print(f"{name:28}{p50:9.1f}{p95:9.1f}{rps:9.1f}{rps / hello_rps:10.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--forms", type=int, default=5000, help="forms in the form list")
    parser.add_argument("--log", type=int, default=20000, help="log records the auditor may read")
    parser.add_argument("--national", default=None, help="a data folder holding the national set")
    args = parser.parse_args()
    if args.national:
        national(args)
        return
    with tempfile.TemporaryDirectory(prefix="idm-web-bench-") as tmp:
        settings = new_settings(Path(tmp) / "idm", port=c.free_port(), password_profile="nist")
        embedded.init(settings)
        embedded.start(settings)
        gunicorn = None
        try:
            counties = c.load_tree(settings)
            with c.ops(settings) as session:
                bootstrap.service_accounts(session, settings.secrets_dir)
                users = []
                for i in range(args.clients):
                    dn = f"uid=web{i:03d},ou=people,{counties[0]}"
                    session.add(dn, {"objectClass": ["idmBusinessAccount"], "uid": [f"web{i:03d}"],
                                     "cn": ["压测"], "sn": ["压"], "idmStatus": ["active"]})
                    session.set_password(dn, PASSWORDS[0])
                    session.replace(dn, {"pwdReset": []})
                    users.append(f"web{i:03d}")
            city = counties[0].split(",", 1)[1]
            admin_dn = make_admin(settings, city, "web.sys", "sysadmin")
            make_admin(settings, city, "web.audit", "auditor")
            fill_log(settings, admin_dn, counties[0].split(",")[0].split("=")[1], args.forms, args.log)
            gunicorn, base = start_web(settings, args.workers)
            results = {}
            clients = [Client(base) for _ in users]
            results["hello (/healthz)"] = run(clients, lambda i, n, cl: cl.get("/healthz"), args.seconds)
            results["sign-in"] = run(
                clients, lambda i, n, cl: cl.post("/login", {"uid": users[i], "password": PASSWORDS[0]}),
                args.seconds)
            admins = [Client(base) for _ in users]
            for cl in admins:
                cl.post("/login", {"uid": "web.sys", "password": PASSWORDS[0]})
            unit = counties[0].split(",")[0].split("=")[1]
            results["list page"] = run(admins, lambda i, n, cl: cl.get(f"/admin/users?unit={unit}"),
                                       args.seconds)
            assert "压测" in admins[0].get("/admin/forms/")
            results[f"form list ({args.forms})"] = run(admins, lambda i, n, cl: cl.get("/admin/forms/"),
                                                       args.seconds)
            auditors = [Client(base) for _ in users]
            for cl in auditors:
                cl.post("/login", {"uid": "web.audit", "password": PASSWORDS[0]})
            assert "10.0." in auditors[0].get("/admin/audit/")
            results[f"audit page ({args.log})"] = run(auditors, lambda i, n, cl: cl.get("/admin/audit/"),
                                                      args.seconds)

            def change(i: int, n: int, cl: Client) -> None:
                old, new = PASSWORDS[n % 2], PASSWORDS[(n + 1) % 2]
                page = cl.post("/password", {"current": old, "new": new, "confirm": new})
                assert "密码已修改" in page or "我的账号" in page, page[:300]

            results["password change"] = run(clients, change, args.seconds)
            province = counties[0].split(",", 2)[2]  # the same role as in --national: the province's
            daily = daily_pages(settings, base, province, counties[0], args.clients, args.seconds)
            results.update({k: v for k, v in daily.items() if k != "hello (/healthz)"})
        finally:
            if gunicorn:
                gunicorn.terminate()
                gunicorn.wait()
            embedded.stop(settings)
    report(args, results)


if __name__ == "__main__":
    main()
