# Shared setup for the scripts: sourced, not run.
# Installs what the project needs on a fresh machine (idempotent, quiet when
# everything is already there).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
VNG_VENV="$ROOT/.cache/vng-venv"
VM_PACKAGES="qemu-system-x86 linux-image-amd64 ipvsadm socat busybox-static iproute2 kmod"
PY=${PYTHON:-python3}

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
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating $VENV"
        "$PY" -m venv "$VENV"
    fi
    local stamp="$VENV/.installed"
    if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ] || [ "$ROOT/setup.py" -nt "$stamp" ] \
        || [ -n "$(find "$ROOT/csrc" -newer "$stamp" -type f 2>/dev/null | head -1)" ]; then
        log "installing the project into $VENV"
        "$VENV/bin/pip" install -q --upgrade pip >/dev/null 2>&1 || true
        # the build's own chatter goes to a log, shown only if it fails
        if ! "$VENV/bin/pip" install -q -e "$ROOT[test]" >"$VENV/install.log" 2>&1; then
            cat "$VENV/install.log" >&2
            return 1
        fi
        touch "$stamp"
    fi
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
