#!/usr/bin/env bash
# Runs the services Vigil's distributed mode and test suite need, on loopback, without Docker:
#   PostgreSQL (Debian packages)   127.0.0.1:54329  user/password/database vigil
#   Redis      (Debian packages)   127.0.0.1:63790  append-only file on
#   Kafka      (Maven Central jars, KRaft, one node)  127.0.0.1:19092 (controller 19093)
# Every file they write is under .services/ at the repository root (git-ignored).
# Connection URLs: scripts/services.env, or  eval "$(bash scripts/services.sh env)".
#
# Usage: scripts/services.sh [command]
#   up                  install what is missing, start all three, wait until each is ready (default)
#   down                stop all three (graceful, then SIGKILL after a timeout)
#   start SERVICE       start one of postgres|redis|kafka and wait until it is ready
#   stop SERVICE        stop one and wait until its process has exited (data is kept)
#   restart SERVICE     stop, then start
#   status              one line per service
#   env                 print the export lines of scripts/services.env
#   reset               down, then delete all service data (keeps the downloaded Kafka jars)
#   kafka-topics ARGS   run Kafka's TopicCommand against the local broker, e.g.
#                       kafka-topics --create --topic t --partitions 3
#
# Environment: VIGIL_SERVICES_TIMEOUT  seconds to wait for readiness (default 120)
#              VIGIL_SERVICES_STOP_TIMEOUT  seconds for a graceful stop before SIGKILL (default 60)
# Needs root for first-time installs (apt-get) and to run PostgreSQL as the `postgres` user.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
ROOT_DIR=$(cd -- "$SCRIPT_DIR/.." && pwd -P)
SERVICES_DIR="$ROOT_DIR/.services"
ENV_FILE="$SCRIPT_DIR/services.env"
KAFKA_SRC="$SCRIPT_DIR/kafka"

READY_TIMEOUT=${VIGIL_SERVICES_TIMEOUT:-120}
STOP_TIMEOUT=${VIGIL_SERVICES_STOP_TIMEOUT:-60}
LOCK_TIMEOUT=1800 # a cold `up` (apt-get, Maven downloads) holds the lock for minutes
HOST=127.0.0.1

PG_OS_USER=postgres
PG_BASE="$SERVICES_DIR/postgres"
PG_DATA="$PG_BASE/data"
PG_LOG="$PG_BASE/log/postgres.log"
PG_SOCK_DIR="$PG_BASE/run"
PG_BIN=""

REDIS_DIR="$SERVICES_DIR/redis"
REDIS_CONF="$REDIS_DIR/redis.conf"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"

KAFKA_DIR="$SERVICES_DIR/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_LOGS="$KAFKA_DIR/logs"
KAFKA_PIDFILE="$KAFKA_DIR/kafka.pid"
KAFKA_PROPS="$KAFKA_DIR/server.properties"
KAFKA_TOOLS_PROPS="$KAFKA_DIR/tools.properties"
KAFKA_CLUSTER_ID_FILE="$KAFKA_DIR/cluster-id"
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:-"-Xms256m -Xmx1g"}

APT_UPDATED=0
JAVA_CHECKED=0
POLICY_RC_CREATED=0

# --------------------------------------------------------------------------- messages

say() { printf '[services] %s\n' "$*"; }
warn() { printf '[services] warning: %s\n' "$*" >&2; }
die() {
  printf '[services] error: %s\n' "$*" >&2
  exit 1
}

