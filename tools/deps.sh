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
    libconfig-dev libjemalloc-dev liblmdb-dev libhiredis-dev libjansson-dev libcurl4-openssl-dev"
# What the tests need on top: cmocka, the integration tests' python, groff
# for the man page check, clang and its runtimes for fuzzing.
HF_TEST_PACKAGES="libcmocka-dev python3 python3-yaml python3-jwt curl openssl groff-base clang clang-format libclang-rt-14-dev redis-server gnutls-bin nodejs
    libfuse3-dev fuse3 faketime lua-check prometheus iproute2 lmdb-utils"

# hf_configure_reason DIR: why DIR must be configured (again), or nothing
# when its configuration still holds. A folder configured before a package
# was installed (tools/quickstart runs before tools/check installs the test
# packages) saw a machine that is gone: configure found no cmocka, and its
# unit tests would not link.
hf_configure_reason() {
    if [ ! -f "$1/Makefile" ]; then
        echo "not configured yet"
    elif [ configure -nt "$1/Makefile" ]; then
        echo "configure is newer"
    elif [ -n "$(find /var/lib/dpkg/info -name '*.list' -newer "$1/Makefile" 2>/dev/null | head -n 1)" ]; then
        echo "packages were installed since it was configured"
    elif grep -q '^CMOCKA_LIBS = *$' "$1/Makefile" && pkg-config --exists cmocka 2>/dev/null; then
        echo "it was configured without cmocka, which is here now"
    fi
}

# hf_configure DIR [configure options]: configures DIR when
# hf_configure_reason says it must.
hf_configure() {
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
    reason=$(hf_configure_reason "$dir")
    if [ -n "$reason" ]; then
        echo "configuring $dir/: $reason"
        (cd "$dir" && ../configure "$@")
    fi
}

# hf_build DIR [configure options]: configures (when needed) and builds in
# DIR, with make -j2 (the machine has two cores).
hf_build() {
    hf_configure "$@"
    make -C "$1" -j2
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
