#!/usr/bin/env bash
# One stage of a kernel build, driven by `odfbench kernel build` (harness/kernel/build.cpp),
# which owns the cache, the configuration check, progress and provenance.
#
#   build.sh resolve   print the commit ODFK_REF names in ODFK_SRC
#   build.sh source    ODFK_TREE holds a checkout of ODFK_COMMIT (blobs missing from
#                      a mirror are left out and listed in ODFK_TREE/.odfbench-missing)
#   build.sh config    .config = ODFK_BASE (x86_64_defconfig, or allnoconfig for the guest-only
#                      variants) + ODFK_FRAGMENTS, then olddefconfig
#   build.sh compile   bzImage with ODFK_JOBS jobs
#   build.sh btf       ODFK_OUT/vmlinux.btf from vmlinux by pahole (kernels without in-kernel BTF)
#   build.sh debian    ODFK_OUT/{bzImage,config,version}: the newest ODFK_PACKAGE image of
#                      ODFK_SUITE, by apt-get download + dpkg -x (nothing installed)
#
# ODFK_SRC is a git URL, a clone or a bare mirror.  ODFK_CC and ODFK_HOSTCFLAGS carry a
# variant's toolchain quirks (gcc-11 and -fcommon for 5.6).
set -euo pipefail
stage=${1:?stage}

git_dir_of() {   # the git directory of a local source, or nothing for a URL
  [ -d "$1" ] || return 0
  git -C "$1" rev-parse --absolute-git-dir 2>/dev/null
}

kmake() {
  local cc=${ODFK_CC:-gcc}
  make -C "$ODFK_TREE" ARCH=x86_64 CC="$cc" HOSTCC="$cc" \
       ${ODFK_HOSTCFLAGS:+HOSTCFLAGS="$ODFK_HOSTCFLAGS"} \
       KBUILD_BUILD_USER=odfbench KBUILD_BUILD_HOST=odfbench "$@"
}

case $stage in
resolve)
  gd=$(git_dir_of "$ODFK_SRC")
  if [ -n "$gd" ]; then
    git --git-dir="$gd" rev-parse --verify --quiet "${ODFK_COMMIT:-$ODFK_REF}^{commit}" ||
      { echo "build.sh: ${ODFK_COMMIT:-$ODFK_REF} is not in $ODFK_SRC" >&2; exit 1; }
  elif [ -n "${ODFK_COMMIT:-}" ]; then
    echo "$ODFK_COMMIT"
  else
    out=$(git ls-remote "$ODFK_SRC" "refs/heads/$ODFK_REF") ||
      { echo "build.sh: cannot reach $ODFK_SRC" >&2; exit 1; }
    [ -n "$out" ] || { echo "build.sh: no branch $ODFK_REF at $ODFK_SRC" >&2; exit 1; }
    echo "${out%%[[:space:]]*}"
  fi
  ;;
source)
  if [ "$(git -C "$ODFK_TREE" rev-parse HEAD 2>/dev/null)" = "$ODFK_COMMIT" ]; then
    echo "source: $ODFK_TREE already at $ODFK_COMMIT"; exit 0
  fi
  rm -rf "$ODFK_TREE"; mkdir -p "$ODFK_TREE"
  git -C "$ODFK_TREE" init -q
  gd=$(git_dir_of "$ODFK_SRC")
  if [ -n "$gd" ]; then
    # Borrow the objects (no copy, no transfer): a transfer would insist on blobs a
    # snapshot mirror does not have.
    git --git-dir="$gd" rev-parse --git-path objects | sed "s|^\([^/]\)|$gd/\1|" \
      > "$ODFK_TREE/.git/objects/info/alternates"
  else
    git -C "$ODFK_TREE" fetch -q --depth 1 "$ODFK_SRC" "$ODFK_COMMIT"
  fi
  git -C "$ODFK_TREE" update-ref refs/heads/odfbench "$ODFK_COMMIT"
  # Blobs the source lacks stay out of the checkout; whether the configuration
  # needed them shows at compile time, and the driver reports it then.
  git -C "$ODFK_TREE" ls-tree -r --format='%(objectname) %(path)' "$ODFK_COMMIT" |
    git -C "$ODFK_TREE" cat-file --batch-check='%(objectname) %(objecttype) %(rest)' |
    awk '$2 == "missing" { print $1 }' > "$ODFK_TREE/.git/missing-objects"
  git -C "$ODFK_TREE" ls-tree -r --format='%(objectname) %(path)' "$ODFK_COMMIT" |
    awk 'NR==FNR { miss[$1]; next } ($1 in miss) { print $2 }' \
        "$ODFK_TREE/.git/missing-objects" - > "$ODFK_TREE/.odfbench-missing"
  if [ -s "$ODFK_TREE/.odfbench-missing" ]; then
    git -C "$ODFK_TREE" config core.sparseCheckout true
    { echo '/*'; sed 's|^|!/|' "$ODFK_TREE/.odfbench-missing"; } > "$ODFK_TREE/.git/info/sparse-checkout"
    echo "source: $(wc -l < "$ODFK_TREE/.odfbench-missing") files missing from $ODFK_SRC, left out:"
    sed 's/^/  /' "$ODFK_TREE/.odfbench-missing"
  fi
  # Index refreshes still name the absent blobs ("invalid object"): expected, not shown.
  git -C "$ODFK_TREE" checkout -q odfbench 2>&1 | { grep -v '^error: invalid object' || true; }
  [ "${PIPESTATUS[0]}" -eq 0 ]
  echo "source: $ODFK_TREE at $ODFK_COMMIT"
  ;;
