#!/usr/bin/env bash
# Installs the real tools Signet's tests use as judges: Debian's docker-registry and cmark-gfm,
# cosign v3 (Debian sid) and cosign v2 (Debian trixie), crane and oras (sid).
# Idempotent: reuses what is already in $SIGNET_TOOLS (default ~/.cache/signet-tools).
set -euo pipefail
tools="${SIGNET_TOOLS:-$HOME/.cache/signet-tools}"
mkdir -p "$tools/bin"

have() { [ -x "$tools/bin/$1" ]; }

if ! command -v docker-registry >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian's docker-registry" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry apache2-utils time >/dev/null
    # The package starts a service on :5000 on some systems; tests start their own.
    (systemctl stop docker-registry 2>/dev/null || service docker-registry stop 2>/dev/null || true) >/dev/null
  else
    echo "warning: docker-registry is not installed and we are not root; tests use the project's own registry" >&2
  fi
fi

# cmark-gfm renders the job summaries as GitHub does (test/unit/summary-render.test.ts): the
# judge of what hostile text can do to them. Without it those tests fail, saying how to install it.
if ! command -v cmark-gfm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian's cmark-gfm" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmark-gfm >/dev/null
  else
    echo "warning: cmark-gfm is not installed and we are not root; the summary render tests will fail" >&2
  fi
fi

# GNU time measures peak memory for the benchmark.
if [ ! -x /usr/bin/time ] && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi

if have cosign3 && have cosign2 && have crane && have oras; then
  exit 0
fi

apt_dir="$tools/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/debs"
printf 'deb http://deb.debian.org/debian trixie main\ndeb http://deb.debian.org/debian sid main\n' >"$apt_dir/sources.list"
o=(-o Dir::Etc::sourcelist="$apt_dir/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$apt_dir/lists"
   -o Dir::Cache="$apt_dir/cache" -o APT::Get::AllowUnauthenticated=false)
mkdir -p "$apt_dir/cache/archives/partial"
apt-get "${o[@]}" update -qq
cd "$apt_dir/debs"
rm -f ./*.deb
apt-get "${o[@]}" download cosign crane oras >/dev/null
v2=$(apt-cache "${o[@]}" madison cosign | awk -F'|' '$2 ~ / 2\./ {gsub(/ /,"",$2); print $2; exit}')
apt-get "${o[@]}" download "cosign=$v2" >/dev/null
for deb in ./*.deb; do
  x="$apt_dir/x/$(basename "$deb" .deb)"; rm -rf "$x"; mkdir -p "$x"; dpkg -x "$deb" "$x"
done
for x in "$apt_dir"/x/cosign_3*; do cp "$x/usr/bin/cosign" "$tools/bin/cosign3"; done
for x in "$apt_dir"/x/cosign_2*; do cp "$x/usr/bin/cosign" "$tools/bin/cosign2"; done
for x in "$apt_dir"/x/crane_*; do cp "$x/usr/bin/crane" "$tools/bin/crane"; done
for x in "$apt_dir"/x/oras_*; do cp "$x/usr/bin/oras" "$tools/bin/oras"; done
"$tools/bin/cosign3" version 2>/dev/null | grep GitVersion >&2 || true
"$tools/bin/cosign2" version 2>/dev/null | grep GitVersion >&2 || true
