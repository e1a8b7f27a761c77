#!/bin/sh
# Installs (or upgrades, or removes) mq2wsbridge and bridgetester on Linux
# x86_64 or aarch64, with a system user, a configuration directory and a
# systemd unit.
#
#   curl --proto '=https' --tlsv1.2 -fsSL https://github.com/OWNER/REPO/releases/latest/download/install.sh | sudo sh
#   curl --proto '=https' --tlsv1.2 -fsSL .../install.sh | sudo sh -s -- --version 0.2.0
#   sudo sh install.sh --base-url /path/to/release     (a local copy of a release)
#   sudo sh install.sh --uninstall                     (keeps the configuration)
#
# Run `sh install.sh --help` for every option. POSIX sh: no pipefail, so no
# pipeline below hides a failure that matters.
set -eu

# Replaced with the GitHub repository (owner/name) when a release is built.
DEFAULT_REPO="@GITHUB_REPOSITORY@"
SERVICE_USER=mq2wsbridge
SERVICE=mq2wsbridge.service
PROGRAMS="mq2wsbridge bridgetester"
CONFIG_DIR=/etc/mq2wsbridge
CONFIG_FILE=$CONFIG_DIR/mq2wsbridge.ini
UNIT_DIR=/etc/systemd/system
DEFAULT_PREFIX=/opt/mq2wsbridge

usage() {
	cat <<'EOF'
Usage: install.sh [--version VERSION] [--base-url URL|DIR] [--prefix DIR] [--bindir DIR]
       install.sh --uninstall [--prefix DIR] [--bindir DIR]

Installs mq2wsbridge and bridgetester from a release: checks the SHA-256 sum,
installs the binaries under PREFIX with links in BINDIR, creates the system
user mq2wsbridge, writes /etc/mq2wsbridge/mq2wsbridge.ini from the example
(mode 0600, only if it does not exist yet) and the systemd unit. Running it
again upgrades in place. Must run as root.

Options (environment variable in brackets):
  --version VERSION  release to install, e.g. 0.2.0 [MQ2WSBRIDGE_VERSION]; default: latest
  --base-url URL     where the release files (SHA256SUMS, archives) are: an https://
                     URL, a file:// URL or a local directory [MQ2WSBRIDGE_BASE_URL];
                     default: the GitHub release of VERSION. Downloads use HTTPS only
                     (TLS 1.2 or later, redirects included); plain http:// is refused
  --prefix DIR       installation directory [PREFIX]; default: /opt/mq2wsbridge
  --bindir DIR       where the command links go [BINDIR]; default: /usr/local/bin
  --uninstall        remove the binaries, links and unit; keep the configuration and user
  -h, --help         show this help

Also read: DESTDIR (install below this root directory instead of /, for
packaging and tests; systemd is then left alone), MQ2WSBRIDGE_REPO (GitHub
owner/name to download from), MQ2WSBRIDGE_ARCH (use instead of `uname -m`),
MQ2WSBRIDGE_SYSTEMCTL (systemctl command to use, also under DESTDIR; for tests).
EOF
}

say() { printf '%s\n' "$*"; }
die() {
	printf 'install.sh: error: %s\n' "$*" >&2
	exit 1
}

# Prints the release architecture name for a `uname -m` value.
release_arch() {
	case $1 in
	x86_64 | amd64) say x86_64 ;;
	aarch64 | arm64) say aarch64 ;;
	*) die "unsupported architecture '$1': releases exist for x86_64 and aarch64 (set MQ2WSBRIDGE_ARCH to override detection)" ;;
	esac
}

