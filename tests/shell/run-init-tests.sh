#!/usr/bin/env bash
# Real-engine tests of shell-integration/tent-init and tent-exec.
#
# Starts boxes the way tent does (same mounts and environment as in
# docs/internals.md, run as root) with rootful podman by default, checks what
# the scripts promise, and removes every container it made, even on failure.
#
#   TENT_TEST_ENGINE          engine binary (default: podman)
#   TENT_TEST_IMAGE_BOOKWORM  a Debian 12 image (default: tent-test/debian:bookworm)
#   TENT_TEST_IMAGE_TRIXIE    a Debian 13 image (default: tent-test/debian:trixie)
#   TENT_TEST_IMAGE_BUSYBOX   a busybox-only image (default: tent-test/busybox:latest)
#   TENT_TEST_READY_TIMEOUT   seconds to wait for a box (default: 600)
#   TENT_TEST_SKIP_NETWORK=1  skip the Debian boxes (they need the package mirror)
#
# Prints `N passed, M failed` and exits non-zero when anything failed.

# Many single-quoted snippets are expanded by the box's shell, not this one.
# shellcheck disable=SC2016
set -u

ENGINE=${TENT_TEST_ENGINE:-podman}
IMG_BOOKWORM=${TENT_TEST_IMAGE_BOOKWORM:-tent-test/debian:bookworm}
IMG_TRIXIE=${TENT_TEST_IMAGE_TRIXIE:-tent-test/debian:trixie}
IMG_BUSYBOX=${TENT_TEST_IMAGE_BUSYBOX:-tent-test/busybox:latest}
READY_TIMEOUT=${TENT_TEST_READY_TIMEOUT:-600}
SKIP_NETWORK=${TENT_TEST_SKIP_NETWORK:-}

HERE=$(cd "$(dirname "$0")" && pwd)
LIB=$(cd "$HERE/../../shell-integration" && pwd)
# Homes are mounted at the same path in the box, so they live under /tmp.
TMP=$(mktemp -d /tmp/tent-init-tests.XXXXXX)
PREFIX=tent-inittest-$$
containers=()
declare -A started # box -> time of its latest create or start

