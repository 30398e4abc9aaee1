"""An access review's rows (R16) against a paged ldapsearch of the same attributes, same server,
same identity (the county's system admin), same accounts.

N business users with grants are loaded into one county; the review reads them with the flags
(last sign-in, legacy, forms, the admin+business test of every ID number as the lookup account);
`ldapsearch -E pr=500` reads the same attributes as that admin. Rounds interleave; medians.

    .venv/bin/python benches/review.py [--accounts 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import ldap

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

from idm.auth import signin
from idm.bulk import load
from idm.ops import embedded
from idm.oversight import reviews
from idm.tree import org

COUNTY = "150102"


def people_csv(path: Path, count: int) -> None:
    given = "甲乙丙丁戊己庚辛壬癸"
    rows = [f"r{i:07d},{COUNTY},王{given[i % 10]},{c.id_number(i)},138{i:08d},teacher#viewer"
            for i in range(count)]
    path.write_text("uid,unit,name,id_number,mobile,grants\n" + "\n".join(rows) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    review_rates, search_rates = [], []
    with tempfile.TemporaryDirectory(prefix="idm-review-bench-") as tmp:
        settings = c.start_idm(Path(tmp))
        try:
            c.load_tree(settings)
            with c.ops(settings) as session:
                load.bootstrap.service_accounts(session, settings.secrets_dir)
                node = org.find(session, COUNTY)
                admin = f"uid=r.sys,ou=admins,{node.dn}"
                session.add(admin, {"objectClass": ["idmAdminAccount"], "uid": ["r.sys"], "cn": ["r.sys"],
                                    "sn": ["r"], "idmStatus": ["active"], "idmAdminRole": ["sysadmin"]})
                session.set_password(admin, c.PASSWORD)
                session.conn.modify_s(admin, [(ldap.MOD_DELETE, "pwdReset", None)])
            csv_path = Path(tmp) / "people.csv"
            people_csv(csv_path, args.accounts)
            with load.loader_session(settings) as loader:
                plan, planner = load.make_plan(load.online_view(loader, settings), csv_path)
                plan.raise_if_refused()
                load.write_online(loader, plan, planner)
            attrs = reviews.ROW_ATTRS
            for _ in range(args.rounds):
                with signin.admin_session(settings, admin) as session:
                    started = time.perf_counter()
                    rows = reviews._rows(session, node, datetime.now(UTC))
                    review_rates.append(len(rows) / (time.perf_counter() - started))
                started = time.perf_counter()
                out = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", settings.ldap_uri, "-D", admin, "-w",
                                      c.PASSWORD, "-E", "pr=500/noprompt", "-b", f"ou=people,{node.dn}",
                                      "-s", "one", "(objectClass=idmBusinessAccount)", *attrs],
                                     capture_output=True, text=True, check=True).stdout
                found = out.count("\ndn: ") + out.startswith("dn: ")
                search_rates.append(found / (time.perf_counter() - started))
        finally:
            embedded.stop(settings)
    r, s = statistics.median(review_rates), statistics.median(search_rates)
    print(f"{args.accounts} accounts with grants in one county; median of {args.rounds} rounds")
    print(f"  review rows/s          {r:10.0f}   ({', '.join(f'{v:.0f}' for v in review_rates)})")
    print(f"  paged ldapsearch /s    {s:10.0f}   ({', '.join(f'{v:.0f}' for v in search_rates)})")
    print(f"  review / ldapsearch    {r / s:10.2f}   (aim >= 0.5)")


if __name__ == "__main__":
    main()
