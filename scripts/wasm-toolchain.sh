#!/usr/bin/env bash
# Provide a wasm32-unknown-unknown capable Rust toolchain plus wasm-bindgen-cli and wasm-opt,
# and write "$ZATCA_CACHE/wasm-env.sh" for callers to `source` (scripts/wasm-build.sh does that).
#
# Usage: scripts/wasm-toolchain.sh [WASM_BINDGEN_VERSION]
#
# Idempotent; everything lives outside the clone under ZATCA_CACHE (default ~/.cache/zatca),
# keyed by version, so a second run takes well under 2 s.
#
#   1. rustup: if the target is already installed, use it. Otherwise (and if no cached Debian
#      toolchain matches) try `rustup target add` under a timeout (it hangs on machines without
#      access to the rustup dist server).
#   2. Fallback (shared/TOOLCHAIN.md): Debian's rustc-web + rust-web-src, extracted (not installed)
#      into $ZATCA_CACHE/wasm-toolchain/<version>, used with the machine's cargo and -Zbuild-std.
#      rustc is reached through a wrapper, rustc-wasm, that sets LD_LIBRARY_PATH for rustc alone.
#   3. wasm-bindgen-cli at exactly the wasm-bindgen crate version ($1, $WASM_BINDGEN_VERSION,
#      else Cargo.lock, else 0.2.130), `cargo install --locked` into the cache (built in the
#      background while step 1-2 run).
#   4. wasm-opt from the npm package binaryen ($BINARYEN_VERSION, default below).
#
# Knobs: ZATCA_CACHE, WASM_BINDGEN_VERSION, BINARYEN_VERSION,
#        ZATCA_WASM_TOOLCHAIN=auto|rustup|debian (default auto), ZATCA_WASM_RUSTUP_TIMEOUT (60).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ZATCA_CACHE=${ZATCA_CACHE:-${HOME:?HOME is not set}/.cache/zatca}
TARGET=wasm32-unknown-unknown
BINARYEN_VERSION=${BINARYEN_VERSION:-132.0.0}
RUSTUP_TIMEOUT=${ZATCA_WASM_RUSTUP_TIMEOUT:-60}
MODE=${ZATCA_WASM_TOOLCHAIN:-auto}
DEFAULT_WB_VERSION=0.2.130

START=$SECONDS
say() { printf 'wasm-toolchain: %s\n' "$*" >&2; }
die() { printf 'wasm-toolchain: ERROR: %s\n' "$*" >&2; exit 1; }
# run_logged NAME CMD...: run quietly, show the log's tail and stop on failure.
run_logged() {
    local name=$1; shift
    local log="$LOGDIR/$name.log"
    if ! "$@" >"$log" 2>&1; then
        tail -n 30 "$log" | sed 's/^/    | /' >&2
        die "$name failed: $* (full log: $log)"
    fi
}

case $MODE in auto|rustup|debian) ;; *) die "ZATCA_WASM_TOOLCHAIN must be auto, rustup or debian (got '$MODE')" ;; esac

mkdir -p "$ZATCA_CACHE/bin" "$ZATCA_CACHE/wasm-toolchain" "$ZATCA_CACHE/logs"
ZATCA_CACHE=$(cd "$ZATCA_CACHE" && pwd)
LOGDIR=$ZATCA_CACHE/logs

# One run at a time per cache (concurrent builds may call us).
exec 9>"$ZATCA_CACHE/.wasm-toolchain.lock"
if ! flock -n 9; then
    say "waiting for another wasm-toolchain.sh run to finish"
    flock 9
fi

