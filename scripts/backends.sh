#!/usr/bin/env bash
# Install and start the real backends tend drives, so the backend tests can run:
#   docker  - a Docker engine (dockerd) answering on /var/run/docker.sock
#   systemd - a systemd *user* manager (PID 1 here is not systemd)
#   tmux    - the tmux binary, checked by starting a server on a private socket
#   launchd - no launchd on Linux; plistutil (libplist-utils) stands in for the
#             plist handling, busybox(-static) gives tests a static binary to
#             put in a from-scratch image
#   chromium - Debian's chromium (plus a font), driven headless by playwright-core
#              in the agent status page test
#
# Idempotent: a backend that already answers is left alone, so running this
# twice is fine. Execute it (`bash scripts/backends.sh`) or source it
# (`. scripts/backends.sh`); sourcing also exports XDG_RUNTIME_DIR into the
# calling shell. Tests need that variable to reach the user manager:
#
#   export XDG_RUNTIME_DIR=/run/user/$(id -u)      # /run/user/0 as root
#
# Exits non-zero, naming the backend, when any backend could not be started.
#
# Env knobs:
#   TEND_BACKENDS_WAIT    seconds to wait for each daemon (default 60)
#   TEND_DOCKERD_LOG      dockerd log file (default /var/log/tend-dockerd.log)
#   TEND_SYSTEMD_USER_LOG systemd --user log (default /var/log/tend-systemd-user.log)

# Sourced: run as a child bash so `set -e` and `exit` don't leak into the
# caller's shell, then hand the caller the variable the tests need.
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
  _tend_backends_rc=0
  bash "${BASH_SOURCE[0]}" "$@" || _tend_backends_rc=$?
  XDG_RUNTIME_DIR="/run/user/$(id -u)"; export XDG_RUNTIME_DIR
  return $_tend_backends_rc
fi

set -euo pipefail

WAIT_SECS="${TEND_BACKENDS_WAIT:-60}"
DOCKERD_LOG="${TEND_DOCKERD_LOG:-/var/log/tend-dockerd.log}"
SYSTEMD_USER_LOG="${TEND_SYSTEMD_USER_LOG:-/var/log/tend-systemd-user.log}"
SYSTEMD_USER_PIDFILE="/run/tend-systemd-user.$(id -u).pid"
DOCKER_SOCK=/var/run/docker.sock
XDG_RUNTIME_DIR="/run/user/$(id -u)"
export XDG_RUNTIME_DIR
export DEBIAN_FRONTEND=noninteractive

declare -A SUMMARY=()
FAILED=()

log() { printf '[backends] %s\n' "$*" >&2; }
is_root() { [[ "$(id -u)" == 0 ]]; }
have() { command -v "$1" >/dev/null 2>&1; }
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# ---------------------------------------------------------------- packages --
# Each check is "is the thing we need there", not "is this exact package
# there": e.g. a docker *client* at /usr/local/bin/docker is no engine, so we
# look for dockerd; a dynamic busybox is as good as busybox-static.
missing_packages() {
  local -a pkgs=()
  have dockerd || pkgs+=(docker.io)
  have tmux || pkgs+=(tmux)
  have busybox || pkgs+=(busybox-static)
  have plistutil || pkgs+=(libplist-utils)
  { [[ -x /lib/systemd/systemd ]] && have systemctl; } || pkgs+=(systemd)
  # The user manager's D-Bus (user bus socket activation); systemctl --user
  # itself talks over $XDG_RUNTIME_DIR/systemd/private.
  pkg_installed dbus-user-session || pkgs+=(dbus-user-session)
  # Used below to ping the Docker socket without depending on client/daemon
  # API version agreement.
  have curl || pkgs+=(curl)
  # The status page test drives Debian's chromium headless (playwright-core);
  # a font so its screenshot shows text (with --no-install-recommends no font
  # comes along).
  have chromium || pkgs+=(chromium)
  { have fc-list && [[ -n "$(fc-list 2>/dev/null | head -n1)" ]]; } || pkgs+=(fonts-liberation)
  printf '%s\n' "${pkgs[@]}"
}

