#!/bin/sh
# install-cni: puts the weft CNI plugin into the host's CNI bin dir.
#
# The runtime (containerd, CRI-O) runs the plugin on the host, outside any
# container, so the plugin cannot use this image's Node.js. It gets its own:
#   BIN/weft            a /bin/sh wrapper: exec weft.d/node weft.d/weft-cni.js
#   BIN/weft.d/node     this image's node binary (glibc >= 2.28, libstdc++)
#   BIN/weft.d/weft-cni.js  the bundled shim (node built-ins only)
# Each file is copied to a temporary name and renamed into place, so a runtime
# executing the plugin at that moment sees the old file or the new one, never
# half of one; an identical file is left alone.
#
# It does NOT write the CNI config: the agent container does that once the
# agent is ready (postStart hook), so no pod is sent to an agent that cannot
# serve it.
set -eu

bin_dir=${1:?usage: install-cni.sh HOST_CNI_BIN_DIR}
src=${WEFT_CNI_JS:-/opt/weft/dist/weft-cni.js}  # overridable for tests

install_file() { # SOURCE NAME MODE
  if [ -f "$bin_dir/$2" ] && cmp -s "$1" "$bin_dir/$2"; then
    echo "install-cni: $bin_dir/$2 is up to date"
    return
  fi
  cp "$1" "$bin_dir/$2.tmp"
  chmod "$3" "$bin_dir/$2.tmp"
  mv -f "$bin_dir/$2.tmp" "$bin_dir/$2"
  echo "install-cni: installed $bin_dir/$2"
}

[ -d "$bin_dir" ] || { echo "install-cni: $bin_dir is not a directory (mount the host's CNI bin dir there)" >&2; exit 1; }
[ -f "$src" ] || { echo "install-cni: $src is missing from the image" >&2; exit 1; }
mkdir -p "$bin_dir/weft.d"

wrapper=$(mktemp)
trap 'rm -f "$wrapper"' EXIT
cat >"$wrapper" <<'WRAPPER'
#!/bin/sh
# weft CNI plugin (installed by weft's install-cni container; see weft.d/)
dir=$(dirname "$0")
exec "$dir/weft.d/node" "$dir/weft.d/weft-cni.js" "$@"
WRAPPER

install_file "$(command -v node)" weft.d/node 0755
install_file "$src" weft.d/weft-cni.js 0644
install_file "$wrapper" weft 0755
"$bin_dir/weft.d/node" --version >/dev/null
echo "install-cni: done"
