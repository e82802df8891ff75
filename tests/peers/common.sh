# common.sh — sourced by the peers' scripts that build a Debian source
# package's own tests: messages, the checks of their arguments, installing
# tools, deb-src entries, fetching and caching the source. The caller sets me
# (its name) and usage_lines (the sed range of its header that is its usage)
# before sourcing this, and DIR (its work directory) before it installs or
# fetches.
# shellcheck shell=sh disable=SC2034,SC2154 # variables are shared with the caller

die() {
    printf '%s: %s\n' "$me" "$*" >&2
    exit 2
}
say() { printf '# %s\n' "$*"; }
usage() {
    sed -n "${usage_lines}p" "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# check_args: the library to preload exists (lib) and the work directory
# (DIR, made absolute) has no spaces and can be created.
check_args() {
    [ -n "$lib" ] || die "no library: pass LIBRARY or set HAKMEM_LIBRARY"
    [ -f "$lib" ] || die "library not found: $lib"
    case $DIR in
    *[[:space:]]*) die "the work directory must not contain spaces: $DIR" ;;
    /*) ;;
    *) DIR=$PWD/$DIR ;;
    esac
    mkdir -p "$DIR" || die "cannot create $DIR"
}

is_root() { [ "$(id -u)" = 0 ]; }

# apt_install WHAT PACKAGES: installs PACKAGES (WHAT names the missing tool).
apt_install() {
    is_root || die "$1 is missing and only root can install it (apt-get install $2)"
    say "installing $2"
    # shellcheck disable=SC2086 # $2: package names
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $2 >"$DIR/apt.log" 2>&1 ||
        { apt-get update -q >>"$DIR/apt.log" 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $2 >>"$DIR/apt.log" 2>&1; } ||
        { tail -n 20 "$DIR/apt.log" >&2; die "apt-get install $2 failed"; }
}

have_deb_src() { apt-cache showsrc "$1" 2>/dev/null | grep -q "^Package: $1\$"; }

# ensure_deb_src PACKAGE: deb-src entries for the Debian mirrors the machine
# already uses (deb822 stanzas and one-line entries), else the default
# mirror, unless apt already knows PACKAGE's source.
DEB_SRC_FILE=/etc/apt/sources.list.d/hakmem-peers-deb-src.sources
DEB_SRC_LIST=/etc/apt/sources.list.d/hakmem-peers-deb-src.list
ensure_deb_src() {
    have_deb_src "$1" && return 0
    is_root || die "no deb-src entry for $1, and only root can add one"
    stanzas='' lines='' nl='
'
    for f in /etc/apt/sources.list.d/*.sources; do
        if [ ! -f "$f" ] || [ "$f" = "$DEB_SRC_FILE" ]; then continue; fi
        stanzas=$stanzas$(awk 'BEGIN { RS = ""; ORS = "\n\n" }
            /(^|\n)Types:[^\n]*deb/ && /(^|\n)URIs:[^\n]*(debian\.org|\/debian(-security)?\/?)/ &&
            !/(^|\n)Enabled:[ \t]*(no|false)/ {
                sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f")$nl$nl
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        if [ ! -f "$f" ] || [ "$f" = "$DEB_SRC_LIST" ]; then continue; fi
        lines=$lines$(grep -E '^[[:space:]]*deb[[:space:]].*(debian\.org|/debian(-security)?/?)[[:space:]]' "$f" |
            sed 's/^[[:space:]]*deb[[:space:]]/deb-src /')$nl
    done
    stanzas=$(printf '%s' "$stanzas" | sed '/./,$!d') # no leading blank lines
    lines=$(printf '%s' "$lines" | grep .)
    if [ -n "$stanzas" ]; then
        printf '# added by tests/peers/common.sh (apt-get source)\n%s\n' "$stanzas" >"$DEB_SRC_FILE"
    fi
    if [ -n "$lines" ]; then
        printf '# added by tests/peers/common.sh (apt-get source)\n%s\n' "$lines" >"$DEB_SRC_LIST"
    fi
    if [ -z "$stanzas$lines" ]; then
        # shellcheck disable=SC1091 # the system's file
        codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-bookworm}")
        printf 'deb-src http://deb.debian.org/debian %s main\n' "$codename" >"$DEB_SRC_LIST"
    fi
    say "added deb-src entries ($DEB_SRC_FILE / $DEB_SRC_LIST); apt-get update"
    apt-get update -q >"$DIR/apt.log" 2>&1 || { tail -n 20 "$DIR/apt.log" >&2; die "apt-get update failed"; }
    have_deb_src "$1" || die "apt-cache still finds no source package $1"
}

# fetch_source PACKAGE VERSION FILE: sets S to the unpacked source of
# PACKAGE (VERSION asked for first, else the candidate), a tree holding FILE,
# cached in $DIR/src and fetched again only when VERSION changes.
fetch_source() {
    S=''
    if [ -f "$DIR/src/stamp" ]; then
        read -r have_ver have_dir <"$DIR/src/stamp" || true
        if [ "${have_ver:-}" = "$2" ] && [ -f "$DIR/src/${have_dir:-none}/$3" ]; then
            S=$DIR/src/$have_dir
            return 0
        fi
    fi
    say "fetching the $1 source (apt-get source $1=$2)"
    command -v dpkg-source >/dev/null 2>&1 || apt_install dpkg-source dpkg-dev
    ensure_deb_src "$1"
    rm -rf "$DIR/src.new"
    mkdir -p "$DIR/src.new" || die "cannot create $DIR/src.new"
    aptopt=''
    is_root && aptopt='-oAPT::Sandbox::User=root' # no _apt user access needed to $DIR
    # shellcheck disable=SC2086 # $aptopt: empty or one word
    (cd "$DIR/src.new" && { apt-get $aptopt source -q "$1=$2" || apt-get $aptopt source -q "$1"; }) \
        >"$DIR/apt-source.log" 2>&1 || { tail -n 20 "$DIR/apt-source.log" >&2; die "apt-get source $1 failed"; }
    srcname=$(cd "$DIR/src.new" && for d in "$1"-*/; do [ -f "$d/$3" ] && printf '%s' "${d%/}" && break; done)
    [ -n "$srcname" ] || die "apt-get source $1 made no $1-*/ tree holding $3 in $DIR/src.new"
    printf '%s %s\n' "$2" "$srcname" >"$DIR/src.new/stamp"
    rm -rf "$DIR/src"
    mv "$DIR/src.new" "$DIR/src" || die "cannot move $DIR/src.new to $DIR/src"
    S=$DIR/src/$srcname
}