# ---------------------------------------------------------------- wasm-bindgen version
WB_VERSION=${1:-${WASM_BINDGEN_VERSION:-}}
if [ -z "$WB_VERSION" ] && [ -f "$REPO/Cargo.lock" ]; then
    WB_VERSION=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; if ($1 == "version") { gsub(/"/, "", $3); print $3 } }' \
        "$REPO/Cargo.lock" | sort -V | tail -n 1)
fi
WB_VERSION=${WB_VERSION:-$DEFAULT_WB_VERSION}
[[ $WB_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "bad wasm-bindgen version '$WB_VERSION' (want X.Y.Z)"

# ---------------------------------------------------------------- root helper for apt
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
    else die "need root (or passwordless sudo) for: $*"
    fi
}

WB_PID=
cleanup() {
    if [ -n "$WB_PID" ] && kill -0 "$WB_PID" 2>/dev/null; then
        kill -- "-$WB_PID" 2>/dev/null || kill "$WB_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- wasm-bindgen-cli (background)
WB_ROOT=$ZATCA_CACHE/wasm-bindgen-cli/$WB_VERSION
wb_version_of() { "$1" --version 2>/dev/null | awk '{print $2}'; }
wb_link() {
    local b
    for b in "$WB_ROOT"/bin/*; do ln -sfn "$b" "$ZATCA_CACHE/bin/$(basename "$b")"; done
}
WB_T0=$SECONDS
if [ "$(wb_version_of "$ZATCA_CACHE/bin/wasm-bindgen")" = "$WB_VERSION" ]; then
    say "wasm-bindgen-cli $WB_VERSION: cached"
elif [ "$(wb_version_of "$WB_ROOT/bin/wasm-bindgen")" = "$WB_VERSION" ]; then
    wb_link
    say "wasm-bindgen-cli $WB_VERSION: cached (relinked)"
else
    command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (https://rustup.rs) first"
    say "wasm-bindgen-cli $WB_VERSION: cargo install started in background (5-15 min on 2 cores)"
    # Outside the clone (no repo .cargo/config or rust-toolchain), without any wasm env a caller
    # may have sourced, in its own process group so that a failure elsewhere can stop it.
    # --locked first; if its lockfile names crate versions this registry lacks (seen here:
    # webpki-roots 1.0.11 for 0.2.130), retry without it. The CLI version itself stays exact.
    # (The inner script greps the log its own first attempt wrote; that attempt has finished by then.)
    # shellcheck disable=SC2016,SC2094
    (cd "$ZATCA_CACHE" && exec setsid env -u RUSTC -u RUSTC_BOOTSTRAP -u CARGO_TARGET_DIR \
        -u CARGO_BUILD_TARGET -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS bash -c '
        # A new session is a new scheduler autogroup, which would take an equal share of the CPU
        # whatever its niceness: a caller that runs this at low priority keeps it so.
        n=$(nice); [ "$n" -le 0 ] || echo "$n" >/proc/self/autogroup 2>/dev/null || true
        # opt-level 1: it still binds a module in well under a second, and builds much faster.
        export CARGO_PROFILE_RELEASE_OPT_LEVEL=1
        cargo install wasm-bindgen-cli --version "$1" --locked --force --root "$2" && exit 0
        grep -qE "failed to select a version|no matching package|needs to be updated" "$3" || exit 1
        echo "=== retrying without --locked"
        exec cargo install wasm-bindgen-cli --version "$1" --force --root "$2"' \
        wb "$WB_VERSION" "$WB_ROOT" "$LOGDIR/wasm-bindgen-cli.log") \
        >"$LOGDIR/wasm-bindgen-cli.log" 2>&1 &
    WB_PID=$!
fi

# ---------------------------------------------------------------- wasm-opt (npm binaryen)
NT=$ZATCA_CACHE/node-tools
binaryen_installed() {
    local pj=$NT/node_modules/binaryen/package.json
    [ -f "$pj" ] && grep -m1 '"version"' "$pj" | grep -q "\"$BINARYEN_VERSION\"" \
        && [ -x "$NT/node_modules/binaryen/bin/wasm-opt" ]
}
if binaryen_installed && [ -e "$ZATCA_CACHE/bin/wasm-opt" ]; then
    say "wasm-opt (binaryen $BINARYEN_VERSION): cached"
else
    t0=$SECONDS
    if ! binaryen_installed; then
        if ! command -v npm >/dev/null 2>&1; then
            say "npm not found: apt-get install nodejs npm"
            run_logged apt-install-npm as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm
        fi
        mkdir -p "$NT"
        [ -f "$NT/package.json" ] || printf '{ "private": true }\n' >"$NT/package.json"
        (cd "$NT" && run_logged npm-binaryen npm install --prefix "$NT" --no-audit --no-fund --no-save \
            --loglevel=error "binaryen@$BINARYEN_VERSION")
        binaryen_installed || die "npm install binaryen@$BINARYEN_VERSION left no wasm-opt in $NT"
    fi
    ln -sfn "$NT/node_modules/binaryen/bin/wasm-opt" "$ZATCA_CACHE/bin/wasm-opt"
    say "wasm-opt (binaryen $BINARYEN_VERSION): installed ($((SECONDS - t0))s)"
fi

# ---------------------------------------------------------------- rustup path
rustup_has_target() {
    command -v rustup >/dev/null 2>&1 || return 1
    (cd "$REPO" && timeout 20 rustup target list --installed 2>/dev/null) | grep -qx "$TARGET"
}

# ---------------------------------------------------------------- Debian rustc-web path
DEB_V='' LLVM_N='' TC=''
CAND_FILE=$ZATCA_CACHE/wasm-toolchain/.candidate
apt_stamp() {
    stat -c '%n %Y %s' /var/lib/apt/lists/*Packages* /etc/apt/sources.list /etc/apt/sources.list.d/* \
        2>/dev/null | cksum | awk '{print $1}'
}
apt_candidate() { # apt_candidate PKG -> candidate version or nothing
    apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" && $2 != "(none)" { print $2 }'
}
# Find the rustc-web candidate version without running `apt-cache` when the lists are unchanged
# (apt-cache takes ~1 s here). With update=1, run `apt-get update` when no candidate is known.
APT_UPDATED=0
apt_update() {
    [ "$APT_UPDATED" = 1 ] && return 0
    say "apt-get update"
    run_logged apt-get-update as_root apt-get update -q
    APT_UPDATED=1
}
deb_resolve() {
    local update=$1 stamp
    command -v apt-cache >/dev/null 2>&1 || return 1
    stamp=$(apt_stamp)
    if [ -f "$CAND_FILE" ] && [ "$(cut -d' ' -f1 "$CAND_FILE")" = "$stamp" ]; then
        DEB_V=$(cut -d' ' -f2 "$CAND_FILE")
    else
        DEB_V=$(apt_candidate rustc-web)
        if [ -z "$DEB_V" ] && [ "$update" = 1 ]; then
            apt_update
            stamp=$(apt_stamp)
            DEB_V=$(apt_candidate rustc-web)
        fi
        [ -n "$DEB_V" ] || return 1
        printf '%s %s\n' "$stamp" "$DEB_V" >"$CAND_FILE"
    fi
    [ -n "$DEB_V" ] || return 1
    TC=$ZATCA_CACHE/wasm-toolchain/$DEB_V
}
deb_ready() {
    [ -n "$TC" ] && [ -f "$TC/.complete" ] && [ -x "$TC/rustc-wasm" ] || return 1
    LLVM_N=$(cat "$TC/.llvm")
    command -v "wasm-ld-$LLVM_N" >/dev/null 2>&1 && "$TC/rustc-wasm" -V >/dev/null 2>&1
}
deb_install() {
    local t0=$SECONDS mm std_pkg tmp libdir p f
    local -a pkgs missing=()
    command -v apt-get >/dev/null 2>&1 || die "no rustup wasm32 target and no apt-get: cannot provide a wasm32 toolchain"
    deb_resolve 1 || die "apt-cache knows no candidate for rustc-web (needs Debian bookworm-security or newer)"
    mm=$(printf '%s' "$DEB_V" | sed -E 's/^([0-9]+\.[0-9]+).*/\1/')
    std_pkg=libstd-rust-web-$mm
    # LLVM major that this libstd/rustc links against (e.g. libllvm22 -> 22).
    if [ -f "$TC/.llvm" ]; then
        LLVM_N=$(cat "$TC/.llvm")
    else
        LLVM_N=$(apt-cache show "$std_pkg=$DEB_V" 2>/dev/null | sed -n 's/^Depends:.*libllvm\([0-9][0-9]*\).*/\1/p' | head -n 1)
        if [ -z "$LLVM_N" ]; then
            apt_update
            LLVM_N=$(apt-cache show "$std_pkg=$DEB_V" 2>/dev/null | sed -n 's/^Depends:.*libllvm\([0-9][0-9]*\).*/\1/p' | head -n 1)
        fi
        [ -n "$LLVM_N" ] || die "cannot tell which libllvm $std_pkg=$DEB_V needs (apt-cache show)"
    fi
    say "debian rustc-web $DEB_V (LLVM $LLVM_N): setting up in $TC"

    # System packages: the shared LLVM rustc-web links to, and wasm-ld.
    pkgs=("libllvm$LLVM_N" "lld-$LLVM_N")
    command -v cc >/dev/null 2>&1 || pkgs+=(gcc libc6-dev)
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        say "apt-get install ${missing[*]}"
        if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >"$LOGDIR/apt-get-install.log" 2>&1; then
            apt_update
            run_logged apt-get-install as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
        fi
    fi
    command -v "wasm-ld-$LLVM_N" >/dev/null 2>&1 || die "wasm-ld-$LLVM_N not on PATH after installing lld-$LLVM_N"

    if [ ! -f "$TC/.complete" ]; then
        # Download the version-pinned .debs and extract them (not installed: rustc-web conflicts with rustup).
        tmp=$(mktemp -d "$ZATCA_CACHE/wasm-toolchain/.tmp.XXXXXX")
        chmod 755 "$tmp"
        pkgs=("rustc-web=$DEB_V" "$std_pkg=$DEB_V" "libstd-rust-web-dev=$DEB_V" "rust-web-src=$DEB_V" "cargo-web=$DEB_V")
        say "apt-get download rustc-web $std_pkg libstd-rust-web-dev rust-web-src cargo-web (=$DEB_V)"
        if ! (cd "$tmp" && apt-get download -q "${pkgs[@]}") >"$LOGDIR/apt-get-download.log" 2>&1; then
            apt_update
            (cd "$tmp" && run_logged apt-get-download apt-get download -q "${pkgs[@]}")
        fi
        say "dpkg -x"
        for f in "$tmp"/*.deb; do run_logged dpkg-x dpkg -x "$f" "$tmp/root"; done
        rm -f "$tmp"/*.deb
        [ -x "$tmp/root/usr/bin/rustc" ] || die "rustc-web did not provide usr/bin/rustc"
        rm -rf "$TC"
        mv "$tmp" "$TC"
    fi

    libdir=$(dirname "$(find "$TC/root/usr/lib" -name 'librustc_driver-*.so' -print -quit)")
    [ -d "$libdir" ] || die "librustc_driver not found under $TC/root/usr/lib"
    # rustc needs its own shared libraries; keep LD_LIBRARY_PATH out of everything else.
    cat >"$TC/rustc-wasm" <<EOF
#!/bin/sh
# Generated by scripts/wasm-toolchain.sh: Debian rustc-web $DEB_V with its libraries.
LD_LIBRARY_PATH="$libdir\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$TC/root/usr/bin/rustc" "\$@"
EOF
    chmod 755 "$TC/rustc-wasm"
    printf '%s\n' "$LLVM_N" >"$TC/.llvm"

    "$TC/rustc-wasm" -vV >"$LOGDIR/rustc-wasm.log" 2>&1 \
        || { cat "$LOGDIR/rustc-wasm.log" >&2; die "extracted rustc does not run ($TC/rustc-wasm -vV)"; }
    "$TC/rustc-wasm" --print target-list | grep -qx "$TARGET" || die "extracted rustc cannot target $TARGET"
    [ -f "$("$TC/rustc-wasm" --print sysroot)/lib/rustlib/src/rust/library/Cargo.lock" ] \
        || die "rust-web-src did not put the std sources under the rustc sysroot (lib/rustlib/src/rust/library)"
    touch "$TC/.complete"
    say "debian rustc-web $DEB_V: ready ($((SECONDS - t0))s)"
}

# ---------------------------------------------------------------- choose the toolchain
KIND=
if [ "$MODE" != debian ] && rustup_has_target; then
    KIND=rustup
    say "rustup: $TARGET installed"
fi
if [ -z "$KIND" ] && [ "$MODE" != rustup ] && deb_resolve 0 && deb_ready; then
    KIND=debian
    say "debian rustc-web $DEB_V: cached"
fi
if [ -z "$KIND" ] && [ "$MODE" != debian ] && command -v rustup >/dev/null 2>&1; then
    t0=$SECONDS
    say "rustup target add $TARGET (timeout ${RUSTUP_TIMEOUT}s)"
    if (cd "$REPO" && timeout -k 5 "$RUSTUP_TIMEOUT" rustup target add "$TARGET") >"$LOGDIR/rustup-target-add.log" 2>&1 \
        && rustup_has_target; then
        KIND=rustup
        say "rustup: $TARGET added ($((SECONDS - t0))s)"
    else
        say "rustup target add failed after $((SECONDS - t0))s (log: $LOGDIR/rustup-target-add.log)"
    fi
fi
if [ -z "$KIND" ]; then
    [ "$MODE" = rustup ] && die "ZATCA_WASM_TOOLCHAIN=rustup but rustup could not provide $TARGET"
    [ "$MODE" = auto ] && say "falling back to Debian rustc-web (shared/TOOLCHAIN.md)"
    deb_install
    KIND=debian
fi

# ---------------------------------------------------------------- wait for wasm-bindgen-cli
if [ -n "$WB_PID" ]; then
    say "wasm-bindgen-cli $WB_VERSION: waiting for cargo install"
    if wait "$WB_PID"; then
        WB_PID=
    else
        WB_PID=
        tail -n 30 "$LOGDIR/wasm-bindgen-cli.log" | sed 's/^/    | /' >&2
        die "cargo install wasm-bindgen-cli --version $WB_VERSION failed (full log: $LOGDIR/wasm-bindgen-cli.log)"
    fi
    [ "$(wb_version_of "$WB_ROOT/bin/wasm-bindgen")" = "$WB_VERSION" ] \
        || die "installed wasm-bindgen does not report version $WB_VERSION"
    wb_link
    if grep -q '^=== retrying without --locked' "$LOGDIR/wasm-bindgen-cli.log"; then
        say "wasm-bindgen-cli $WB_VERSION: installed without --locked: its Cargo.lock names crates this registry lacks ($((SECONDS - WB_T0))s)"
    else
        say "wasm-bindgen-cli $WB_VERSION: installed ($((SECONDS - WB_T0))s)"
    fi
fi

# ---------------------------------------------------------------- env file
ENV_FILE=$ZATCA_CACHE/wasm-env.sh
{
    echo "# Generated by scripts/wasm-toolchain.sh ($KIND toolchain). Do not edit; rerun that script."
    echo "# Source it in the shell (or subshell) that builds for wasm32: it points RUSTC at the wasm"
    echo "# toolchain and CARGO_TARGET_DIR at a separate wasm target dir. scripts/wasm-build.sh uses it."
    echo "export ZATCA_CACHE='$ZATCA_CACHE'"
    echo "export ZATCA_WASM_TOOLCHAIN_KIND=$KIND"
    echo "export ZATCA_WASM_BINDGEN_VERSION=$WB_VERSION"
    echo "export CARGO_TARGET_DIR=\"\${ZATCA_WASM_TARGET_DIR:-$ZATCA_CACHE/target-wasm}\""
    echo "case \":\$PATH:\" in *':$ZATCA_CACHE/bin:'*) ;; *) export PATH='$ZATCA_CACHE/bin':\"\$PATH\" ;; esac"
    if [ "$KIND" = debian ]; then
        echo "export ZATCA_WASM_RUSTC_VERSION='$DEB_V'"
        echo "export RUSTC='$TC/rustc-wasm'"
        echo "export RUSTC_BOOTSTRAP=1"
        echo "export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-$LLVM_N"
        echo "export ZATCA_WASM_CARGO_FLAGS='-Zbuild-std=std,panic_abort'"
    else
        echo "export ZATCA_WASM_CARGO_FLAGS="
    fi
} >"$ENV_FILE.tmp"
mv "$ENV_FILE.tmp" "$ENV_FILE"
say "env: $ENV_FILE ($KIND toolchain, $((SECONDS - START))s)"
