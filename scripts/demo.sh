#!/usr/bin/env bash
# The demo: an embedded slapd under ./var/idm with the Inner Mongolia tree, sample schools and
# the province's three admins. Safe to run again: nothing is duplicated, a running server is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
IDM=.venv/bin/idm
export IDM_DATA_DIR=${IDM_DATA_DIR:-$PWD/var/idm}

$IDM server init
$IDM server start
$IDM org import data/demo/inner-mongolia.csv | tail -n 1
$IDM org import data/demo/schools-sample.csv | tail -n 1
$IDM bootstrap data/demo/province-admins.csv
$IDM legacy import data/demo/post-accounts.csv
$IDM ca init --crl-url "http://127.0.0.1:${IDM_WEB_PORT:-8080}/ca/crl.pem"
# The demo serves plain http on loopback, so its cookies cannot be Secure.
$IDM web start --bind 127.0.0.1:${IDM_WEB_PORT:-8080} --insecure-cookies

uri=$($IDM server status | awk '/^ldap:/ {print $2}')
ldapi=$($IDM server status | awk '/^ldapi:/ {print $2}')
suffix=$($IDM server status | awk '/^suffix:/ {print $2}')
cat <<EOT

演示目录已就绪 / the demo directory is ready
  Web:      http://127.0.0.1:${IDM_WEB_PORT:-8080}/   (sign in as nmg.sys with the one-time password)
  LDAP:     $uri
  base DN:  $suffix
  数据目录 data folder: $IDM_DATA_DIR
  树 tree:  $IDM org tree 150000 --depth 1

查看目录 / look at the directory, as the local operator (works as printed):
  ldapsearch -LLL -Q -Y EXTERNAL -H '$ldapi' -b ou=150000,$suffix -s one '(objectClass=idmOrgUnit)' idmCode idmNameZh

省级三员的初始密码只在首次创建时显示一次 / the province admins' one-time passwords are shown
once, when first created (above on the first run).
下一步 / next (see docs/tutorial.md):
  1. 浏览器登录 nmg.sys：修改一次性密码，用验证器应用启用动态验证码（nmg.sec 同样）
     in the browser, sign in as nmg.sys: change the one-time password, enrol the second factor
     with an authenticator app (the same for nmg.sec)
  2. $IDM login --as nmg.sys                 # password, then the app's 6-digit code
  3. $IDM form add data/demo/forms/hohhot-sysadmin-registration.json --as nmg.sys   # prints the form id
  4. $IDM admin create --form <form id> --as nmg.sys
  5. $IDM login --as nmg.sec && $IDM admin set-role zhangdawei sysadmin --form <form id> --as nmg.sec
停止 / stop:  make stop
EOT