cleanup() {
    local c
    for c in "${containers[@]}"; do
        "$ENGINE" rm -f -t 0 "$c" >/dev/null 2>&1
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
check_lacks() {
    case $3 in *"$2"*) not_ok "$1" "unexpected '$2' in:
$3" ;; *) ok "$1" ;; esac
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# start_box NAME IMAGE [PRELUDE [ENGINE-ARGS...]]: create and start a box like
# tent does. PRELUDE is shell run before tent-init (as root, in the box) to
# shape the image; it ends in exec so that tent-init keeps the container's pid.
# The user comes from T_USER, T_UID, T_GID, T_GROUP, T_HOME, T_SHELL.
start_box() {
    local id=$1 name=$PREFIX-$1 image=$2 prelude=${3:-:}
    shift 3 2>/dev/null || shift $#
    local user=${T_USER:-alice} uid=${T_UID:-1234} gid=${T_GID:-1234}
    local home=${T_HOME:-$TMP/home-$id}
    mkdir -p "$TMP/state-$id" "$home"
    chown "$uid:$gid" "$home"
    containers+=("$name")
    started[$id]=$(now)
    "$ENGINE" run -d --name "$name" --network host --pid host --user root \
        -v "${T_LIB:-$LIB}:/run/.tent/lib:ro" -v "$TMP/state-$id:/run/.tent/state" \
        -v /:/run/host:ro,rslave -v "$home:$home" \
        -e TENT_BOX="$name" -e TENT_USER="$user" -e TENT_UID="$uid" -e TENT_GID="$gid" \
        -e TENT_GROUP="${T_GROUP:-$user}" -e TENT_HOME="$home" \
        -e TENT_SHELL="${T_SHELL:-/bin/bash}" "$@" \
        --entrypoint /bin/sh "$image" -c "$prelude; exec /bin/sh /run/.tent/lib/tent-init" >/dev/null
}

# restart_box NAME: stop and start again, as tent does.
restart_box() {
    "$ENGINE" stop "$PREFIX-$1" >/dev/null
    started[$1]=$(now)
    "$ENGINE" start "$PREFIX-$1" >/dev/null
}

# wait_box NAME: wait for ready or failed; sets `waited`, the seconds since
# the box was created or started. True when ready.
wait_box() {
    local st=$TMP/state-$1 t0=${started[$1]} i=0
    while [ ! -e "$st/ready" ] && [ ! -e "$st/failed" ]; do
        if [ $((i % 20)) -eq 19 ] &&
            [ "$("$ENGINE" inspect -f '{{.State.Running}}' "$PREFIX-$1" 2>/dev/null)" != true ]; then
            break
        fi
        if [ "$(since "$t0" | cut -d. -f1)" -ge "$READY_TIMEOUT" ]; then break; fi
        sleep 0.05
        i=$((i + 1))
    done
    # From the file's time: the box may have been ready long before we looked.
    if [ -e "$st/ready" ]; then
        waited=$(awk -v a="$t0" -v b="$(stat -c %.9Y "$st/ready")" 'BEGIN { printf "%.2f", b - a }')
    else
        waited=$(since "$t0")
    fi
    [ -e "$st/ready" ]
}

# bx NAME [--root] MODE CWD ARGS...: tent-exec in the box as the user (or root).
bx() {
    local name=$1 user=${T_UID:-1234}:${T_GID:-1234}
    shift
    if [ "$1" = --root ]; then user=0:0; shift; fi
    "$ENGINE" exec -i --user "$user" -e HOME="${T_HOME:-$TMP/home-$name}" -e SHELL="${T_SHELL:-/bin/bash}" \
        "$PREFIX-$name" /bin/sh /run/.tent/lib/tent-exec "$@"
}

# The section of init.log written by the latest start.
last_log() { awk '/^--- tent-init/ { s = "" } { s = s $0 "\n" } END { printf "%s", s }' "$TMP/state-$1/init.log"; }

starts_ok() {
    local box=$1
    if wait_box "$box"; then
        ok "$box: ready ${waited}s after (re)start"
    else
        not_ok "$box: ready (waited ${waited}s)" "$(cat "$TMP/state-$box/failed" 2>/dev/null)
$(tail -n 30 "$TMP/state-$box/init.log" 2>/dev/null)"
        return 1
    fi
}

# --- static checks --------------------------------------------------------------

check "shellcheck -s sh tent-init tent-exec" shellcheck -s sh "$LIB/tent-init" "$LIB/tent-exec"
check "shellcheck run-init-tests.sh" shellcheck -x "$HERE/run-init-tests.sh"

# --- tent-exec on the host's shells (no engine) --------------------------------

for sh in dash "busybox sh" "bash --posix"; do
    command -v "${sh%% *}" >/dev/null || continue
    # shellcheck disable=SC2086 # "busybox sh" is two words
    x() { $sh "$LIB/tent-exec" "$@"; }
    check_eq "tent-exec ($sh): enc keeps bytes and trailing newlines" \
        "$(printf '[a\377b\\n\n\n][][x y]')" \
        "$(x enc /tmp printf '[%s]' 'a\0377b\0134n\012\012' '' 'x y')"
    out=$(x cmd /no/such/dir pwd 2>&1)
    check_has "tent-exec ($sh): missing cwd falls back to HOME with a note" "not in this box; starting in $HOME" "$out"
    x cmd /tmp sh -c 'exit 42'
    check_eq "tent-exec ($sh): status passes through" 42 $?
    x cmd /tmp no-such-command-tent 2>/dev/null
    check_eq "tent-exec ($sh): 127 when not found" 127 $?
    x cmd /tmp /etc/passwd 2>/dev/null
    check_eq "tent-exec ($sh): 126 when not executable" 126 $?
done

# --- boxes ----------------------------------------------------------------------

start_box bb "$IMG_BUSYBOX" 'mkdir -p /run/.tent/state/hooks &&
    echo "echo init >>/var/lib/hook-runs" >/run/.tent/state/hooks/init &&
    echo "echo start >>/var/lib/hook-runs" >/run/.tent/state/hooks/start &&
    echo "env >/var/lib/hook-env" >>/run/.tent/state/hooks/start'
T_UID=0 T_GID=0 T_USER=root T_SHELL=/bin/sh start_box bbroot "$IMG_BUSYBOX"
# Host shims (tent, and a command of config host.commands) and the command
# index, which a start with nothing changed leaves as they are.
start_box bbshim "$IMG_BUSYBOX" : -e TENT_HOST_TENT=/usr/bin/tent -e TENT_RELAY=/run/user/1234/tent/relay.sock \
    -e TENT_HOST_COMMANDS=xdg-open
# Fakes: an image that has all tent looks for (busybox sh runs its applets
# even without links, so only what busybox lacks is faked), and one without sudo.
fakes='mkdir -p /var /usr/local/bin /usr/share/terminfo/x /etc/ssl/certs /usr/share/zoneinfo \
        /usr/lib/dri /usr/share/vulkan/icd.d &&
    printf "#!/bin/sh\necho \"\$*\" >>/var/apt-calls\n" >/usr/local/bin/apt-get &&
    printf "#!/bin/sh\nexit 1\n" >/usr/local/bin/useradd &&
    printf "#!/bin/sh\nexit 0\n" >/usr/local/bin/sudo &&
    cp /usr/local/bin/sudo /usr/local/bin/bash &&
    chmod +x /usr/local/bin/* && : >/usr/share/terminfo/x/xterm && : >/etc/ssl/certs/ca-certificates.crt'
start_box bbfull "$IMG_BUSYBOX" "$fakes"
start_box bbnosudo "$IMG_BUSYBOX" "$fakes && rm /usr/local/bin/sudo"
# No package manager and no awk: a Debian image stripped down.
start_box noawk "$IMG_BOOKWORM" 'rm -f /usr/bin/awk /usr/bin/mawk /etc/alternatives/awk /usr/bin/apt-get'
start_box bbhook "$IMG_BUSYBOX" 'mkdir -p /run/.tent/state/hooks && echo "exit 3" >/run/.tent/state/hooks/start'
start_box bbpkgs "$IMG_BUSYBOX" : -e TENT_PACKAGES=vim
# An image whose / only root may enter (a tarball of a mktemp directory).
start_box bbclosed "$IMG_BUSYBOX" 'chmod 700 /'
# Rootful (TENT_ROOTFUL=1): links to a directory of root's planted at every
# name the init moves a state file to are replaced, never followed (mv -T)
# (not at ready: the test waits for that one).
# The directory is in the box's home, mounted at the same path.
victim=$TMP/home-bbrootful/victim-dir
mkdir -p "$TMP/state-bbrootful" "$victim"
for f in .pid.tmp pid .ready.tmp .commands.tmp commands .failed.tmp; do
    ln -s "$victim" "$TMP/state-bbrootful/$f"
done
chown -R 1234:1234 "$TMP/state-bbrootful"
# A rootful box's lib, as tent writes it: the user's.
cp -r "$LIB" "$TMP/lib-user" && chown -R 1234:1234 "$TMP/lib-user"
T_LIB=$TMP/lib-user start_box bbrootful "$IMG_BUSYBOX" : -e TENT_ROOTFUL=1
# Rootful, and the state directory the engine mounted is root's (the user's
# was swapped for a link to it after tent checked): the init writes nothing.
mkdir -p "$TMP/state-bbswapped"
T_LIB=$TMP/lib-user start_box bbswapped "$IMG_BUSYBOX" : -e TENT_ROOTFUL=1
# Rootful, the state directory the user's but the lib root's: refused too.
# A copy made root's (the checkout may be anybody's: a user with sudo runs
# these tests from their own clone).
mkdir -p "$TMP/state-bblibswap" && chown 1234:1234 "$TMP/state-bblibswap"
cp -r "$LIB" "$TMP/lib-root" && chown -R 0:0 "$TMP/lib-root"
T_LIB=$TMP/lib-root start_box bblibswap "$IMG_BUSYBOX" : -e TENT_ROOTFUL=1
if [ -z "$SKIP_NETWORK" ]; then
    start_box deb "$IMG_BOOKWORM" : -e LANG=en_US.UTF-8
    # As in a baked image (tent bake, images/*/Containerfile): provision first.
    start_box baked "$IMG_BOOKWORM" 'sh /run/.tent/lib/tent-init provision --shell /bin/bash -- hello'
    # podman --userns keep-id adds the user to passwd/group before init runs.
    start_box keepid "$IMG_BOOKWORM" "echo 'alice:*:1234:1234:alice:/home/alice:/bin/sh' >>/etc/passwd &&
        echo 'alice:x:1234:' >>/etc/group"
    # uid and gid 1234 already taken by another name, as uid 1000 on Ubuntu.
    start_box taken "$IMG_TRIXIE" 'groupadd -g 1234 ubuntu && useradd -l -u 1234 -g 1234 -m ubuntu' \
        -e TENT_PACKAGES=tree