# die, showing the last lines of a log file first
die_with_log() {
  local log=$1
  shift
  if [[ -s $log ]]; then
    printf '[services] ---- last lines of %s ----\n' "$log" >&2
    tail -n 30 "$log" | cut -c1-300 >&2 || true
    printf '[services] ----\n' >&2
  fi
  die "$@"
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

# --------------------------------------------------------------------------- settings

# Ports, user, password and database come from services.env, so that file stays the one truth.
load_settings() {
  [[ -f $ENV_FILE ]] || die "missing $ENV_FILE"
  local DATABASE_URL REDIS_URL KAFKA_BROKERS
  # shellcheck source=scripts/services.env disable=SC1091 # three plain export lines
  source "$ENV_FILE"
  local pg_re='^postgres(ql)?://([^:@/]+):([^@/]*)@([^:/]+):([0-9]+)/([^?]+)$'
  [[ $DATABASE_URL =~ $pg_re ]] || die "cannot parse DATABASE_URL in $ENV_FILE"
  PG_USER=${BASH_REMATCH[2]}
  PG_PASSWORD=${BASH_REMATCH[3]}
  PG_PORT=${BASH_REMATCH[5]}
  PG_DB=${BASH_REMATCH[6]}
  [[ $REDIS_URL =~ ^redis://[^:/]+:([0-9]+)/?$ ]] || die "cannot parse REDIS_URL in $ENV_FILE"
  REDIS_PORT=${BASH_REMATCH[1]}
  [[ $KAFKA_BROKERS =~ ^[^:,]+:([0-9]+)$ ]] || die "cannot parse KAFKA_BROKERS in $ENV_FILE"
  KAFKA_PORT=${BASH_REMATCH[1]}
  KAFKA_CONTROLLER_PORT=$((KAFKA_PORT + 1))
  PG_URL=$DATABASE_URL
  KAFKA_BOOTSTRAP="$HOST:$KAFKA_PORT"
  KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_SRC/pom.xml")
  [[ -n $KAFKA_VERSION ]] || die "no <kafka.version> in $KAFKA_SRC/pom.xml"
}

# --------------------------------------------------------------------------- helpers

# Serialise commands that change state; fd 9 must be closed in every long-lived child.
take_lock() {
  mkdir -p "$SERVICES_DIR"
  exec 9>"$SERVICES_DIR/.lock"
  if ! flock -w "$LOCK_TIMEOUT" 9; then
    die "another services.sh still holds $SERVICES_DIR/.lock after ${LOCK_TIMEOUT}s"
  fi
}

now() { date +%s.%N; }
elapsed_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

port_open() {
  # shellcheck disable=SC2016 # $0 and $1 belong to the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null
}

# alive = exists and is not a zombie (PID 1 in a container may never reap orphans)
pid_alive() {
  local pid=$1 stat
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

cmdline_of() { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline"; }

pid_cmdline_has() {
  local cmd
  cmd=$(cmdline_of "$1") || return 1
  [[ $cmd == *"$2"* ]]
}

child_pids() {
  local pid=$1 f stat ppid
  for f in /proc/[0-9]*/stat; do
    stat=$(cat "$f" 2>/dev/null) || continue
    stat=${stat##*) }
    read -r _ ppid _ <<<"$stat"
    if [[ $ppid == "$pid" ]]; then
      f=${f#/proc/}
      printf '%s\n' "${f%/stat}"
    fi
  done
}

wait_pid_exit() {
  local pid=$1 timeout=$2 deadline
  deadline=$((SECONDS + timeout))
  while pid_alive "$pid"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

kill_tree() {
  local name=$1 pid=$2 children=()
  mapfile -t children < <(child_pids "$pid")
  kill -KILL "$pid" "${children[@]}" 2>/dev/null || true
  wait_pid_exit "$pid" 10 || die "$name (pid $pid) survived SIGKILL"
}

# TERM (unless a stop request was already sent), wait, then KILL the process and its children.
terminate_pid() {
  local name=$1 pid=$2 send_term=${3:-yes}
  if [[ $send_term == yes ]]; then
    kill -TERM "$pid" 2>/dev/null || true
  fi
  if ! wait_pid_exit "$pid" "$STOP_TIMEOUT"; then
    warn "$name (pid $pid) still running after ${STOP_TIMEOUT}s: sending SIGKILL"
    kill_tree "$name" "$pid"
  fi
}

# --------------------------------------------------------------------------- installs

restore_policy_rc() {
  if ((POLICY_RC_CREATED)); then
    rm -f /usr/sbin/policy-rc.d
    POLICY_RC_CREATED=0
  fi
}
trap restore_policy_rc EXIT

apt_install() {
  local log="$SERVICES_DIR/apt.log" rc=0
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
  ((EUID == 0)) || die "installing $* needs root (apt-get)"
  mkdir -p "$SERVICES_DIR"
  export DEBIAN_FRONTEND=noninteractive
  if ((!APT_UPDATED)); then
    say "apt-get update"
    apt-get update -q >"$log" 2>&1 9>&- || die_with_log "$log" "apt-get update failed"
    APT_UPDATED=1
  fi
  # Keep the packages' own init scripts from starting a second, system-wide server.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    POLICY_RC_CREATED=1
  fi
  say "apt-get install $*"
  apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef \
    -o Dpkg::Options::=--force-confold "$@" >>"$log" 2>&1 9>&- || rc=$?
  restore_policy_rc
  ((rc == 0)) || die_with_log "$log" "apt-get install $* failed"
}

java_major() {
  java -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -n 1
}

ensure_java() {
  ((JAVA_CHECKED)) && return 0
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  local major
  major=$(java_major)
  [[ -n $major && $major -ge 17 ]] || die "Kafka $KAFKA_VERSION needs Java 17 or newer; \`java\` is version ${major:-unknown}"
  JAVA_CHECKED=1
}

ensure_maven() {
  command -v mvn >/dev/null || apt_install maven
}

# --------------------------------------------------------------------------- postgres

# The binaries of the version the cluster was made with, else the newest installed.
find_pg_bin() {
  local want="" dir
  [[ -f $PG_DATA/PG_VERSION ]] && want=$(<"$PG_DATA/PG_VERSION")
  if [[ -n $want ]]; then
    dir="/usr/lib/postgresql/$want/bin"
    [[ -x $dir/initdb ]] && { printf '%s\n' "$dir"; return 0; }
    return 1
  fi
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x $dir/initdb ]] && printf '%s\n' "$dir"
  done | sort -V | tail -n 1 | grep .
}

pg_ensure_installed() {
  [[ -n $PG_BIN ]] && return 0
  if ! PG_BIN=$(find_pg_bin); then
    if [[ -f $PG_DATA/PG_VERSION ]]; then
      apt_install "postgresql-$(<"$PG_DATA/PG_VERSION")"
    else
      apt_install postgresql
    fi
    PG_BIN=$(find_pg_bin) || die "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin" \
      "(the cluster in $PG_DATA needs version $(cat "$PG_DATA/PG_VERSION" 2>/dev/null || echo '?'); \`$0 reset\` rebuilds it)"
  fi
  if ((EUID == 0)) && ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
    say "creating system user $PG_OS_USER"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash "$PG_OS_USER"
  fi
}

pg_prepare_dirs() {
  mkdir -p "$PG_BASE" "$PG_DATA" "$PG_SOCK_DIR" "$(dirname "$PG_LOG")"
  ((EUID == 0)) && chown -R "$PG_OS_USER:" "$PG_BASE"
  chmod 700 "$PG_DATA"
  if ! as_pg test -w "$PG_DATA"; then
    die "user $PG_OS_USER cannot reach $PG_DATA: a parent folder of $ROOT_DIR is closed to other users" \
      "(e.g. /root is mode 700); move the checkout, or open the parents with chmod o+x"
  fi
  local sock="$PG_SOCK_DIR/.s.PGSQL.$PG_PORT"
  ((${#sock} < 100)) || die "socket path too long for PostgreSQL (${#sock} bytes): $sock; use a shorter checkout path"
}

# PostgreSQL refuses to run as root: as root, run it as the `postgres` system user.
as_pg() {
  if ((EUID == 0)); then
    (cd "$PG_BASE" && runuser -u "$PG_OS_USER" -- "$@" 9>&-)
  else
    (cd "$PG_BASE" && "$@" 9>&-)
  fi
}

pg_init_cluster() {
  [[ -f $PG_DATA/PG_VERSION ]] && return 0
  say "postgres: initdb $PG_DATA"
  local pwfile="$PG_BASE/.pwfile" log="$PG_BASE/log/initdb.log"
  (umask 077 && printf '%s\n' "$PG_PASSWORD" >"$pwfile")
  ((EUID == 0)) && chown "$PG_OS_USER:" "$pwfile"
  # The database superuser is `vigil` (as with the postgres Docker image's POSTGRES_USER).
  if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_USER" --pwfile="$pwfile" -E UTF8 \
    --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >"$log" 2>&1; then
    rm -f "$pwfile"
    die_with_log "$log" "initdb failed"
  fi
  rm -f "$pwfile"
  printf "\n# Settings of scripts/services.sh\ninclude_if_exists = 'vigil.conf'\n" >>"$PG_DATA/postgresql.conf"
}

# Rewritten on every start, so changes here reach existing clusters.
pg_write_conf() {
  cat >"$PG_DATA/vigil.conf" <<EOF
# Written by scripts/services.sh on every start: change the script, not this file.
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK_DIR'
max_connections = 200
timezone = 'UTC'
log_timezone = 'UTC'

# TEST DATA ONLY. No fsync, no full-page writes, asynchronous commit: much faster, and
# a crash of the *machine* (not of postgres) can lose or corrupt this cluster
# (\`scripts/services.sh reset\` rebuilds it). Never copy these three lines to real data.
fsync = off
full_page_writes = off
synchronous_commit = off
EOF
  if ((EUID == 0)); then chown "$PG_OS_USER:" "$PG_DATA/vigil.conf"; fi
}

pg_postmaster_pid() {
  local pid
  [[ -f $PG_DATA/postmaster.pid ]] || return 1
  pid=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null)
  pid_alive "$pid" && pid_cmdline_has "$pid" "$PG_DATA" || return 1
  printf '%s\n' "$pid"
}

pg_query() {
  PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=3 "$PG_BIN/psql" -X -q -t -A -v ON_ERROR_STOP=1 \
    -h "$HOST" -p "$PG_PORT" -U "$PG_USER" "$@" 2>&1
}

pg_ensure_database() {
  local exists
  exists=$(pg_query -d postgres -c "select 1 from pg_database where datname = '$PG_DB'") ||
    die "postgres: cannot query pg_database: $exists"
  if [[ $exists != 1 ]]; then
    say "postgres: creating database $PG_DB"
    pg_query -d postgres -c "create database \"$PG_DB\" owner \"$PG_USER\"" >/dev/null ||
      die "postgres: create database $PG_DB failed"
  fi
}

pg_wait_ready() {
  local t0=$1 deadline=$((SECONDS + READY_TIMEOUT)) out
  until "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die_with_log "$PG_LOG" "postgres: not accepting connections on $HOST:$PG_PORT after ${READY_TIMEOUT}s"
    sleep 0.2
  done
  pg_ensure_database
  until out=$(pg_query -d "$PG_DB" -c 'select 1') && [[ $out == 1 ]]; do
    ((SECONDS < deadline)) || die_with_log "$PG_LOG" "postgres: \`select 1\` as $PG_USER failed after ${READY_TIMEOUT}s: $out"
    sleep 0.2
  done
  say "postgres ready  $PG_URL  ($(elapsed_since "$t0"))"
}

pg_start() {
  local t0
  t0=$(now)
  pg_ensure_installed
  if port_open "$PG_PORT"; then
    pg_postmaster_pid >/dev/null || say "postgres: something already answers on $HOST:$PG_PORT; using it"
  else
    pg_prepare_dirs
    pg_init_cluster
    pg_write_conf
    # A pid file whose process is gone (killed, or a zombie nobody reaped) would block start-up.
    if [[ -f $PG_DATA/postmaster.pid ]] && ! pg_postmaster_pid >/dev/null; then
      rm -f "$PG_DATA/postmaster.pid"
    fi
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$READY_TIMEOUT" start >/dev/null 2>&1 ||
      die_with_log "$PG_LOG" "postgres: pg_ctl start failed"
  fi
  pg_wait_ready "$t0"
}

pg_stop() {
  local pid
  if ! pid=$(pg_postmaster_pid); then
    port_open "$PG_PORT" && warn "postgres: $HOST:$PG_PORT answers, but not from $PG_DATA: left alone"
    say "postgres stopped"
    return 0
  fi
  pg_ensure_installed
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$STOP_TIMEOUT" stop >/dev/null 2>&1; then
    warn "postgres (pid $pid) did not stop within ${STOP_TIMEOUT}s: sending SIGKILL"
    kill_tree postgres "$pid"
    rm -f "$PG_DATA/postmaster.pid"
  fi
  wait_pid_exit "$pid" 10 || die "postgres (pid $pid) did not exit"
  say "postgres stopped"
}

pg_status() {
  report_status postgres "$(pg_postmaster_pid || true)" "$PG_PORT" "$HOST:$PG_PORT" ", data $PG_DATA" "the cluster in $PG_DATA"
}

# --------------------------------------------------------------------------- redis

redis_ensure_installed() {
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    apt_install redis-server redis-tools
  fi
}

redis_write_conf() {
  mkdir -p "$REDIS_DIR/data"
  cat >"$REDIS_CONF" <<EOF
# Written by scripts/services.sh on every start: change the script, not this file.
bind $HOST
port $REDIS_PORT
protected-mode yes
daemonize yes
pidfile $REDIS_PIDFILE
logfile $REDIS_LOG
loglevel notice
dir $REDIS_DIR/data
# Keep data across restarts (stop/start in fault-injection tests).
appendonly yes
appendfsync everysec
# BullMQ needs keys never to be evicted.
maxmemory-policy noeviction
EOF
}

redis_pid() {
  local pid
  [[ -f $REDIS_PIDFILE ]] || return 1
  pid=$(cat "$REDIS_PIDFILE" 2>/dev/null) || return 1
  pid_alive "$pid" && pid_cmdline_has "$pid" "redis-server" || return 1
  printf '%s\n' "$pid"
}

redis_ping() {
  [[ $(timeout 5 redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

redis_start() {
  local t0 deadline
  t0=$(now)
  redis_ensure_installed
  if port_open "$REDIS_PORT"; then
    redis_pid >/dev/null || say "redis: something already answers on $HOST:$REDIS_PORT; using it"
  else
    redis_write_conf
    redis-server "$REDIS_CONF" </dev/null >/dev/null 2>&1 9>&- ||
      die_with_log "$REDIS_LOG" "redis: redis-server failed to start"
  fi
  deadline=$((SECONDS + READY_TIMEOUT))
  until redis_ping; do
    ((SECONDS < deadline)) || die_with_log "$REDIS_LOG" "redis: no PONG from $HOST:$REDIS_PORT after ${READY_TIMEOUT}s"
    sleep 0.2
  done
  say "redis ready     redis://$HOST:$REDIS_PORT  ($(elapsed_since "$t0"))"
}

redis_stop() {
  local pid
  if ! pid=$(redis_pid); then
    port_open "$REDIS_PORT" && warn "redis: $HOST:$REDIS_PORT answers, but not the server of $REDIS_CONF: left alone"
    say "redis stopped"
    return 0
  fi
  # SHUTDOWN flushes the append-only file before exiting (SIGTERM does too).
  if timeout 10 redis-cli -h "$HOST" -p "$REDIS_PORT" shutdown >/dev/null 2>&1; then
    terminate_pid redis "$pid" no
  else
    terminate_pid redis "$pid"
  fi
  rm -f "$REDIS_PIDFILE"
  say "redis stopped"
}

redis_status() {
  report_status redis "$(redis_pid || true)" "$REDIS_PORT" "$HOST:$REDIS_PORT" ", data $REDIS_DIR/data" "the server of $REDIS_CONF"
}

# --------------------------------------------------------------------------- kafka

kafka_libs_stamp() {
  printf 'kafka %s\n' "$KAFKA_VERSION"
  sha256sum "$KAFKA_SRC/pom.xml" | cut -d' ' -f1
}

# Copy the jars from Maven Central when they are missing or the pom changed.
kafka_ensure_libs() {
  local stamp tmp log="$KAFKA_DIR/maven.log"
  stamp=$(kafka_libs_stamp)
  [[ -f $KAFKA_LIBS/.stamp && $(<"$KAFKA_LIBS/.stamp") == "$stamp" ]] && return 0
  ensure_maven
  mkdir -p "$KAFKA_DIR"
  tmp="$KAFKA_DIR/libs.tmp"
  rm -rf "$tmp"
  say "kafka: fetching Apache Kafka $KAFKA_VERSION jars from Maven Central"
  if ! (cd "$KAFKA_SRC" && mvn -B -q -Dstyle.color=never -f "$KAFKA_SRC/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$tmp" </dev/null >"$log" 2>&1 9>&-); then
    die_with_log "$log" "kafka: mvn dependency:copy-dependencies failed"
  fi
  [[ -f $tmp/kafka_2.13-$KAFKA_VERSION.jar ]] || die_with_log "$log" "kafka: kafka_2.13-$KAFKA_VERSION.jar missing after Maven"
  printf '%s\n' "$stamp" >"$tmp/.stamp"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
}

kafka_ensure_installed() {
  ensure_java
  kafka_ensure_libs
}

# A Kafka command-line class with the same jars: small heap, quick start, warnings only.
# Optional first argument --timeout=SECONDS.
kafka_tool() {
  local limit=()
  if [[ ${1:-} == --timeout=* ]]; then
    limit=(timeout "${1#--timeout=}")
    shift
  fi
  "${limit[@]}" java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$KAFKA_SRC/tools-log4j2.xml" -cp "$KAFKA_LIBS/*" "$@" 9>&-
}

kafka_write_conf() {
  mkdir -p "$KAFKA_DATA" "$KAFKA_LOGS"
  {
    printf '# Written by scripts/services.sh from scripts/kafka/server.properties on every start.\n'
    sed -e "s|@DATA_DIR@|$KAFKA_DATA|g" \
      -e "s|127\.0\.0\.1:19092|$HOST:$KAFKA_PORT|g" \
      -e "s|127\.0\.0\.1:19093|$HOST:$KAFKA_CONTROLLER_PORT|g" \
      "$KAFKA_SRC/server.properties"
  } >"$KAFKA_PROPS"
  cat >"$KAFKA_TOOLS_PROPS" <<EOF
request.timeout.ms=5000
default.api.timeout.ms=10000
EOF
}

# Format the KRaft storage once; an existing data dir is never formatted again.
kafka_format() {
  [[ -f $KAFKA_DATA/meta.properties ]] && return 0
  local id log="$KAFKA_LOGS/storage-format.log"
  if [[ -s $KAFKA_CLUSTER_ID_FILE ]]; then
    id=$(<"$KAFKA_CLUSTER_ID_FILE")
  else
    id=$(kafka_tool kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    [[ $id =~ ^[A-Za-z0-9_-]{22}$ ]] || die "kafka: StorageTool random-uuid gave '$id'"
    printf '%s\n' "$id" >"$KAFKA_CLUSTER_ID_FILE"
  fi
  say "kafka: formatting KRaft storage (cluster id $id)"
  kafka_tool kafka.tools.StorageTool format --ignore-formatted -t "$id" -c "$KAFKA_PROPS" >"$log" 2>&1 ||
    die_with_log "$log" "kafka: storage format failed"
}

kafka_pid() {
  local pid f
  if [[ -f $KAFKA_PIDFILE ]]; then
    pid=$(cat "$KAFKA_PIDFILE" 2>/dev/null) || pid=""
    if pid_alive "$pid" && pid_cmdline_has "$pid" "$KAFKA_PROPS"; then
      printf '%s\n' "$pid"
      return 0
    fi
  fi
  # No (valid) pidfile: look for our server by its properties path.
  for f in /proc/[0-9]*; do
    pid=${f#/proc/}
    if pid_cmdline_has "$pid" "kafka.Kafka $KAFKA_PROPS" && pid_alive "$pid"; then
      printf '%s\n' "$pid"
      return 0
    fi
  done
  return 1
}

kafka_list_topics() {
  kafka_tool --timeout=30 org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BOOTSTRAP" \
    --command-config "$KAFKA_TOOLS_PROPS" --list
}

# Start the server in the background (returns at once; kafka_wait_ready waits).
kafka_launch() {
  KAFKA_T0=$(now)
  kafka_ensure_installed
  if port_open "$KAFKA_PORT"; then
    kafka_pid >/dev/null || say "kafka: something already answers on $HOST:$KAFKA_PORT; using it"
    return 0
  fi
  local pid
  if pid=$(kafka_pid); then
    say "kafka: pid $pid is starting"
    return 0
  fi
  if port_open "$KAFKA_CONTROLLER_PORT"; then
    die "kafka: the controller port $HOST:$KAFKA_CONTROLLER_PORT is taken by another process"
  fi
  kafka_write_conf
  kafka_format
  KAFKA_LOG_START=1
  if [[ -f $KAFKA_LOGS/server.log ]]; then
    KAFKA_LOG_START=$(($(wc -l <"$KAFKA_LOGS/server.log") + 1))
  fi
  # shellcheck disable=SC2086 # KAFKA_HEAP_OPTS is a list of JVM flags
  setsid nohup java $KAFKA_HEAP_OPTS -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dkafka.logs.dir="$KAFKA_LOGS" -Dlog4j2.configurationFile="$KAFKA_SRC/log4j2.xml" \
    -Dlog4j2.shutdownHookEnabled=false \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPS" \
    </dev/null >"$KAFKA_LOGS/kafka.out" 2>&1 9>&- &
  printf '%s\n' "$!" >"$KAFKA_PIDFILE"
}

# The errors of this start first (the end of server.log is often shutdown noise), then its tail.
kafka_fail() {
  local msg=$1 log="$KAFKA_LOGS/server.log" errors
  if [[ -s $KAFKA_LOGS/kafka.out ]]; then
    printf '[services] ---- %s ----\n' "$KAFKA_LOGS/kafka.out" >&2
    tail -n 10 "$KAFKA_LOGS/kafka.out" >&2
  fi
  errors=$(tail -n "+${KAFKA_LOG_START:-1}" "$log" 2>/dev/null |
    grep -E '^\[[^]]*\] (ERROR|FATAL) |^Caused by: ' | tail -n 10 | cut -c1-400) || true
  if [[ -n $errors ]]; then
    printf '[services] ---- errors in %s ----\n%s\n' "$log" "$errors" >&2
  fi
  die_with_log "$log" "kafka: $msg"
}

kafka_wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT)) pid out=""
  until port_open "$KAFKA_PORT"; do
    if ! pid=$(kafka_pid); then
      kafka_fail "the server exited during start-up"
    fi
    ((SECONDS < deadline)) || kafka_fail "$HOST:$KAFKA_PORT not open after ${READY_TIMEOUT}s"
    sleep 0.3
  done
  # A real metadata round trip through the admin client.
  until out=$(kafka_list_topics 2>&1); do
    ((SECONDS < deadline)) || kafka_fail "metadata request (TopicCommand --list) failed after ${READY_TIMEOUT}s: $(tail -n 3 <<<"$out")"
    sleep 1
  done
  say "kafka ready     $KAFKA_BOOTSTRAP  (Apache Kafka $KAFKA_VERSION, KRaft; $(elapsed_since "${KAFKA_T0:-$(now)}"))"
}

kafka_start() {
  kafka_launch
  kafka_wait_ready
}

kafka_stop() {
  local pid
  if ! pid=$(kafka_pid); then
    port_open "$KAFKA_PORT" && warn "kafka: $HOST:$KAFKA_PORT answers, but not the server of $KAFKA_PROPS: left alone"
    rm -f "$KAFKA_PIDFILE"
    say "kafka stopped"
    return 0
  fi
  terminate_pid kafka "$pid"
  rm -f "$KAFKA_PIDFILE"
  say "kafka stopped"
}

kafka_status() {
  report_status kafka "$(kafka_pid || true)" "$KAFKA_PORT" "$KAFKA_BOOTSTRAP" ", Apache Kafka $KAFKA_VERSION, data $KAFKA_DATA" "the server of $KAFKA_PROPS"
}

kafka_topics() {
  [[ -d $KAFKA_LIBS ]] || die "kafka jars not assembled yet: run \`$0 up\` first"
  mkdir -p "$KAFKA_DIR"
  [[ -f $KAFKA_TOOLS_PROPS ]] || kafka_write_conf
  kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BOOTSTRAP" \
    --command-config "$KAFKA_TOOLS_PROPS" "$@"
}

# --------------------------------------------------------------------------- commands

check_service() {
  case ${1:-} in
    postgres | redis | kafka) ;;
    "") die "missing service name: postgres, redis or kafka" ;;
    *) die "unknown service '$1': postgres, redis or kafka" ;;
  esac
}

cmd_up() {
  local t0
  t0=$(now)
  # Installs first (apt-get, Maven), then Kafka boots in the background while
  # PostgreSQL and Redis start.
  pg_ensure_installed
  redis_ensure_installed
  kafka_ensure_installed
  kafka_launch
  pg_start
  redis_start
  kafka_wait_ready
  say "all services ready ($(elapsed_since "$t0")); connection settings: $ENV_FILE"
}

cmd_down() {
  kafka_stop
  redis_stop
  pg_stop
}

cmd_start() {
  check_service "${1:-}"
  case $1 in
    postgres) pg_start ;;
    redis) redis_start ;;
    kafka) kafka_start ;;
  esac
}

cmd_stop() {
  check_service "${1:-}"
  case $1 in
    postgres) pg_stop ;;
    redis) redis_stop ;;
    kafka) kafka_stop ;;
  esac
}

# One service's status line. pid: our process (empty when none runs); running: what follows the
# address on a running line; ours: what a port answering without our process is not.
report_status() {
  local name=$1 pid=$2 port=$3 address=$4 running=$5 ours=$6
  if [[ -n $pid ]]; then
    if port_open "$port"; then
      say "$name: running (pid $pid) on $address$running"
    else
      say "$name: process $pid alive but $address closed (starting or stopping)"
    fi
  elif port_open "$port"; then
    say "$name: $address answers (not $ours)"
  else
    say "$name: stopped"
  fi
}

cmd_status() {
  pg_status
  redis_status
  kafka_status
}

cmd_reset() {
  cmd_down
  say "deleting service data under $SERVICES_DIR (keeping $KAFKA_LIBS)"
  rm -rf "$PG_BASE" "$REDIS_DIR" "$KAFKA_DATA" "$KAFKA_LOGS" "$KAFKA_CLUSTER_ID_FILE" \
    "$KAFKA_PROPS" "$KAFKA_TOOLS_PROPS" "$KAFKA_PIDFILE"
}

main() {
  local cmd=${1:-up}
  [[ $# -gt 0 ]] && shift
  load_settings
  case $cmd in
    up) take_lock && cmd_up ;;
    down) take_lock && cmd_down ;;
    start) take_lock && cmd_start "$@" ;;
    stop) take_lock && cmd_stop "$@" ;;
    restart) take_lock && cmd_stop "$@" && cmd_start "$@" ;;
    status) cmd_status ;;
    env) grep -E '^export ' "$ENV_FILE" ;;
    reset) take_lock && cmd_reset ;;
    kafka-topics) kafka_topics "$@" ;;
    -h | --help | help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
