#!/usr/bin/env bash
# Provide what the test suite needs from the machine, then get out of the way.
#
#   * PostgreSQL 15 + PostGIS 3 (Debian: postgresql-15-postgis-3), a server running and
#     accepting the superuser `postgres` without a password on 127.0.0.1:5432, and the
#     `postgis` extension creatable there;
#   * headless Chromium for the map tests (Debian: chromium, chromium-driver; the tests drive
#     /usr/bin/chromium through Playwright's Python package, never `playwright install`).
#
# Idempotent and silent when everything is already there (well under 2 s). It changes the
# machine only when something is missing: installs Debian packages (apt-get update only when
# apt does not know a package yet, or an install from the old lists failed), starts (or,
# when none exists, creates) the Debian cluster 15/main, and, on that local cluster only,
# adds loopback `trust` lines to pg_hba.conf when the superuser cannot log in without a
# password. Each change prints one line. Anything it cannot provide ends it with exit code 1
# and one line `test-services: ...` on stderr saying why.
#
# Called by `make test` before pytest, and by tests/conftest.py when a test needs PostGIS and
# the server is not there. Runs serialised (flock), so parallel callers (pytest-xdist
# workers) do not race each other through apt or pg_ctlcluster.
#
# Environment: GANDAN_TEST_PG_PORT (default 5432) and GANDAN_TEST_PG_CLUSTER (default main)
# pick another port/cluster (used to test this script without touching 15/main);
# GANDAN_TEST_SKIP_BROWSER=1 leaves out the Chromium packages (not for CI: map tests need them).
set -euo pipefail

PG_MAJOR=15
PG_CLUSTER="${GANDAN_TEST_PG_CLUSTER:-main}"
PG_HOST=127.0.0.1
PG_PORT="${GANDAN_TEST_PG_PORT:-5432}"
PG_PACKAGE="postgresql-${PG_MAJOR}-postgis-3"
BROWSER_PACKAGES=(chromium chromium-driver)
LOCK_FILE="${TMPDIR:-/tmp}/gandan-test-services.$(id -u).lock"
LOG_FILE="${TMPDIR:-/tmp}/gandan-test-services.$(id -u).log"

say() { echo "test-services: $*"; }
die() {
    echo "test-services: $*" >&2
    exit 1
}

# ---------------------------------------------------------------------------------------------
# One caller at a time.
# ---------------------------------------------------------------------------------------------
if command -v flock >/dev/null 2>&1; then
    exec 9>>"$LOCK_FILE" || die "cannot open lock file $LOCK_FILE"
    flock -w 900 9 || die "another test-services.sh has held $LOCK_FILE for 15 minutes; giving up"
fi

as_root() {
    # fd 9 (the lock) is closed for the command: a server it starts must not inherit it,
    # or the lock would stay held for as long as that server runs.
    if [[ $EUID -eq 0 ]]; then
        "$@" 9>&-
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@" 9>&-
    else
        return 126
    fi
}

can_be_root() {
    [[ $EUID -eq 0 ]] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }
}

# ---------------------------------------------------------------------------------------------
# 1. Debian packages
# ---------------------------------------------------------------------------------------------
is_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == "installed" ]]
}

apt_knows() {
    # A package apt has a candidate version for in its current lists.
    local candidate
    candidate="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')"
    [[ -n "$candidate" && "$candidate" != "(none)" ]]
}

apt_update() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -q \
        >>"$LOG_FILE" 2>&1
}

apt_install() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
        install -y -q --no-install-recommends "$@" >>"$LOG_FILE" 2>&1
}

ensure_packages() {
    local wanted=("$PG_PACKAGE")
    [[ "${GANDAN_TEST_SKIP_BROWSER:-}" == "1" ]] || wanted+=("${BROWSER_PACKAGES[@]}")

    local missing=() pkg
    for pkg in "${wanted[@]}"; do
        is_installed "$pkg" || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0

    command -v apt-get >/dev/null 2>&1 ||
        die "missing ${missing[*]} and this is not a Debian machine (no apt-get); install them by hand"
    can_be_root ||
        die "missing ${missing[*]}; run as root (or with passwordless sudo), or: sudo apt-get install -y --no-install-recommends ${missing[*]}"

    say "installing ${missing[*]} (Debian packages; log: $LOG_FILE)"
    : >"$LOG_FILE"
    local updated=0
    for pkg in "${missing[@]}"; do
        if ! apt_knows "$pkg"; then
            apt_update || die "apt-get update failed (see $LOG_FILE): $(tail -n 1 "$LOG_FILE")"
            updated=1
            break
        fi
    done
    if ! apt_install "${missing[@]}"; then
        # Stale package lists give 404s for superseded versions: refresh once and retry.
        [[ $updated -eq 1 ]] && die "apt-get install ${missing[*]} failed (see $LOG_FILE): $(tail -n 1 "$LOG_FILE")"
        apt_update || die "apt-get update failed (see $LOG_FILE): $(tail -n 1 "$LOG_FILE")"
        apt_install "${missing[@]}" ||
            die "apt-get install ${missing[*]} failed (see $LOG_FILE): $(tail -n 1 "$LOG_FILE")"
    fi
}

