"""`idm compliance pack`: the evidence items written to a folder an assessor takes away — an
`index.html` and a Chinese PDF summary with one section per item and its clauses, each item's
table as CSV and its attachments — and `manifest.json`, the SM3 digest of every file, signed
with SM2 (standard ID) by the local operator's seal key (`manifest.sig`; the public key is
`seal.pub.pem`, to be compared with the operator's out of band). `verify` checks a pack
offline: the signature, every digest, no file missing and none added.
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idm.compliance import pack_pdf
from idm.compliance.evidence import Section, Window, describe, made_at
from idm.errors import InvalidInput
from idm.labels import local_time
from idm.oversight.audit import safe_cell
from idm.oversight.seal_key import SealKey, fingerprint
from idm.pki import sm2

MANIFEST, SIGNATURE, PUBLIC = "manifest.json", "manifest.sig", "seal.pub.pem"
SHOWN_ROWS = 200  # rows of a table in index.html; the CSV holds them all


def _csv(section: Section) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(section.header)
    writer.writerows([safe_cell(str(c)) for c in row] for row in section.rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _index(sections: list[Section], meta: dict[str, Any]) -> bytes:
    e = html.escape
    parts = [f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>测评证据包 {e(meta['unit_name'])}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}}
.finding{{color:#a00}}</style></head><body>
<h1>测评证据包：{e(meta['unit_name'])}（{e(meta['unit'])}）</h1>
<p>期间 {e(pack_pdf.dashed(meta['from']))} 至
{e(pack_pdf.dashed(meta['to']))} · 生成于 {e(local_time(meta['made_at'], seconds=True))} ·
清单 <a href="{MANIFEST}">{MANIFEST}</a>（SM3 摘要，SM2 签名 <a href="{SIGNATURE}">{SIGNATURE}</a>，
公钥 <a href="{PUBLIC}">{PUBLIC}</a>，指纹 {e(meta['key'][:32])}…） ·
摘要 <a href="summary.pdf">summary.pdf</a></p>
<ol>"""]
    parts += [f'<li><a href="#{s.key}">{e(s.title)}</a>（{e("、".join(s.clauses))}）</li>' for s in sections]
    parts.append("</ol>")
    for s in sections:
        parts.append(f'<h2 id="{s.key}">{e(s.title)}</h2><p>对应条款：{e("、".join(s.clauses))}</p>'
                     f"<p>证明：{e(s.proves)}</p>")
        parts += [f'<p class="finding">须关注：{e(f)}</p>' for f in s.findings]
        if s.facts:
            parts.append('<table class="facts">' + "".join(
                f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" if v else f'<tr><td colspan="2">{e(k)}</td></tr>'
                for k, v in s.facts) + "</table>")
        files = [f"{s.key}.csv", *s.files]
        parts.append("<p>文件：" + " · ".join(f'<a href="{e(f)}">{e(f)}</a>' for f in files) + "</p>")
        if s.rows:
            head = "".join(f"<th>{e(h)}</th>" for h in s.header)
            body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>"
                           for row in s.rows[:SHOWN_ROWS])
            more = (f"<p>共 {len(s.rows)} 行，此处显示前 {SHOWN_ROWS} 行，全部见 CSV。</p>"
                    if len(s.rows) > SHOWN_ROWS else "")
            parts.append(f"<table><tr>{head}</tr>{body}</table>{more}")
    parts.append("</body></html>\n")
    return "".join(parts).encode("utf-8")


def write(folder: Path, sections: list[Section], window: Window, key: SealKey) -> dict[str, Any]:
    """The pack in `folder` (made, or empty); its manifest."""
    if folder.exists() and any(folder.iterdir()):
        raise InvalidInput(f"输出目录不是空的：{folder}", f"the output folder is not empty: {folder}")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)  # it names every account and its last sign-in
    meta: dict[str, Any] = {"unit": window.unit.code, "unit_dn": window.unit.dn,
                            "unit_name": window.unit.name, "from": window.since,
                            "to": window.until, "made_at": made_at(), "key": key.fingerprint(),
                            "algorithms": "SM3 digests, SM2 signature (ID 1234567812345678)"}
    files: dict[str, bytes] = {}
    for s in sections:
        files[f"{s.key}.csv"] = _csv(s)
        files.update(s.files)
    files["index.html"] = _index(sections, meta)
    files["summary.pdf"] = pack_pdf.pdf(sections, meta)
    files[PUBLIC] = key.public_pem()
    for name, content in files.items():
        (folder / name).write_bytes(content)
    manifest = {**meta, "sections": [describe(s) for s in sections],
                "files": {name: sm2.sm3(content) for name, content in sorted(files.items())}}
    body = json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
    (folder / MANIFEST).write_bytes(body)
    (folder / SIGNATURE).write_bytes(key.sign(body))
    return manifest


@dataclass(frozen=True)
class Check:
    problems: list[str]
    key: str  # fingerprint of the key the signature was checked with
    files: int

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(folder: Path, trusted: bytes | None = None) -> Check:
    """The pack as its manifest says, signed by `trusted` (else by the key the pack carries,
    whose fingerprint the caller shows, to be compared with the operator's)."""
    problems: list[str] = []
    body = (folder / MANIFEST).read_bytes() if (folder / MANIFEST).is_file() else b""
    if not body:
        return Check([f"没有 {MANIFEST} / no {MANIFEST}"], "", 0)
    public = trusted or ((folder / PUBLIC).read_bytes() if (folder / PUBLIC).is_file() else b"")
    signature = (folder / SIGNATURE).read_bytes() if (folder / SIGNATURE).is_file() else b""
    if not public or not signature or not sm2.verify(public, body, signature):
        problems.append(f"清单的 SM2 签名不符 / the manifest's SM2 signature does not verify ({MANIFEST})")
    try:
        listed: dict[str, str] = json.loads(body)["files"]
        if not isinstance(listed, dict) or not all(isinstance(v, str) for v in listed.values()):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return Check([*problems, f"{MANIFEST} 无法读取 / {MANIFEST} is unreadable"],
                     fingerprint(public) if public else "", 0)
    for name, digest in sorted(listed.items()):
        path = folder / name
        if "/" in name or "\\" in name or name.startswith("."):
            problems.append(f"清单中的文件名越出证据包：{name!r} / a name outside the pack: {name!r}")
        elif not path.is_file():
            problems.append(f"缺少文件：{name} / missing: {name}")
        elif sm2.sm3(path.read_bytes()) != digest:
            problems.append(f"文件已改动（SM3 不符）：{name} / changed (its SM3 differs): {name}")
    present = {p.name for p in folder.iterdir() if p.is_file()} - {MANIFEST, SIGNATURE}
    problems += [f"多出的文件：{name} / not in the manifest: {name}"
                 for name in sorted(present - set(listed))]
    return Check(problems, fingerprint(public) if public else "", len(listed))