fi

# busybox: no package manager, no sudo, no bash, but everything tent needs.
box=bb
if starts_ok $box; then
    check_eq "$box: id in the box" "alice alice 1234" "$(bx $box cmd / sh -c 'echo $(id -un) $(id -gn) $(id -u)')"
    check_eq "$box: missing bash falls back to /bin/sh" "/bin/sh" "$(bx $box cmd / sh -c 'grep ^alice: /etc/passwd | cut -d: -f7')"
    log=$(cat "$TMP/state-$box/init.log")
    check_has "$box: warns that bash is missing" "warning: the shell /bin/bash is not in the box" "$log"
    check_has "$box: warns that sudo is missing" "sudo is missing" "$log"
    check_has "$box: progress lines" "==> ready" "$log"
    check_eq "$box: enc through the engine" "$(printf '[a\377b\n\n]')" "$(bx $box enc / printf '[%s]' 'a\0377b\012\012')"
    check_eq "$box: home left empty" "" "$(ls -A "$TMP/home-$box")"
    check_eq "$box: state files belong to the user" "1234:1234 1234:1234 1234:1234" \
        "$(stat -c %u:%g "$TMP/state-$box/pid" "$TMP/state-$box/ready" "$TMP/state-$box/init.log" | tr '\n' ' ' | sed 's/ $//')"
    check "$box: host CA bundle linked" bx $box cmd / test -s /etc/ssl/certs/ca-certificates.crt
    check "$box: time zone follows the host" bx $box cmd / test -e /etc/localtime
    read -r pid st <"$TMP/state-$box/ready"
    check_eq "$box: ready holds the host pid and its start time" "$st" "$(awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$pid/stat")"
    check_eq "$box: pid and ready agree" "$(cat "$TMP/state-$box/pid")" "$pid $st"
    t0=$(now)
    "$ENGINE" stop "$PREFIX-$box" >/dev/null
    stop_time=$(since "$t0")
    # The init ends on SIGTERM: well before the engine's 10 s fallback to
    # SIGKILL, even on a loaded machine (this tells the two apart; it is not a
    # speed budget, which bench/run measures).
    check "$box: stop ends the init by SIGTERM, before the 10 s kill (${stop_time}s)" awk -v t="$stop_time" 'BEGIN { exit !(t < 9) }'
    check "$box: stop removes ready" test ! -e "$TMP/state-$box/ready"
    check_eq "$box: init exits 0 on SIGTERM" 0 "$("$ENGINE" inspect -f '{{.State.ExitCode}}' "$PREFIX-$box")"
    started[$box]=$(now)
    "$ENGINE" start "$PREFIX-$box" >/dev/null
    if starts_ok $box; then
        check_eq "$box: init hook once, start hook every start" "init start start" \
            "$(bx $box cmd / cat /var/lib/hook-runs | tr '\n' ' ' | sed 's/ $//')"
        # A hook gets the box's environment, none of tent-init's helper variables.
        hook_env=$(bx $box cmd / cat /var/lib/hook-env)
        check_eq "$box: no helper variables in a hook's environment" "" \
            "$(printf '%s\n' "$hook_env" | grep -E '^(TENT_[KFVO]|LC_ALL)=')"
        check_has "$box: the box's TENT_ variables in a hook's environment" "TENT_USER=alice" "$hook_env"
        check_has "$box: the box's name in a hook's environment" "TENT_BOX=$PREFIX-$box" "$hook_env"
    fi
