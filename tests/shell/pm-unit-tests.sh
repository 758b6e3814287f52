#!/usr/bin/env bash
# Unit tests of the package-manager part of shell-integration/tent-init:
# detect_pm, pm_install, install_mode, pkg_name, plan_packages and provision,
# for every family (apt-get, dnf, microdnf, yum, zypper, pacman, apk,
# xbps-install). No container, no root, no network.
#
# Each case sources tent-init with TENT_INIT_SOURCE_ONLY=1 in a fresh shell
# (env -i), puts PATH on a directory of fake binaries that record their argv
# and environment, and IMG_ROOT on a fake image root (for the files
# plan_packages looks for). Every case runs under each shell of
# TENT_TEST_SHELLS (default: dash and busybox sh, the ones available).
# busybox sh runs its applets (awk, less, ps, adduser, ...) even when PATH
# has none: the expected plans leave out what the shell itself provides,
# as in a real busybox image.
#
# Prints `N passed, M failed` and exits non-zero when anything failed.

# The snippets in single quotes are expanded by the shell under test.
# shellcheck disable=SC2016
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
INIT=$(cd "$HERE/../../shell-integration" && pwd)/tent-init
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tent-pm-tests.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

FAMILIES=(apt-get dnf microdnf yum zypper pacman apk xbps-install)

# pm_install foo bar, as each fake records it (one line per call).
declare -A INSTALL=(
    [apt-get]='apt-get -q update
apt-get -q -y -o Dpkg::Use-Pty=0 install --no-install-recommends foo bar'
    [dnf]='dnf -y --setopt=install_weak_deps=False install foo bar'
    [microdnf]='microdnf -y --setopt=install_weak_deps=0 install foo bar'
    [yum]='yum -y install foo bar'
    [zypper]='zypper --non-interactive install --no-recommends foo bar'
    [pacman]='pacman -Syu --noconfirm --needed foo bar'
    [apk]='apk add --no-cache foo bar'
    [xbps-install]='xbps-install -Sy foo bar'
)

# pkg_name WHAT for each family, in the order of FAMILIES.
PKG_TABLE='
useradd  passwd  shadow-utils  shadow-utils  shadow-utils  shadow  shadow  shadow  shadow
terminfo  ncurses-base  ncurses-base  ncurses-base  ncurses-base  terminfo-base  ncurses  ncurses-terminfo-base  ncurses-base
ps  procps  procps-ng  procps-ng  procps-ng  procps  procps-ng  procps  procps-ng
awk  mawk  gawk  gawk  gawk  gawk  gawk  busybox  gawk
ca-certificates  ca-certificates  ca-certificates  ca-certificates  ca-certificates  ca-certificates-mozilla  ca-certificates  ca-certificates  ca-certificates
tzdata  tzdata  tzdata  tzdata  tzdata  timezone  tzdata  tzdata  tzdata
sudo  sudo  sudo  sudo  sudo  sudo  sudo  sudo  sudo
less  less  less  less  less  less  less  less  less
bash  bash  bash  bash  bash  bash  bash  bash  bash
gl  libgl1-mesa-dri  mesa-dri-drivers  mesa-dri-drivers  mesa-dri-drivers  Mesa-dri  mesa  mesa-dri-gallium  mesa-dri
vulkan  mesa-vulkan-drivers  mesa-vulkan-drivers  mesa-vulkan-drivers  mesa-vulkan-drivers  libvulkan_radeon+libvulkan_intel  vulkan-radeon+vulkan-intel  mesa-vulkan-ati+mesa-vulkan-intel  vulkan-loader+mesa-vulkan-radeon+mesa-vulkan-intel
'
declare -A PKG
while read -r what rest; do
    [ -n "$what" ] || continue
    read -r -a names <<<"$rest"
    # A + joins the packages of one entry.
    for i in "${!FAMILIES[@]}"; do PKG[$what:${FAMILIES[$i]}]=${names[$i]//+/ }; done
done <<<"$PKG_TABLE"

# --- the harness ----------------------------------------------------------------

# new_case: a fresh directory C with bin/ (the fakes, PATH), root/ (the image
# root, IMG_ROOT), log (the fakes' argv) and log.env (their environment).
new_case() {
    C=$(mktemp -d "$TMP/case.XXXXXX")
    mkdir -p "$C/bin" "$C/root"
    : >"$C/log"
    : >"$C/log.env"
}

# fake NAME [BODY]: a fake binary that records its argv, then runs BODY.
fake() {
    {
        echo '#!/bin/sh'
        echo '{ printf %s "${0##*/}"; for a; do printf " %s" "$a"; done; echo; } >>"$FAKE_LOG"'
        echo 'echo "${0##*/} DEBIAN_FRONTEND=${DEBIAN_FRONTEND-} LC_ALL=${LC_ALL-}" >>"$FAKE_LOG.env"'
        echo "${2:-}"
        echo 'exit 0'
    } >"$C/bin/$1"
    chmod +x "$C/bin/$1"
}

# tools NAME...: the host's NAME on PATH (what provision runs besides the fakes).
tools() {
    local n
    for n in "$@"; do ln -s "$(command -v "$n")" "$C/bin/$n"; done
}

# fakes NAME...: several plain fakes.
fakes() {
    local n
    for n in "$@"; do fake "$n"; done
}

# root_files PATH...: empty files (or, ending in /, directories) in the image root.
root_files() {
    local p
    for p in "$@"; do
        case $p in
        */) mkdir -p "$C/root$p" ;;
        *) mkdir -p "$(dirname "$C/root$p")" && : >"$C/root$p" ;;
        esac
    done
}

