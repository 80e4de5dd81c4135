#!/bin/sh
# Installs exactly the Debian 12 packages runnel needs that are missing.
# Does nothing (and needs no network) when everything is present.
set -eu

PACKAGES="build-essential cmake ninja-build pkg-config \
liburing-dev libprotobuf-c-dev protobuf-c-compiler libsodium-dev \
libcmocka-dev libxxhash-dev libinih-dev clang clang-format libclang-rt-14-dev \
python3 git"

missing=""
for package in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $package"
    fi
done

if [ -z "$missing" ]; then
    echo "setup: all packages present"
    exit 0
fi

echo "setup: installing$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