fi

box=bbshim
# The inode of a file in the box (a rewrite is a rename over it: a new inode).
inode_in() { "$ENGINE" exec "$PREFIX-$box" stat -c %i "$1" 2>/dev/null; }
# differs OLD NEW: NEW is there and is not OLD.
differs() { [ -n "$2" ] && [ "$1" != "$2" ]; }
index=$TMP/state-$box/commands
if starts_ok $box; then
    check_has "$box: a shim runs the host's tent through the relay" \
        "exec /run/.tent/lib/tent-host '/usr/bin/tent' '/run/user/1234/tent/relay.sock' \"\$@\"" \
        "$("$ENGINE" exec "$PREFIX-$box" cat /usr/local/bin/tent)"
    check_has "$box: the index lists the shims" "xdg-open" "$(cat "$index")"
    shim=$(inode_in /usr/local/bin/xdg-open) idx=$(stat -c %i "$index")
    check "$box: the shim is a file in the box" test -n "$shim"
    restart_box $box
    if starts_ok $box; then
        check_eq "$box: a start with nothing changed leaves the shims" "$shim" "$(inode_in /usr/local/bin/xdg-open)"
        check_eq "$box: and the command index" "$idx" "$(stat -c %i "$index")"
    fi
    # An index newer than this container's mark is not its own (after a
    # rollback, the replaced container's); a shim removed is put back.
    touch -d '+1 hour' "$index"
    "$ENGINE" exec "$PREFIX-$box" rm /usr/local/bin/xdg-open
    idx=$(stat -c %i "$index")
    restart_box $box
    if starts_ok $box; then
        check "$box: an index not the container's own is written again" differs "$idx" "$(stat -c %i "$index")"
        check "$box: a removed shim is written again" "$ENGINE" exec "$PREFIX-$box" test -x /usr/local/bin/xdg-open
    fi
    # Shims that ran something else (another relay) are written again.
    "$ENGINE" exec "$PREFIX-$box" sh -c 'echo /elsewhere >/var/lib/tent/host-shims'
    shim=$(inode_in /usr/local/bin/tent)
    restart_box $box
    if starts_ok $box; then
        check "$box: shims of another relay are written again" differs "$shim" "$(inode_in /usr/local/bin/tent)"
    fi
    # A command that appears while the box runs is in the index within
    # the init's two-second round.
    "$ENGINE" exec "$PREFIX-$box" sh -c 'printf "#!/bin/sh\n" >/usr/local/bin/tent-newcmd && chmod +x /usr/local/bin/tent-newcmd'
    for _ in $(seq 60); do grep -qx tent-newcmd "$index" && break; sleep 0.1; done
    check_has "$box: a new command reaches the index" "tent-newcmd" "$(cat "$index")"