# full_image: what plan_packages looks for, all present (with the fakes).
full_image() {
    fakes sudo useradd awk less ps
    root_files /usr/share/terminfo/x/xterm /etc/ssl/certs/ca-certificates.crt /usr/share/zoneinfo/ \
        /usr/lib/x86_64-linux-gnu/dri/ /usr/share/vulkan/icd.d/
}

# in_sh SNIPPET: source tent-init in a clean shell of SH, with PATH on the
# fakes and IMG_ROOT on the image root, then run SNIPPET; prints its output.
in_sh() {
    env -i FAKE_LOG="$C/log" TENT_INIT_SOURCE_ONLY=1 "${SH[@]}" -c \
        '. "$1" || exit 99; PATH=$2 IMG_ROOT=$3 MACHINE=x86_64; set --
'"$1" sh "$INIT" "$C/bin" "$C/root" 2>&1
}

# sh_has NAME: the shell itself runs NAME with an empty PATH (busybox applets).
sh_has() {
    env -i PATH=/nonexistent "${SH[@]}" -c 'command -v "$1"' sh "$1" >/dev/null 2>&1
}

# expected_plan FAMILY WHAT...: the packages an image lacking WHAT... gets,
# without what the shell provides itself.
expected_plan() {
    local fam=$1 w out=
    shift
    for w in "$@"; do
        case $w in
        useradd) sh_has useradd || sh_has adduser && continue ;;
        terminfo | ca-certificates | tzdata | gl | vulkan) ;;
        *) sh_has "$w" && continue ;;
        esac
        out="$out ${PKG[$w:$fam]}"
    done
    echo "${out# }"
}

# --- the cases ------------------------------------------------------------------

