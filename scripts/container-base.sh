#!/usr/bin/env bash
# Copied from the shared tools of these machines (CI runs on a clean machine without them);
# tests/test_containers.py and `make images` call it.
# Make containers work on this kind of machine: install podman (runc runtime) and debootstrap, and build a local Debian 12 base image tagged as debian:bookworm-slim, so that
# Dockerfiles written `FROM debian:bookworm-slim` build with no registry of images.
# Safe to run again: it skips what is already there. Prints the podman options to use.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
need=()
for p in podman runc debootstrap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${need[@]}" >/dev/null
fi
# This machine's kernel refuses crun's cgroup and rlimit calls: runc, no default ulimits.
conf=${CONTAINERS_CONF:-/etc/containers/containers.conf}
if ! grep -q '^runtime *= *"runc"' "$conf" 2>/dev/null; then
  $SUDO mkdir -p "$(dirname "$conf")"
  printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' | $SUDO tee "$conf" >/dev/null
fi
if ! podman image exists docker.io/library/debian:bookworm-slim; then
  mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' | awk '$2=="bookworm" {print $1; exit}')
  root=$(mktemp -d)
  $SUDO debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
  $SUDO tar -C "$root" -c . | podman import - docker.io/library/debian:bookworm-slim >/dev/null
  $SUDO rm -rf "$root"
fi
echo "base image ready: debian:bookworm-slim (local)"
echo "build:  podman build --network host -t NAME DIR"
echo "run:    podman run --network host ...   (containers share the host's loopback; give each its own port)"
echo "compose: podman-compose from PyPI, 1.6 or later (Debian's 1.0.3 mishandles network_mode: host)"