fi

box=bbclosed
if starts_ok $box; then
    check_eq "$box: the user can run a command" "alice" "$(bx $box cmd / id -un)"
    check_eq "$box: / is open to others" "705" "$(bx $box cmd / stat -c %a /)"
    check_has "$box: says so in the log" "opened / to alice" "$(cat "$TMP/state-$box/init.log")"
fi

box=bbrootful
if starts_ok $box; then
    check_eq "$box: nothing moved into a linked directory" "" "$(ls -A "$victim")"
    check "$box: state files are files again" sh -c "cd '$TMP/state-$box' && for f in pid ready commands; do \
        test -f \$f && ! test -L \$f || exit 1; done"
    check_eq "$box: state files are the user's alone" "600 600 600 600" \
        "$(cd "$TMP/state-$box" && stat -c %a pid ready commands init.log | tr '\n' ' ' | sed 's/ $//')"
fi

box=bbswapped
wait_box $box
sleep 1
check_eq "$box: a state directory of root's gets nothing" "" "$(ls -A "$TMP/state-$box")"
check_lacks "$box: the box stopped" "true" "$("$ENGINE" inspect -f '{{.State.Running}}' "$PREFIX-$box")"
check_has "$box: says why" "refusing to start: /run/.tent/state is not a directory of uid 1234 (owner: 0)" \
    "$("$ENGINE" logs "$PREFIX-$box" 2>&1)"