run_cases() {
    local t="[$1]" fam out want p

    new_case
    out=$(IMG_ROOT=/oops in_sh 'echo "src:$IMG_ROOT"')
    check_eq "$t sourcing with TENT_INIT_SOURCE_ONLY=1 runs nothing" "src:$C/root" "$out"
    out=$(env -i IMG_ROOT=/oops TENT_INIT_SOURCE_ONLY=1 "${SH[@]}" -c '. "$1"; echo "root:$IMG_ROOT"' sh "$INIT" 2>&1)
    check_eq "$t IMG_ROOT is empty unless a test sets it" "root:" "$out"

    # Detection: each manager alone.
    for fam in "${FAMILIES[@]}"; do
        new_case
        fake "$fam"
        out=$(in_sh 'detect_pm; echo "rc=$? pm=$pm"')
        check_eq "$t detect_pm: $fam alone" "rc=0 pm=$fam" "$out"
    done

    # Detection: precedence when several are there.
    while read -r want others; do
        new_case
        # shellcheck disable=SC2086 # a list of names
        fakes $others
        out=$(in_sh 'detect_pm; echo "rc=$? pm=$pm"')
        check_eq "$t detect_pm: $want among {$others}" "rc=0 pm=$want" "$out"
    done <<'EOF'
dnf dnf yum
dnf yum microdnf dnf
microdnf microdnf yum
apt-get apt-get dpkg rpm
apt-get xbps-install apk pacman zypper yum microdnf dnf apt-get
zypper zypper rpm
apk apk dpkg
EOF

    for others in "" "dpkg rpm" "apt dnf5 pkg"; do
        new_case
        # shellcheck disable=SC2086 # a list of names
        [ -z "$others" ] || fakes $others
        out=$(in_sh 'detect_pm; echo "rc=$? pm=$pm"')
        check_eq "$t detect_pm: none with {$others}" "rc=1 pm=" "$out"
    done

    # The install command of each family, and its environment.
    for fam in "${FAMILIES[@]}"; do
        new_case
        fake "$fam"
        out=$(in_sh 'detect_pm && pm_install foo bar; echo "rc=$?"')
        check_eq "$t pm_install ($fam): status" "rc=0" "$out"
        check_eq "$t pm_install ($fam): argv" "${INSTALL[$fam]}" "$(cat "$C/log")"
    done
    new_case
    fake apt-get
    in_sh 'detect_pm && pm_install foo' >/dev/null
    check_eq "$t pm_install (apt-get): noninteractive" \
        "apt-get DEBIAN_FRONTEND=noninteractive LC_ALL=
apt-get DEBIAN_FRONTEND=noninteractive LC_ALL=" "$(cat "$C/log.env")"

    # Failures propagate; apt-get installs nothing when update fails.
    new_case
    fake apt-get 'case $2 in update) exit 100 ;; esac'
    out=$(in_sh 'detect_pm && pm_install foo; echo "rc=$?"')
    check_eq "$t pm_install (apt-get): update fails" "rc=100|apt-get -q update" "$out|$(cat "$C/log")"
    for fam in "${FAMILIES[@]}"; do
        new_case
        fake "$fam" 'exit 7'
        out=$(in_sh 'detect_pm && pm_install foo; echo "rc=$?"')
        check_eq "$t pm_install ($fam): failure is returned" "rc=7" "$out"
    done
    new_case
    out=$(in_sh 'detect_pm; pm_install foo; echo "rc=$?"')
    check_eq "$t pm_install without a manager fails" "rc=1" "$out"

    # xbps: an outdated xbps (EBUSY) is updated first, then the install retried.
    new_case
    fake xbps-install '[ "$1" = -Sy ] && ! [ -e "$FAKE_LOG.xbps" ] && exit 16
[ "$1" = -uy ] && : >"$FAKE_LOG.xbps"'
    out=$(in_sh 'detect_pm && pm_install foo bar; echo "rc=$?"')
    check_eq "$t pm_install (xbps-install): xbps updated first" "rc=0
xbps-install -Sy foo bar
xbps-install -uy xbps
xbps-install -y foo bar" "$out
$(cat "$C/log")"
    new_case
    fake xbps-install 'exit 19'
    out=$(in_sh 'detect_pm && pm_install foo; echo "rc=$?"')
    check_eq "$t pm_install (xbps-install): other failures not retried" "rc=19
xbps-install -Sy foo" "$out
$(cat "$C/log")"

    # tent-init install: same command, LC_ALL=C, usage errors.
    for fam in "${FAMILIES[@]}"; do
        new_case
        fake "$fam"
        out=$(in_sh '(install_mode install foo bar); echo "rc=$?"')
        check_eq "$t install_mode ($fam)" "rc=0|${INSTALL[$fam]}|LC_ALL=C" \
            "$out|$(cat "$C/log")|$(sed -n '1s/.*\(LC_ALL=.*\)/\1/p' "$C/log.env")"
    done
    new_case
    fake apt-get
    out=$(in_sh '(install_mode install); echo "rc=$?"')
    check_eq "$t install_mode without packages: usage" \
        "usage: tent-init install PKG...|rc=2|" "$(echo "$out" | paste -sd'|')|$(cat "$C/log")"
    new_case
    out=$(in_sh '(install_mode install foo); echo "rc=$?"')
    check_eq "$t install_mode without a manager" \
        "tent-init: no package manager found in this box|rc=1" "$(echo "$out" | paste -sd'|')"

    # pkg_name, for every family.
    for fam in "${FAMILIES[@]}"; do
        new_case
        want='' out=''
        for p in useradd terminfo ps awk ca-certificates tzdata sudo less bash gl vulkan; do
            want="$want $p=${PKG[$p:$fam]}"
            out="$out $p=\$(pkg_name $p)"
        done
        out=$(in_sh "pm=$fam; echo \"$out\"")
        check_eq "$t pkg_name ($fam)" "$want" "$out"
    done

    # plan_packages: an image with everything plans nothing, for every family.
    for fam in "${FAMILIES[@]}"; do
        new_case
        fake "$fam"
        full_image
        out=$(in_sh 'TENT_SHELL=/bin/sh; detect_pm; plan_packages; echo "[$missing]"')
        check_eq "$t plan_packages ($fam): full image, nothing" "[]" "$out"
    done
    # ... with each of the terminfo and CA bundle places, adduser for useradd,
    # the user's shell in the image or on PATH.
    for p in /usr/share/terminfo/x/xterm /lib/terminfo/x/xterm /etc/terminfo/x/xterm \
        /usr/lib/terminfo/x/xterm /etc/ssl/certs/ca-certificates.crt \
        /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/ca-bundle.pem /etc/ssl/cert.pem; do
        new_case
        fakes dnf sudo useradd awk less ps
        root_files /usr/share/terminfo/x/xterm /etc/ssl/certs/ca-certificates.crt /usr/share/zoneinfo/ \
            /usr/lib64/dri/ /usr/share/vulkan/icd.d/
        rm "$C/root/usr/share/terminfo/x/xterm" "$C/root/etc/ssl/certs/ca-certificates.crt"
        root_files "$p" /usr/share/terminfo/x/xterm
        case $p in */terminfo/*) root_files /etc/ssl/cert.pem ;; esac
        case $p in */terminfo/*) rm -f "$C/root/usr/share/terminfo/x/xterm" && root_files "$p" ;; esac
        out=$(in_sh 'TENT_SHELL=/bin/sh; detect_pm; plan_packages; echo "[$missing]"')
        check_eq "$t plan_packages: $p is enough" "[]" "$out"
    done
    new_case
    fakes apk sudo adduser awk less ps
    full_image
    rm "$C/bin/useradd"
    out=$(in_sh 'TENT_SHELL=/bin/sh; detect_pm; plan_packages; echo "[$missing]"')
    check_eq "$t plan_packages: adduser is enough" "[]" "$out"
    new_case
    fake pacman
    full_image
    root_files /bin/zsh
    chmod +x "$C/root/bin/zsh"
    out=$(in_sh 'TENT_SHELL=$IMG_ROOT/bin/zsh; detect_pm; plan_packages; echo "[$missing]"')
    check_eq "$t plan_packages: the user's shell in the image" "[]" "$out"
    new_case
    fakes pacman fish
    full_image
    out=$(in_sh 'TENT_SHELL=/nonexistent/bin/fish; detect_pm; plan_packages; echo "[$missing]"')
    check_eq "$t plan_packages: the user's shell on PATH" "[]" "$out"
    new_case
    fake pacman
    full_image
    out=$(in_sh 'TENT_SHELL=/nonexistent/bin/elvish; detect_pm; plan_packages; echo "[$missing]"')
    check_eq "$t plan_packages: a shell tent has no package for" "[]" "$out"

    # plan_packages: an empty image, for every family (plus TENT_PACKAGES).
    for fam in "${FAMILIES[@]}"; do
        new_case
        fake "$fam"
        want=$(expected_plan "$fam" bash sudo useradd awk less ps terminfo ca-certificates tzdata gl vulkan)
        out=$(in_sh 'TENT_SHELL=/nonexistent/bin/bash; detect_pm; plan_packages; echo "[$missing]"')
        check_eq "$t plan_packages ($fam): empty image" "[$want]" "$out"
        out=$(in_sh 'TENT_SHELL=/nonexistent/bin/bash TENT_PACKAGES=" vim  git "; detect_pm; plan_packages; echo "[$missing]"')
        check_eq "$t plan_packages ($fam): empty image, TENT_PACKAGES" "[$want vim git]" "$out"
    done
    for p in sudo useradd awk less ps terminfo ca-certificates tzdata gl vulkan; do
        new_case
        fake dnf
        full_image
        case $p in
        gl) rmdir "$C/root/usr/lib/x86_64-linux-gnu/dri" ;;
        vulkan) rmdir "$C/root/usr/share/vulkan/icd.d" ;;
        terminfo) rm "$C/root/usr/share/terminfo/x/xterm" ;;
        ca-certificates) rm "$C/root/etc/ssl/certs/ca-certificates.crt" ;;
        tzdata) rmdir "$C/root/usr/share/zoneinfo" ;;
        *) rm "$C/bin/$p" ;;
        esac
        want=$(expected_plan dnf "$p")
        out=$(in_sh 'TENT_SHELL=/bin/sh; detect_pm; plan_packages; echo "[$missing]"')
        check_eq "$t plan_packages (dnf): only $p missing" "[$want]" "$out"
    done

    # plan_packages: Mesa's DRI drivers in each family's place are enough.
    for p in /usr/lib/aarch64-linux-gnu/dri/ /usr/lib64/dri/ /usr/lib/dri/; do
        new_case
        fake zypper
        full_image
        rmdir "$C/root/usr/lib/x86_64-linux-gnu/dri"
        root_files "$p"
        out=$(in_sh 'TENT_SHELL=/bin/sh; detect_pm; plan_packages; echo "[$missing]"')
        check_eq "$t plan_packages: $p is enough" "[]" "$out"
    done
    # ... and Intel's Vulkan driver only on x86.
    while read -r fam want; do
        new_case
        out=$(in_sh "MACHINE=aarch64 pm=$fam; pkg_name vulkan")
        check_eq "$t pkg_name vulkan ($fam) on aarch64" "$want" "$out"
    done <<'EOF'
apt-get mesa-vulkan-drivers
dnf mesa-vulkan-drivers
zypper libvulkan_radeon
pacman vulkan-radeon
apk mesa-vulkan-ati
xbps-install vulkan-loader mesa-vulkan-radeon
EOF

    # plan_packages: the user's locale (glibc images only).
    while read -r fam lc i18n want; do
        [ "$want" = - ] && want=
        new_case
        fakes "$fam" localedef
        full_image
        fake locale "printf 'C\nC.utf8\nPOSIX\n%s\n' '$lc'"
        tools tr sed grep
        [ "$i18n" = yes ] && root_files /usr/share/i18n/locales/
        out=$(in_sh 'TENT_SHELL=/bin/sh lang=de_DE.UTF-8; detect_pm; plan_packages; echo "[$missing]"')
        check_eq "$t plan_packages ($fam): locale de_DE.UTF-8, image has {$lc}, i18n $i18n" "[$want]" "$out"
    done <<'EOF'
apt-get en_US.utf8 no locales
apt-get en_US.utf8 yes -
apt-get de_DE.utf8 no -
dnf en_US.utf8 no glibc-langpack-de
microdnf en_US.utf8 no glibc-langpack-de
yum en_US.utf8 no glibc-langpack-de
yum de_DE.UTF-8 no -
zypper en_US.utf8 no -
pacman en_US.utf8 no -
xbps-install en_US.utf8 no -
EOF
    new_case
    fake apk
    full_image
    out=$(in_sh 'TENT_SHELL=/bin/sh lang=de_DE.UTF-8; detect_pm; plan_packages; echo "[$missing]"')
    check_eq "$t plan_packages (apk): no localedef (musl), no locale package" "[]" "$out"

    # provision: no package work at all for a full image; one transaction otherwise.
    for fam in "${FAMILIES[@]}"; do
        new_case
        fake "$fam"
        full_image
        tools mkdir mv chown rm ls
        out=$(in_sh 'STATE=$IMG_ROOT/state MARKS=$IMG_ROOT/marks TENT_SHELL=/bin/sh TENT_PACKAGES=
            provision; echo "rc=$?"; ls "$MARKS"' | paste -sd'|')
        check_eq "$t provision ($fam): full image" \
            "==> checking what the image lacks|nothing to install|rc=0|box-packages|provisioned|calls:" \
            "$out|calls:$(cat "$C/log")"
    done
    new_case
    fake zypper
    full_image
    tools mkdir mv chown rm
    rm "$C/bin/sudo"
    out=$(in_sh 'STATE=$IMG_ROOT/state MARKS=$IMG_ROOT/marks TENT_SHELL=/bin/sh TENT_PACKAGES="vim git"
        provision; echo "rc=$?"' | paste -sd'|')
    check_eq "$t provision (zypper): sudo and TENT_PACKAGES" \
        "==> checking what the image lacks|==> installing sudo vim git (with zypper)|rc=0|zypper --non-interactive install --no-recommends sudo vim git|LC_ALL=C" \
        "$out|$(cat "$C/log")|$(sed 's/.*\(LC_ALL=.*\)/\1/' "$C/log.env")"
    new_case
    fake apk 'exit 1'
    full_image
    tools mkdir mv chown rm
    rm "$C/bin/sudo"
    mkdir "$C/root/state"
    out=$(in_sh 'STATE=$IMG_ROOT/state MARKS=$IMG_ROOT/marks TENT_SHELL=/bin/sh TENT_PACKAGES=
        (provision); echo "rc=$?"' | tail -n 2 | paste -sd'|')
    check_eq "$t provision (apk): a failing install fails init" \
        "error: installing packages with apk failed (sudo): see init.log|rc=1|installing packages with apk failed (sudo): see init.log|no marker" \
        "$out|$(cat "$C/root/state/failed")|$(if [ -e "$C/root/marks/provisioned" ]; then echo marker; else echo no marker; fi)"
    # pm_check_upgrade, tent upgrade's question before its snapshot: the
    # manager's answer as 0 (nothing to upgrade), 10 (something), 11 (it
    # cannot tell); a failed refresh or check is its own status, never 0.
    while IFS='|' read -r fam want body; do
        new_case
        sh_has awk || tools awk
        fake "$fam" "$body"
        out=$(in_sh 'detect_pm && pm_check_upgrade; echo "rc=$?"' | tail -n 1)
        check_eq "$t pm_check_upgrade ($fam: $body)" "rc=$want" "$out"
    done <<'EOF'
apt-get|10|case "$*" in -s*) echo "Inst foo [1] (2 bookworm)" ;; esac
apt-get|10|case "$*" in -s*) echo "Remv foo [1]" ;; esac
apt-get|0|case "$*" in -s*) echo "0 upgraded, 0 newly installed, 0 to remove" ;; esac
apt-get|100|case "$*" in -s*) echo "Inst foo"; exit 100 ;; esac
apt-get|100|case "$*" in *update*) exit 100 ;; esac
dnf|10|exit 100
dnf|0|
dnf|1|exit 1
yum|10|exit 100
yum|0|
apk|10|case "$*" in upgrade*) echo "(1/2) Upgrading musl (1.2.4-r1 -> 1.2.4-r2)" ;; esac
apk|0|case "$*" in upgrade*) echo "OK: 7 MiB in 15 packages" ;; esac
apk|1|case "$*" in update*) exit 1 ;; esac
microdnf|11|
zypper|11|
pacman|11|
xbps-install|11|
EOF
    new_case
    sh_has awk || tools awk
    fake apt-get
    in_sh 'detect_pm && pm_check_upgrade' >/dev/null
    check_eq "$t pm_check_upgrade (apt-get): refresh and simulate, no upgrade" "apt-get -q update
apt-get -s -o Debug::NoLocking=1 dist-upgrade" "$(cat "$C/log")"
    new_case
    fake apt-get
    in_sh 'detect_pm && refreshed=1 && pm_upgrade' >/dev/null
    check_eq "$t pm_upgrade after the check (apt-get): no second refresh" \
        "apt-get -q -y -o Dpkg::Use-Pty=0 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold dist-upgrade" \
        "$(head -n 1 "$C/log")"

    # box_commands (--stop-when-idle), in a mount namespace of its own: a
    # process of another process group (a command tent started) counts, the
    # init's own children do not.
    if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v setsid >/dev/null; then
        out=$(env -i PATH=/usr/bin:/bin TENT_INIT_SOURCE_ONLY=1 unshare -m --propagation private "${SH[@]}" -c \
            '. "$1" || exit 99; sleep 5 & own=$!; a=$(box_commands); setsid sleep 5 & cmd=$!; sleep 0.3
            b=$(box_commands); kill "$cmd" 2>/dev/null; pkill -s 0 -x -f "sleep 5" 2>/dev/null; sleep 0.3
            c=$(box_commands); kill "$own" 2>/dev/null; echo "$a $b $c"' sh "$INIT" 2>&1)
        check_eq "$t box_commands: another process group counts, the init's children do not" "0 1 0" "$out"
    fi

    # keep_docs: what minimal images strip is installed again (issue 22).
    new_case
    tools sed grep cat
    mkdir -p "$C/root/etc/dpkg/dpkg.cfg.d" "$C/root/etc/dnf" "$C/root/etc/zypp"
    # Ubuntu's minimal images, as shipped.
    printf '%s\n' '# Drop all man pages' 'path-exclude=/usr/share/man/*' \
        'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' >"$C/root/etc/dpkg/dpkg.cfg.d/excludes"
    printf '%s\n' '[main]' 'gpgcheck=1' 'tsflags=nodocs' 'best=False' >"$C/root/etc/dnf/dnf.conf"
    printf '%s\n' '[main]' 'tsflags = nodocs' >"$C/root/etc/yum.conf"
    printf '%s\n' '[options]' 'NoExtract  = usr/share/man/* usr/share/doc/*' '  NoExtract = usr/share/help/*' \
        'NoUpgrade = etc/passwd' >"$C/root/etc/pacman.conf"
    printf '%s\n' '[main]' 'rpm.install.excludedocs = yes' 'solver.onlyRequires = true' >"$C/root/etc/zypp/zypp.conf"
    out=$(in_sh 'keep_docs; echo "rc=$?"')
    check_eq "$t keep_docs: runs quietly" "rc=0" "$out"
    check_eq "$t keep_docs: dpkg's excludes stay as the image has them" \
        "# Drop all man pages|path-exclude=/usr/share/man/*|path-exclude=/usr/share/doc/*|path-include=/usr/share/doc/*/copyright" \
        "$(paste -sd'|' "$C/root/etc/dpkg/dpkg.cfg.d/excludes")"
    check_eq "$t keep_docs: tent's dpkg file, read last, re-includes the docs" \
        "path-include=/usr/share/man/*|path-include=/usr/share/doc/*|path-include=/usr/share/info/*" \
        "$(grep -v '^#' "$C/root/etc/dpkg/dpkg.cfg.d/zz-tent-docs" | paste -sd'|')"
    check_eq "$t keep_docs: dnf's tsflags=nodocs goes, the rest stays" "[main]|gpgcheck=1|best=False" \
        "$(paste -sd'|' "$C/root/etc/dnf/dnf.conf")"
    check_eq "$t keep_docs: yum's too" "[main]" "$(paste -sd'|' "$C/root/etc/yum.conf")"
    check_eq "$t keep_docs: pacman's NoExtract lines are commented out" \
        "[options]|#NoExtract  = usr/share/man/* usr/share/doc/*|#  NoExtract = usr/share/help/*|NoUpgrade = etc/passwd" \
        "$(paste -sd'|' "$C/root/etc/pacman.conf")"
    check_eq "$t keep_docs: zypper installs docs" "[main]|rpm.install.excludedocs = no|solver.onlyRequires = true" \
        "$(paste -sd'|' "$C/root/etc/zypp/zypp.conf")"
    before=$(ls -l --time-style=+%s.%N "$C/root/etc/dnf/dnf.conf" "$C/root/etc/dpkg/dpkg.cfg.d/zz-tent-docs")
    out=$(in_sh 'keep_docs; echo "rc=$?"')
    check_eq "$t keep_docs: again, nothing to undo and nothing written" "rc=0|$before" \
        "$out|$(ls -l --time-style=+%s.%N "$C/root/etc/dnf/dnf.conf" "$C/root/etc/dpkg/dpkg.cfg.d/zz-tent-docs")"

    # An image that strips nothing gets no file of tent's.
    new_case
    tools sed grep cat
    mkdir -p "$C/root/etc/dpkg/dpkg.cfg.d"
    echo 'force-unsafe-io' >"$C/root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
    out=$(in_sh 'keep_docs; echo "rc=$?"')
    check_eq "$t keep_docs: nothing stripped, nothing written" "rc=0|docker-apt-speedup" \
        "$out|$(cd "$C/root/etc/dpkg/dpkg.cfg.d" && printf '%s\n' * | paste -sd'|')"

    restart_cases
}

