"""Certificates issued per second from CSRs: through the toolkit (the application form's check,
CSR checks, the user profile, the certificate record, publication in the directory, the form's
step) vs raw `cryptography` signing of the same certificates in the same script. Prints both
rates and the ratio. The forms are recorded beforehand, outside the timing.

    .venv/bin/python benches/ca.py [--count 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

from idm import pipeline
from idm.auth import signin
from idm.filing import forms
from idm.filing.fields import FormData
from idm.identity import accounts
from idm.ops import bootstrap, embedded
from idm.pki import ca
from idm.rules import actor as actors
from idm.validation import mask_id_number


def name_of(i: int) -> str:
    """A person's name the form check accepts: Chinese characters only (证书 + the digits)."""
    return "证书" + "".join("零一二三四五六七八九"[int(d)] for d in str(i))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="idm-ca-bench-") as tmp:
        settings = c.start_idm(Path(tmp))
        try:
            counties = c.load_tree(settings)
            county = counties[0]
            admins = {}
            with c.ops(settings) as session:
                bootstrap.service_accounts(session, settings.secrets_dir)
                for role in ("sysadmin", "secadmin"):
                    admins[role] = f"uid=bench.{role},ou=admins,{county}"
                    session.add(admins[role], {"objectClass": ["idmAdminAccount"], "uid": [f"bench.{role}"],
                                               "cn": ["压测"], "sn": ["压"], "idmStatus": ["active"],
                                               "idmAdminRole": [role]})
                users = []
                for i in range(args.count):
                    dn = f"uid=cert{i:04d},ou=people,{county}"
                    number = c.id_number(i)
                    session.add(dn, {"objectClass": ["idmBusinessAccount"], "uid": [f"cert{i:04d}"],
                                     "cn": [name_of(i)], "sn": ["证"], "idmStatus": ["active"],
                                     "idmGrant": ["teacher#viewer"], "mail": [f"c{i}@demo.edu.cn"],
                                     "idmIdNumber": [number], "idmIdMasked": [mask_id_number(number)]})
                    users.append(dn)
            code = county.split(",")[0].split("=")[1]
            with signin.admin_session(settings, admins["sysadmin"]) as session:
                actor = actors.load(session)
                applications = [forms.add(session, actor, FormData(
                    kind="cert", unit=code, name=name_of(i), id_number=c.id_number(i),
                    account_uid=f"cert{i:04d}", mobile="13900000000")).form_id for i in range(args.count)]
            config = ca.CaConfig(folder=Path(tmp) / "ca")
            ca.init(config)
            issuer = ca.load(config)
            csrs = []
            for i in range(args.count):
                key = ec.generate_private_key(ec.SECP256R1())
                name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name_of(i)),
                                  x509.NameAttribute(NameOID.USER_ID, f"cert{i:04d}")])
                csrs.append(x509.CertificateSigningRequestBuilder().subject_name(name).sign(
                    key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
            # raw: parse the CSR and sign the same profile, nothing else
            start = time.perf_counter()
            for i, pem in enumerate(csrs):
                csr = x509.load_pem_x509_csr(pem)
                ca.issue(issuer, csr.public_key(), ca.Subject(name_of(i), f"cert{i:04d}", None, "县"))
            raw = args.count / (time.perf_counter() - start)
            with signin.admin_session(settings, admins["secadmin"]) as session:
                actor = actors.load(session)
                start = time.perf_counter()
                acting = pipeline.Acting(session, actor)
                for dn, pem, form in zip(users, csrs, applications, strict=True):
                    uid = accounts.get(session, dn).uid
                    pipeline.run(acting, "issue-cert", form, uid, issuer=issuer, csr=pem)
                toolkit = args.count / (time.perf_counter() - start)
        finally:
            embedded.stop(settings)
    print(f"{args.count} certificates from CSRs (EC P-256)")
    print(f"raw cryptography signing: {raw:8.1f} /s")
    print(f"through the toolkit:      {toolkit:8.1f} /s   ratio {toolkit / raw:.3f}")


if __name__ == "__main__":
    main()
