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

# The package as a user installs it, for the benchmarks: a fresh venv in
# vm-out/user-venv with `pip install .` of this checkout (a wheel built by
# pip in isolation, with the C decoder), not the
# editable install of .venv, whose modules are the checkout's files.
USER_VENV="$ROOT/vm-out/user-venv"
ensure_user_venv() {
    log "installing this checkout into $USER_VENV (pip install .)"
    mkdir -p "$ROOT/vm-out"
    rm -rf "$USER_VENV"
    "$PY" -m venv "$USER_VENV"
    if ! "$USER_VENV/bin/pip" install -q "$ROOT" >"$ROOT/vm-out/user-venv.log" 2>&1; then
        cat "$ROOT/vm-out/user-venv.log" >&2
        return 1
    fi
    "$USER_VENV/bin/ipvsadm" --about | sed 's/^/    /' >&2
}

ensure_vng() {
    ensure_apt $VM_PACKAGES
    if [ ! -x "$VNG_VENV/bin/vng" ]; then
        log "installing virtme-ng into $VNG_VENV"
        "$PY" -m venv "$VNG_VENV"
        "$VNG_VENV/bin/pip" install -q virtme-ng
    fi
}

# What the host part's checks install from Debian: scripts/check-distros
# builds with Debian 12's own setuptools, wheel and cffi, and with clang;
# scripts/trixie-root makes the Debian 13 root with debootstrap.
DEB12_PACKAGES="gcc libc6-dev python3-dev python3-venv python3-setuptools python3-wheel python3-cffi python3-build python3-pytest python3-hypothesis clang"
HOST_CHECK_PACKAGES="$DEB12_PACKAGES groff-base man-db debootstrap debian-archive-keyring"

# The kernels the VM boots: "6.1" is Debian 12's own (linux-image-amd64 from
# the machine's sources); "newest" is the newest Debian ships, from
# trixie-backports, fetched with an apt configuration of its own so that the
# machine's sources never offer trixie's packages to any other install.
KERNELS="6.1 newest"
NEWEST_DIR="$ROOT/.cache/kernel-newest"

# the machine's Debian mirror: the URIs of the entry that carries the
# release's own suite (not -security, -updates)
debian_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk '/^URIs:/{u=$2} /^Suites:/{for(i=2;i<=NF;i++) if($i ~ /^[a-z]+$/){print u; exit}}' "$f"
    done | head -n 1
    grep -hE '^deb (\[[^]]*\] )?[a-z]+://' /etc/apt/sources.list 2>/dev/null \
        | grep -vE -- '-(security|updates|backports)' | awk '{for(i=2;i<=NF;i++) if($i ~ /:\/\//){print $i; exit}}' | head -n 1
}

# Fetch and unpack the newest kernel (vmlinuz + modules) once; its modules
# go to /usr/lib/modules/VERSION (the VM shares this root file system, so
# modprobe inside finds them there). Prints the vmlinuz path.
ensure_newest_kernel() {
    local version
    version=$(cat "$NEWEST_DIR/version" 2>/dev/null || true)
    if [ -n "$version" ] && [ -f "$NEWEST_DIR/root/usr/lib/modules/$version/vmlinuz" ] \
            && [ -f "/usr/lib/modules/$version/modules.dep" ]; then
        echo "$NEWEST_DIR/root/usr/lib/modules/$version/vmlinuz"
        return 0
    fi
    ensure_apt kmod debian-archive-keyring
    local mirror apt=() d="$NEWEST_DIR/apt"
    mirror=$(debian_mirror)
    [ -n "$mirror" ] || { log "no Debian mirror in this machine's apt sources"; return 1; }
    log "fetching the newest Debian kernel (trixie-backports) into $NEWEST_DIR"
    rm -rf "$NEWEST_DIR"
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$NEWEST_DIR/debs"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie-backports main" \
        > "$d/sources.list"
    apt=(-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null
         -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" -o Dir::State::status=/dev/null
         -o APT::Sandbox::User=root)
    apt-get "${apt[@]}" update -qq >&2
    # linux-image-amd64 -> linux-image-VERSION -> linux-binary-VERSION + linux-modules-VERSION
    local image
    image=$(apt-cache "${apt[@]}" depends linux-image-amd64 \
        | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
    version=${image#linux-image-}
    [ -n "$version" ] && [ "$version" != "$image" ] || { log "no linux-image in trixie-backports"; return 1; }
    (cd "$NEWEST_DIR/debs" && apt-get "${apt[@]}" download -qq \
        "linux-binary-$version" "linux-modules-$version" >&2)
    local deb
    for deb in "$NEWEST_DIR"/debs/*.deb; do dpkg -x "$deb" "$NEWEST_DIR/root"; done
    rm -rf "$NEWEST_DIR/debs"
    [ -f "$NEWEST_DIR/root/usr/lib/modules/$version/vmlinuz" ] || { log "no vmlinuz in linux-binary-$version"; return 1; }
    as_root mkdir -p /usr/lib/modules
    as_root rm -rf "/usr/lib/modules/$version"
    as_root cp -a "$NEWEST_DIR/root/usr/lib/modules/$version" /usr/lib/modules/
    # the package carries no modules.dep (depmod's warnings about
    # modules.order/modules.builtin are harmless)
    as_root depmod -a "$version" 2>/dev/null
    echo "$version" > "$NEWEST_DIR/version"
    echo "$NEWEST_DIR/root/usr/lib/modules/$version/vmlinuz"
}

# vm_kernel [6.1|newest]: the vmlinuz to boot
vm_kernel() {
    case "${1:-6.1}" in
        6.1) ls /boot/vmlinuz-6.1.* 2>/dev/null | sort -V | tail -n 1 ;;
        newest) ensure_newest_kernel ;;
        *) log "unknown kernel '$1' (known: $KERNELS)"; return 1 ;;
    esac
}