# What spares a restarted box's init its tools (issue 24): marks, builtins,
# one tool where there were several. Each says the same as the tools did.
restart_cases() {
    local conf
    # keep_docs marks its run; a config no newer than the mark is not read.
    new_case
    tools sed grep cat
    mkdir -p "$C/root/etc/dnf" "$C/marks"
    conf=$C/root/etc/dnf/dnf.conf
    printf '%s\n' '[main]' 'tsflags=nodocs' >"$conf"
    in_sh "MARKS=$C/marks; keep_docs" >/dev/null
    check_eq "$t keep_docs: undoes nodocs and marks its run" "[main]|mark" \
        "$(paste -sd'|' "$conf")|$([ -f "$C/marks/docs-kept" ] && echo mark)"
    printf '%s\n' '[main]' 'tsflags=nodocs' >"$conf"
    touch -d '-1 hour' "$conf"
    in_sh "MARKS=$C/marks; keep_docs" >/dev/null
    check_eq "$t keep_docs: nothing newer than its mark, nothing read" "[main]|tsflags=nodocs" "$(paste -sd'|' "$conf")"
    touch -d '-2 hours' "$C/marks/docs-kept"
    in_sh "MARKS=$C/marks; keep_docs" >/dev/null
    check_eq "$t keep_docs: a config newer than its mark is read again" "[main]" "$(paste -sd'|' "$conf")"

    # lang_in: the host's LANG line, quoted or not, the last one.
    new_case
    printf '%s\n' '# comment' 'LANG="de_DE.UTF-8"' 'LC_TIME=C' >"$C/a"
    printf 'LANG=fr_FR.UTF-8\nLANG=en_GB.UTF-8' >"$C/b"
    printf '%s\n' 'LANG="a"b"' 'LANGUAGE=x' >"$C/c"
    out=$(in_sh "lang_in $C/a; echo \"[\$lang]\"; lang_in $C/b; echo \"[\$lang]\"; lang_in $C/c; echo \"[\$lang]\"")
    check_eq "$t lang_in: quoted, unquoted and last, a quote inside" "[de_DE.UTF-8]|[en_GB.UTF-8]|[]" \
        "$(printf '%s' "$out" | paste -sd'|')"

    # slurp: what $(cat FILE) gives for the init's own files.
    new_case
    printf '%s\n' 'one' '' '  two  ' >"$C/a"
    printf 'no newline' >"$C/b"
    : >"$C/c"
    for f in a b c; do
        out=$(in_sh "slurp $C/$f && printf '%s|' \"\$text\"")
        check_eq "$t slurp: $f reads as cat does" "$(cat "$C/$f")|" "$out"
    done
    out=$(in_sh "slurp $C/none; echo \"rc=\$? [\$text]\"")
    check_eq "$t slurp: no file, false and empty" "rc=1 []" "$out"

    # root_entry: uid 0's line, wherever it is.
    new_case
    printf '%s\n' 'daemon:x:1:1::/:/bin/false' 'toor:x:0:0:root:/root:/bin/zsh' 'root:x:0:0::/root:/bin/sh' >"$C/passwd"
    out=$(in_sh "root_entry $C/passwd; echo \"\$root_name \$root_sh\"")
    check_eq "$t root_entry: the first line of uid 0" "toor /bin/zsh" "$out"

    # is_mount: one look at mountinfo answers each question.
    new_case
    tools awk
    out=$(in_sh 'is_mount / && echo root; is_mount /no/such/mount || echo none
        case $mount_points in *" / "*) echo read ;; esac')
    check_eq "$t is_mount: / is one, a made-up path is not" "root|none|read" "$(printf '%s' "$out" | paste -sd'|')"

    # sq: any word quoted for sh, with builtins only (PATH has no sed here).
    new_case
    out=$(in_sh "$(cat <<'EOF'
for w in plain "it's" "'" "a''b" "" 'x y$z' "\\'"; do
    sq "$w"
    eval "back=$sq_out"
    if [ "$back" = "$w" ]; then printf 'ok '; else printf 'bad:%s ' "$sq_out"; fi
done
sq "it's"
printf '%s' "$sq_out"
EOF
)")
    check_eq "$t sq: quotes any word for sh, builtins only" "ok ok ok ok ok ok ok 'it'\\''s'" "$out"

    # gone: no rm when nothing is there; one rm for all when anything is.
    # (busybox sh runs its own rm and chown, not the fakes.)
    if ! sh_has rm; then
        new_case
        fake rm
        in_sh "gone $C/x $C/y" >/dev/null
        check_eq "$t gone: nothing there, no rm" "" "$(cat "$C/log")"
        ln -s /nonexistent "$C/y"
        in_sh "gone $C/x $C/y" >/dev/null
        check_eq "$t gone: a dangling link counts" "rm -f $C/x $C/y" "$(cat "$C/log")"
    fi

    # own: nothing to change on a file of the init's own ids.
    sh_has chown && return 0
    new_case
    fake chown
    : >"$C/f"
    out=$(in_sh "read_ids; TENT_UID=\${my_ids%:*} TENT_GID=\${my_ids#*:}; own $C/f; echo \"\$my_ids\"")
    check_eq "$t own: the init's ids, no chown" "$(id -u):$(id -g)|" "$out|$(cat "$C/log")"
    in_sh "read_ids; TENT_UID=4242 TENT_GID=\${my_ids#*:}; own $C/f" >/dev/null
    check_eq "$t own: another user's file is chowned" "chown -h 4242:$(id -g) $C/f" "$(cat "$C/log")"
}

# --- the shells -------------------------------------------------------------------

shells=()
if [ -n "${TENT_TEST_SHELLS:-}" ]; then
    IFS=, read -r -a shells <<<"$TENT_TEST_SHELLS"
else
    if command -v dash >/dev/null; then shells+=("$(command -v dash)"); fi
    if command -v busybox >/dev/null; then shells+=("$(command -v busybox) sh"); fi
fi
if [ ${#shells[@]} -eq 0 ]; then
    not_ok "a POSIX shell to test with (dash or busybox)"
fi
for s in "${shells[@]}"; do
    read -r -a SH <<<"$s"
    if ! "${SH[@]}" -c : 2>/dev/null; then
        not_ok "shell $s runs"
        continue
    fi
    run_cases "${SH[*]##*/}"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
