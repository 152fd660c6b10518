#!/usr/bin/env bash
# Idempotent installer for the local (Docker-free) infrastructure used by `npm run infra up`.
#
#   infra/local/install.sh [clickhouse] [redis] [kafka] [registry]     (no argument = all four)
#
# - ClickHouse and Redis come from Debian apt (binaries only; we never start them through init scripts).
# - Kafka 3.9.1 comes from Maven Central as jars (there is no Kafka package in Debian), copied to
#   $DATA/dist/kafka-3.9.1/libs.
# - Apicurio Registry 3.3.3 comes from Maven Central as a Quarkus fast-jar tarball, extracted to
#   $DATA/dist/apicurio-registry-3.3.3.
# $DATA is $RANKSTREAM_DATA_DIR (default .rankstream), relative paths being relative to the repository root; the jars
# go to $RANKSTREAM_DIST_DIR when set (default $DATA/dist), so a second set of services can share them.
# Every step is skipped when its result is already there.
set -Eeuo pipefail

KAFKA_VERSION=3.9.1
REGISTRY_VERSION=3.3.3

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
data_dir="${RANKSTREAM_DATA_DIR:-.rankstream}"
case "$data_dir" in
  /*) ;;
  *) data_dir="$repo_root/$data_dir" ;;
esac
dist="${RANKSTREAM_DIST_DIR:-$data_dir/dist}"
case "$dist" in
  /*) ;;
  *) dist="$repo_root/$dist" ;;
esac
kafka_dist="$dist/kafka-$KAFKA_VERSION"
registry_dist="$dist/apicurio-registry-$REGISTRY_VERSION"

log() { printf '[install] %s\n' "$*"; }
die() { printf '[install] ERROR: %s\n' "$*" >&2; exit 1; }
trap 'printf "[install] FAILED at line %s: %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR

want_clickhouse=0 want_redis=0 want_kafka=0 want_registry=0
if [ $# -eq 0 ]; then set -- clickhouse redis kafka registry; fi
for c in "$@"; do
  case "$c" in
    clickhouse) want_clickhouse=1 ;;
    redis) want_redis=1 ;;
    kafka) want_kafka=1 ;;
    registry) want_registry=1 ;;
    *) die "unknown component '$c' (expected clickhouse, redis, kafka, registry)" ;;
  esac
done

# A binary may live in sbin, which is not on every user's PATH.
find_bin() {
  local name="$1" d
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  for d in /usr/sbin /usr/bin /usr/local/bin /usr/local/sbin; do
    if [ -x "$d/$name" ]; then echo "$d/$name"; return 0; fi
  done
  return 1
}

# Prints the major version of a java binary (1.8 -> 8), or nothing when it does not run.
java_major() {
  local v
  v="$("$1" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2; exit}')" || return 0
  case "$v" in 1.*) echo "${v#1.}" ;; *) echo "$v" ;; esac
}

# ---------------------------------------------------------------------------------------------- apt packages
apt_pkgs=()
if [ $want_clickhouse -eq 1 ] && ! find_bin clickhouse-server >/dev/null; then apt_pkgs+=(clickhouse-server clickhouse-client); fi
if [ $want_redis -eq 1 ] && ! find_bin redis-server >/dev/null; then apt_pkgs+=(redis-server); fi
if [ $want_kafka -eq 1 ] || [ $want_registry -eq 1 ]; then
  # Maven fetches the jars; the JDK 17 from Debian runs Kafka and Maven itself.
  if ! find_bin mvn >/dev/null; then apt_pkgs+=(maven); fi
  if ! find_bin java >/dev/null; then apt_pkgs+=(openjdk-17-jdk-headless); fi
fi

if [ ${#apt_pkgs[@]} -gt 0 ]; then
  log "installing with apt: ${apt_pkgs[*]}"
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install ${apt_pkgs[*]} yourself (this script supports Debian/Ubuntu)"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install ${apt_pkgs[*]}"
    sudo_cmd=(sudo)
  fi
  # Only refresh package lists when some package has no install candidate (fresh image, empty lists).
  need_update=0
  for p in "${apt_pkgs[@]}"; do
    if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]'; then need_update=1; fi
  done
  if [ $need_update -eq 1 ]; then
    log "apt-get update (package lists lack: ${apt_pkgs[*]})"
    "${sudo_cmd[@]}" apt-get update -q
  fi
  # Keep the packages' init scripts from starting system-wide servers on their default ports
  # (policy-rc.d exit 101 = "action forbidden"); we run our own instances on our own ports.
  policy=/usr/sbin/policy-rc.d
  added_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
    "${sudo_cmd[@]}" chmod 755 "$policy"
    added_policy=1
  fi
  set +e
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${apt_pkgs[@]}"
  rc=$?
  set -e
  if [ $added_policy -eq 1 ]; then "${sudo_cmd[@]}" rm -f "$policy"; fi
  [ $rc -eq 0 ] || die "apt-get install ${apt_pkgs[*]} failed (exit $rc)"
fi
if [ $want_clickhouse -eq 1 ]; then
  ch="$(find_bin clickhouse-server)" || die "clickhouse-server is still missing after apt-get install"
  log "clickhouse-server: $ch"
fi
if [ $want_redis -eq 1 ]; then
  rs="$(find_bin redis-server)" || die "redis-server is still missing after apt-get install"
  log "redis-server: $rs"
fi

# ---------------------------------------------------------------------------------------------- Maven downloads
# Debian's Maven prints bare ANSI resets even with -B -q; strip them (pipefail keeps mvn's exit status).
mvn_q() { mvn -B -q "$@" 2>&1 | sed -E 's/\x1b\[[0-9;]*m//g; /^[[:space:]]*$/d'; }

if [ $want_kafka -eq 1 ]; then
  if [ -f "$kafka_dist/libs/.complete" ]; then
    log "kafka $KAFKA_VERSION: already in $kafka_dist"
  else
    find_bin mvn >/dev/null || die "mvn not found"
    log "kafka $KAFKA_VERSION: resolving broker jars from Maven Central into $kafka_dist/libs"
    mkdir -p "$dist"
    tmp="$(mktemp -d "$dist/.kafka-XXXXXX")"
    mvn_q -f "$here/kafka/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/libs" \
      || die "mvn could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (is Maven Central reachable?)"
    ls "$tmp/libs/kafka_2.13-$KAFKA_VERSION.jar" "$tmp/libs"/slf4j-reload4j-*.jar >/dev/null \
      || die "kafka jars or logging binding missing from $tmp/libs"
    touch "$tmp/libs/.complete"
    rm -rf "$kafka_dist"
    mv "$tmp" "$kafka_dist"
    log "kafka $KAFKA_VERSION: $(ls "$kafka_dist/libs" | wc -l) jars"
  fi
fi

if [ $want_registry -eq 1 ]; then
  if [ -f "$registry_dist/quarkus-run.jar" ]; then
    log "apicurio registry $REGISTRY_VERSION: already in $registry_dist"
  else
    find_bin mvn >/dev/null || die "mvn not found"
    log "apicurio registry $REGISTRY_VERSION: fetching io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all (~160 MB)"
    mkdir -p "$dist"
    tmp="$(mktemp -d "$dist/.registry-XXXXXX")"
    mvn_q dependency:copy -Dartifact="io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all" \
      -DoutputDirectory="$tmp/download" \
      || die "mvn could not fetch the Apicurio Registry $REGISTRY_VERSION tarball (is Maven Central reachable?)"
    mkdir -p "$tmp/app"
    tar -xzf "$tmp/download/apicurio-registry-app-$REGISTRY_VERSION-all.tar.gz" -C "$tmp/app"
    [ -f "$tmp/app/quarkus-run.jar" ] || die "quarkus-run.jar not found in the Apicurio tarball"
    rm -rf "$registry_dist"
    mv "$tmp/app" "$registry_dist"
    rm -rf "$tmp"
    log "apicurio registry $REGISTRY_VERSION: extracted to $registry_dist"
  fi
  # The registry needs Java >= 21, which Debian 12 does not package: we can only point at it.
  found21=""
  for j in "${RANKSTREAM_REGISTRY_JAVA:-}" "${JAVA_HOME:+$JAVA_HOME/bin/java}" /usr/lib/jvm/*/bin/java; do
    [ -n "$j" ] && [ -x "$j" ] || continue
    m="$(java_major "$j")"
    if [ -n "$m" ] && [ "$m" -ge 21 ] 2>/dev/null; then found21="$j"; break; fi
  done
  if [ -n "$found21" ]; then
    log "java for the registry: $found21"
  else
    log "WARNING: no Java >= 21 found (checked \$RANKSTREAM_REGISTRY_JAVA, \$JAVA_HOME, /usr/lib/jvm/*)."
    log "WARNING: the schema registry will not start until one is installed, e.g. a Temurin 21+ JDK."
  fi
fi

log "done"