config)
  # The paper branch tracks its authors' .config, which makes O= builds refuse to
  # start; builds are in-tree, and that file is kept as .config.shipped.
  if git -C "$ODFK_TREE" ls-files --error-unmatch .config >/dev/null 2>&1; then
    git -C "$ODFK_TREE" show HEAD:.config > "$ODFK_TREE/.config.shipped"
  fi
  case ${ODFK_BASE:-x86_64_defconfig} in
  x86_64_defconfig)
    kmake -s x86_64_defconfig
    # shellcheck disable=SC2086
    (cd "$ODFK_TREE" && scripts/kconfig/merge_config.sh -m .config $ODFK_FRAGMENTS) ;;
  allnoconfig)
    # merge_config -n: allnoconfig with the fragments as KCONFIG_ALLCONFIG, so each
    # fragment line is a forced choice and everything else is off (tinyconfig's method).
    rm -f "$ODFK_TREE/.config"
    # shellcheck disable=SC2086
    (cd "$ODFK_TREE" && ARCH=x86_64 CC=${ODFK_CC:-gcc} scripts/kconfig/merge_config.sh -n $ODFK_FRAGMENTS) ;;
  *) echo "build.sh: unknown base configuration $ODFK_BASE" >&2; exit 2 ;;
  esac
  kmake -s olddefconfig
  ;;
compile)
  kmake -j "${ODFK_JOBS:-$(nproc)}" bzImage
  ;;
btf)
  pahole --btf_encode_detached="$ODFK_OUT/vmlinux.btf" "$ODFK_TREE/vmlinux"
  ;;
debian)
  # A private apt state, so a backports suite never touches the host's sources.
  apt_dir=$ODFK_OUT/apt; mkdir -p "$apt_dir/lists/partial"
  echo "deb http://deb.debian.org/debian $ODFK_SUITE main" > "$apt_dir/sources.list"
  apt=(-o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
       -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  apt-get "${apt[@]}" update -qq
  pkg=$(apt-cache "${apt[@]}" depends "$ODFK_PACKAGE" | awk '/Depends: linux-image-/{print $2; exit}')
  [ -n "$pkg" ] || { echo "build.sh: $ODFK_PACKAGE in $ODFK_SUITE names no linux-image package" >&2; exit 1; }
  version=$(apt-cache "${apt[@]}" show "$pkg" | awk '/^Version:/{print $2; exit}')
  (cd "$apt_dir" && rm -f ./*.deb && apt-get "${apt[@]}" download -q "$pkg" && dpkg -x ./*.deb x)
  cp "$apt_dir"/x/boot/vmlinuz-* "$ODFK_OUT/bzImage"
  cp "$apt_dir"/x/boot/config-* "$ODFK_OUT/config"
  echo "$pkg $version" > "$ODFK_OUT/version"
  rm -rf "$apt_dir"
  echo "debian: $pkg $version"
  ;;
*) echo "build.sh: unknown stage $stage" >&2; exit 2 ;;
esac
