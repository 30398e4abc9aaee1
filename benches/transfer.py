"""Bulk transfers (调动): `idm load` of a transfer file against `ldapmodrdn` of the same entries,
same server, same configuration.

N teachers are loaded at one school of a county; two more schools sit beside it. Reference:
`ldapmodrdn` as the local operator (the rootDN: no access rules, no forms) moves the N entries
to the third school and back, one process each way, and the second run is timed. Then the
transfer file is loaded as the two departments do it: the first school's system admin releases
(调出) every row, the second school's accepts (调入: the move, the removal of the old unit's
grants, the step on the form), each through the pipeline on its own signed-in sessions. The
forms are recorded beforehand (as the departments would, not timed).

The rate that counts is the acceptance's: it is the transfer itself, against `ldapmodrdn`. The
release (one modify and its form step per row) is printed beside it.

    .venv/bin/python benches/transfer.py [--transfers 10000] [--connections 4]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import ldap

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

from idm import pipeline
from idm.auth import signin
from idm.bulk import load, transfers
from idm.config import Settings
from idm.directory import names
from idm.errors import AlreadyExists
from idm.filing import forms
from idm.filing.fields import FormData
from idm.filing.kinds import check
from idm.rules import actor as actors
from idm.rules.terms import WRITER
from idm.tree import org

SCHOOLS = ("2115010291", "2115010292", "2115010293")  # from, to, and the reference's detour
COUNTY = "150102"


def tree_csv(path: Path) -> None:
    rows = [f"{code},样例·调动测试学校{i + 1},school,{COUNTY}," for i, code in enumerate(SCHOOLS)]
    path.write_text("code,name,level,parent,managed_by\n" + "\n".join(rows) + "\n", encoding="utf-8")


def people_csv(path: Path, count: int) -> None:
    given = "甲乙丙丁戊己庚辛壬癸"
    rows = [f"t{i:07d},{SCHOOLS[0]},王{given[i % 10]},{c.id_number(i)},138{i:08d},teacher#viewer"
            for i in range(count)]
    path.write_text("uid,unit,name,id_number,mobile,grants\n" + "\n".join(rows) + "\n", encoding="utf-8")


def admin(settings: Settings, code: str) -> str:
    with c.ops(settings) as session:
        node = org.find(session, code)
        dn = f"uid=s{code},ou=admins,{node.dn}"
        session.add(dn, {"objectClass": ["idmAdminAccount"], "uid": [f"s{code}"], "cn": [f"s{code}"],
                         "sn": ["s"], "idmStatus": ["active"], "idmAdminRole": ["sysadmin"],
                         "idmScope": [node.dn]})
        session.set_password(dn, c.PASSWORD)
        session.conn.modify_s(dn, [(ldap.MOD_DELETE, "pwdReset", None)])
    return dn


def record_forms(settings: Settings, admin_dn: str, datas: list[FormData]) -> list[str]:
    """The forms as the department recorded them (written by the operator: not what is timed)."""
    with signin.admin_session(settings, admin_dn) as session:
        actor = actors.load(session)
    ids = []
    with c.ops(settings) as session:
        for data in datas:
            while True:  # as forms.add does: a number drawn twice in a day is drawn again
                form_id, dn, attrs = forms.record(check(data), actor)
                try:
                    session.add(dn, attrs)
                    break
                except AlreadyExists:
                    continue
            ids.append(form_id)
    return ids


def _pairs(dns: list[str], folder: Path) -> Path:
    """`ldapmodrdn -f` input: each entry and the RDN it keeps."""
    pairs = folder / "pairs.txt"
    pairs.write_text("".join(f"{dn}\n{dn.split(',')[0]}\n" for dn in dns), encoding="utf-8")
    return pairs


def modrdn(settings: Settings, dns: list[str], new_parent: str, folder: Path) -> float:
    """Seconds for one `ldapmodrdn` process to move every entry (delold, as idm does)."""
    pairs = _pairs(dns, folder)
    started = time.perf_counter()
    subprocess.run(["ldapmodrdn", "-Q", "-Y", "EXTERNAL", "-H", settings.ldapi_uri, "-r", "-s", new_parent,
                    "-f", str(pairs)], check=True, capture_output=True)
    return time.perf_counter() - started


def raw_accept(settings: Settings, dns: list[str], to_unit: str, folder: Path) -> float:
    """Seconds for one `ldapmodrdn` process to move every entry as the receiving unit's system
    admin, through the writer (proxied authorization), under the same rules as the toolkit's
    acceptance: the move alone, with no form, no check and no removal of what is lost. The
    operator first releases the entries to that unit (not timed)."""
    release = folder / "release.ldif"
    release.write_text("".join(f"dn: {dn}\nchangetype: modify\nreplace: idmReleasedTo\n"
                               f"idmReleasedTo: {to_unit}\n\n" for dn in dns), encoding="utf-8")
    subprocess.run(["ldapmodify", "-Q", "-Y", "EXTERNAL", "-H", settings.ldapi_uri, "-f", str(release)],
                   check=True, capture_output=True)
    receiver = admin(settings, names.first_value(to_unit))
    pairs = _pairs(dns, folder)
    writer = names.service_dn(WRITER, settings.suffix)
    started = time.perf_counter()
    subprocess.run(["ldapmodrdn", "-x", "-H", settings.ldap_uri, "-D", writer,
                    "-y", str(settings.secrets_dir / f"{WRITER}.secret"), "-e", f"!authzid=dn:{receiver}",
                    "-r", "-s", f"ou=people,{to_unit}", "-f", str(pairs)], check=True, capture_output=True)
    return time.perf_counter() - started


def raw_three_writes(settings: Settings, dns: list[str], to_unit: str, form_dns: list[str],
                     connections: int) -> float:
    """Seconds for the acceptance's three writes made raw as the rootDN (no rules, no reads, no
    checks), on as many connections as the load: the move, the removals on the moved entry,
    and the step on its form, each its own commit, as slapd 2.5 makes them (a modrdn cannot be
    held in a transaction). What no acceptance under the rules can beat."""
    work = iter(zip(dns, form_dns, strict=True))
    lock = threading.Lock()

    def worker() -> None:
        with c.ops(settings) as session:
            conn = session.conn
            while True:
                with lock:
                    pair = next(work, None)
                if pair is None:
                    return
                dn, form_dn = pair
                rdn = dn.split(",")[0]
                conn.rename_s(dn, rdn, f"ou=people,{to_unit}", delold=1)
                conn.modify_s(f"{rdn},ou=people,{to_unit}", [(ldap.MOD_DELETE, "idmReleasedTo", None),
                                                             (ldap.MOD_REPLACE, "idmFormRef", [b"raw"])])
                conn.modify_s(form_dn, [(ldap.MOD_REPLACE, "idmRecordStatus", [b"executed"])])

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def timed_load(settings: Settings, admin_dn: str, path: Path, connections: int) -> tuple[float, int]:
    """Plan (the whole file first) and write, as the admin: seconds and steps."""
    def opened() -> pipeline.Acting:
        session = signin.admin_session(settings, admin_dn)
        return pipeline.Acting(session, actors.load(session))

    started = time.perf_counter()
    rows, refused = transfers.read(path)
    first = opened()
    plan = transfers.plan(first, rows, refused)
    first.session.close()
    plan.raise_if_refused()
    planned = time.perf_counter()
    done = transfers.write(opened, plan, connections)
    seconds = time.perf_counter() - started
    print(f"  ({path.name} as {admin_dn.split(',')[0]}: plan {planned - started:.1f}s, "
          f"write {seconds - planned + started:.1f}s)")
    if done.failed:
        raise SystemExit(f"{len(done.failed)} rows not done, first: {done.failed[0]}")
    return seconds, done.steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=10000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    n = args.transfers
    with tempfile.TemporaryDirectory(prefix="idm-transfer-bench-") as tmp:
        folder = Path(tmp)
        settings = c.start_idm(folder)
        try:
            c.with_toolkit(settings)
            tree_csv(folder / "schools.csv")
            load.load_file(settings, folder / "schools.csv", kind="tree")
            people_csv(folder / "people.csv", n)
            load.load_file(settings, folder / "people.csv", kind="people")
            with c.ops(settings) as session:
                units = {code: org.find(session, code).dn for code in SCHOOLS}
            dns = [f"uid=t{i:07d},ou=people,{units[SCHOOLS[0]]}" for i in range(n)]
            # the reference: there, then back (timed)
            modrdn(settings, dns, f"ou=people,{units[SCHOOLS[2]]}", folder)
            moved = [dn.replace(units[SCHOOLS[0]], units[SCHOOLS[2]]) for dn in dns]
            reference = modrdn(settings, moved, f"ou=people,{units[SCHOOLS[0]]}", folder)
            releasing, receiving = admin(settings, SCHOOLS[0]), admin(settings, SCHOOLS[1])
            people = [(f"t{i:07d}", f"王{'甲乙丙丁戊己庚辛壬癸'[i % 10]}", c.id_number(i)) for i in range(n)]
            release_ids = record_forms(settings, releasing, [
                FormData(kind="change", unit=SCHOOLS[0], change_type="release", transfer_to=SCHOOLS[1],
                         account_uid=uid, name=name, id_number=number) for uid, name, number in people])
            accept_ids = record_forms(settings, receiving, [
                FormData(kind="registration", unit=SCHOOLS[1], transfer_from=SCHOOLS[0], account_uid=uid,
                         name=name, id_number=number, mobile="13900000000") for uid, name, number in people])
            path = folder / "transfers.csv"
            path.write_text("account,from,to,release_form,accept_form\n" + "".join(
                f"{uid},{SCHOOLS[0]},{SCHOOLS[1]},{r},{a}\n"
                for (uid, _, _), r, a in zip(people, release_ids, accept_ids, strict=True)), encoding="utf-8")
            release_s, release_steps = timed_load(settings, releasing, path, args.connections)
            accept_s, accept_steps = timed_load(settings, receiving, path, args.connections)
            with c.ops(settings) as session:
                container = f"ou=people,{units[SCHOOLS[1]]}"
                arrived = len(list(session.search(container, "(idmReleasedTo=*)", ["1.1"])))
                there = len(list(session.search(container, "(objectClass=idmBusinessAccount)", ["1.1"],
                                                scope=ldap.SCOPE_ONELEVEL)))
            assert release_steps == accept_steps == n and there == n and arrived == 0, (there, arrived)
            arrived_dns = [dn.replace(units[SCHOOLS[0]], units[SCHOOLS[1]]) for dn in dns]
            raw = raw_accept(settings, arrived_dns, units[SCHOOLS[2]], folder)
            with c.ops(settings) as session:
                form_dns = [dn for dn, _ in session.search(f"ou=forms,{units[SCHOOLS[1]]}",
                                                           "(objectClass=idmRecord)", ["1.1"],
                                                           scope=ldap.SCOPE_ONELEVEL)][:n]
            at_third = [dn.replace(units[SCHOOLS[1]], units[SCHOOLS[2]]) for dn in arrived_dns]
            ceiling = raw_three_writes(settings, at_third, units[SCHOOLS[0]], form_dns, args.connections)
        finally:
            c.stop(settings)
    ref_rate, accept_rate, release_rate = n / reference, n / accept_s, n / release_s
    print(f"transfers: {n} teachers, school to school, {args.connections} connections per load")
    print(f"  ldapmodrdn (rootDN, no rules)       {ref_rate:8.0f}/s")
    print(f"  ldapmodrdn as the receiving admin   {n / raw:8.0f}/s   ratio {n / raw / ref_rate:.2f}"
          "   (the same rules, the move alone, one process)")
    print(f"  the acceptance's 3 writes, raw, rootDN {n / ceiling:5.0f}/s   "
          f"ratio {n / ceiling / ref_rate:.2f}"
          f"   (no rules, no reads, {args.connections} connections: the ceiling)")
    print(f"  idm load, acceptance (调入, move)    {accept_rate:8.0f}/s   "
          f"ratio {accept_rate / ref_rate:.2f}")
    print(f"  idm load, release (调出)             {release_rate:8.0f}/s   "
          f"ratio {release_rate / ref_rate:.2f}")
    print(f"  both departments' loads, per row   {n / (accept_s + release_s):8.0f}/s   "
          f"ratio {n / (accept_s + release_s) / ref_rate:.2f}")
    print(f"  acceptance against the admin's own raw move: ratio {accept_rate * raw / n:.2f}")


if __name__ == "__main__":
    main()