install_packages() {
  local -a pkgs
  mapfile -t pkgs < <(missing_packages | sed '/^$/d')
  if ((${#pkgs[@]} == 0)); then
    log "packages: all present"
    return 0
  fi
  if ! is_root; then
    log "packages missing (${pkgs[*]}) and not root: install them with apt-get as root"
    return 1
  fi
  log "installing: ${pkgs[*]}"
  apt-get update -qq || return 1
  # No service gets started by the maintainer scripts here (policy-rc.d, and
  # /run/systemd/system is absent so deb-systemd-invoke does nothing);
  # we start what we need ourselves below.
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null || return 1
  log "installed: ${pkgs[*]}"
}

# ------------------------------------------------------------------ docker --
docker_ping() {
  # A real answer over the socket, not just "the socket file exists".
  if have curl; then
    [[ "$(curl -fsS --max-time 3 --unix-socket "$DOCKER_SOCK" http://localhost/_ping 2>/dev/null)" == OK ]]
  else
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1
  fi
}

docker_server_version() {
  curl -fsS --max-time 3 --unix-socket "$DOCKER_SOCK" http://localhost/version 2>/dev/null |
    sed -n 's/.*"Version":"\([^"]*\)".*/\1/p' | head -n1
}

# pid_alive PID NAME: PID is a live (not zombie) process called NAME.
pid_alive() {
  local pid=$1 name=$2 stat
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" == "$name" ]] || return 1
  stat="$(cat "/proc/$pid/stat" 2>/dev/null || true)"
  stat="${stat##*) }"
  [[ -n "$stat" && "${stat:0:1}" != Z ]]
}

# The pid file left by a dockerd (or its containerd) that died uncleanly
# makes the next dockerd refuse to start ("pid file found") while /proc/<pid>
# still exists, e.g. as a zombie PID 1 has not reaped yet. Remove such files.
clear_stale_docker_pidfiles() {
  local f pid name
  for f in /var/run/docker.pid:dockerd /var/run/docker/containerd/containerd.pid:containerd; do
    name="${f##*:}"
    f="${f%:*}"
    [[ -f "$f" ]] || continue
    pid="$(cat "$f" 2>/dev/null || true)"
    if ! pid_alive "$pid" "$name"; then
      log "removing stale $f (pid '$pid' is not a live $name)"
      rm -f "$f"
    fi
  done
}

wait_until() { # wait_until CHECK PID NAME: until CHECK passes, PID (named NAME) dies, or timeout
  local check=$1 pid=$2 name=$3 i
  for ((i = 0; i < WAIT_SECS * 2; i++)); do
    "$check" && return 0
    pid_alive "$pid" "$name" || { "$check" && return 0; return 2; }
    sleep 0.5
  done
  return 1
}

wait_docker() { wait_until docker_ping "$1" dockerd; }

start_docker() {
  if docker_ping; then
    SUMMARY[docker]="ok, already running (engine $(docker_server_version), $DOCKER_SOCK)"
    return 0
  fi
  # A dockerd that is alive but not answering yet (still starting, e.g. from
  # a concurrent run of this script): wait for it rather than start another.
  local running
  running="$(cat /var/run/docker.pid 2>/dev/null || true)"
  if pid_alive "$running" dockerd; then
    log "dockerd pid $running is running but not answering yet; waiting up to ${WAIT_SECS}s"
    if wait_docker "$running"; then
      SUMMARY[docker]="ok, already running pid $running (engine $(docker_server_version), $DOCKER_SOCK)"
      return 0
    fi
    SUMMARY[docker]="FAILED: dockerd pid $running runs but does not answer on $DOCKER_SOCK (see $DOCKERD_LOG)"
    return 1
  fi
  if ! have dockerd; then
    SUMMARY[docker]="FAILED: dockerd not installed"
    return 1
  fi
  if ! is_root; then
    SUMMARY[docker]="FAILED: not answering on $DOCKER_SOCK and not root to start dockerd"
    return 1
  fi
  log "starting dockerd (log: $DOCKERD_LOG)"
  mkdir -p "$(dirname "$DOCKERD_LOG")"
  clear_stale_docker_pidfiles
  echo "=== $(date -u +%FT%TZ) scripts/backends.sh starts dockerd" >>"$DOCKERD_LOG"
  # Plain start: on this Firecracker VM (real kernel, cgroup v1 hybrid,
  # ext4 root) dockerd runs with its defaults (overlay2, iptables, docker0
  # bridge), so no --iptables=false / --bridge=none is needed. It launches
  # its own containerd. All fds go to the log so no caller (CI) waits on a
  # pipe held open by the daemon.
  setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  local pid=$! rc=0
  wait_docker "$pid" || rc=$?
  if ((rc == 0)); then
    SUMMARY[docker]="ok, started pid $pid (engine $(docker_server_version), $DOCKER_SOCK, log $DOCKERD_LOG)"
    return 0
  fi
  log "dockerd did not come up; last lines of $DOCKERD_LOG:"
  tail -n 20 "$DOCKERD_LOG" >&2 || true
  if ((rc == 2)); then
    SUMMARY[docker]="FAILED: dockerd exited at start (see $DOCKERD_LOG)"
  else
    SUMMARY[docker]="FAILED: dockerd (pid $pid) not answering on $DOCKER_SOCK after ${WAIT_SECS}s"
  fi
  return 1
}

# ----------------------------------------------------------------- systemd --
systemd_user_state() {
  timeout 5 systemctl --user show -p SystemState --value 2>/dev/null || true
}

systemd_user_up() {
  case "$(systemd_user_state)" in running | degraded) return 0 ;; *) return 1 ;; esac
}

wait_systemd_user() { wait_until systemd_user_up "$1" systemd; }

CREATED_MARKER=0
remove_booted_marker() {
  # Only the manager's start needs /run/systemd/system (systemd's "was the
  # system booted with systemd" test). Left behind, it makes deb-systemd-invoke
  # in apt's maintainer scripts believe systemd is PID 1. Remove it only if we
  # made it (on a real systemd host it belongs to PID 1), and only if empty.
  if ((CREATED_MARKER)); then
    rmdir /run/systemd/system 2>/dev/null || true
    CREATED_MARKER=0
  fi
}
trap remove_booted_marker EXIT
trap 'exit 130' INT TERM HUP  # so the EXIT trap runs on these too

start_systemd_user() {
  if systemd_user_up; then
    SUMMARY[systemd]="ok, user manager already $(systemd_user_state) (XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR)"
    return 0
  fi
  if [[ ! -x /lib/systemd/systemd ]]; then
    SUMMARY[systemd]="FAILED: /lib/systemd/systemd not installed"
    return 1
  fi
  if ! is_root; then
    SUMMARY[systemd]="FAILED: user manager not answering and not root to start it"
    return 1
  fi

  # A manager we started earlier (recorded pid, still a live systemd) that is
  # not answering: give it time (it may be starting, from a concurrent run),
  # then end it, by that pid only.
  if [[ -f "$SYSTEMD_USER_PIDFILE" ]]; then
    local old
    old="$(cat "$SYSTEMD_USER_PIDFILE" 2>/dev/null || true)"
    if pid_alive "$old" systemd; then
      log "user manager pid $old is running but not answering yet; waiting up to ${WAIT_SECS}s"
      if wait_systemd_user "$old"; then
        SUMMARY[systemd]="ok, user manager pid $old $(systemd_user_state) (XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR)"
        return 0
      fi
      log "user manager pid $old never answered; stopping it"
      kill "$old" 2>/dev/null || true
      for _ in 1 2 3 4 5 6 7 8 9 10; do pid_alive "$old" systemd || break; sleep 0.5; done
      kill -9 "$old" 2>/dev/null || true
    fi
    rm -f "$SYSTEMD_USER_PIDFILE"
  fi

  if [[ ! -d /run/systemd/system ]]; then
    mkdir -p /run/systemd/system
    CREATED_MARKER=1
  fi
  mkdir -p "$XDG_RUNTIME_DIR"
  chmod 0700 "$XDG_RUNTIME_DIR"
  # Left over by a dead manager: its private socket would make the new one's
  # bind fail, and a socket file is no proof anyone listens.
  rm -rf "$XDG_RUNTIME_DIR/systemd"

  log "starting systemd --user (log: $SYSTEMD_USER_LOG)"
  mkdir -p "$(dirname "$SYSTEMD_USER_LOG")"
  echo "=== $(date -u +%FT%TZ) scripts/backends.sh starts systemd --user" >>"$SYSTEMD_USER_LOG"
  setsid /lib/systemd/systemd --user >>"$SYSTEMD_USER_LOG" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$SYSTEMD_USER_PIDFILE"
  local ok=0
  wait_systemd_user "$pid" && ok=1
  remove_booted_marker
  if ((ok)); then
    SUMMARY[systemd]="ok, user manager started pid $pid, $(systemd_user_state) (XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR, log $SYSTEMD_USER_LOG)"
    return 0
  fi
  log "systemd --user did not come up; last lines of $SYSTEMD_USER_LOG:"
  tail -n 20 "$SYSTEMD_USER_LOG" >&2 || true
  if pid_alive "$pid" systemd; then
    SUMMARY[systemd]="FAILED: systemd --user (pid $pid) state '$(systemd_user_state)' after ${WAIT_SECS}s"
  else
    SUMMARY[systemd]="FAILED: systemd --user exited at start (see $SYSTEMD_USER_LOG)"
  fi
  return 1
}

# -------------------------------------------------------------------- tmux --
check_tmux() {
  if ! have tmux; then
    SUMMARY[tmux]="FAILED: tmux not installed"
    return 1
  fi
  local sock=tend-backends-check
  local sock_file
  sock_file="${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$sock"
  tmux -L "$sock" kill-server >/dev/null 2>&1 || true
  if tmux -L "$sock" new-session -d -s check /bin/sleep 30 >/dev/null 2>&1 &&
    tmux -L "$sock" has-session -t check >/dev/null 2>&1; then
    tmux -L "$sock" kill-server >/dev/null 2>&1 || true
    rm -f "$sock_file" # kill-server leaves the socket file behind
    SUMMARY[tmux]="ok, $(tmux -V)"
    return 0
  fi
  tmux -L "$sock" kill-server >/dev/null 2>&1 || true
  rm -f "$sock_file"
  SUMMARY[tmux]="FAILED: could not start a tmux server on socket -L $sock"
  return 1
}

# ------------------------------------------------------- plistutil, busybox --
check_tools() {
  local rc=0
  if have plistutil; then
    SUMMARY[plistutil]="ok, $(command -v plistutil)"
  else
    SUMMARY[plistutil]="FAILED: plistutil not installed (libplist-utils)"
    rc=1
  fi
  if have busybox; then
    SUMMARY[busybox]="ok, $(command -v busybox)"
  else
    SUMMARY[busybox]="FAILED: busybox not installed (busybox-static)"
    rc=1
  fi
  # A real headless run, not just "the binary exists" (stderr: Debian's
  # wrapper script is noisy).
  if ! have chromium; then
    SUMMARY[chromium]="FAILED: chromium not installed"
    rc=1
  elif [[ "$(timeout 60 chromium --headless --no-sandbox --disable-gpu --dump-dom 'data:text/html,<p>tend-check</p>' 2>/dev/null)" == *'<p>tend-check</p>'* ]]; then
    SUMMARY[chromium]="ok, $(chromium --version 2>/dev/null) ($(command -v chromium))"
  else
    SUMMARY[chromium]="FAILED: chromium --headless did not render a page"
    rc=1
  fi
  return $rc
}

# -------------------------------------------------------------------- main --
main() {
  local start=$SECONDS
  install_packages || FAILED+=(packages)
  start_docker || FAILED+=(docker)
  start_systemd_user || FAILED+=(systemd)
  check_tmux || FAILED+=(tmux)
  check_tools || FAILED+=(tools)

  echo "backends ($((SECONDS - start))s):"
  local b
  for b in docker systemd tmux plistutil busybox chromium; do
    printf '  %-11s %s\n' "$b:" "${SUMMARY[$b]:-FAILED: not checked}"
  done
  echo "  user manager: XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR (tend and its tests find it there by themselves: nothing to export)"
  if ((${#FAILED[@]})); then
    echo "backends.sh: FAILED: ${FAILED[*]} could not be set up (see above)" >&2
    exit 1
  fi
}

main "$@"