box=bblibswap
wait_box $box
sleep 1
check_eq "$box: nothing written to the state directory" "" "$(ls -A "$TMP/state-$box")"
check_has "$box: says why" "refusing to start: /run/.tent/lib is not a directory of uid 1234 (owner: 0)" \
    "$("$ENGINE" logs "$PREFIX-$box" 2>&1)"

box=bbroot
if T_UID=0 T_GID=0 starts_ok $box; then
    check_eq "$box: root in the box" "0" "$(T_UID=0 T_GID=0 T_SHELL=/bin/sh bx $box cmd / id -u)"
fi

box=bbfull
if starts_ok $box; then
    check_eq "$box: an image with everything gets no package work" "" "$(bx $box --root cmd / cat /var/apt-calls 2>/dev/null)"
    check_has "$box: says so in the log" "nothing to install" "$(cat "$TMP/state-$box/init.log")"
fi

box=bbnosudo
if starts_ok $box; then
    check_eq "$box: installs only what is missing" "-q update|-q -y -o Dpkg::Use-Pty=0 install --no-install-recommends sudo|" \
        "$(bx $box --root cmd / cat /var/apt-calls | tr '\n' '|')"
fi

box=noawk
wait_box $box
check_has "$box: fails naming what is missing" "lacks awk and has no package manager" "$(cat "$TMP/state-$box/failed" 2>/dev/null)"
check_has "$box: suggests an image" "debian" "$(cat "$TMP/state-$box/failed" 2>/dev/null)"

box=bbhook
wait_box $box
check_has "$box: a failing start hook fails init" "the start hook failed with status 3" "$(cat "$TMP/state-$box/failed" 2>/dev/null)"
sleep 1
check_lacks "$box: container stopped with an error" "0" "$("$ENGINE" inspect -f '{{.State.Running}}{{.State.ExitCode}}' "$PREFIX-$box")"

box=bbpkgs
wait_box $box
check_has "$box: TENT_PACKAGES without a package manager fails" "no package manager found to install TENT_PACKAGES (vim)" "$(cat "$TMP/state-$box/failed" 2>/dev/null)"

