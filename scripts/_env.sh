# Shared setup for the scripts: sourced, not run.
# Installs what the project needs on a fresh machine (idempotent, quiet when
# everything is already there).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
VNG_VENV="$ROOT/.cache/vng-venv"
VM_PACKAGES="qemu-system-x86 linux-image-amd64 ipvsadm socat busybox-static iproute2 kmod"
# The interpreter of the project's venv. Debian's own Python when there is
# one: it is what an appliance image runs, and its statically linked,
# stripped interpreter starts in a fifth of the time of a shared-libpython
# build in the VM, where every file page comes over 9p (measured: 0.5-1 s
# against 3-5 s for `python -c pass`). PYTHON=... overrides.
if [ -z "${PYTHON:-}" ] && [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=${PYTHON:-python3}; fi

log() { printf '==> %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_apt() {
    local missing=()
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

ensure_venv() {
    if [ "$PY" = /usr/bin/python3 ]; then ensure_apt python3-venv python3-dev; fi
    # a venv made by another interpreter than $PY is made again
    if [ -x "$VENV/bin/python" ] && [ "$("$VENV/bin/python" -c 'import sys; print(sys.base_prefix, sys.version)')" \
            != "$("$PY" -c 'import sys; print(sys.base_prefix, sys.version)')" ]; then
        log "recreating $VENV for $PY"
        rm -rf "$VENV"
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating $VENV"
        "$PY" -m venv "$VENV"
    fi
    local stamp="$VENV/.installed"
    if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ] || [ "$ROOT/setup.py" -nt "$stamp" ] \
        || [ -n "$(find "$ROOT/csrc" "$ROOT/bin" -newer "$stamp" -type f 2>/dev/null | head -1)" ]; then
        log "installing the project into $VENV"
        "$VENV/bin/pip" install -q --upgrade pip >/dev/null 2>&1 || true
        # the build's own chatter goes to a log, shown only if it fails
        if ! "$VENV/bin/pip" install -q -e "$ROOT[test]" >"$VENV/install.log" 2>&1; then
            cat "$VENV/install.log" >&2
            return 1
        fi
        touch "$stamp"
    fi
    # Byte-code for the sources: inside the VM nothing may be written to the
    # checkout, and compiling every module at each start costs seconds there.
    "$VENV/bin/python" -m compileall -q "$ROOT/src" >/dev/null
}

ensure_vng() {
    ensure_apt $VM_PACKAGES
    if [ ! -x "$VNG_VENV/bin/vng" ]; then
        log "installing virtme-ng into $VNG_VENV"
        "$PY" -m venv "$VNG_VENV"
        "$VNG_VENV/bin/pip" install -q virtme-ng
    fi
}

vm_kernel() {
    ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1
}
