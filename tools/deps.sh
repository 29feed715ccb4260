# Shared by tools/quickstart and tools/check: installs the Debian packages
# a step needs, only those missing, with one apt-get update first.
# Usage: . tools/deps.sh; hf_install_packages pkg...

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
    libconfig-dev libjemalloc-dev"
# What the tests need on top.
HF_TEST_PACKAGES="libcmocka-dev python3 openssl groff-base"

# Builds in the source tree with make -j2 (the machine has two cores).
hf_build() {
    if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
        autoreconf -fi
    fi
    if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
        ./configure "$@"
    fi
    make -j2
}