ensure_browser() {
    [[ "${GANDAN_TEST_SKIP_BROWSER:-}" == "1" ]] && return 0
    [[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium is missing although package chromium is installed"
    [[ -x /usr/bin/chromedriver ]] ||
        die "/usr/bin/chromedriver is missing although package chromium-driver is installed"
}

# ---------------------------------------------------------------------------------------------
# 2. A server on 127.0.0.1:$PG_PORT
# ---------------------------------------------------------------------------------------------
PSQL=(psql -X -w -q -At -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres)

server_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1; }

wait_for_server() {
    local i
    for ((i = 0; i < 60; i++)); do
        server_up && return 0
        sleep 0.5
    done
    return 1
}

cluster_line() {
    # "port status" of the Debian cluster $PG_MAJOR/$PG_CLUSTER, empty when it does not exist.
    command -v pg_lsclusters >/dev/null 2>&1 || return 0
    pg_lsclusters --no-header 2>/dev/null | awk -v v="$PG_MAJOR" -v c="$PG_CLUSTER" \
        '$1 == v && $2 == c {print $3, $4; exit}'
}

pg_log_tail() {
    local log="/var/log/postgresql/postgresql-${PG_MAJOR}-${PG_CLUSTER}.log"
    if [[ -r "$log" ]]; then tail -n 1 "$log"; fi
}

ensure_server() {
    server_up && return 0

    command -v pg_ctlcluster >/dev/null 2>&1 ||
        die "nothing answers on $PG_HOST:$PG_PORT and postgresql-common is not installed"
    can_be_root || die "nothing answers on $PG_HOST:$PG_PORT; start it as root: pg_ctlcluster --skip-systemctl-redirect $PG_MAJOR $PG_CLUSTER start"

    local line port status
    line="$(cluster_line)"
    if [[ -z "$line" ]]; then
        say "creating PostgreSQL cluster $PG_MAJOR/$PG_CLUSTER on port $PG_PORT"
        as_root pg_createcluster "$PG_MAJOR" "$PG_CLUSTER" --port "$PG_PORT" >>"$LOG_FILE" 2>&1 ||
            die "pg_createcluster $PG_MAJOR $PG_CLUSTER failed (see $LOG_FILE): $(tail -n 1 "$LOG_FILE")"
        line="$(cluster_line)"
    fi
    read -r port status <<<"$line"
    [[ "$port" == "$PG_PORT" ]] ||
        die "cluster $PG_MAJOR/$PG_CLUSTER is configured for port $port, not $PG_PORT (see /etc/postgresql/$PG_MAJOR/$PG_CLUSTER/postgresql.conf)"

    if [[ "$status" != online* ]]; then
        say "starting PostgreSQL cluster $PG_MAJOR/$PG_CLUSTER"
        as_root pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" "$PG_CLUSTER" start >>"$LOG_FILE" 2>&1 ||
            die "pg_ctlcluster $PG_MAJOR $PG_CLUSTER start failed: $(tail -n 1 "$LOG_FILE") $(pg_log_tail)"
    fi
    wait_for_server ||
        die "cluster $PG_MAJOR/$PG_CLUSTER is $status but nothing answers on $PG_HOST:$PG_PORT (listen_addresses?) $(pg_log_tail)"
}

# ---------------------------------------------------------------------------------------------
# 3. The superuser logs in over TCP without a password
# ---------------------------------------------------------------------------------------------
HBA_MARK="# gandan test-services: loopback trust for the test suite"

ensure_login() {
    local err
    err="$("${PSQL[@]}" -c 'SELECT 1' 2>&1 >/dev/null)" && return 0

    local hba="/etc/postgresql/$PG_MAJOR/$PG_CLUSTER/pg_hba.conf"
    local line
    line="$(cluster_line)"
    if [[ "$err" == *"password"* && -f "$hba" && "$line" == "$PG_PORT online"* ]] &&
        ! grep -qF "$HBA_MARK" "$hba" && can_be_root; then
        say "allowing password-less loopback logins in $hba (test machine)"
        local tmp
        tmp="$(mktemp)"
        {
            echo "$HBA_MARK"
            echo "host all all 127.0.0.1/32 trust"
            echo "host all all ::1/128 trust"
            cat "$hba"
        } >"$tmp"
        as_root cp "$tmp" "$hba"
        rm -f "$tmp"
        as_root pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" "$PG_CLUSTER" reload >>"$LOG_FILE" 2>&1 ||
            die "pg_ctlcluster $PG_MAJOR $PG_CLUSTER reload failed: $(tail -n 1 "$LOG_FILE")"
        sleep 0.3
        err="$("${PSQL[@]}" -c 'SELECT 1' 2>&1 >/dev/null)" && return 0
    fi
    die "cannot log in as postgres on $PG_HOST:$PG_PORT without a password: ${err//$'\n'/ }"
}

# ---------------------------------------------------------------------------------------------
# 4. PostGIS 3 can be created (tried in a transaction that is rolled back: leaves nothing)
# ---------------------------------------------------------------------------------------------
ensure_postgis() {
    local out
    if ! out="$("${PSQL[@]}" 2>&1 <<'SQL'
BEGIN;
CREATE EXTENSION IF NOT EXISTS postgis;
SELECT current_setting('server_version_num')::int / 10000 || ' ' || postgis_lib_version();
ROLLBACK;
SQL
    )"; then
        die "cannot create extension postgis on $PG_HOST:$PG_PORT (is this server the local $PG_PACKAGE one?): ${out//$'\n'/ }"
    fi
    local server_major postgis_version
    read -r server_major postgis_version <<<"$out"
    [[ "$postgis_version" == 3.* ]] ||
        die "server on $PG_HOST:$PG_PORT has PostGIS $postgis_version; the project needs PostGIS 3"
    [[ "$server_major" == "$PG_MAJOR" ]] ||
        die "server on $PG_HOST:$PG_PORT is PostgreSQL $server_major; the project needs $PG_MAJOR (stop it, or free port $PG_PORT)"
}

ensure_packages
ensure_browser
ensure_server
ensure_login
ensure_postgis
