#!/usr/bin/env bash
# Package dist/SparkTrainer/ (from `make dist`) as a Debian package with dpkg-deb:
#   /opt/sparktrainer/                the PyInstaller folder (one executable: GUI, CLI, worker)
#   /usr/bin/spark-trainer            the command line (SparkTrainer cli ...)
#   /usr/bin/spark-trainer-gui        the desktop app
#   /usr/share/applications/sparktrainer.desktop, icons in hicolor (PNG and SVG)
# Depends: on the system libraries Qt's xcb platform needs, so `apt install ./file.deb` brings them.
#
# Usage: installers/linux/build_deb.sh [DIST_DIR] [OUT_DIR]     (defaults: dist/SparkTrainer dist)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIST="${1:-$ROOT/dist/SparkTrainer}"
OUT="${2:-$ROOT/dist}"
COMPRESSION="${DEB_COMPRESSION:-zstd}"  # gzip for very old dpkg; xz is smaller but slow on few cores

[ -x "$DIST/SparkTrainer" ] || { echo "build_deb: $DIST/SparkTrainer not found; run 'make dist' first" >&2; exit 2; }
VERSION="$(grep -m1 '^version' "$ROOT/pyproject.toml" | sed -E 's/.*"(.*)".*/\1/')"
ARCH="$(dpkg --print-architecture)"
DEPENDS="$(cd "$ROOT" && python3 -c 'from app.qt_platform import BASE_PACKAGES, XCB_PACKAGES; print(", ".join(["libc6 (>= 2.31)", *dict.fromkeys(BASE_PACKAGES + XCB_PACKAGES)]))')"

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
PKG="$STAGE/spark-trainer"
mkdir -p "$PKG/DEBIAN" "$PKG/opt" "$PKG/usr/bin" "$PKG/usr/share/applications" \
         "$PKG/usr/share/icons/hicolor/256x256/apps" "$PKG/usr/share/icons/hicolor/scalable/apps"
cp -a "$DIST" "$PKG/opt/sparktrainer"

cat > "$PKG/usr/bin/spark-trainer" <<'EOF'
#!/bin/sh
exec /opt/sparktrainer/SparkTrainer cli "$@"
EOF
cat > "$PKG/usr/bin/spark-trainer-gui" <<'EOF'
#!/bin/sh
exec /opt/sparktrainer/SparkTrainer "$@"
EOF
chmod 755 "$PKG/usr/bin/spark-trainer" "$PKG/usr/bin/spark-trainer-gui"
install -m 644 "$ROOT/installers/linux/sparktrainer.desktop" "$PKG/usr/share/applications/sparktrainer.desktop"
install -m 644 "$ROOT/resources/icons/sparktrainer.png" "$PKG/usr/share/icons/hicolor/256x256/apps/sparktrainer.png"
install -m 644 "$ROOT/resources/icons/sparktrainer.svg" "$PKG/usr/share/icons/hicolor/scalable/apps/sparktrainer.svg"

SIZE_KB="$(du -sk "$PKG" | cut -f1)"
cat > "$PKG/DEBIAN/control" <<EOF
Package: spark-trainer
Version: $VERSION
Section: science
Priority: optional
Architecture: $ARCH
Installed-Size: $SIZE_KB
Depends: $DEPENDS
Maintainer: SparkTrainer developers <noreply@sparktrainer.invalid>
Description: SparkTrainer Desktop: fine-tune models on your own GPU workstation
 A desktop app and a command line (spark-trainer) for training models locally:
 datasets, experiments, managed training runs with live charts, evaluation and
 export. Everything lives in one data folder per user (~/.local/share/SparkTrainer).
EOF
# Menus and icon caches pick the new entry up at once where the tools exist (a bare system has neither).
cat > "$PKG/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q /usr/share/applications || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t /usr/share/icons/hicolor || true
exit 0
EOF
# The app never writes under /opt, but a crashed update could leave stray files: remove the whole
# folder so `dpkg -r` leaves nothing but each user's data home.
cat > "$PKG/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ] || [ "$1" = purge ]; then
    rm -rf /opt/sparktrainer
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q /usr/share/applications || true
fi
exit 0
EOF
chmod 755 "$PKG/DEBIAN/postinst" "$PKG/DEBIAN/postrm"

mkdir -p "$OUT"
DEB="$OUT/spark-trainer_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Z"$COMPRESSION" --build "$PKG" "$DEB" >/dev/null
echo "$DEB"