# A directory given by the operator: absolute, and nothing sed or the unit file would misread.
check_dir() {
	case $2 in
	/*) ;;
	*) die "$1 must be an absolute path: '$2'" ;;
	esac
	case $2 in
	*[!A-Za-z0-9._/-]*) die "$1 may contain only letters, digits and . _ / -: '$2'" ;;
	esac
}

# Sets FETCH to how release files are read: "local" (a directory) or "curl".
choose_fetch() {
	case $BASE_URL in
	file://*)
		BASE_URL=${BASE_URL#file://}
		FETCH=local
		;;
	http://*) die "refusing to download over plain HTTP: '$BASE_URL' (use https://, a file:// URL or a local directory)" ;;
	https://*)
		# Not wget: it follows a redirect from HTTPS to plain HTTP (its --https-only
		# holds for recursive downloads only), which would defeat the checksum.
		command -v curl >/dev/null 2>&1 ||
			die "curl is not installed: install it (e.g. 'dnf install -y curl' or 'apt-get install -y curl'), or download the release files yourself and pass --base-url DIR"
		FETCH=curl
		;;
	*://*) die "unsupported URL '$BASE_URL': use https://, file:// or a local directory" ;;
	*) FETCH=local ;;
	esac
	if [ "$FETCH" = local ] && [ ! -d "$BASE_URL" ]; then
		die "release directory '$BASE_URL' does not exist"
	fi
}

# fetch NAME DEST: copies or downloads one release file. Downloads speak HTTPS
# only, TLS 1.2 or later, and follow redirects only to HTTPS (curl --proto
# '=https' --tlsv1.2), as trusted installers do: nothing on the path can
# downgrade the connection and hand over another archive with its checksum.
fetch() {
	case $FETCH in
	local)
		[ -f "$BASE_URL/$1" ] || die "'$BASE_URL/$1' does not exist: is this a release directory for the right architecture?"
		cp "$BASE_URL/$1" "$2"
		;;
	curl)
		curl --proto '=https' --tlsv1.2 -fsSL --retry 3 -o "$2" "$BASE_URL/$1" ||
			die "cannot download $BASE_URL/$1 (curl exit status $?): check the version and the network"
		;;
	esac
}

sha256_of() {
	if command -v sha256sum >/dev/null 2>&1; then
		set -- "$(sha256sum "$1")"
	elif command -v shasum >/dev/null 2>&1; then
		set -- "$(shasum -a 256 "$1")"
	else
		die "neither sha256sum nor shasum is installed: cannot verify the download"
	fi
	say "${1%% *}"
}

# verify FILE NAME SUMS: refuses FILE unless its SHA-256 is the one SUMS lists for NAME.
verify() {
	expected=$(awk -v name="$2" '$2 == name || $2 == "*" name { print $1; exit }' "$3")
	[ -n "$expected" ] || die "SHA256SUMS lists no checksum for $2: refusing to install"
	actual=$(sha256_of "$1")
	[ "$actual" = "$expected" ] ||
		die "checksum mismatch for $2: expected $expected, got $actual: refusing to install (corrupted or tampered download)"
}

# Prints uid:gid of the service user, from the account files under DESTDIR.
user_ids() {
	[ -f "$DESTDIR/etc/passwd" ] || return 1
	awk -F: -v user="$SERVICE_USER" '$1 == user { print $3 ":" $4; found = 1; exit } END { exit !found }' \
		"$DESTDIR/etc/passwd"
}

ensure_user() {
	if user_ids >/dev/null; then
		return 0
	fi
	command -v useradd >/dev/null 2>&1 ||
		die "useradd is not installed: create a system user '$SERVICE_USER' yourself, then run install.sh again"
	nologin=/usr/sbin/nologin
	[ -x "$nologin" ] || nologin=/sbin/nologin
	if [ -n "$DESTDIR" ]; then
		set -- --prefix "$DESTDIR"
	else
		set --
	fi
	useradd "$@" --system --user-group --no-create-home --home-dir /nonexistent \
		--shell "$nologin" --comment "mq2wsbridge service" "$SERVICE_USER"
	say "Created system user $SERVICE_USER"
}

# put SRC DEST MODE: replaces DEST by a copy of SRC in one rename, so a running
# binary keeps its old file and nothing sees a half-written one.
put() {
	cp "$1" "$2.new"
	chmod "$3" "$2.new"
	mv -f "$2.new" "$2"
}

# link TARGET LINK: a symlink, refusing to replace a file this script did not make.
link() {
	if [ -e "$2" ] && [ ! -L "$2" ]; then
		die "$2 exists and is not a link: move it away or pass --bindir"
	fi
	ln -sf "$1" "$2"
}

# Sets SYSTEMCTL to the systemctl command to run, or to "" when systemd is not to be touched.
find_systemd() {
	SYSTEMCTL=${MQ2WSBRIDGE_SYSTEMCTL:-}
	if [ -z "$SYSTEMCTL" ] && [ -z "$DESTDIR" ] && [ -d /run/systemd/system ] &&
		command -v systemctl >/dev/null 2>&1; then
		SYSTEMCTL=systemctl
	fi
}

# Downloads, verifies and unpacks the release; sets SRC (the unpacked directory) and NEW_VERSION.
fetch_release() {
	arch=$(release_arch "${MQ2WSBRIDGE_ARCH:-$(uname -m)}")
	version=${VERSION#v}
	if [ -z "$BASE_URL" ]; then
		repo=${MQ2WSBRIDGE_REPO:-$DEFAULT_REPO}
		case $repo in
		@*) die "this install.sh does not come from a release: pass --base-url, or set MQ2WSBRIDGE_REPO=owner/name" ;;
		esac
		if [ -n "$version" ]; then
			BASE_URL="https://github.com/$repo/releases/download/v$version"
		else
			BASE_URL="https://github.com/$repo/releases/latest/download"
		fi
	fi
	choose_fetch
	name=mq2wsbridge-linux-$arch
	TMP=$(mktemp -d)
	trap 'rm -rf "$TMP"' EXIT
	trap 'exit 130' INT TERM

	say "Fetching $name.tar.gz from $BASE_URL"
	fetch SHA256SUMS "$TMP/SHA256SUMS"
	fetch "$name.tar.gz" "$TMP/$name.tar.gz"
	verify "$TMP/$name.tar.gz" "$name.tar.gz" "$TMP/SHA256SUMS"
	mkdir "$TMP/x"
	tar -xzf "$TMP/$name.tar.gz" -C "$TMP/x" --no-same-owner
	SRC=$TMP/x/$name
	for f in bin/mq2wsbridge bin/bridgetester mq2wsbridge.service mq2wsbridge.example.ini LICENSE VERSION; do
		[ -f "$SRC/$f" ] || die "the archive has no $name/$f: not an mq2wsbridge release"
	done
	NEW_VERSION=$(cat "$SRC/VERSION")
	if [ -n "$version" ] && [ "$NEW_VERSION" != "$version" ]; then
		die "asked for version $version but the archive holds $NEW_VERSION"
	fi
}

# Writes the config file from the example unless one exists; sets CONFIG_NOTE.
install_config() {
	ids=$(user_ids) || die "cannot find user $SERVICE_USER in $DESTDIR/etc/passwd"
	if [ ! -d "$DESTDIR$CONFIG_DIR" ]; then
		mkdir -p "$DESTDIR$CONFIG_DIR"
		chown "0:${ids#*:}" "$DESTDIR$CONFIG_DIR"
		chmod 0750 "$DESTDIR$CONFIG_DIR"
	fi
	if [ -e "$DESTDIR$CONFIG_FILE" ]; then
		CONFIG_NOTE="kept the existing $CONFIG_FILE"
		return 0
	fi
	# Owner and mode are set before the rename, so the secrets file is never readable by others.
	cp "$SRC/mq2wsbridge.example.ini" "$DESTDIR$CONFIG_FILE.new"
	chown "$ids" "$DESTDIR$CONFIG_FILE.new"
	chmod 0600 "$DESTDIR$CONFIG_FILE.new"
	mv "$DESTDIR$CONFIG_FILE.new" "$DESTDIR$CONFIG_FILE"
	CONFIG_NOTE="wrote $CONFIG_FILE from the example (mode 0600, owner $SERVICE_USER)"
}

do_install() {
	fetch_release
	root=$DESTDIR$PREFIX
	old_version=
	[ ! -f "$root/VERSION" ] || old_version=$(cat "$root/VERSION")
	mkdir -p "$root/bin" "$root/share" "$DESTDIR$BINDIR" "$DESTDIR$UNIT_DIR" "$DESTDIR/etc"
	for p in $PROGRAMS; do
		put "$SRC/bin/$p" "$root/bin/$p" 0755
		link "$PREFIX/bin/$p" "$DESTDIR$BINDIR/$p"
	done
	put "$SRC/mq2wsbridge.example.ini" "$root/share/mq2wsbridge.example.ini" 0644
	put "$SRC/LICENSE" "$root/share/LICENSE" 0644
	put "$SRC/VERSION" "$root/VERSION" 0644
	ensure_user
	install_config
	sed "s#/opt/mq2wsbridge/bin/#$PREFIX/bin/#" "$SRC/mq2wsbridge.service" >"$TMP/unit"
	put "$TMP/unit" "$DESTDIR$UNIT_DIR/$SERVICE" 0644

	if [ "$old_version" = "$NEW_VERSION" ]; then
		say "Reinstalled mq2wsbridge $NEW_VERSION in $PREFIX; $CONFIG_NOTE"
	elif [ -n "$old_version" ]; then
		say "Upgraded mq2wsbridge $old_version to $NEW_VERSION in $PREFIX; $CONFIG_NOTE"
	else
		say "Installed mq2wsbridge $NEW_VERSION in $PREFIX; $CONFIG_NOTE"
	fi
	find_systemd
	if [ -n "$SYSTEMCTL" ]; then
		"$SYSTEMCTL" daemon-reload
		# Restarts the service only if it is running, so an upgrade takes effect.
		[ -z "$old_version" ] || "$SYSTEMCTL" try-restart "$SERVICE"
	elif [ -n "$DESTDIR" ]; then
		say "DESTDIR is set: systemd was left alone ($UNIT_DIR/$SERVICE is written but not loaded)."
	else
		say "systemd is not running on this machine: $UNIT_DIR/$SERVICE is written but not loaded."
		say "Run '$PREFIX/bin/mq2wsbridge -s -l -m' as user $SERVICE_USER under your own supervisor."
	fi
	[ -n "$old_version" ] || next_steps
}

# The order matters: the service reads Parameter Store, so the store is filled
# before it starts; bridgetester checks the path through the running service
# (before it, its messages would wait in the queue and reach the API later).
next_steps() {
	cat <<EOF

Next steps:
  1. Put your settings in $CONFIG_FILE (it holds secrets; keep it mode 0600), and check them:
       mq2wsbridge -c $CONFIG_FILE -l -m --check-config
  2. Store them in SSM Parameter Store, where the service reads them (this makes the
     store equal to the file: parameters the file does not set are deleted):
       mq2wsbridge -c $CONFIG_FILE -s -M
EOF
	if [ -n "$SYSTEMCTL" ]; then
		cat <<EOF
  3. Start the service now and at boot:  systemctl enable --now $SERVICE
EOF
	else
		cat <<EOF
  3. Start the service: 'systemctl enable --now $SERVICE' where systemd runs, otherwise
     '$PREFIX/bin/mq2wsbridge -s -l -m' as user $SERVICE_USER under your own supervisor.
EOF
	fi
	cat <<EOF
  4. With the service running, check the whole path (sends 10 test messages through the
     broker and the WebSocket API; every one should come back):
       bridgetester -s -n 10
  5. Follow it:  systemctl status $SERVICE; journalctl -u $SERVICE -f
     (with -l the service logs to CloudWatch Logs; the journal has start-up lines and exit statuses)
  6. Once it works, remove the secrets from $CONFIG_FILE: the service reads only Parameter Store.
Optional: AWS_REGION, HTTPS_PROXY/NO_PROXY or endpoint overrides in $CONFIG_DIR/environment
(one VAR=value a line, mode 0600), read by the unit.
The instance role needs ssm:GetParametersByPath, logs:PutLogEvents and cloudwatch:PutMetricData
(step 2 needs ssm:PutParameter and ssm:DeleteParameters); see the README's IAM section.
EOF
}

do_uninstall() {
	find_systemd
	if [ -n "$SYSTEMCTL" ] && [ -f "$DESTDIR$UNIT_DIR/$SERVICE" ]; then
		"$SYSTEMCTL" disable --now "$SERVICE" || say "warning: could not stop $SERVICE; continuing"
	fi
	rm -f "$DESTDIR$UNIT_DIR/$SERVICE"
	[ -z "$SYSTEMCTL" ] || "$SYSTEMCTL" daemon-reload
	for p in $PROGRAMS; do
		if [ -L "$DESTDIR$BINDIR/$p" ] && [ "$(readlink "$DESTDIR$BINDIR/$p")" = "$PREFIX/bin/$p" ]; then
			rm -f "$DESTDIR$BINDIR/$p"
		fi
		rm -f "$DESTDIR$PREFIX/bin/$p"
	done
	root=$DESTDIR$PREFIX
	rm -f "$root/share/mq2wsbridge.example.ini" "$root/share/LICENSE" "$root/VERSION"
	if [ -d "$root" ]; then
		rmdir "$root/bin" "$root/share" "$root" 2>/dev/null ||
			say "warning: kept $PREFIX: it holds files install.sh did not put there"
	fi
	say "Removed mq2wsbridge from $PREFIX, its links in $BINDIR and $UNIT_DIR/$SERVICE."
	say "Kept $CONFIG_DIR and the user $SERVICE_USER; remove them with: rm -r $CONFIG_DIR && userdel $SERVICE_USER"
}

main() {
	VERSION=${MQ2WSBRIDGE_VERSION:-}
	BASE_URL=${MQ2WSBRIDGE_BASE_URL:-}
	PREFIX=${PREFIX:-$DEFAULT_PREFIX}
	BINDIR=${BINDIR:-/usr/local/bin}
	DESTDIR=${DESTDIR:-}
	action=install
	while [ $# -gt 0 ]; do
		case $1 in
		--version | --base-url | --prefix | --bindir)
			[ $# -ge 2 ] || die "$1 needs a value (see --help)"
			case $1 in
			--version) VERSION=$2 ;;
			--base-url) BASE_URL=$2 ;;
			--prefix) PREFIX=$2 ;;
			--bindir) BINDIR=$2 ;;
			esac
			shift 2
			;;
		--uninstall)
			action=uninstall
			shift
			;;
		-h | --help)
			usage
			return 0
			;;
		*) die "unknown argument '$1' (see --help)" ;;
		esac
	done
	PREFIX=${PREFIX%/}
	check_dir PREFIX "$PREFIX"
	check_dir BINDIR "$BINDIR"
	[ -z "$DESTDIR" ] || check_dir DESTDIR "$DESTDIR"
	[ "$(uname -s)" = Linux ] || die "mq2wsbridge runs on Linux only, not $(uname -s)"
	[ "$(id -u)" = 0 ] || die "must run as root, e.g. curl -fsSL <url>/install.sh | sudo sh"
	case $action in
	install) do_install ;;
	uninstall) do_uninstall ;;
	esac
}

# Everything is in functions, so a download cut short cannot run half a script.
main "$@"
