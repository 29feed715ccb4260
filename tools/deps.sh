# Shared by tools/quickstart and tools/check: installs the Debian packages
# a step needs (only those missing, after one apt-get update), and builds
# in a folder of its own. Usage: . tools/deps.sh

hf_install_packages() {
    missing=""
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing="$missing $pkg"
        fi
    done
    [ -z "$missing" ] && return 0
    echo "installing:$missing"
    if [ "$(id -u)" -ne 0 ]; then
        SUDO=sudo
    else
        SUDO=
    fi
    $SUDO apt-get update -q
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
}

# What building handoff needs.
HF_BUILD_PACKAGES="build-essential autoconf automake libtool pkg-config libevent-dev libssl-dev
    libconfig-dev libjemalloc-dev liblmdb-dev libhiredis-dev libjansson-dev"
# What the tests need on top: cmocka, the integration tests' python, groff
# for the man page check, clang and its runtimes for fuzzing.
HF_TEST_PACKAGES="libcmocka-dev python3 python3-yaml curl openssl groff-base clang clang-format libclang-rt-14-dev redis-server gnutls-bin nodejs"

# hf_build DIR [configure options]: configures (once) and builds in DIR,
# with make -j2 (the machine has two cores).
hf_build() {
    dir=$1
    shift
    if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
        autoreconf -fi
    fi
    # A build configured in the source folder itself blocks builds in
    # folders of their own; clean it away.
    if [ -f config.status ]; then
        echo "note: removing the in-tree build (make distclean) to build in $dir/"
        make distclean >/dev/null
    fi
    mkdir -p "$dir"
    if [ ! -f "$dir/Makefile" ] || [ configure -nt "$dir/Makefile" ]; then
        (cd "$dir" && ../configure "$@")
    fi
    make -C "$dir" -j2
}

# hf_summary DIR: one line, the way CI and people read it.
hf_summary() {
    passed=$(cat "$1"/test/*/*.trs 2>/dev/null | grep -c ':test-result: PASS' || true)
    failed=$(cat "$1"/test/*/*.trs 2>/dev/null | grep -c ':test-result: FAIL' || true)
    echo "$passed passed, $failed failed"
}

# hf_show_failures DIR: the log of every failed test.
hf_show_failures() {
    for trs in "$1"/test/*/*.trs; do
        [ -f "$trs" ] || continue
        if grep -q ':test-result: FAIL' "$trs"; then
            echo "==== ${trs%.trs}.log ===="
            cat "${trs%.trs}.log"
        fi
    done
}
