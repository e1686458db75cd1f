# Shared set-up steps for Bulkhead's scripts: install what is missing, nothing else.
# Sourced by scripts/run-tests and scripts/run-demo; every step is idempotent.

# The oldest Rust that builds the workspace (keep in step with rust-version in Cargo.toml).
BULKHEAD_MIN_RUST="1.85"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run '$*' (install sudo or run this script as root)"
    fi
}

# ensure_apt_packages PKG...: installs the Debian packages that are not installed yet.
ensure_apt_packages() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: Bulkhead's scripts expect Debian 12; install ${missing[*]} by hand"
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

version_at_least() { # version_at_least HAVE WANT
    [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

# ensure_rust: a stable cargo at least BULKHEAD_MIN_RUST (Debian 12's own rustc is too old).
ensure_rust() {
    if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        ensure_apt_packages curl ca-certificates
        say "installing the Rust toolchain with rustup (stable)"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
            | sh -s -- -y --profile minimal --default-toolchain stable --component clippy,rustfmt \
            || die "could not install Rust; install a stable toolchain >= $BULKHEAD_MIN_RUST from rustup.rs"
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    local have
    have=$(rustc --version | awk '{print $2}')
    version_at_least "$have" "$BULKHEAD_MIN_RUST" \
        || die "rustc $have is too old: Bulkhead needs $BULKHEAD_MIN_RUST or newer (rustup update stable)"
}

# ensure_cargo_tool BINARY CRATE: installs a cargo subcommand from crates.io when missing.
ensure_cargo_tool() {
    command -v "$1" >/dev/null 2>&1 && return 0
    say "installing $2 from crates.io"
    cargo install --locked --quiet "$2"
}

# The Debian packages every build needs: a C toolchain, and the system libraries smithay
# and the renderers link (pixman, xkbcommon; libseat, udev and libinput for the DRM
# session), plus the font dom0 draws titles with and the xcursor theme a DRM session draws
# the qubes' pointer shapes from.
BULKHEAD_BUILD_PACKAGES=(build-essential pkg-config libpixman-1-dev libxkbcommon-dev
    fonts-dejavu-core libseat-dev libudev-dev libinput-dev adwaita-icon-theme)
# What the tests run against: real Wayland clients nobody here wrote (DESIGN.md, tier 2).
# weston-subsurfaces draws with EGL: Mesa's software renderer (over wl_shm) needs its drivers.
BULKHEAD_TEST_PACKAGES=(weston foot wl-clipboard libegl-mesa0 libgl1-mesa-dri)
# The apps the demo runs in its qubes (foot; weston-flower and weston-simple-shm), and
# wl-copy, which its walkthrough types into work's terminal.
BULKHEAD_DEMO_PACKAGES=(foot weston wl-clipboard)
# The demo's nested window (when there is a display): EGL/GLES, Mesa's llvmpipe without a GPU.
BULKHEAD_NESTED_PACKAGES=(libegl1 libgles2 libegl-mesa0 libgl1-mesa-dri)