if [ -z "$SKIP_NETWORK" ]; then
    box=deb
    if starts_ok $box; then
        first=$waited
        check_eq "$box: id" "uid=1234(alice) gid=1234(alice) groups=1234(alice)" "$(bx $box cmd / id)"
        check_eq "$box: passwd entry" "alice:x:1234:1234::$TMP/home-$box:/bin/bash" "$(bx $box cmd / getent passwd alice)"
        # A restart's fast path (user_is_set_up) agrees with setup_user and
        # setup_group: set up now, and not once one field differs.
        set_up() {
            "$ENGINE" exec --user 0:0 -e TENT_INIT_SOURCE_ONLY=1 -e TENT_GROUP=alice "$PREFIX-$box" sh -c \
                '. /run/.tent/lib/tent-init; user_shell=$1; TENT_HOME=${2:-$TENT_HOME}; TENT_GID=${3:-$TENT_GID}
                 if user_is_set_up; then echo yes; else echo no; fi' sh "$@"
        }
        check_eq "$box: a restart finds the user set up" yes "$(set_up /bin/bash)"
        check_eq "$box: another shell is not set up" no "$(set_up /bin/sh)"
        check_eq "$box: another home is not set up" no "$(set_up /bin/bash /elsewhere)"
        check_eq "$box: another group is not set up" no "$(set_up /bin/bash "" 4321)"
        check "$box: sudo without password" bx $box cmd / sudo -n true
        check_eq "$box: home left empty" "" "$(ls -A "$TMP/home-$box")"
        check_has "$box: installed what was missing" "==> installing" "$(cat "$TMP/state-$box/init.log")"
        check "$box: locale generated" bx $box cmd / sh -c 'locale -a | grep -qx en_US.utf8'
        check_eq "$box: shell mode runs the login shell" "bash" "$(echo 'echo ${BASH_VERSION:+bash}' | bx $box shell /tmp)"
        out=$(bx $box cmd /no/such/dir pwd 2>&1)
        check_has "$box: cwd fallback note" "tent: /no/such/dir is not in box $PREFIX-$box; starting in $TMP/home-$box" "$out"
        bx $box cmd / sh -c 'exit 42'
        check_eq "$box: status passes through the engine" 42 $?
        bx $box cmd / no-such-command-tent 2>/dev/null
        check_eq "$box: 127 through the engine" 127 $?
        check_eq "$box: enc through the engine" "$(printf '[\377\n][x y]')" "$(bx $box enc / printf '[%s]' '\0377\012' 'x y')"
        restart_box $box
        if starts_ok $box; then
            log=$(last_log $box)
            check_has "$box: second start does no package work (${waited}s, first ${first}s)" "no package work" "$log"
            check_lacks "$box: second start installs nothing" "installing" "$log"
            check "$box: sudo after restart" bx $box cmd / sudo -n true
        fi
        check "$box: tent-init install" bx $box --root cmd / sh /run/.tent/lib/tent-init install hello
        check_eq "$box: installed package runs" "Hello, world!" "$(bx $box cmd / hello)"
    fi

    box=baked
    if starts_ok $box; then
        check_has "$box: provision mode logs its progress" "==> provisioned" "$(cat "$TMP/state-$box/init.log")"
        check_has "$box: the box's init then does no package work" "no package work" "$(last_log $box)"
        check_eq "$box: packages given to provision are there" "Hello, world!" "$(bx $box cmd / hello)"
        check "$box: sudo without password" bx $box cmd / sudo -n true
    fi

    box=keepid
    if starts_ok $box; then
        check_eq "$box: keep-id entry fixed" "alice:*:1234:1234:alice:$TMP/home-$box:/bin/bash" "$(bx $box cmd / getent passwd alice)"
        check "$box: sudo without password" bx $box cmd / sudo -n true
    fi

    box=taken
    if starts_ok $box; then
        check_eq "$box: id (uid and gid renamed)" "uid=1234(alice) gid=1234(alice) groups=1234(alice)" "$(bx $box cmd / id)"
        check_eq "$box: old name gone" "" "$(bx $box cmd / sh -c 'getent passwd ubuntu; getent group ubuntu')"
        check "$box: sudo without password" bx $box cmd / sudo -n true
        check "$box: TENT_PACKAGES installed" bx $box cmd / tree --version
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
